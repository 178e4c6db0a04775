/**
 * The one normalised callback event every gateway adapter produces after its signature checked out.
 * It carries every reference the gateway gave, so reconciliation can match a settlement row by any of them.
 */
import * as z from 'zod/mini';
import { isCurrency } from './money.ts';

/**
 * What the event does to money. The first six are the ledger's kinds (CONTRACT §3 "What once means"):
 * `refund_failed` gives a refund back (Stripe `refund.failed`), `refund_adjustment` corrects a refund
 * recorded before an earlier one arrived (written by the core, never sent by a gateway), `reinstatement`
 * offsets a won dispute's `reversal`. `attempt` is a delivery that moved no money (a failed payment
 * attempt, a WeChat Pay refund closed or abnormal): recorded per delivery, never counted.
 */
export const EFFECT_KINDS = [
  'payment',
  'refund',
  'refund_failed',
  'refund_adjustment',
  'reversal',
  'reinstatement',
  'attempt',
] as const;
export type EffectKind = (typeof EFFECT_KINDS)[number];

const nonEmpty = z.string().check(z.minLength(1), z.maxLength(256));

export const NormalizedEventSchema = z.object({
  gateway: nonEmpty,
  /** The delivery's own id (Stripe `evt_…`, PayPal `WH-…`, `webhook-id`, Alipay `notify_id`, WeChat `id`). */
  eventId: nonEmpty,
  /** The gateway's own event type, for logs and the ledger. */
  eventType: nonEmpty,
  kind: z.enum(EFFECT_KINDS),
  /** The gateway's transaction id for this effect: `pi_…`, capture id, `re_…`, `trade_no`, `out_biz_no`, … */
  transactionId: nonEmpty,
  /** Our order id, when the gateway echoes it. */
  orderId: z.optional(nonEmpty),
  /** Positive minor units. For Alipay refunds this is the trade's cumulative refunded amount (see `cumulative`). */
  amountMinor: z.int().check(z.positive(), z.lte(Number.MAX_SAFE_INTEGER)),
  currency: z.string().check(z.refine(isCurrency, 'unknown currency')),
  /** Alipay's `refund_fee` is cumulative for the trade, not this refund's own amount. */
  cumulative: z.optional(z.boolean()),
  /** For refunds and reversals: the gateway transaction id of the payment they take money back from. */
  refundOf: z.optional(nonEmpty),
  /** For refunds: our refund id, when we created the refund and the gateway echoes it. */
  refundId: z.optional(nonEmpty),
  /**
   * For `attempt`s about a refund of ours (WeChat Pay `REFUND.CLOSED` / `REFUND.ABNORMAL`): what became
   * of the refund named by `refundId`.
   */
  refundOutcome: z.optional(z.enum(['closed', 'abnormal'])),
  /** When the gateway says it happened (ISO 8601), if it says. */
  occurredAt: z.optional(z.string()),
  /** Every other reference: payment intent, charge, capture, refund, trade numbers. */
  references: z.record(z.string(), z.string()),
});

export type NormalizedEvent = z.infer<typeof NormalizedEventSchema> & {
  currency: import('./money.ts').Currency;
};
