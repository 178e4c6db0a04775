/**
 * Exchange rates: validating what a provider says, locking a rate on an order behind the CONTRACT §3
 * safety valves, and the scheduled refresh that keeps the last good rate (CONTRACT §4).
 *
 * Rates are 6-decimal strings, "USD/CNY" = "7.123400" meaning 1 USD = 7.1234 CNY (pay currency / base
 * currency). Every comparison goes through money.ts on exact decimals; a float never decides a valve.
 * A provider that quotes one base for many currencies (Open Exchange Rates, Fixer, the ECB) gives each
 * pair as a cross rate through that base: exact rational arithmetic on its decimals, rounded once
 * (crossRate). The provider formats themselves live in fx-formats.ts.
 */
import type { Alerts } from './alerts.ts';
import {
  type Currency,
  type Decimal,
  deviation,
  deviationExceeds,
  divRoundHalfUp,
  formatRate,
  isCurrency,
  parseDecimal,
  RATE_DECIMALS,
} from './money.ts';
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

/**
 * The provider did not answer usefully. `timeout`, `http_error` and `network_error` are transport faults
 * (retried); the rest are answers we refuse (never retried: the same garbage would come back). Messages
 * never carry the URL or the API key.
 */
export class FxProviderError extends FxError {
  readonly reason:
    | 'timeout'
    | 'http_error'
    | 'network_error'
    | 'invalid_response'
    | 'redirect'
    | 'too_large'
    | 'credentials_missing';
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
  /**
   * The first rate stored on the UTC day of `updatedAt`: the anchor of FX_MAX_DAILY_DRIFT, kept on the
   * same item so that it moves atomically with the rate. Absent on rates stored before the guard existed.
   */
  readonly dayFirst?: { readonly day: string; readonly rate: string };
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
  /**
   * Stores every rate as its pair's current rate in one transaction, each only if no newer `asOf` is stored:
   * all or none (a refresh never leaves half a set of pairs from one answer). Returns false when a condition
   * lost, and then nothing was written.
   */
  putAll(rates: readonly StoredRate[]): Promise<boolean>;
  putHistory(records: readonly FxHistoryRecord[]): Promise<void>;
}

/**
 * What a provider answered, before validation. Rate values are decimal text as the provider wrote it
 * (or whatever else it sent, to be refused): `pairs` keyed "USD/CNY" (base units per pay unit), `base` keyed
 * by currency (units of that currency per one unit of `base`, the provider's base).
 */
export type FxQuote = {
  readonly source: string;
  /** ISO 8601; the fetch time when the provider gives none. */
  readonly asOf: string;
  readonly rates: Readonly<Record<string, unknown>>;
} & ({ readonly kind: 'pairs' } | { readonly kind: 'base'; readonly base: string });

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
  // A refresh writes every pair in one TransactWriteItems, which takes at most 100 items.
  if (pairs.length > 100) throw new Error(`${pairs.length} pairs: at most 100 are supported`);
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

export type DecimalCheck =
  | { readonly ok: true; readonly value: Decimal }
  | { readonly ok: false; readonly reason: 'missing' | 'non_numeric' | 'zero' | 'negative' };

/** A provider's per-currency value, exactly (no rounding yet: a cross rate rounds once, at the end). */
export function checkDecimal(raw: unknown): DecimalCheck {
  if (raw === undefined || raw === null) return { ok: false, reason: 'missing' };
  if (typeof raw !== 'string') return { ok: false, reason: 'non_numeric' };
  let value: Decimal;
  try {
    value = parseDecimal(raw);
  } catch {
    return { ok: false, reason: 'non_numeric' };
  }
  if (value.units < 0n) return { ok: false, reason: 'negative' };
  if (value.units === 0n) return { ok: false, reason: 'zero' };
  return { ok: true, value };
}

