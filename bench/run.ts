/**
 * `npm run bench [-- --json] [-- --rows N] [-- --only callback,reconcile,bundles]`: the benchmarks of
 * CONTRACT §8. Progress goes to stderr; with --json the last stdout line is the result object.
 * Numbers compared with each other (full vs baseline, reconcile vs bare readline) come from the same run.
 */
import '../bin/cli-env.ts';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../sandbox/dynamodb.ts';
import { freePort } from '../sandbox/ports.ts';
import { benchBundles } from './bundles.ts';
import { benchCallback } from './callback.ts';
import { benchReconcile } from './reconcile.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rows: { type: 'string', default: '1000000' },
    only: { type: 'string', default: 'callback,reconcile,bundles' },
  },
});
const only = new Set(values.only!.split(','));
const log = (s: string) => process.stderr.write(`${s}\n`);
const workDir = path.resolve('.bench');
mkdirSync(workDir, { recursive: true });

const result: Record<string, unknown> = {};
if (only.has('callback')) {
  const db = await startDynamoDbLocal({ port: await freePort() });
  try {
    result.callback = await benchCallback(db.endpoint, log);
  } finally {
    await db.stop();
  }
}
if (only.has('reconcile')) result.reconcile = await benchReconcile(workDir, Number(values.rows), log);
if (only.has('bundles')) result.bundles = await benchBundles(path.join(workDir, 'bundles'), log);

if (values.json) console.log(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
