/**
 * The live check's quota guard (FX_LIVE_CACHE_SECONDS, default 60): one provider answer serves every order
 * of this function instance for that long, and concurrent orders share one request in flight, so a flash
 * sale of hundreds of orders a minute costs each warm instance about one provider call a minute (measured
 * in the bench as provider calls per 1,000 orders). A failure is remembered for at most 5 s: long enough
 * that a burst does not hammer a provider that is down or over quota, short enough to recover quickly.
 *
 * The cached answer is never more trusted than the stored rate: lockRate ignores a live answer older than
 * the cache, and a move beyond FX_MAX_DEVIATION still answers 409 and moves the cache.
 */
import type { FxProvider, FxQuote } from '../core/fx.ts';

const FAILURE_TTL_MS = 5_000;

export class CachedFxProvider implements FxProvider {
  private entry: { readonly at: number; readonly outcome: Promise<FxQuote>; failed: boolean } | undefined;

  constructor(
    private readonly inner: FxProvider,
    private readonly ttlMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  fetchQuote(options: { timeoutMs: number; retries: number }): Promise<FxQuote> {
    if (this.ttlMs <= 0) return this.inner.fetchQuote(options);
    const t = this.now().getTime();
    const entry = this.entry;
    if (entry && t - entry.at < (entry.failed ? Math.min(this.ttlMs, FAILURE_TTL_MS) : this.ttlMs)) {
      return entry.outcome;
    }
    const outcome = this.inner.fetchQuote(options);
    const fresh = { at: t, outcome, failed: false };
    this.entry = fresh;
    outcome.catch(() => {
      fresh.failed = true;
    });
    return outcome;
  }
}