/**
 * The cross rate PAY/BASE from two values quoted against one provider base P: `perBase` = BASE units per
 * one P, `perPay` = PAY units per one P, so one PAY = perBase / perPay BASE. Exact rational arithmetic on
 * the decimals as given, then one rounding to RATE_DECIMALS, half-up. Returns "0.000000" when the quotient
 * rounds to nothing (the caller refuses that as zero).
 */
export function crossRate(perBase: Decimal, perPay: Decimal): string {
  // (b.units / 10^b.scale) / (p.units / 10^p.scale) × 10^6 = b.units × 10^(p.scale + 6) / (p.units × 10^b.scale)
  const numerator = perBase.units * 10n ** BigInt(perPay.scale + RATE_DECIMALS);
  const denominator = perPay.units * 10n ** BigInt(perBase.scale);
  return formatRate({ units: divRoundHalfUp(numerator, denominator), scale: RATE_DECIMALS });
}

export type PairRate = RateCheck & {
  /** What the provider said for this pair, for the history record (no secrets: only the values used). */
  readonly raw: string | null;
};

/** The pair's rate from a quote: looked up (`pairs`) or crossed through the provider's base (`base`). */
export function quoteRate(quote: FxQuote, pair: string): PairRate {
  if (quote.kind === 'pairs') {
    const raw = lookupRate(quote, pair);
    const rawText = raw === undefined ? null : typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? null);
    return { ...checkRate(raw), raw: rawText };
  }
  const [pay, base] = pair.split('/') as [string, string];
  const perUnit = (currency: string): unknown =>
    // The provider's base is 1 by definition, whether or not the answer lists it (OXR lists "USD": 1).
    currency === quote.base ? '1' : Object.hasOwn(quote.rates, currency) ? quote.rates[currency] : undefined;
  const perBase = perUnit(base);
  const perPay = perUnit(pay);
  const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? 'missing' : JSON.stringify(v));
  const raw = `${base}=${text(perBase)} ${pay}=${text(perPay)} per ${quote.base}`;
  const b = checkDecimal(perBase);
  if (!b.ok) return { ok: false, reason: b.reason, raw };
  const p = checkDecimal(perPay);
  if (!p.ok) return { ok: false, reason: p.reason, raw };
  const rate = crossRate(b.value, p.value);
  if (parseDecimal(rate).units === 0n) return { ok: false, reason: 'zero', raw };
  return { ok: true, rate, raw };
}

/** The UTC day (YYYY-MM-DD) of an instant. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The FX_MAX_DAILY_DRIFT anchor a rate stored `now` carries: the day's first rate, or itself when first. */
export function dayAnchor(
  last: StoredRate | undefined,
  rate: string,
  now: Date,
): { day: string; rate: string } {
  const day = utcDay(now);
  return last?.dayFirst?.day === day ? last.dayFirst : { day, rate };
}

