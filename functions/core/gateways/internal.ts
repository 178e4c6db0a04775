/**
 * Helpers shared by the gateway verifiers. Not part of the public API (index.ts does not re-export it).
 */
import { timingSafeEqual } from 'node:crypto';
import { type NormalizedEvent, NormalizedEventSchema } from '../events.ts';
import { type Currency, isCurrency } from '../money.ts';
import { InvalidSignatureError, MalformedEventError } from './errors.ts';
import type { CallbackRequest } from './types.ts';

/** CONTRACT §3: a signed timestamp outside ±300 s of our clock is a bad signature. */
export const TOLERANCE_SECONDS = 300;

/** A header's value, or undefined when absent or blank. Names are looked up lower-cased. */
export function header(req: CallbackRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Parses a signed Unix-seconds timestamp and checks it against `now`, both directions.
 * Strict digits only: `parseInt("1700000000abc")` would accept garbage.
 */
export function checkTimestamp(value: string, now: Date, gateway: string): number {
  if (!/^\d{1,12}$/.test(value))
    throw new InvalidSignatureError('timestamp is not Unix seconds', { gateway });
  const seconds = Number(value);
  const skew = Math.floor(now.getTime() / 1000) - seconds;
  if (Math.abs(skew) > TOLERANCE_SECONDS) {
    throw new InvalidSignatureError(`timestamp ${skew > 0 ? 'too old' : 'in the future'}`, { gateway });
  }
  return seconds;
}

/** Constant-time comparison of two ASCII strings (hex or base64 signatures). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  // timingSafeEqual throws on a length mismatch; the length of a signature is no secret.
  return x.length === y.length && timingSafeEqual(x, y);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a signed JSON body into an object. Runs only after the signature checked out. */
export function parseJsonObject(rawBody: Buffer, gateway: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(rawBody));
  } catch (cause) {
    throw new MalformedEventError('body is not UTF-8 JSON', { gateway, cause });
  }
  if (!isRecord(value)) throw new MalformedEventError('body is not a JSON object', { gateway });
  return value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A nested object, or an empty one when absent (so optional lookups stay simple). */
export function obj(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/** A non-empty string field, or undefined. Numbers are not silently stringified. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * An optional string field: absent, null or empty is undefined; any other type is malformed (a signed
 * event with a field of the wrong type is 400, never read as "absent").
 */
export function optionalStr(value: unknown, what: string, gateway: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new MalformedEventError(`${what} must be a string`, { gateway });
  return value;
}

/** A required non-empty string field. */
export function requireStr(value: unknown, what: string, gateway: string): string {
  const s = str(value);
  if (s === undefined) throw new MalformedEventError(`missing ${what}`, { gateway });
  return s;
}

/** A currency code (upper-cased: Stripe sends `usd`) we support. */
export function requireCurrency(value: unknown, what: string, gateway: string): Currency {
  const code = typeof value === 'string' ? value.toUpperCase() : value;
  if (!isCurrency(code)) throw new MalformedEventError(`unknown or missing currency in ${what}`, { gateway });
  return code;
}

/** An amount already in minor units (JSON number): a positive safe integer, nothing else. */
export function requireMinor(value: unknown, what: string, gateway: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new MalformedEventError(`${what} must be a positive integer of minor units`, { gateway });
  }
  return value;
}

/** Only the references the gateway actually gave (non-empty strings). */
export function refs(entries: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(entries)) {
    const s = str(value);
    if (s !== undefined) out[key] = s;
  }
  return out;
}

/**
 * Last line of defence: the event must satisfy the shared schema (lengths, positive amount, currency),
 * so a gateway bug or an absurd id surfaces as 400 here rather than as a storage error later.
 */
export function finish(event: NormalizedEvent): NormalizedEvent {
  const result = NormalizedEventSchema.safeParse(event);
  if (!result.success) {
    const fields = result.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new MalformedEventError(`event does not fit the schema: ${fields}`, { gateway: event.gateway });
  }
  // Drop undefined optionals so ledger items carry no empty attributes.
  return Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined)) as NormalizedEvent;
}

/** Unix seconds → ISO 8601, or undefined when not a plausible timestamp. */
export function isoFromSeconds(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
    ? new Date(value * 1000).toISOString()
    : undefined;
}
