/**
 * The sandbox's version of Lambda's asynchronous failure handling: an S3- or schedule-triggered
 * invocation that fails is retried twice (as `retryAttempts: 2` in AWS, seconds apart instead of
 * minutes), then its event is kept in `$SANDBOX_DIR/dead-letters/` — the local stand-in for the SQS
 * on-failure queue — until `npm run replay` re-runs it.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DeadLetter {
  readonly id: string;
  readonly function: string;
  readonly event: unknown;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: string;
}

export class DeadLetters {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  add(entry: Omit<DeadLetter, 'id' | 'failedAt'>): DeadLetter {
    const letter: DeadLetter = {
      id: `${Date.now()}-${randomUUID().slice(0, 8)}`,
      failedAt: new Date().toISOString(),
      ...entry,
    };
    writeFileSync(path.join(this.dir, `${letter.id}.json`), `${JSON.stringify(letter, null, 2)}\n`);
    return letter;
  }

  list(): DeadLetter[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(path.join(this.dir, f), 'utf8')) as DeadLetter);
  }

  get(id: string): DeadLetter | undefined {
    return this.list().find((l) => l.id === id);
  }

  remove(id: string): void {
    if (!/^[\w-]+$/.test(id)) return;
    rmSync(path.join(this.dir, `${id}.json`), { force: true });
  }
}

/** Invokes like Lambda's async path: 1 + `retries` attempts, then the dead-letter store. */
export async function invokeAsync(
  fn: string,
  event: unknown,
  invoke: (fn: string, event: unknown) => Promise<unknown>,
  deadLetters: DeadLetters,
  options: { retries?: number; backoffMs?: number; log?: (line: string) => void } = {},
): Promise<void> {
  const retries = options.retries ?? 2;
  let lastError: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    try {
      await invoke(fn, event);
      return;
    } catch (error) {
      lastError = error;
      if (attempt < retries)
        await new Promise((r) => setTimeout(r, (options.backoffMs ?? 1000) * (attempt + 1)));
    }
  }
  const letter = deadLetters.add({
    function: fn,
    event,
    error: lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError),
    attempts: retries + 1,
  });
  options.log?.(
    `${fn} failed ${retries + 1} times (${letter.error}); kept as dead letter ${letter.id}: npm run replay -- --id ${letter.id}`,
  );
}