/** True when storing `rate` now would move the pair more than `maxDrift` from the day's first stored rate. */
export function driftExceeded(
  last: StoredRate | undefined,
  rate: string,
  now: Date,
  maxDrift: string,
): boolean {
  const anchor = dayAnchor(last, rate, now);
  return deviationExceeds(rate, anchor.rate, maxDrift);
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
  /** FX_MAX_DAILY_DRIFT: the live check may not move the cache further than this from the day's first rate. */
  readonly maxDailyDrift: string;
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

  let quote: FxQuote | undefined;
  try {
    // No retries: the customer is waiting, and a down provider must not block checkout (the cache is fresh).
    quote = await deps.provider.fetchQuote({ timeoutMs: settings.liveTimeoutMs, retries: 0 });
  } catch (error) {
    if (!(error instanceof FxProviderError)) throw error;
  }
  const check = quote ? quoteRate(quote, pair) : undefined;
  if (!quote || !check?.ok) {
    deps.metrics.liveCheckUnavailable(pair);
    return { pair, rate: cached.rate, asOf: cached.asOf, source: cached.source };
  }
  // A live answer older than the cache (a cached live answer, or a refresh that ran meanwhile) says nothing
  // new: the cache is the better rate.
  if (Date.parse(quote.asOf) < Date.parse(cached.asOf))
    return { pair, rate: cached.rate, asOf: cached.asOf, source: cached.source };

  const live = check.rate;
  const moved = deviationExceeds(live, cached.rate, settings.maxDeviation);
  const jump = deviationExceeds(live, cached.rate, settings.maxJump);
  const drift = moved && !jump && driftExceeded(cached, live, now, settings.maxDailyDrift);
  if (jump || drift) {
    // A jump this size, or steps adding up past the day's drift, is more likely a provider fault than a
    // market move: sell nothing until a human looks.
    await deps.alerts.raise('FX Rate Jump', {
      pair,
      cachedRate: cached.rate,
      liveRate: live,
      deviation: deviation(live, cached.rate),
      ...(jump
        ? { maxJump: settings.maxJump }
        : { dayFirstRate: dayAnchor(cached, live, now).rate, maxDailyDrift: settings.maxDailyDrift }),
      origin: 'order-live-check',
    });
    throw new FxRateUnavailableError(pair, 'jump');
  }
  if (moved) {
    const fresh: StoredRate = {
      pair,
      rate: live,
      asOf: quote.asOf,
      source: quote.source,
      updatedAt: now.toISOString(),
      dayFirst: dayAnchor(cached, live, now),
    };
    // The cache takes the live rate so the customer's retry gets a fresh price without waiting for the schedule.
    const stored = await deps.store.putCurrent(fresh, { rate: cached.rate, asOf: cached.asOf });
    if (stored) {
      await deps.store.putHistory([
        {
          pair,
          fetchedAt: now.toISOString(),
          raw: check.raw,
          rate: live,
          accepted: true,
          source: quote.source,
          asOf: quote.asOf,
          origin: 'live-check',
        },
      ]);
    }
    throw new FxRateMovedError(pair, cached.rate, live);
  }
  return { pair, rate: cached.rate, asOf: cached.asOf, source: cached.source };
}

// ---------------------------------------------------------------------------------------------------
// Use case: the scheduled refresh (CONTRACT §4)

export interface RefreshSettings {
  readonly pairs: readonly string[];
  readonly maxJump: string;
  /** FX_MAX_DAILY_DRIFT: no pair may move further than this from the first rate stored that UTC day. */
  readonly maxDailyDrift: string;
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
  /** Valid, but the same or a newer rate (by asOf) is already stored: nothing to do. */
  | { readonly status: 'unchanged'; readonly rate: string; readonly previousRate?: string }
  | {
      readonly status: 'rejected';
      /**
       * This pair's own fault (`missing`, `zero`, `negative`, `non_numeric`, `older_than_stored`, `jump`,
       * `daily_drift`), the provider's (`timeout`, `http_error`, `invalid_response`, …), or
       * `answer_refused` when the pair was fine but another pair of the same answer was not.
       */
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
  /** True when the answer was refused as a whole ("FX Provider Rejected"): nothing was written. */
  readonly refused: boolean;
  readonly updated: number;
  readonly rejected: number;
  readonly pairs: Readonly<Record<string, PairOutcome>>;
  /** Age of the oldest current rate afterwards; null when some pair has never had a rate. */
  readonly maxRateAgeSeconds: number | null;
}

/**
 * Fetches every configured pair once and stores them all, in one transaction, or none: an answer with any
 * bad pair (missing, unusable, older than stored, beyond FX_MAX_JUMP or FX_MAX_DAILY_DRIFT) is refused as a
 * whole and alerted ("FX Provider Rejected"), so the stored pairs always come from one good answer.
 * A history record per pair and fetch, accepted or not.
 */
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
  const checks = new Map<string, PairRate>();
  const problems = new Map<string, string>();
  const jumps: Record<string, unknown>[] = [];
  for (const pair of settings.pairs) {
    if (!quote) {
      problems.set(pair, providerError ?? 'provider_error');
      continue;
    }
    const check = quoteRate(quote, pair);
    checks.set(pair, check);
    const last = current.get(pair);
    if (!check.ok) {
      problems.set(pair, check.reason);
    } else if (last && Date.parse(quote.asOf) < Date.parse(last.asOf)) {
      problems.set(pair, 'older_than_stored');
    } else if (last && deviationExceeds(check.rate, last.rate, settings.maxJump)) {
      problems.set(pair, 'jump');
      jumps.push({
        pair,
        lastGoodRate: last.rate,
        providerRate: check.rate,
        deviation: deviation(check.rate, last.rate),
        maxJump: settings.maxJump,
        origin: 'fx-refresh',
      });
    } else if (last && driftExceeded(last, check.rate, now, settings.maxDailyDrift)) {
      problems.set(pair, 'daily_drift');
      jumps.push({
        pair,
        lastGoodRate: last.rate,
        providerRate: check.rate,
        dayFirstRate: dayAnchor(last, check.rate, now).rate,
        maxDailyDrift: settings.maxDailyDrift,
        origin: 'fx-refresh',
      });
    }
  }

