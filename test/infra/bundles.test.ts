/**
 * Every function, bundled exactly as the CDK app bundles it (lib/bundling.ts), loads in a fresh Node
 * process with its configuration: an ESM bundle can build fine and still die at cold start (a CommonJS
 * dependency's `require("util")`, the AWS SDK's `node:https`). Sizes and init times are the bench's job.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchBundles } from '../../bench/bundles.ts';
import { functions } from '../../lib/topology.ts';

describe('function bundles', () => {
  it('each bundle builds and initialises in Node', async () => {
    const out = await benchBundles(mkdtempSync(path.join(tmpdir(), 'daigou-bundles-')), () => {}, 1);
    expect(Object.keys(out).sort()).toEqual(Object.keys(functions).sort());
    for (const [name, b] of Object.entries(out)) {
      expect(b.kb, name).toBeGreaterThan(0);
      expect(Number.isFinite(b.initMs), name).toBe(true);
    }
  }, 180_000);
});
