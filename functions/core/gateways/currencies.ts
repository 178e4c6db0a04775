/**
 * Where a gateway's amounts differ from ISO 4217 (CONTRACT §3 "currencies"). Our money is always ISO
 * minor units (`money.ts`); a gateway may count in other units, or refuse amounts ISO allows. Each rule
 * below names the gateway page it follows. A gateway with no entry for a currency uses ISO's exponent
 * and accepts any whole minor unit.
 *
 * Two questions are answered per gateway and currency:
 * - how many decimals the gateway's own amounts carry (Stripe's integer `amount`, PayPal's `value`
 *   string), to convert them to ISO minor units exactly;
 * - the smallest step it can charge, in ISO minor units, so an order is priced at an amount every
 *   configured gateway can take (`chargeIncrementMinor`).
 */
import { type Currency, divRoundHalfUp, exponent, MoneyError, parseMajor } from '../money.ts';
import { MalformedEventError } from './errors.ts';
import type { GatewayKind, VerifyResult } from './types.ts';

/** A gateway's deviation from ISO 4217 for one currency. */
export interface GatewayCurrencyRule {
  /** Decimals of the gateway's amounts in this currency (ISO's exponent when they agree). */
  readonly decimals: number;
  /** Charged amounts must be a multiple of this many of the gateway's own units. @default 1 */
  readonly multipleOf?: number;
  /** The document the rule comes from. */
  readonly source: string;
}

const STRIPE_CURRENCIES = 'https://docs.stripe.com/currencies';

/**
 * Stripe: `amount` fields are integers in the currency's "smallest unit" as Stripe defines it.
 * - Zero-decimal currencies (docs.stripe.com/currencies#zero-decimal): BIF CLP DJF GNF JPY KMF KRW MGA
 *   PYG RWF UGX VND VUV XAF XOF XPF. All but MGA have ISO exponent 0 anyway; MGA is 2 in ISO, so 500 from
 *   Stripe is 500 ariary = 50000 ISO minor units. UGX is in this list (ISO 0 as well): whole shillings.
 * - Three-decimal currencies (…#three-decimal): BHD JOD KWD OMR TND are sent with 3 decimals, but
 *   "the least-significant (last) digit [must] be 0 … round amounts to the nearest ten".
 * - Special cases (…#special-cases): ISK "remain[s] a two-decimal currency in the Stripe API … amounts
 *   must be evenly divisible by 100" (support.stripe.com "Deprecation of fractional ISK charges", from
 *   2023-04-14), while ISO's exponent is 0. HUF and TWD are two-decimal for charges, as in ISO; Stripe
 *   treats them as zero-decimal only for payouts (multiples of 100), which we never create, so they
 *   need no charge rule. IQD, LYD are not Stripe presentment currencies.
 */
export const STRIPE_CURRENCY_RULES: Readonly<Partial<Record<Currency, GatewayCurrencyRule>>> = {
  MGA: { decimals: 0, source: `${STRIPE_CURRENCIES}#zero-decimal` },
  ISK: { decimals: 2, multipleOf: 100, source: `${STRIPE_CURRENCIES}#special-cases` },
  BHD: { decimals: 3, multipleOf: 10, source: `${STRIPE_CURRENCIES}#three-decimal` },
  JOD: { decimals: 3, multipleOf: 10, source: `${STRIPE_CURRENCIES}#three-decimal` },
  KWD: { decimals: 3, multipleOf: 10, source: `${STRIPE_CURRENCIES}#three-decimal` },
  OMR: { decimals: 3, multipleOf: 10, source: `${STRIPE_CURRENCIES}#three-decimal` },
  TND: { decimals: 3, multipleOf: 10, source: `${STRIPE_CURRENCIES}#three-decimal` },
};

const PAYPAL_CURRENCY_CODES = 'https://developer.paypal.com/api/rest/reference/currency-codes/';

/**
 * PayPal: `amount.value` is a major-unit string. Its currency-codes page marks HUF, JPY and TWD
 * "This currency does not support decimals. If you pass a decimal amount, an error occurs." ISO gives
 * HUF and TWD two decimals, so PayPal can charge them in whole forints / dollars only (a step of 100
 * ISO minor units); JPY has no decimals in ISO either.
 */
export const PAYPAL_CURRENCY_RULES: Readonly<Partial<Record<Currency, GatewayCurrencyRule>>> = {
  HUF: { decimals: 0, source: PAYPAL_CURRENCY_CODES },
  JPY: { decimals: 0, source: PAYPAL_CURRENCY_CODES },
  TWD: { decimals: 0, source: PAYPAL_CURRENCY_CODES },
};

const RULES: Readonly<
  Partial<Record<GatewayKind, Readonly<Partial<Record<Currency, GatewayCurrencyRule>>>>>
> = {
  stripe: STRIPE_CURRENCY_RULES,
  paypal: PAYPAL_CURRENCY_RULES,
};

/** The rule a gateway applies to a currency: its own where it deviates, else ISO's exponent. */
export function currencyRule(kind: GatewayKind, currency: Currency): GatewayCurrencyRule {
  return (
    RULES[kind]?.[currency] ?? { decimals: exponent(currency), source: 'ISO 4217 (no gateway exception)' }
  );
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/**
 * The smallest amount step, in ISO minor units, the gateway can charge in `currency`. PayPal HUF → 100
 * (whole forints), Stripe KWD → 10, Stripe ISK → 1 (whole krónur, ISO's unit), Stripe MGA → 100.
 */
export function chargeIncrementMinor(kind: GatewayKind, currency: Currency): number {
  const rule = currencyRule(kind, currency);
  // One gateway unit in ISO minor units is 10^(iso − decimals): a fraction when the gateway has more
  // decimals than ISO (Stripe ISK); `multipleOf` must then bring it back to whole ISO units.
  const num = BigInt(rule.multipleOf ?? 1) * pow10(exponent(currency));
  const den = pow10(rule.decimals);
  if (num % den !== 0n) {
    // No rule written here charges fractions of an ISO minor unit; refuse rather than price wrongly.
    throw new MoneyError(`${kind} charges ${currency} in fractions of its ISO minor unit`);
  }
  return Number(num / den);
}

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}

