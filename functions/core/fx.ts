/**
 * Exchange rates: validating what a provider says, locking a rate on an order behind the CONTRACT §3
 * safety valves, and the scheduled refresh that keeps the last good rate (CONTRACT §4).
 *
 * Rates are 6-decimal strings, "USD/CNY" = "7.123400" meaning 1 USD = 7.1234 CNY (pay currency / base
 * currency). Every comparison goes through money.ts on exact decimals; a float never decides a valve.
 */
import type { Alerts } from './alerts.ts';
import { type Currency, deviation, deviationExceeds, formatRate, isCurrency, parseDecimal } from './money.ts';
import type { ExchangeRate } from './order-model.ts';

// ---------------------------------------------------------------------------------------------------
// Errors

/** Base of the FX errors; `pair` names the pair concerned. */
export class FxError extends Error {
  readonly pair: string;
  constructor(message: string, pair: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FxError';
    this.pair = pair;
  }
}

/** No usable rate: none cached, or the live rate jumped beyond FX_MAX_JUMP. */
export class FxRateUnavailableError extends FxError {
  readonly reason: 'no_cached_rate' | 'jump';
  constructor(pair: string, reason: 'no_cached_rate' | 'jump', options?: { cause?: unknown }) {
    super(`no usable ${pair} rate (${reason})`, pair, options);
    this.name = 'FxRateUnavailableError';
    this.reason = reason;
  }
}

/** The cached rate is older than FX_MAX_AGE_SECONDS. */
export class FxRateStaleError extends FxError {
  readonly ageSeconds: number;
  constructor(pair: string, ageSeconds: number) {
    super(`cached ${pair} rate is ${ageSeconds} s old`, pair);
    this.name = 'FxRateStaleError';
    this.ageSeconds = ageSeconds;
  }
}

/** The live rate moved beyond FX_MAX_DEVIATION (but within FX_MAX_JUMP): the customer must see a new price. */
export class FxRateMovedError extends FxError {
  readonly cachedRate: string;
  readonly liveRate: string;
  constructor(pair: string, cachedRate: string, liveRate: string) {
    super(`${pair} moved from ${cachedRate} to ${liveRate}`, pair);
    this.name = 'FxRateMovedError';
    this.cachedRate = cachedRate;
    this.liveRate = liveRate;
  }
}

