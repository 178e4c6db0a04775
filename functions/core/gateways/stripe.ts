/**
 * Stripe webhooks. Our own ~40-line verifier instead of the `stripe` SDK: the SDK is a 2 MB dependency
 * for one HMAC, it accepts timestamps from the future (it only checks age), it HMACs the body after a
 * UTF-8 decode rather than the bytes, and it knows one secret at a time (we need two during rotation).
 * The unit tests hold it to the SDK as an oracle wherever the two are meant to agree.
 */
import { createHmac } from 'node:crypto';
import * as z from 'zod/mini';
import { acknowledgement } from './acknowledgement.ts';
import { assertContentType } from './content-type.ts';
import { withIsoAmount } from './currencies.ts';
import { InvalidSignatureError } from './errors.ts';
import {
  checkTimestamp,
  finish,
  header,
  isoFromSeconds,
  isRecord,
  obj,
  optionalStr,
  parseJsonObject,
  refs,
  requireCurrency,
  requireMinor,
  requireStr,
  safeEqual,
  str,
} from './internal.ts';
import { parseSecret, secretList } from './secrets.ts';
import type { CallbackRequest, Gateway, GatewayFromSecret, VerifyResult } from './types.ts';

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

/** `refund.updated` statuses that mean the refund will not (or no longer) move money back. */
const FAILED_REFUND = new Set(['failed', 'canceled']);

/**
 * Maps a verified Stripe event (CONTRACT §3 "stripe") to a NormalizedEvent. Event types and object
 * fields as Stripe's API reference documents them (docs.stripe.com/api/events/types, /api/payment_intents/object,
 * /api/checkout/sessions/object, /api/refunds/object, /api/disputes/object):
 *
 * | event type | effect |
 * |---|---|
 * | `payment_intent.succeeded` | payment: `pi_…`, `amount_received`, order `metadata.order_id` (none → unmatched) |
 * | `payment_intent.payment_failed` | failed attempt |
 * | `checkout.session.completed` (`payment_status: paid`), `checkout.session.async_payment_succeeded` | payment keyed on `payment_intent`, `amount_total`, order `client_reference_id` else `metadata.order_id` |
 * | `refund.created` / `refund.updated` (`status: succeeded`) | refund `re_…` of `payment_intent`, ours in `metadata.refund_id` |
 * | `refund.failed`, `refund.updated` (`status: failed/canceled`) | refund failure |
 * | `charge.dispute.funds_withdrawn` | reversal (dispute id) |
 * | `charge.dispute.funds_reinstated` | reinstatement (dispute id) |
 * | anything else (`charge.refunded`, `charge.succeeded`, unpaid sessions…) | ignored |
 * @throws MalformedEventError
 */
export function normaliseStripeEvent(event: Record<string, unknown>, gateway = 'stripe'): VerifyResult {
  const eventType = requireStr(event.type, 'type', gateway);
  const eventId = requireStr(event.id, 'id', gateway);
  const o = obj(obj(event.data).object);
  const base = { gateway, eventId, eventType, occurredAt: isoFromSeconds(event.created) };
  const metadata = obj(o.metadata);
  const ignored: VerifyResult = { type: 'ignored', eventType, eventId };

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
          // Checkout and Payment Links put the order on the session, not the intent: a payment without
          // metadata.order_id is recorded `unmatched` until the session event names the order.
          orderId: optionalStr(metadata.order_id, 'metadata.order_id', gateway),
          references: refs({ paymentIntent: id, charge: idOf(o.latest_charge) }),
        }),
      };
    }
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      // `unpaid`: an async method (bank debit, konbini…) still pending; async_payment_succeeded follows.
      // `no_payment_required`: nothing was charged. Neither moved money yet.
      if (eventType === 'checkout.session.completed' && o.payment_status !== 'paid') return ignored;
      const paymentIntent = idOf(o.payment_intent);
      // Subscription and setup sessions carry no payment intent: not a payment of ours.
      if (paymentIntent === undefined) return ignored;
      const session = requireStr(o.id, 'data.object.id', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: 'payment',
          transactionId: paymentIntent,
          amountMinor: requireMinor(o.amount_total, 'amount_total', gateway),
          currency: requireCurrency(o.currency, 'currency', gateway),
          orderId:
            optionalStr(o.client_reference_id, 'client_reference_id', gateway) ??
            optionalStr(metadata.order_id, 'metadata.order_id', gateway),
          references: refs({
            paymentIntent,
            checkoutSession: session,
            paymentLink: idOf(o.payment_link),
          }),
        }),
      };
    }
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed': {
      const status = o.status;
      const failed =
        eventType === 'refund.failed' || (typeof status === 'string' && FAILED_REFUND.has(status));
      // A pending refund moved no money; Stripe sends refund.updated when it succeeds, and both events
      // of a refund that succeeds at once collapse onto one ledger key.
      if (!failed && status !== 'succeeded') return ignored;
      const id = requireStr(o.id, 'data.object.id', gateway);
      const paymentIntent = requireStr(idOf(o.payment_intent), 'data.object.payment_intent', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: failed ? 'refund_failed' : 'refund',
          transactionId: id,
          amountMinor: requireMinor(o.amount, 'amount', gateway),
          currency: requireCurrency(o.currency, 'currency', gateway),
          orderId: optionalStr(metadata.order_id, 'metadata.order_id', gateway),
          refundOf: paymentIntent,
          refundId: optionalStr(metadata.refund_id, 'metadata.refund_id', gateway),
          references: refs({
            refund: id,
            charge: idOf(o.charge),
            paymentIntent,
            failureReason: failed ? o.failure_reason : undefined,
            failureBalanceTransaction: failed ? idOf(o.failure_balance_transaction) : undefined,
          }),
        }),
      };
    }
    case 'charge.dispute.funds_withdrawn':
    case 'charge.dispute.funds_reinstated': {
      const id = requireStr(o.id, 'data.object.id', gateway);
      const paymentIntent = requireStr(idOf(o.payment_intent), 'data.object.payment_intent', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: eventType === 'charge.dispute.funds_withdrawn' ? 'reversal' : 'reinstatement',
          transactionId: id,
          amountMinor: requireMinor(o.amount, 'amount', gateway),
          currency: requireCurrency(o.currency, 'currency', gateway),
          refundOf: paymentIntent,
          references: refs({ dispute: id, charge: idOf(o.charge), paymentIntent }),
        }),
      };
    }
    // charge.refunded carries no refund id in current API versions (CONTRACT): the refund.* events do.
    default:
      return ignored;
  }
}

/** An expandable field: Stripe sends the id, or the object when expanded. */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'string') return str(value);
  return isRecord(value) ? str(value.id) : undefined;
}

/** Stripe's secret JSON: every active endpoint secret; two while rolling. */
export const stripeSecretSchema = z.strictObject({ webhookSecrets: secretList });

export const stripeGatewayFromSecret: GatewayFromSecret = (name, secret) =>
  createStripeGateway({ name, ...parseSecret(stripeSecretSchema, 'stripe', secret, name) });
