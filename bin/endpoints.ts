/** Finds the running sandbox's endpoints.json (`--endpoints`, else `$SANDBOX_DIR`, else `.sandbox`). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Endpoints } from '../sandbox/main.ts';

export function readEndpoints(file?: string): Endpoints {
  const location = file ?? path.join(process.env.SANDBOX_DIR || '.sandbox', 'endpoints.json');
  if (!existsSync(location)) {
    throw new Error(
      `no sandbox endpoints at ${location}: start the sandbox with \`npm start\` (in another terminal), or pass --endpoints <file>`,
    );
  }
  return JSON.parse(readFileSync(location, 'utf8')) as Endpoints;
}

/** One progress line, rewritten in place on a terminal. */
export function progressLine(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${text}\u001b[K`);
  else process.stderr.write(`${text}\n`);
}
