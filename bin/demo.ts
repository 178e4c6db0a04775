/**
 * `npm run demo [-- --orders 300 --retries 120 --rate 30]`: replays the incident against a running
 * sandbox (found through endpoints.json), or starts one for the duration of the demo.
 */
import './cli-env.ts';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo } from '../sandbox/demo.ts';
import { type Endpoints, type Sandbox, startSandbox } from '../sandbox/main.ts';
import { progressLine, readEndpoints } from './endpoints.ts';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '300' },
    retries: { type: 'string', default: '120' },
    rate: { type: 'string', default: '30' },
    endpoints: { type: 'string' },
  },
});

const dir = process.env.SANDBOX_DIR || '.sandbox';

async function running(): Promise<Endpoints | undefined> {
  try {
    const endpoints = readEndpoints(values.endpoints);
    const res = await fetch(`${endpoints.api}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok ? endpoints : undefined;
  } catch {
    return undefined;
  }
}

let sandbox: Sandbox | undefined;
try {
  let endpoints = await running();
  if (endpoints) {
    console.log(`using the sandbox at ${endpoints.api}`);
  } else {
    console.log('no sandbox running: starting one for the demo…');
    sandbox = await startSandbox({
      dir,
      port: Number(process.env.PORT || 3000),
      dynamodbPort: Number(process.env.DYNAMODB_PORT || 8000),
      s3Port: Number(process.env.S3_PORT || 4569),
      log: () => {},
    });
    endpoints = sandbox.endpoints;
  }
  const orders = Number(values.orders);
  const retries = Math.min(Number(values.retries), orders);
  if (!Number.isInteger(orders) || orders < 5 || !Number.isInteger(retries) || retries < 0) {
    throw new Error('--orders must be a whole number ≥ 5 and --retries a whole number ≥ 0');
  }
  const result = await runDemo({
    endpoints,
    orders,
    retries,
    ratePerSecond: Number(values.rate),
    workDir: path.join(dir, 'demo'),
    log: (line) => {
      if (process.stderr.isTTY) process.stderr.write('\r\u001b[K');
      console.log(line);
    },
    progress: progressLine,
  });
  if (result.ledgerTotalMinor !== result.paidOrdersTotalMinor || result.secondDay.stillOpen !== 0) {
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await sandbox?.stop();
}
