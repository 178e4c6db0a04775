/**
 * Runs the callback bench (bench/callback.ts) in its own process whose stdout is a file, as Lambda's
 * runtime captures a function's log and metric lines: the handler still builds and writes one EMF line per
 * delivery, but a slow reader of the bench's own terminal cannot throttle it (measured: blocking writes to
 * a piped terminal took 12 % of the process's time). Progress goes to stderr; the result is written to
 * the JSON file named by the second argument.
 */
import { writeFileSync } from 'node:fs';
import { startDynamoDbLocal } from '../sandbox/dynamodb.ts';
import { freePort } from '../sandbox/ports.ts';
import { benchCallback } from './callback.ts';

const [resultFile] = process.argv.slice(2);
const db = await startDynamoDbLocal({ port: await freePort() });
try {
  const result = await benchCallback(db.endpoint, (s) => process.stderr.write(`${s}\n`));
  writeFileSync(resultFile!, JSON.stringify(result));
} finally {
  await db.stop();
}
