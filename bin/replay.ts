/**
 * `npm run replay -- [options]`: re-run dead-lettered asynchronous invocations (reconcile, FX refresh)
 * after fixing their cause.
 *
 *   sandbox (default)   --id <id> | --function <name>   replays the sandbox's dead letters (all by default)
 *   AWS                 --queue <sqs-url> --function <name|arn> [--max 10]
 *                       replays the on-failure queue's invocation records on the queue's own function
 *                       only (a record naming another function is reported and left in the queue)
 *   both                --dry-run                        lists what would be replayed, changes nothing
 */
import './cli-env.ts';
import { parseArgs } from 'node:util';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type ReplayOutcome, replayFromQueue, replayInSandbox } from '../sandbox/replay.ts';
import { progressLine, readEndpoints } from './endpoints.ts';

const { values } = parseArgs({
  options: {
    queue: { type: 'string' },
    max: { type: 'string', default: '10' },
    id: { type: 'string' },
    function: { type: 'string' },
    endpoints: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
});

try {
  let outcomes: ReplayOutcome[];
  if (values.queue) {
    const max = Number(values.max);
    if (!Number.isInteger(max) || max < 1) throw new Error('--max must be a whole number ≥ 1');
    if (!values.function) {
      throw new Error('--queue needs --function <name|arn>: the function whose on-failure queue it is');
    }
    outcomes = await replayFromQueue({
      sqs: new SQSClient({}),
      lambda: new LambdaClient({}),
      queueUrl: values.queue,
      functionName: values.function,
      max,
      dryRun: values['dry-run']!,
      progress: progressLine,
    });
  } else {
    outcomes = await replayInSandbox({
      api: readEndpoints(values.endpoints).api,
      ...(values.id ? { id: values.id } : {}),
      ...(values.function ? { function: values.function } : {}),
      dryRun: values['dry-run']!,
    });
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (!outcomes.length) console.log('nothing to replay');
  for (const o of outcomes) {
    console.log(
      `${o.ok ? (values['dry-run'] ? 'would replay' : 'replayed') : 'FAILED'}  ${o.id}  ${o.function}${o.error ? `  ${o.error}` : ''}`,
    );
  }
  if (outcomes.some((o) => !o.ok)) process.exitCode = 1;
} catch (error) {
  console.error(`replay: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