/** The step every one of `kinds` can charge: the least common multiple of their increments. */
export function commonChargeIncrementMinor(kinds: readonly GatewayKind[], currency: Currency): number {
  return kinds.reduce((step, kind) => lcm(step, chargeIncrementMinor(kind, currency)), 1);
}

/** `minor` rounded half-up to a multiple of `increment` (both ISO minor units). */
export function roundToIncrement(minor: number, increment: number): number {
  if (increment === 1) return minor;
  return Number(divRoundHalfUp(BigInt(minor), BigInt(increment)) * BigInt(increment));
}

/**
 * A gateway's integer amount (Stripe's `amount`) as ISO minor units. Exact: an amount that is not a whole
 * ISO minor unit (Stripe ISK not divisible by 100) throws MoneyError.
 */
export function fromGatewayMinor(kind: GatewayKind, amount: number, currency: Currency): number {
  const { decimals } = currencyRule(kind, currency);
  const iso = exponent(currency);
  if (decimals <= iso) return safe(BigInt(amount) * pow10(iso - decimals));
  const extra = pow10(decimals - iso);
  if (BigInt(amount) % extra !== 0n) {
    throw new MoneyError(`${amount} is not a whole ${currency} minor unit for ${kind}`);
  }
  return safe(BigInt(amount) / extra);
}

/** ISO minor units as the gateway's integer amount (what a simulator sends as Stripe's `amount`). */
export function toGatewayMinor(kind: GatewayKind, minor: number, currency: Currency): number {
  const { decimals } = currencyRule(kind, currency);
  const iso = exponent(currency);
  if (decimals >= iso) return safe(BigInt(minor) * pow10(decimals - iso));
  const extra = pow10(iso - decimals);
  if (BigInt(minor) % extra !== 0n) {
    throw new MoneyError(`${minor} ${currency} minor units cannot be expressed by ${kind}`);
  }
  return safe(BigInt(minor) / extra);
}

/**
 * A gateway's major-unit string (PayPal's `amount.value`) as ISO minor units. More decimals than the
 * gateway uses for the currency is an error ("1500.50" HUF from PayPal); trailing zeros are exact.
 */
export function parseGatewayMajor(kind: GatewayKind, value: string, currency: Currency): number {
  const { decimals } = currencyRule(kind, currency);
  // parseMajor's exactness check at the gateway's decimals, then scaled to ISO's exponent.
  const atGatewayScale = parseMajor(value, currency, { exponent: decimals });
  return fromGatewayMinor(kind, atGatewayScale, currency);
}

function safe(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MoneyError(`amount out of range: ${value}`);
  }
  return Number(value);
}

/**
 * An amount as a major-unit decimal string ("19.99"), exact for the currency, positive; else 400
 * malformed_event naming the field. `parse` reads the string (default: the currency's ISO exponent).
 */
export function requireMajor(
  value: unknown,
  currency: Currency,
  what: string,
  gateway: string,
  parse: (value: string, currency: Currency) => number = parseMajor,
): number {
  if (typeof value !== 'string')
    throw new MalformedEventError(`${what} must be a decimal string`, { gateway });
  let minor: number;
  try {
    minor = parse(value, currency);
  } catch (cause) {
    if (cause instanceof MoneyError)
      throw new MalformedEventError(`${what}: ${cause.message}`, { gateway, cause });
    throw cause;
  }
  if (minor <= 0) throw new MalformedEventError(`${what} must be positive`, { gateway });
  return minor;
}

/** `parseGatewayMajor` for a callback field: positive, a string, else 400 malformed_event. */
export function requireGatewayMajor(
  kind: GatewayKind,
  value: unknown,
  currency: Currency,
  what: string,
  gateway: string,
): number {
  return requireMajor(value, currency, what, gateway, (v, c) => parseGatewayMajor(kind, v, c));
}

/**
 * `fromGatewayMinor` for a verified event's amount (Stripe `amount`, `amount_received`), 400 when the
 * gateway's amount is not a whole ISO minor unit.
 */
export function requireIsoFromGatewayMinor(
  kind: GatewayKind,
  amount: number,
  currency: Currency,
  gateway: string,
): number {
  try {
    return fromGatewayMinor(kind, amount, currency);
  } catch (cause) {
    if (cause instanceof MoneyError)
      throw new MalformedEventError(`amount: ${cause.message}`, { gateway, cause });
    throw cause;
  }
}

/**
 * A normalised event whose `amountMinor` was read in the gateway's own integer units (Stripe), with the
 * amount converted to ISO minor units. Applied once at the gateway's edge, so every event type the
 * normaliser knows (and any it learns) is covered. Identity where the gateway agrees with ISO.
 */
export function withIsoAmount(kind: GatewayKind, result: VerifyResult, gateway: string): VerifyResult {
  if (result.type !== 'event') return result;
  const { event } = result;
  const amountMinor = requireIsoFromGatewayMinor(
    kind,
    event.amountMinor,
    event.currency as Currency,
    gateway,
  );
  return amountMinor === event.amountMinor ? result : { type: 'event', event: { ...event, amountMinor } };
}