/** The provider did not answer usefully: HTTP error, timeout, not JSON, no rates where configured. */
export class FxProviderError extends FxError {
  readonly reason: 'timeout' | 'http_error' | 'invalid_response' | 'network_error';
  constructor(message: string, reason: FxProviderError['reason'], options?: { cause?: unknown }) {
    super(message, '*', options);
    this.name = 'FxProviderError';
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------------
// Ports

/** A rate as stored under sk "current": the last good rate of a pair. */
export interface StoredRate extends ExchangeRate {
  /** When we stored it (the age valve uses `asOf`, the provider's own timestamp). */
  readonly updatedAt: string;
}

export interface FxHistoryRecord {
  readonly pair: string;
  readonly fetchedAt: string;
  /** What the provider said, verbatim (stringified), so a rejected answer can be audited. */
  readonly raw: string | null;
  readonly rate?: string;
  readonly accepted: boolean;
  readonly reason?: string;
  readonly source: string;
  readonly asOf?: string;
  /** `refresh` (scheduled) or `live-check` (an order's live check moved the cache). */
  readonly origin: 'refresh' | 'live-check';
}

export interface FxRateStore {
  getCurrent(pair: string): Promise<StoredRate | undefined>;
  /**
   * Stores `rate` as the pair's current rate. With `expected`, only if the current rate is still that one
   * (a live check must not overwrite a refresh that ran meanwhile); without it, only if no newer `asOf` is
   * stored (a slow refresh must not overwrite a newer one). Returns false when the condition lost.
   */
  putCurrent(rate: StoredRate, expected?: { rate: string; asOf: string }): Promise<boolean>;
  putHistory(records: readonly FxHistoryRecord[]): Promise<void>;
}

/** What a provider answered, before validation: rate values are whatever the JSON held. */
export interface FxQuote {
  readonly source: string;
  /** ISO 8601; the fetch time when the provider gives none. */
  readonly asOf: string;
  readonly rates: Readonly<Record<string, unknown>>;
}

export interface FxProvider {
  /** Throws FxProviderError; `retries` extra attempts with backoff, each bounded by `timeoutMs`. */
  fetchQuote(options: { timeoutMs: number; retries: number }): Promise<FxQuote>;
}

/** The FX metrics the functions emit; adapters map them to CloudWatch EMF. */
export interface FxMetrics {
  /** The live check could not reach the provider in time, so an order locked the cached rate. */
  liveCheckUnavailable(pair: string): void;
  /** Age of the oldest current rate after a refresh (`FxRateAgeSeconds`, alarmed). */
  rateAgeSeconds(seconds: number): void;
}

// ---------------------------------------------------------------------------------------------------
// Pure helpers

export function pairOf(pay: Currency, base: Currency): string {
  return `${pay}/${base}`;
}

/** Parses FX_PAIRS ("USD/CNY,EUR/CNY"); every pair must quote against `base`. */
export function parsePairs(value: string, base: Currency): string[] {
  const pairs = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const pair of pairs) {
    const [pay, quote, extra] = pair.split('/');
    if (extra !== undefined || !isCurrency(pay) || quote !== base) {
      throw new Error(`pair ${JSON.stringify(pair)} is not PAY/${base} with a known currency`);
    }
  }
  return pairs;
}

/** Pay currencies an order may use: the base currency plus every configured pair's. */
export function payCurrencies(pairs: readonly string[], base: Currency): Currency[] {
  return [base, ...pairs.map((p) => p.split('/')[0] as Currency)];
}

export type RateCheck =
  | { readonly ok: true; readonly rate: string }
  | { readonly ok: false; readonly reason: 'missing' | 'non_numeric' | 'zero' | 'negative' };

/** Validates one provider value: a positive decimal (string or plain JSON number), normalised to 6 decimals. */
export function checkRate(raw: unknown): RateCheck {
  if (raw === undefined || raw === null) return { ok: false, reason: 'missing' };
  // A JSON number prints as its shortest round-trip form; exponent forms ("1e-7") fail parseDecimal below.
  if (typeof raw !== 'string' && !(typeof raw === 'number' && Number.isFinite(raw))) {
    return { ok: false, reason: 'non_numeric' };
  }
  let units: bigint;
  try {
    units = parseDecimal(String(raw)).units;
  } catch {
    return { ok: false, reason: 'non_numeric' };
  }
  if (units < 0n) return { ok: false, reason: 'negative' };
  if (units === 0n) return { ok: false, reason: 'zero' };
  const rate = formatRate(String(raw).trim().replace(/^\+/, ''));
  // "0.0000001" is positive but rounds to 0.000000 at 6 decimals: as unusable as zero.
  if (parseDecimal(rate).units === 0n) return { ok: false, reason: 'zero' };
  return { ok: true, rate };
}

/** The provider value for a pair: "USD/CNY", else "USDCNY" or "USD_CNY" (common provider spellings). */
export function lookupRate(quote: FxQuote, pair: string): unknown {
  const [pay, base] = pair.split('/');
  for (const key of [pair, `${pay}${base}`, `${pay}_${base}`]) {
    if (Object.hasOwn(quote.rates, key)) return quote.rates[key];
  }
  return undefined;
}

/** Whole seconds since `asOf` (never negative: a provider clock ahead of ours counts as fresh, not future). */
export function ageSeconds(asOf: string, now: Date): number {
  const t = Date.parse(asOf);
  if (Number.isNaN(t)) return Number.POSITIVE_INFINITY;
  return Math.max(0, Math.floor((now.getTime() - t) / 1000));
}

// ---------------------------------------------------------------------------------------------------
// Use case: lock a rate for a new order (CONTRACT §3 safety valves, in order)

export interface RateLockSettings {
  readonly baseCurrency: Currency;
  readonly maxAgeSeconds: number;
  readonly liveTimeoutMs: number;
  readonly maxDeviation: string;
  readonly maxJump: string;
}

export interface RateLockDeps {
  readonly store: FxRateStore;
  readonly provider: FxProvider;
  readonly alerts: Alerts;
  readonly metrics: FxMetrics;
  readonly settings: RateLockSettings;
}

/** The rate an order created `now` in `pay` is locked at, or an FxError saying why there is none. */
export async function lockRate(deps: RateLockDeps, pay: Currency, now: Date): Promise<ExchangeRate> {
  const { settings } = deps;
  const pair = pairOf(pay, settings.baseCurrency);
  if (pay === settings.baseCurrency) {
    return { pair, rate: '1.000000', asOf: now.toISOString(), source: 'identity' };
  }

  const cached = await deps.store.getCurrent(pair);
  if (!cached) throw new FxRateUnavailableError(pair, 'no_cached_rate');
  const age = ageSeconds(cached.asOf, now);
  if (age > settings.maxAgeSeconds) throw new FxRateStaleError(pair, age);

  let live: string | undefined;
  try {
    // No retries: the customer is waiting, and a down provider must not block checkout (the cache is fresh).
    const quote = await deps.provider.fetchQuote({ timeoutMs: settings.liveTimeoutMs, retries: 0 });
    const check = checkRate(lookupRate(quote, pair));
    if (check.ok) live = check.rate;
    if (check.ok && deviationExceeds(check.rate, cached.rate, settings.maxJump)) {
      // A jump this size is more likely a provider fault than a market move: sell nothing until a human looks.
      await deps.alerts.raise('FX Rate Jump', {
        pair,
        cachedRate: cached.rate,
        liveRate: check.rate,
        deviation: deviation(check.rate, cached.rate),
        maxJump: settings.maxJump,
        origin: 'order-live-check',
      });
      throw new FxRateUnavailableError(pair, 'jump');
    }
    if (check.ok && deviationExceeds(check.rate, cached.rate, settings.maxDeviation)) {
      const fresh: StoredRate = {
        pair,
        rate: check.rate,
        asOf: quote.asOf,
        source: quote.source,
        updatedAt: now.toISOString(),
      };
      // The cache takes the live rate so the customer's retry gets a fresh price without waiting for the schedule.
      const stored = await deps.store.putCurrent(fresh, { rate: cached.rate, asOf: cached.asOf });
      if (stored) {
        await deps.store.putHistory([
          {
            pair,
            fetchedAt: now.toISOString(),
            raw: String(lookupRate(quote, pair)),
            rate: check.rate,
            accepted: true,
            source: quote.source,
            asOf: quote.asOf,
            origin: 'live-check',
          },
        ]);
      }
      throw new FxRateMovedError(pair, cached.rate, check.rate);
    }
  } catch (error) {
    if (!(error instanceof FxProviderError)) throw error;
  }
  if (live === undefined) deps.metrics.liveCheckUnavailable(pair);
  return { pair, rate: cached.rate, asOf: cached.asOf, source: cached.source };
}

// ---------------------------------------------------------------------------------------------------
// Use case: the scheduled refresh (CONTRACT §4)

export interface RefreshSettings {
  readonly pairs: readonly string[];
  readonly maxJump: string;
  readonly timeoutMs: number;
  readonly retries: number;
}

export interface RefreshDeps {
  readonly store: FxRateStore;
  readonly provider: FxProvider;
  readonly alerts: Alerts;
  readonly metrics: FxMetrics;
  readonly settings: RefreshSettings;
}

export type PairOutcome =
  | { readonly status: 'updated'; readonly rate: string; readonly previousRate?: string }
  /** Valid, but a newer rate (by asOf) is already stored: nothing to do. */
  | { readonly status: 'unchanged'; readonly rate: string; readonly previousRate?: string }
  | {
      readonly status: 'rejected';
      readonly reason: string;
      readonly raw: string | null;
      /** The last good rate, kept. */
      readonly keptRate?: string;
    };

/** What the refresh did; the sandbox's `POST /_sandbox/fx/refresh` answers it. */
export interface FxRefreshResult {
  readonly fetchedAt: string;
  readonly source: string | null;
  readonly asOf: string | null;
  /** Set when the provider gave no usable answer at all (every pair then keeps its last good rate). */
  readonly providerError: string | null;
  readonly updated: number;
  readonly rejected: number;
  readonly pairs: Readonly<Record<string, PairOutcome>>;
  /** Age of the oldest current rate afterwards; null when some pair has never had a rate. */
  readonly maxRateAgeSeconds: number | null;
}

/** Fetches every configured pair once, stores the good ones and a history record per pair, keeps the rest. */
export async function refreshRates(deps: RefreshDeps, now: Date): Promise<FxRefreshResult> {
  const { settings } = deps;
  const fetchedAt = now.toISOString();
  let quote: FxQuote | undefined;
  let providerError: string | null = null;
  try {
    quote = await deps.provider.fetchQuote({ timeoutMs: settings.timeoutMs, retries: settings.retries });
  } catch (error) {
    if (!(error instanceof FxProviderError)) throw error;
    providerError = error.reason;
  }

  const current = new Map(
    await Promise.all(settings.pairs.map(async (pair) => [pair, await deps.store.getCurrent(pair)] as const)),
  );
  const pairs: Record<string, PairOutcome> = {};
  const history: FxHistoryRecord[] = [];
  const jumps: Record<string, unknown>[] = [];

  for (const pair of settings.pairs) {
    const last = current.get(pair);
    const raw = quote ? lookupRate(quote, pair) : undefined;
    const rawText = raw === undefined ? null : typeof raw === 'string' ? raw : JSON.stringify(raw);
    const reject = (reason: string): PairOutcome => ({
      status: 'rejected',
      reason,
      raw: rawText,
      ...(last ? { keptRate: last.rate } : {}),
    });
    let outcome: PairOutcome;
    if (!quote) {
      outcome = reject(providerError ?? 'provider_error');
    } else {
      const check = checkRate(raw);
      if (!check.ok) {
        outcome = reject(check.reason);
      } else if (last && deviationExceeds(check.rate, last.rate, settings.maxJump)) {
        jumps.push({
          pair,
          lastGoodRate: last.rate,
          providerRate: check.rate,
          deviation: deviation(check.rate, last.rate),
          maxJump: settings.maxJump,
          origin: 'fx-refresh',
        });
        outcome = reject('jump');
      } else {
        const stored = await deps.store.putCurrent({
          pair,
          rate: check.rate,
          asOf: quote.asOf,
          source: quote.source,
          updatedAt: fetchedAt,
        });
        if (stored)
          current.set(pair, {
            pair,
            rate: check.rate,
            asOf: quote.asOf,
            source: quote.source,
            updatedAt: fetchedAt,
          });
        outcome = {
          status: stored ? 'updated' : 'unchanged',
          rate: check.rate,
          ...(last ? { previousRate: last.rate } : {}),
        };
      }
    }
    pairs[pair] = outcome;
    history.push({
      pair,
      fetchedAt,
      raw: rawText,
      accepted: outcome.status !== 'rejected',
      ...(outcome.status === 'rejected' ? { reason: outcome.reason } : { rate: outcome.rate }),
      source: quote?.source ?? 'unavailable',
      ...(quote ? { asOf: quote.asOf } : {}),
      origin: 'refresh',
    });
  }

  await deps.store.putHistory(history);
  for (const detail of jumps) await deps.alerts.raise('FX Rate Jump', detail);

  let maxAge: number | null = 0;
  for (const pair of settings.pairs) {
    const rate = current.get(pair);
    maxAge = rate && maxAge !== null ? Math.max(maxAge, ageSeconds(rate.asOf, now)) : null;
  }
  if (maxAge !== null) deps.metrics.rateAgeSeconds(maxAge);

  const outcomes = Object.values(pairs);
  return {
    fetchedAt,
    source: quote?.source ?? null,
    asOf: quote?.asOf ?? null,
    providerError,
    updated: outcomes.filter((o) => o.status === 'updated').length,
    rejected: outcomes.filter((o) => o.status === 'rejected').length,
    pairs,
    maxRateAgeSeconds: maxAge,
  };
}
