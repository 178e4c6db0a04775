/**
 * Stripe webhooks. Our own ~40-line verifier instead of the `stripe` SDK: the SDK is a 2 MB dependency
 * for one HMAC, it accepts timestamps from the future (it only checks age), it HMACs the body after a
 * UTF-8 decode rather than the bytes, and it knows one secret at a time (we need two during rotation).
 * The unit tests hold it to the SDK as an oracle wherever the two are meant to agree.
 */
import { createHmac } from 'node:crypto';
import { acknowledgement } from './acknowledgement.ts';
import { assertContentType } from './content-type.ts';
import { withIsoAmount } from './currencies.ts';
import { InvalidSignatureError } from './errors.ts';
import {
  checkTimestamp,
  finish,
  header,
  isoFromSeconds,
  obj,
  parseJsonObject,
  refs,
  requireCurrency,
  requireMinor,
  requireStr,
  safeEqual,
  str,
} from './internal.ts';
import type { CallbackRequest, Gateway, VerifyResult } from './types.ts';

export interface StripeGatewayConfig {
  readonly name: string;
  /** Every active endpoint secret (`whsec_…`); two while rolling a secret. Used as the HMAC key as is. */
  readonly webhookSecrets: readonly string[];
}

/** The parts of a `Stripe-Signature` header we use. */
export interface StripeSignatureHeader {
  readonly timestamp: string;
  readonly v1: readonly string[];
}

/**
 * Parses `t=…,v1=…[,v1=…][,v0=…]`. Several `v1` are allowed (Stripe sends one per active secret while
 * a secret is rolled); other schemes (`v0` test signatures, future ones) are skipped. Two `t` are
 * refused rather than guessed between (the SDK silently keeps the last).
 */
export function parseStripeSignatureHeader(value: string | undefined): StripeSignatureHeader | undefined {
  if (!value) return undefined;
  let timestamp: string | undefined;
  const v1: string[] = [];
  for (const item of value.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const key = item.slice(0, eq).trim();
    const val = item.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined) return undefined;
      timestamp = val;
    } else if (key === 'v1' && val) {
      v1.push(val);
    }
  }
  return timestamp === undefined || v1.length === 0 ? undefined : { timestamp, v1 };
}

/** Hex HMAC-SHA256 of `t + "." + rawBody`, over the body's bytes (never re-encoded). */
export function stripeSignature(secret: string, timestamp: string, rawBody: Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(rawBody).digest('hex');
}

/**
 * Verifies a `Stripe-Signature` header against every active secret, then the timestamp (±300 s of `now`,
 * both ways: a future timestamp means a clock problem or a forgery, and Stripe's own clock is NTP-synced).
 * @throws InvalidSignatureError
 */
export function verifyStripeSignature(
  rawBody: Buffer,
  signatureHeader: string | undefined,
  secrets: readonly string[],
  now: Date,
  gateway = 'stripe',
): void {
  const parsed = parseStripeSignatureHeader(signatureHeader);
  if (!parsed) throw new InvalidSignatureError('missing or unreadable Stripe-Signature header', { gateway });
  const matches = secrets.some((secret) => {
    const expected = stripeSignature(secret, parsed.timestamp, rawBody);
    // No early exit across candidates: each comparison is constant-time on its own.
    return parsed.v1.reduce((found, candidate) => safeEqual(candidate, expected) || found, false);
  });
  if (!matches) throw new InvalidSignatureError('no v1 signature matches', { gateway });
  checkTimestamp(parsed.timestamp, now, gateway);
}

/** Builds the Stripe gateway. */
export function createStripeGateway(config: StripeGatewayConfig): Gateway {
  const { name } = config;
  return {
    name,
    kind: 'stripe',
    contentType: 'json',
    async verify(req: CallbackRequest, now: Date): Promise<VerifyResult> {
      assertContentType('json', header(req, 'content-type'), name);
      verifyStripeSignature(req.rawBody, header(req, 'stripe-signature'), config.webhookSecrets, now, name);
      // Stripe counts some currencies in other units than ISO (ISK, MGA): see currencies.ts.
      return withIsoAmount('stripe', normaliseStripeEvent(parseJsonObject(req.rawBody, name), name), name);
    },
    acknowledge: (statusCode, body, headers) => acknowledgement('stripe', statusCode, body, headers),
  };
}

/**
 * Maps a verified Stripe event (CONTRACT §3 "stripe") to a NormalizedEvent.
 * @throws MalformedEventError
 */
export function normaliseStripeEvent(event: Record<string, unknown>, gateway = 'stripe'): VerifyResult {
  const eventType = requireStr(event.type, 'type', gateway);
  const eventId = requireStr(event.id, 'id', gateway);
  const o = obj(obj(event.data).object);
  const base = { gateway, eventId, eventType, occurredAt: isoFromSeconds(event.created) };
  const metadata = obj(o.metadata);

  switch (eventType) {
    case 'payment_intent.succeeded':
    case 'payment_intent.payment_failed': {
      const succeeded = eventType === 'payment_intent.succeeded';
      const id = requireStr(o.id, 'data.object.id', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: succeeded ? 'payment' : 'attempt',
          transactionId: id,
          // A failed attempt received nothing; `amount` is what it tried to take.
          amountMinor: succeeded
            ? requireMinor(o.amount_received, 'amount_received', gateway)
            : requireMinor(o.amount, 'amount', gateway),
          currency: requireCurrency(o.currency, 'currency', gateway),
          // Without our order id a payment cannot be applied; a failed attempt is only recorded.
          orderId: succeeded
            ? requireStr(metadata.order_id, 'metadata.order_id', gateway)
            : str(metadata.order_id),
          references: refs({ paymentIntent: id, charge: o.latest_charge }),
        }),
      };
    }
    case 'refund.created':
    case 'refund.updated': {
      // A pending/failed/canceled refund moved no money; Stripe sends refund.updated when it succeeds,
      // and both events of a refund that succeeds at once collapse onto one ledger key.
      if (o.status !== 'succeeded') return { type: 'ignored', eventType, eventId };
      const id = requireStr(o.id, 'data.object.id', gateway);
      const paymentIntent = requireStr(o.payment_intent, 'data.object.payment_intent', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: 'refund',
          transactionId: id,
          amountMinor: requireMinor(o.amount, 'amount', gateway),
          currency: requireCurrency(o.currency, 'currency', gateway),
          orderId: str(metadata.order_id),
          refundOf: paymentIntent,
          refundId: str(metadata.refund_id),
          references: refs({ refund: id, charge: o.charge, paymentIntent }),
        }),
      };
    }
    case 'charge.dispute.funds_withdrawn': {
      const id = requireStr(o.id, 'data.object.id', gateway);
      const paymentIntent = requireStr(o.payment_intent, 'data.object.payment_intent', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: 'reversal',
          transactionId: id,
          amountMinor: requireMinor(o.amount, 'amount', gateway),
          currency: requireCurrency(o.currency, 'currency', gateway),
          refundOf: paymentIntent,
          references: refs({ dispute: id, charge: o.charge, paymentIntent }),
        }),
      };
    }
    // charge.refunded carries no refund id in current API versions (CONTRACT): the refund.* events do.
    default:
      return { type: 'ignored', eventType, eventId };
  }
}
