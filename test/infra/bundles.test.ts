/**
 * Every function, bundled exactly as the CDK app bundles it (lib/bundling.ts), loads in a fresh Node
 * process with its configuration: an ESM bundle can build fine and still die at cold start (a CommonJS
 * dependency's `require("util")`, the AWS SDK's `node:https`). And none grows past the size budget a
 * cold start can afford. Init times are the bench's job (a timed test would be flaky on a busy machine).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { benchBundles } from '../../bench/bundles.ts';
import { bundlingOptions } from '../../lib/bundling.ts';
import { functions, GATEWAY_KINDS } from '../../lib/topology.ts';

/** Minified bundle size budget per function: what a cold start can afford. */
const MAX_BUNDLE_KB = 400;

/**
 * Known to be over budget, each with its own ceiling so it cannot grow unnoticed either. None today:
 * reconcile was (523.8 KB, the S3 client's schema module) until its S3 calls moved to
 * functions/adapters/s3-objects.ts.
 */
const OVER_BUDGET_KB: Readonly<Record<string, number>> = {};

describe('function bundles', () => {
  it(`each bundle builds, initialises in Node, and stays within ${MAX_BUNDLE_KB} KB (or its listed ceiling)`, async () => {
    const out = await benchBundles(mkdtempSync(path.join(tmpdir(), 'daigou-bundles-')), () => {}, 1);
    expect(Object.keys(out).sort()).toEqual(Object.keys(functions).sort());
    for (const [name, b] of Object.entries(out)) {
      expect(b.kb, name).toBeGreaterThan(0);
      expect(b.kb, `${name}: ${b.kb} KB`).toBeLessThanOrEqual(OVER_BUDGET_KB[name] ?? MAX_BUNDLE_KB);
      expect(Number.isFinite(b.initMs), name).toBe(true);
    }
  }, 180_000);

  it('each callback bundle carries its own gateway kind and no other', async () => {
    const callbacks = Object.values(functions).filter((f) => f.environment?.GATEWAY_KIND);
    expect(callbacks.length).toBeGreaterThanOrEqual(GATEWAY_KINDS.length);
    for (const def of callbacks) {
      const kind = def.environment!.GATEWAY_KIND!;
      const { metafile } = await build({
        ...bundlingOptions,
        entryPoints: [def.entry],
        bundle: true,
        write: false,
        outdir: 'out',
        metafile: true,
        logLevel: 'error',
      });
      const gatewayModules = Object.keys(metafile.inputs)
        .map(
          (f) =>
            /functions\/core\/gateways\/(stripe|paypal|alipay|wechatpay|standard-webhooks)\.ts$/.exec(f)?.[1],
        )
        .filter(Boolean);
      expect(gatewayModules, def.entry).toEqual([kind]);
    }
  }, 60_000);

  // Bundles are built without esbuild's keepNames (lib/bundling.ts): a class name survives minification
  // only where the class sets it.
  it('every error class under functions/ sets its own name', () => {
    const files = (readdirSync('functions', { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join('functions', f));
    let classes = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/class (\w+) extends \w*Error\b[^{]*\{/g)) {
        classes++;
        const body = text.slice(m.index, text.indexOf('\n}', m.index));
        expect(body, `${file}: ${m[1]}`).toContain(`this.name = '${m[1]}'`);
      }
    }
    expect(classes).toBeGreaterThan(10);
  });
});
