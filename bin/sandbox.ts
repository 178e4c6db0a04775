/**
 * `npm start`: the local sandbox in the foreground (CONTRACT §2). Ctrl-C or SIGTERM stops everything it
 * started within 5 s; a crash stops it too, and the reaper covers even SIGKILL.
 */

import './cli-env.ts';
import { type Sandbox, startSandbox } from '../sandbox/main.ts';
import { SandboxStartError } from '../sandbox/ports.ts';

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${name} must be a port number between 1 and 65535, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return port;
}

// One process runs every function: settings Powertools and the SDK read from process.env go here.

const started = Date.now();
let sandbox: Sandbox | undefined;
let stopping = false;

async function shutdown(code: number, why: string): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  console.log(`stopping sandbox (${why})…`);
  // Hard limit: whatever hangs, the process leaves within 5 s; the reaper then takes Java down.
  setTimeout(() => process.exit(code), 4500).unref();
  await sandbox?.stop().catch(() => {});
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(130, 'SIGINT'));
process.on('SIGTERM', () => void shutdown(143, 'SIGTERM'));
process.on('uncaughtException', (error) => {
  console.error('sandbox crashed:', error);
  void shutdown(1, 'crash');
});
process.on('unhandledRejection', (error) => {
  console.error('sandbox crashed:', error);
  void shutdown(1, 'crash');
});

try {
  sandbox = await startSandbox({
    port: portFromEnv('PORT', 3000),
    dynamodbPort: portFromEnv('DYNAMODB_PORT', 8000),
    s3Port: portFromEnv('S3_PORT', 4569),
    ...(process.env.DYNAMODB_ENDPOINT ? { dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT } : {}),
    ...(process.env.S3_ENDPOINT ? { s3Endpoint: process.env.S3_ENDPOINT } : {}),
    dir: process.env.SANDBOX_DIR || '.sandbox',
    inMemory: process.env.SANDBOX_IN_MEMORY === '1',
  });
  const e = sandbox.endpoints;
  console.log(`HTTP API     ${e.api}`);
  console.log(`DynamoDB     ${e.dynamodb}`);
  console.log(`S3 (s3rver)  ${e.s3}  bucket ${e.bucket}, drop settlement files under incoming/{gateway}/`);
  console.log(`endpoints    ${sandbox.endpointsFile}`);
  console.log(`sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)} s (Ctrl-C to stop)`);
  if (stopping) await shutdown(130, 'signal during start');
} catch (error) {
  if (error instanceof SandboxStartError) {
    console.error(`sandbox could not start: ${error.message}`);
    process.exit(1);
  }
  console.error('sandbox could not start:', error);
  process.exit(1);
}
