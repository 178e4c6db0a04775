/**
 * `npm run bench [-- --json] [-- --rows N] [-- --only callback,reconcile,reconcileHandler,reconcileUnmatched,bundles,fx]`:
 * the benchmarks of CONTRACT §8, plus `fx` (provider calls per 1,000 orders, bench/fx.ts) as an extra
 * field. Progress goes to stderr; with --json the last stdout line is the result object.
 * Numbers compared with each other (full vs baseline, reconcile vs bare readline) come from the same run.
 */
import '../bin/cli-env.ts';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../sandbox/dynamodb.ts';
import { freePort } from '../sandbox/ports.ts';
import { startS3Local } from '../sandbox/s3.ts';
import { benchBundles } from './bundles.ts';
import { benchFx } from './fx.ts';
import { benchReconcile, benchReconcileUnmatched, stripeFile } from './reconcile.ts';
import { benchReconcileHandler } from './reconcile-handler.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rows: { type: 'string', default: '1000000' },
    only: { type: 'string', default: 'callback,reconcile,reconcileHandler,reconcileUnmatched,bundles,fx' },
  },
});
const only = new Set(values.only!.split(','));
const log = (s: string) => process.stderr.write(`${s}\n`);
const workDir = path.resolve('.bench');
mkdirSync(workDir, { recursive: true });

const result: Record<string, unknown> = {};
if (only.has('callback')) {
  // Its own process, stdout (the handler's log and metric lines) to a file: see bench/callback-worker.ts.
  const resultFile = path.join(workDir, 'callback-result.json');
  const output = openSync(path.join(workDir, 'callback-output.log'), 'w');
  try {
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/callback-worker.ts', resultFile], {
      stdio: ['ignore', output, 'inherit'],
    });
  } finally {
    closeSync(output);
  }
  result.callback = JSON.parse(readFileSync(resultFile, 'utf8'));
}
if (only.has('fx')) {
  const db = await startDynamoDbLocal({ port: await freePort() });
  try {
    result.fx = await benchFx(db.endpoint, log);
  } finally {
    await db.stop();
  }
}
if (only.has('reconcileHandler')) {
  const rows = 100_000;
  const [db, s3] = await Promise.all([
    startDynamoDbLocal({ port: await freePort() }),
    startS3Local({ port: await freePort(), bucket: 'settlements' }),
  ]);
  try {
    const file = await stripeFile(workDir, rows, log);
    result.reconcileHandler = await benchReconcileHandler(
      { dynamodb: db.endpoint, s3: s3.endpoint },
      file,
      rows,
      rows,
      log,
    );
  } finally {
    await Promise.all([db.stop(), s3.stop()]);
  }
}
if (only.has('reconcile')) result.reconcile = await benchReconcile(workDir, Number(values.rows), log);
if (only.has('reconcileUnmatched')) {
  result.reconcileUnmatched = await benchReconcileUnmatched(workDir, Number(values.rows), log);
}
if (only.has('bundles')) result.bundles = await benchBundles(path.join(workDir, 'bundles'), log);

if (values.json) console.log(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