  const pairs: Record<string, PairOutcome> = {};
  const refused = problems.size > 0;
  if (refused) {
    for (const pair of settings.pairs) {
      const last = current.get(pair);
      pairs[pair] = {
        status: 'rejected',
        reason: problems.get(pair) ?? 'answer_refused',
        raw: checks.get(pair)?.raw ?? null,
        ...(last ? { keptRate: last.rate } : {}),
      };
    }
  } else if (quote) {
    const writes: StoredRate[] = [];
    for (const pair of settings.pairs) {
      const check = checks.get(pair) as PairRate & { ok: true };
      const last = current.get(pair);
      const same = last && last.asOf === quote.asOf && last.rate === check.rate;
      if (!same) {
        writes.push({
          pair,
          rate: check.rate,
          asOf: quote.asOf,
          source: quote.source,
          updatedAt: fetchedAt,
          dayFirst: dayAnchor(last, check.rate, now),
        });
      }
      pairs[pair] = {
        status: same ? 'unchanged' : 'updated',
        rate: check.rate,
        ...(last ? { previousRate: last.rate } : {}),
      };
    }
    // A concurrent writer with a newer asOf wins every pair of this answer, never half of them.
    const stored = writes.length === 0 || (await deps.store.putAll(writes));
    if (stored) for (const rate of writes) current.set(rate.pair, rate);
    else
      for (const rate of writes)
        pairs[rate.pair] = { ...pairs[rate.pair]!, status: 'unchanged' } as PairOutcome;
  }

  await deps.store.putHistory(
    settings.pairs.map((pair) => {
      const outcome = pairs[pair]!;
      return {
        pair,
        fetchedAt,
        raw: checks.get(pair)?.raw ?? null,
        accepted: outcome.status !== 'rejected',
        ...(outcome.status === 'rejected' ? { reason: outcome.reason } : { rate: outcome.rate }),
        source: quote?.source ?? 'unavailable',
        ...(quote ? { asOf: quote.asOf } : {}),
        origin: 'refresh',
      };
    }),
  );
  if (refused) {
    await deps.alerts.raise('FX Provider Rejected', {
      reason: providerError ?? 'invalid_pairs',
      source: quote?.source ?? null,
      asOf: quote?.asOf ?? null,
      pairs: Object.fromEntries(problems),
      keptRates: Object.fromEntries(
        settings.pairs.flatMap((p) => {
          const last = current.get(p);
          return last ? [[p, last.rate]] : [];
        }),
      ),
      origin: 'fx-refresh',
    });
  }
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
    refused,
    updated: outcomes.filter((o) => o.status === 'updated').length,
    rejected: outcomes.filter((o) => o.status === 'rejected').length,
    pairs,
    maxRateAgeSeconds: maxAge,
  };
}
