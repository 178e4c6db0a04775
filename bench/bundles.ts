/**
 * Bundle size and module-init time of every function, bundled exactly as the CDK app bundles it
 * (lib/bundling.ts). Init is measured in a fresh Node process per sample: import of the bundle, which
 * runs the handler's module scope (configuration, clients), as a Lambda cold start does.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { bundlingOptions } from '../lib/bundling.ts';
import { bucket, defaultSettings, functions, resourceEnvVars } from '../lib/topology.ts';

export type BundleBench = Record<string, { kb: number; initMs: number }>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Imports the bundle in a fresh process; a bundle that cannot start fails with its own error line. */
function initOnce(name: string, script: string, env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '');
    const reason = stderr.split('\n').find((line) => /^\w*Error\b/.test(line)) ?? stderr.slice(-300);
    throw new Error(`the ${name} bundle does not start: ${reason}`);
  }
}

export async function benchBundles(
  outDir: string,
  log: (s: string) => void,
  samples = 5,
): Promise<BundleBench> {
  const out: BundleBench = {};
  // Callback functions share one entry (and so one bundle): measure it once, report it for each.
  const byEntry = new Map<string, { kb: number; initMs: number }>();
  for (const [name, def] of Object.entries(functions)) {
    const known = byEntry.get(def.entry);
    if (known) {
      out[name] = known;
      continue;
    }
    const dir = path.join(outDir, name);
    mkdirSync(dir, { recursive: true });
    const outfile = path.join(dir, 'index.mjs');
    await build({ ...bundlingOptions, entryPoints: [def.entry], bundle: true, outfile, logLevel: 'error' });
    const kb = Math.round((statSync(outfile).size / 1024) * 10) / 10;
    const env = {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_METRICS_DISABLED: 'true',
      ALERT_SINK: 'aws',
      GATEWAY_SECRET_ID: 'daigou/gateways/x',
      ...defaultSettings,
      ...def.environment,
      ...resourceEnvVars(def, { table: (t) => `bench-${t}`, bucket: bucket.sandboxName }),
    };
    const script = `const t=performance.now();await import(${JSON.stringify(path.resolve(outfile))});process.stdout.write(String(performance.now()-t))`;
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      times.push(Number(initOnce(name, script, env)));
    }
    out[name] = { kb, initMs: Math.round(median(times)) };
    byEntry.set(def.entry, out[name]);
    log(`bundle ${name}: ${kb} KB, init ${median(times).toFixed(0)} ms (median of ${samples})`);
  }
  return out;
}
