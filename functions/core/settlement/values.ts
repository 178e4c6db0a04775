/**
 * Field-level readers shared by the format parsers: money, currencies, timestamps, ids. Each throws
 * SettlementRowError with a reason finance can act on; the parser turns it into a `rejected` row.
 */
import { assertCurrency, type Currency, exponent, MoneyError, parseDecimal, parseMajor } from '../money.ts';
import { SettlementRowError } from './errors.ts';

/** Currency code from a file: trimmed, upper-cased (Stripe writes `usd`). */
export function currencyOf(raw: string, column: string): Currency {
  const code = raw.trim().toUpperCase();
  try {
    return assertCurrency(code);
  } catch (err) {
    throw new SettlementRowError(`${column}: unknown currency ${JSON.stringify(raw)}`, { cause: err });
  }
}

const SIMPLE_MAJOR = /^-?\d{1,13}(?:\.\d{1,2})?$/;

/**
 * Major-unit decimal → minor units, exact (more decimals than the currency has is an error unless
 * `halfUp`, which only WeChat Pay fees ask for). An empty field is an error unless `emptyAsZero`.
 */
export function minorOf(
  raw: string,
  currency: Currency,
  column: string,
  opts: { halfUp?: boolean; emptyAsZero?: boolean } = {},
): number {
  const s = raw.trim();
  if (s === '') {
    if (opts.emptyAsZero) return 0;
    throw new SettlementRowError(`${column}: empty amount`);
  }
  // Fast path for the common 2-decimal case, integer arithmetic only (no float ever holds money):
  // 1M Stripe rows carry 3M amounts, and the bigint path of parseMajor costs ~1 s on them.
  if (exponent(currency) === 2 && SIMPLE_MAJOR.test(s)) {
    const negative = s.charCodeAt(0) === 45;
    const body = negative ? s.slice(1) : s;
    const dot = body.indexOf('.');
    const units =
      dot < 0 ? Number(body) * 100 : Number(body.slice(0, dot)) * 100 + fraction2(body.slice(dot + 1));
    return negative && units !== 0 ? -units : units;
  }
  try {
    return parseMajor(s, currency, { rounding: opts.halfUp ? 'half-up' : 'exact' });
  } catch (err) {
    throw new SettlementRowError(`${column}: ${err instanceof MoneyError ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/**
 * The fast path of {@link minorOf} read in place: `text[s, e)` when it is exactly
 * `-?\d{1,13}(\.\d{1,2})?` (what SIMPLE_MAJOR accepts), as minor units of a 2-decimal currency;
 * NaN for anything else (the caller then cuts the field and calls minorOf, which decides).
 */
export function simpleMinor2At(text: string, s: number, e: number): number {
  let i = s;
  const negative = text.charCodeAt(i) === 45;
  if (negative) i++;
  let units = 0;
  let intDigits = 0;
  for (; i < e; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    units = units * 10 + c;
    intDigits++;
  }
  if (intDigits === 0 || intDigits > 13) return Number.NaN;
  units *= 100;
  if (i < e) {
    if (text.charCodeAt(i) !== 46) return Number.NaN;
    const fracDigits = e - i - 1;
    if (fracDigits < 1 || fracDigits > 2) return Number.NaN;
    const d1 = text.charCodeAt(i + 1) - 48;
    if (d1 < 0 || d1 > 9) return Number.NaN;
    let frac = d1 * 10;
    if (fracDigits === 2) {
      const d2 = text.charCodeAt(i + 2) - 48;
      if (d2 < 0 || d2 > 9) return Number.NaN;
      frac += d2;
    }
    units += frac;
  }
  return negative && units !== 0 ? -units : units;
}

function fraction2(digits: string): number {
  return digits.length === 1 ? Number(digits) * 10 : Number(digits);
}

/** A decimal string scaled to `scale` digits as bigint, for exact control-total sums; undefined if unreadable. */
export function scaledOf(raw: string, scale: number): bigint | undefined {
  const s = raw.trim();
  if (s === '') return 0n;
  try {
    const d = parseDecimal(s.replace(/^[¥￥]/, ''));
    if (d.scale > scale) return undefined;
    return d.units * 10n ** BigInt(scale - d.scale);
  } catch {
    return undefined;
  }
}

/** Renders a scaled bigint for messages: 12345n, 2 → "123.45". */
export function formatScaled(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  return `${negative ? '-' : ''}${int}${scale ? `.${digits.slice(digits.length - scale)}` : ''}`;
}

const TIMESTAMP =
  /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$/i;

const DAY_MS = 86_400_000;

/** A timestamp read from a file. */
export interface Instant {
  /** Epoch milliseconds. */
  readonly ms: number;
  /** The UTC offset the file wrote (or the format's default), minutes east of UTC. */
  readonly offsetMinutes: number;
  /** Whole days since the epoch in that offset: the file's own calendar day. */
  readonly localDay: number;
}

/**
 * Reads `2026-11-23 10:00:00`, `2026/11/23 10:00:00 -0800`, ISO 8601 with `Z` or an offset, or a bare
 * date. Without an offset in the text, `defaultOffsetMinutes` applies (0 for Stripe, +480 for China).
 */
export function parseInstant(raw: string, defaultOffsetMinutes: number, column: string): Instant {
  const m = TIMESTAMP.exec(raw.trim());
  if (!m) throw new SettlementRowError(`${column}: not a timestamp: ${JSON.stringify(raw)}`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const localMs = Date.UTC(
    year,
    month - 1,
    day,
    hour,
    minute,
    second,
    Number(frac.padEnd(3, '0').slice(0, 3)),
  );
  const check = new Date(localMs);
  // Date.UTC rolls 2026-02-30 over to March: reject instead of guessing.
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new SettlementRowError(`${column}: not a valid date: ${JSON.stringify(raw)}`);
  }
  let offsetMinutes = defaultOffsetMinutes;
  if (zone) {
    const z = zone.toUpperCase();
    if (z === 'Z' || z === 'UTC' || z === 'GMT') offsetMinutes = 0;
    else {
      const digits = z.replace(':', '');
      const sign = digits[0] === '-' ? -1 : 1;
      offsetMinutes = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
    }
  }
  return { ms: localMs - offsetMinutes * 60_000, offsetMinutes, localDay: Math.floor(localMs / DAY_MS) };
}

const UTC_SIMPLE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z?$/;
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A timestamp as ISO 8601 UTC (`settledAt`). Fast path for what Stripe writes (`2026-11-23 10:00:00`,
 * UTC): built from the digits after a range check, because Date parsing + toISOString cost ~1 s per
 * 1M rows. Everything else goes through {@link parseInstant}.
 */
export function isoUtcOf(raw: string, defaultOffsetMinutes: number, column: string): string {
  // `YYYY-MM-DD HH:MM:SS`, checked by character codes: a regex exec per row cost ~0.3 s per 1M rows.
  if (defaultOffsetMinutes === 0 && raw.length === 19 && isPlainUtc(raw)) {
    return `${raw.slice(0, 10)}T${raw.slice(11)}.000Z`;
  }
  if (defaultOffsetMinutes === 0) {
    const m = UTC_SIMPLE.exec(raw);
    if (m) {
      const [, y, mo, d, h, mi, s, ms = '000'] = m as unknown as string[];
      if (validParts(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s))) {
        return `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`;
      }
    }
  }
  return isoOf(parseInstant(raw, defaultOffsetMinutes, column).ms);
}

function digit(raw: string, i: number): number {
  const c = raw.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : Number.NaN;
}

function isPlainUtc(raw: string): boolean {
  return isPlainUtcAt(raw, 0);
}

/** Two decimal digits at `i` as a number; NaN when either is no digit. */
function twoDigits(raw: string, i: number): number {
  return digit(raw, i) * 10 + digit(raw, i + 1);
}

/** `YYYY-MM-DD HH:MM:SS` (or with `T`) at `s`, a valid date and time. No closure: this runs per row. */
export function isPlainUtcAt(raw: string, s: number): boolean {
  const sep = raw.charCodeAt(s + 10);
  if (raw.charCodeAt(s + 4) !== 45 || raw.charCodeAt(s + 7) !== 45 || (sep !== 32 && sep !== 84))
    return false;
  if (raw.charCodeAt(s + 13) !== 58 || raw.charCodeAt(s + 16) !== 58) return false;
  const year = twoDigits(raw, s) * 100 + twoDigits(raw, s + 2);
  // NaN (a non-digit) fails every comparison in validParts.
  return validParts(
    year,
    twoDigits(raw, s + 5),
    twoDigits(raw, s + 8),
    twoDigits(raw, s + 11),
    twoDigits(raw, s + 14),
    twoDigits(raw, s + 17),
  );
}

function validParts(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): boolean {
  if (!(year >= 0 && month >= 1 && month <= 12 && day >= 1 && hour >= 0 && hour < 24)) return false;
  if (!(minute >= 0 && minute < 60 && second >= 0 && second < 60)) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && !leap ? 28 : MONTH_DAYS[month - 1]!);
}

/** ISO 8601 UTC with milliseconds, the form every `settledAt` and period bound takes. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/** The half-open UTC range of whole local days `[firstDay, lastDay]` in a UTC offset. */
export function daysToPeriod(
  firstDay: number,
  lastDay: number,
  offsetMinutes: number,
): { from: string; to: string } {
  const shift = offsetMinutes * 60_000;
  return { from: isoOf(firstDay * DAY_MS - shift), to: isoOf((lastDay + 1) * DAY_MS - shift) };
}

/** Local day number of an instant in a UTC offset. */
export function localDayOf(ms: number, offsetMinutes: number): number {
  return Math.floor((ms + offsetMinutes * 60_000) / DAY_MS);
}

/**
 * `table[key]` for a key read from a file, as an own property only: a type, status or currency named
 * `constructor` or `__proto__` is an unknown value, not Object's function or prototype.
 */
export function ownValue<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Unique, non-empty ids in the given order. */
export function idList(...ids: (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const id of ids) if (id && !out.includes(id)) out.push(id);
  return out;
}

/** Empty string → undefined. */
export function opt(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/** `-12,34` → `-12.34`: amounts of a report run with `decimal_separator` `,` (Stripe). Else unchanged. */
export function decimalPoint(raw: string): string {
  return /^\s*[+-]?\d+,\d+\s*$/.test(raw) ? raw.replace(',', '.') : raw;
}

/** Offset (minutes east of UTC) of an IANA zone at an instant, via Intl (no tz database of our own). */
function zoneOffsetAt(ms: number, formatter: Intl.DateTimeFormat): number {
  const parts: Record<string, number> = {};
  for (const p of formatter.formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour! % 24,
    parts.minute!,
    parts.second!,
  );
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

/** Checks an IANA time zone name (`Europe/Berlin`, `UTC`); throws RangeError when unknown. */
export function assertTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-US', { timeZone });
}

/**
 * Reads wall-clock times of one IANA zone (Stripe's `created` column, in the timezone the report was
 * run with). A time with its own offset keeps it. Offsets are cached per local hour: a file's rows
 * share few hours, and an Intl call per row would cost seconds per million rows.
 */
export class ZonedReader {
  private readonly formatter: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(readonly timeZone: string) {
    this.formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** ISO 8601 UTC of a wall-clock time in this zone (the earlier instant in a DST fold). */
  iso(raw: string, column: string): string {
    if (/(?:Z|[+-]\d\d:?\d\d|UTC|GMT)$/i.test(raw.trim())) return isoOf(parseInstant(raw, 0, column).ms);
    const wall = parseInstant(raw, 0, column).ms;
    const hour = Math.floor(wall / 3_600_000);
    let offset = this.offsets.get(hour);
    if (offset === undefined) {
      // Two passes settle the offset on either side of a DST change.
      offset = zoneOffsetAt(wall, this.formatter);
      offset = zoneOffsetAt(wall - offset * 60_000, this.formatter);
      if (this.offsets.size > 10_000) this.offsets.clear();
      this.offsets.set(hour, offset);
    }
    return isoOf(wall - offset * 60_000);
  }
}
