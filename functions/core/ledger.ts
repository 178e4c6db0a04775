/**
 * The payments ledger: one entry per applied effect, keyed `{gateway}#{transactionId}#{kind}`.
 * That key is the permanent unique index of "once": it outlives the idempotency lock.
 */

import type { EffectKind } from './events.ts';
import type { Currency } from './money.ts';

/** How the callback that wrote the entry was classified. These are also the callback outcomes. */
export type Classification =
  | 'processed'
  | 'double_payment'
  | 'amount_mismatch'
  | 'unmatched'
  | 'quarantined'
  | 'failed_attempt'
  /** A refund that would take the refunded total above the paid amount: recorded, flagged, never applied. */
  | 'refund_exceeds_paid'
  /**
   * A refund failed before it was applied: its `refund` entry, written beside the `refund_failed` one
   * (Stripe's balance shows both), and that `refund_failed` entry; neither moved the order's total.
   * A later success of that refund is recorded, never applied.
   */
  | 'refund_failed'
  /** An `attempt` recording that the gateway closed our pending refund (WeChat Pay `REFUND.CLOSED`). */
  | 'refund_closed'
  /** An `attempt` recording a refund gone abnormal (WeChat Pay `REFUND.ABNORMAL`): for a person. */
  | 'refund_abnormal';

/** Entry kinds: effects, plus failed attempts and quarantined deliveries stored apart. */
export type EntryKind = EffectKind | 'quarantine';

export interface LedgerEntry {
  /** `{gateway}#{transactionId}#{kind}`, `…#attempt#{eventId}`, or `{key}#quarantine#{fingerprint}`. */
  readonly pk: string;
  readonly gateway: string;
  readonly transactionId: string;
  readonly kind: EntryKind;
  readonly orderId?: string;
  readonly amountMinor: number;
  readonly currency: Currency;
  readonly classification: Classification;
  readonly eventId: string;
  readonly eventType: string;
  readonly references: Readonly<Record<string, string>>;
  readonly refundOf?: string;
  readonly refundId?: string;
  /** Alipay refunds: the trade's cumulative `refund_fee` this notification carried (what it claimed). */
  readonly cumulativeMinor?: number;
  /**
   * `refund_adjustment` entries: the ledger key of the refund they correct. Their `amountMinor` is signed
   * and adds to that refund's amount (negative: the refund was recorded too large).
   */
  readonly adjusts?: string;
  readonly occurredAt?: string;
  /** ISO 8601 UTC, when we received the callback. */
  readonly receivedAt: string;
  /** `{gateway}#{YYYY-MM-DD}` (UTC day of receivedAt): the partition key of the byGatewayDay GSI. */
  readonly gatewayDay: string;
}

export function ledgerKey(gateway: string, transactionId: string, kind: EffectKind): string {
  return `${gateway}#${transactionId}#${kind}`;
}

export function attemptKey(gateway: string, transactionId: string, eventId: string): string {
  return `${gateway}#${transactionId}#attempt#${eventId}`;
}

/** `{gateway}#{transactionId}#refund_adjustment#{notifyId}`: one correction per delivery that caused it. */
export function adjustmentKey(gateway: string, transactionId: string, notifyId: string): string {
  return `${ledgerKey(gateway, transactionId, 'refund_adjustment')}#${notifyId}`;
}

export function quarantineKey(key: string, fingerprint: string): string {
  return `${key}#quarantine#${fingerprint}`;
}

export function gatewayDay(gateway: string, receivedAt: string): string {
  return `${gateway}#${receivedAt.slice(0, 10)}`;
}

/**
 * The sign each ledger kind carries in reconciliation totals (contract §5): money in is positive
 * (payments, refund failures that give a refund back, reinstatements of a won dispute), money out is
 * negative (refunds, their adjustments, reversals). Attempts and quarantined deliveries count nowhere.
 * A `Map`, so a kind read from outside can never hit an object prototype key.
 */
export const KIND_SIGN: ReadonlyMap<string, 1 | -1> = new Map<string, 1 | -1>([
  ['payment', 1],
  ['refund', -1],
  ['refund_adjustment', -1],
  ['refund_failed', 1],
  ['reversal', -1],
  ['reinstatement', 1],
]);

/** Entries that count in reconciliation totals: effects, not attempts or quarantined deliveries. */
export function countsInTotals(entry: Pick<LedgerEntry, 'kind'>): boolean {
  return KIND_SIGN.has(entry.kind);
}
