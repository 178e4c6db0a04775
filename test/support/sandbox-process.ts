/** Runs `npm start`'s command as a child process on free ports, for tests of the sandbox as users run it. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../sandbox/ports.ts';

export interface SandboxProcess {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly ports: { api: number; dynamodb: number; s3: number };
  output(): string;
  endpoints(): Record<string, unknown> & { api: string };
  waitForExit(timeoutMs: number): Promise<number | null>;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

export async function spawnSandbox(
  options: { env?: Record<string, string>; dir?: string; ports?: SandboxProcess['ports'] } = {},
): Promise<SandboxProcess> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'daigou-sandbox-'));
  const ports = options.ports ?? { api: await freePort(), dynamodb: await freePort(), s3: await freePort() };
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sandbox.ts'], {
    cwd: ROOT,
    // Its own process group, like a terminal's foreground job, so a test can Ctrl-C the group.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(ports.api),
      DYNAMODB_PORT: String(ports.dynamodb),
      S3_PORT: String(ports.s3),
      SANDBOX_DIR: dir,
      ...options.env,
    },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    dir,
    ports,
    output: () => output,
    endpoints: () => JSON.parse(readFileSync(path.join(dir, 'endpoints.json'), 'utf8')),
    waitForExit: (timeoutMs) =>
      Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), timeoutMs))]).then((code) =>
        code === null && child.exitCode === null ? Promise.reject(new Error('sandbox did not exit')) : code,
      ),
  };
}

export async function waitForReady(sandbox: SandboxProcess, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!sandbox.output().includes('sandbox ready')) {
    if (sandbox.child.exitCode !== null) throw new Error(`sandbox exited:\n${sandbox.output()}`);
    if (Date.now() - started > timeoutMs)
      throw new Error(`sandbox not ready in ${timeoutMs} ms:\n${sandbox.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

/** Java processes running DynamoDB Local on the given port. */
export function javaOnPort(port: number): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .filter((line) => line.includes('DynamoDBLocal') && line.includes(`-port ${port}`))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}
