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

export interface ProgressOptions {
  readonly isTTY: boolean;
  readonly write: (text: string) => void;
  /** Least time between two lines when the output is no terminal. @default 5000 */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/**
 * A progress reporter. On a terminal it rewrites one line in place; otherwise (`npm run demo | tee
 * log`, CI) each call would be a line of its own, hundreds per step, so it prints the first update and
 * then at most one line every few seconds.
 */
export function createProgress(options: ProgressOptions): (text: string) => void {
  const interval = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;
  let last = Number.NEGATIVE_INFINITY;
  return (text) => {
    if (options.isTTY) {
      options.write(`\r${text}\u001b[K`);
      return;
    }
    const t = now();
    if (t - last < interval) return;
    last = t;
    options.write(`${text}\n`);
  };
}

/** One progress line on stderr: rewritten in place on a terminal, every few seconds otherwise. */
export const progressLine = createProgress({
  isTTY: Boolean(process.stderr.isTTY),
  write: (text) => process.stderr.write(text),
});
