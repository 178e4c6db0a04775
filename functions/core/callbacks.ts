/**
 * Applying one verified callback event exactly once. Pure decisions here; the store port commits each
 * decision as ONE DynamoDB transaction (ledger entry + order update) and reports what it found when a
 * condition failed, so the next decision sees the real state. The ledger key is the permanent unique
 * index: whatever the idempotency lock did or forgot, a second effect cannot be written.
 */
import type { NormalizedEvent } from './events.ts';
import {
  attemptKey,
  type Classification,
  gatewayDay,
  type LedgerEntry,
  ledgerKey,
  quarantineKey,
} from './ledger.ts';
import type { OrderStatus } from './order-model.ts';

/** What a callback answers (CONTRACT §3 status table, 200 rows). */
export type CallbackOutcome =
  | 'processed'
  | 'duplicate'
  | 'double_payment'
  | 'amount_mismatch'
  | 'unmatched'
  | 'quarantined'
  | 'refund_exceeds_paid';

/** The order as the callback needs to see it. */
export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly payAmountMinor: number;
  readonly payCurrency: string;
  readonly flags: readonly string[];
  readonly paidBy?: string;
  readonly refundedPayMinor: number;
  readonly pendingRefundPayMinor: number;
}

export interface PendingRefundView {
  readonly refundId: string;
  readonly payAmountMinor: number;
  readonly createdAt: string;
}

/** A change to the order that rides in the same transaction as the ledger entry. */
export type OrderChange =
  /** pending_payment → paid, conditioned on the locked pay amount and currency. */
  | {
      readonly type: 'pay';
      readonly orderId: string;
      readonly amountMinor: number;
      readonly currency: string;
    }
  /** pending_payment → payment_review (another amount or currency arrived). */
  | { readonly type: 'review'; readonly orderId: string }
  /** Adds a flag the order does not have yet; status untouched. */
  | { readonly type: 'flag'; readonly orderId: string; readonly flag: string }
  /** Applies a refund: conditioned on the refunded total seen, so concurrent refunds cannot overshoot. */
  | {
      readonly type: 'refund';
      readonly orderId: string;
      readonly amountMinor: number;
      readonly seenRefundedPayMinor: number;
      readonly seenStatus: OrderStatus;
      readonly nextStatus: OrderStatus;
      /** The pending refund this completes, if any. */
      readonly refundId?: string;
    };

export interface Plan {
  readonly entry: LedgerEntry;
  readonly orderChange?: OrderChange;
  readonly outcome: CallbackOutcome;
  /** Alert to raise after the commit succeeded. */
  readonly alert?: {
    readonly type: import('./alerts.ts').AlertType;
    readonly detail: Record<string, unknown>;
  };
}

export type CommitResult =
  | { readonly type: 'committed' }
  /** The ledger already holds this key: the delivery is a duplicate (or a conflicting re-send). */
  | { readonly type: 'entry_exists'; readonly existing: LedgerEntry }
  /** The order was not in the state the plan expected; here is what it is now (undefined: no such order). */
  | { readonly type: 'order_changed'; readonly order: OrderView | undefined };

/** The storage port the callback use case needs. Adapters turn SDK exceptions into these results. */
export interface CallbackStore {
  commit(plan: Plan): Promise<CommitResult>;
  /** Writes a quarantined delivery apart; false when that exact fingerprint was stored before. */
  putQuarantine(entry: LedgerEntry): Promise<boolean>;
  getEntry(key: string): Promise<LedgerEntry | undefined>;
  getOrder(orderId: string): Promise<{ order: OrderView; pendingRefunds: PendingRefundView[] } | undefined>;
  /** Ledger entries of one order (for cumulative refund amounts). */
  listEntriesOfOrder(orderId: string): Promise<LedgerEntry[]>;
}

export class TransientStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientStoreError';
  }
}

/** The idempotency key of an event: gateway + transaction id + effect kind (attempts: per delivery). */
export function eventKey(event: NormalizedEvent): string {
  return event.kind === 'attempt'
    ? attemptKey(event.gateway, event.transactionId, event.eventId)
    : ledgerKey(event.gateway, event.transactionId, event.kind);
}

export function toEntry(
  event: NormalizedEvent,
  classification: Classification,
  receivedAt: string,
): LedgerEntry {
  return {
    pk: eventKey(event),
    gateway: event.gateway,
    transactionId: event.transactionId,
    kind: event.kind,
    ...(event.orderId ? { orderId: event.orderId } : {}),
    amountMinor: event.amountMinor,
    currency: event.currency,
    classification,
    eventId: event.eventId,
    eventType: event.eventType,
    references: event.references,
    ...(event.refundOf ? { refundOf: event.refundOf } : {}),
    ...(event.refundId ? { refundId: event.refundId } : {}),
    ...(event.occurredAt ? { occurredAt: event.occurredAt } : {}),
    receivedAt,
    gatewayDay: gatewayDay(event.gateway, receivedAt),
  };
}

/** Same effect, or a conflicting re-send under the same key? Amount, currency and order decide. */
export function sameEffect(
  a: Pick<LedgerEntry, 'amountMinor' | 'currency' | 'orderId'>,
  b: typeof a,
): boolean {
  return (
    a.amountMinor === b.amountMinor && a.currency === b.currency && (a.orderId ?? '') === (b.orderId ?? '')
  );
}

/** A short stable fingerprint of what a delivery claims, for storing conflicting re-sends apart. */
export function claimFingerprint(
  event: Pick<NormalizedEvent, 'amountMinor' | 'currency' | 'orderId'>,
  hash: (s: string) => string,
): string {
  return hash(`${event.amountMinor}|${event.currency}|${event.orderId ?? ''}`).slice(0, 16);
}

/** Decides a payment given the order as last seen (`'assume-pending'` before any read: the common case). */
export function planPayment(
  event: NormalizedEvent,
  order: OrderView | undefined | 'assume-pending',
  receivedAt: string,
): Plan {
  const key = eventKey(event);
  const entry = (c: Classification) => toEntry(event, c, receivedAt);
  if (!event.orderId || order === undefined) {
    return {
      entry: entry('unmatched'),
      outcome: 'unmatched',
      alert: {
        type: 'Unmatched Payment',
        detail: { key, orderId: event.orderId, amountMinor: event.amountMinor, currency: event.currency },
      },
    };
  }
  if (order === 'assume-pending') {
    return {
      entry: entry('processed'),
      outcome: 'processed',
      orderChange: {
        type: 'pay',
        orderId: event.orderId,
        amountMinor: event.amountMinor,
        currency: event.currency,
      },
    };
  }
  if (order.status === 'pending_payment') {
    if (order.payAmountMinor === event.amountMinor && order.payCurrency === event.currency) {
      return planPayment(event, 'assume-pending', receivedAt);
    }
    return {
      entry: entry('amount_mismatch'),
      outcome: 'amount_mismatch',
      orderChange: { type: 'review', orderId: order.orderId },
      alert: {
        type: 'Amount Mismatch',
        detail: {
          key,
          orderId: order.orderId,
          expected: { amountMinor: order.payAmountMinor, currency: order.payCurrency },
          received: { amountMinor: event.amountMinor, currency: event.currency },
        },
      },
    };
  }
  // The order already has a successful payment from another transaction: the customer paid twice.
  return {
    entry: entry('double_payment'),
    outcome: 'double_payment',
    ...(order.flags.includes('double_payment')
      ? {}
      : { orderChange: { type: 'flag', orderId: order.orderId, flag: 'double_payment' } as const }),
    alert: {
      type: 'Double Payment',
      detail: {
        key,
        orderId: order.orderId,
        paidBy: order.paidBy,
        amountMinor: event.amountMinor,
        currency: event.currency,
      },
    },
  };
}

/**
 * Decides a refund given the order, its pending refunds and the refund's own amount (for Alipay, the
 * cumulative `refund_fee` already turned into this refund's increment).
 */
export function planRefund(
  event: NormalizedEvent,
  amountMinor: number,
  found: { order: OrderView; pendingRefunds: readonly PendingRefundView[] } | undefined,
  receivedAt: string,
): Plan {
  const key = eventKey(event);
  const base = { ...toEntry(event, 'processed', receivedAt), amountMinor };
  if (!found) {
    return {
      entry: { ...base, classification: 'unmatched' },
      outcome: 'unmatched',
      alert: { type: 'Unsolicited Refund', detail: { key, refundOf: event.refundOf, amountMinor } },
    };
  }
  const { order, pendingRefunds } = found;
  const entry = { ...base, orderId: order.orderId };
  const paid = order.status !== 'pending_payment' && order.paidBy !== undefined;
  if (
    !paid ||
    event.currency !== order.payCurrency ||
    order.refundedPayMinor + amountMinor > order.payAmountMinor
  ) {
    // Recorded so reconciliation sees the money, flagged and alerted, never applied to the order.
    return {
      entry: { ...entry, classification: 'refund_exceeds_paid' },
      outcome: 'refund_exceeds_paid',
      ...(order.flags.includes('refund_exceeds_paid')
        ? {}
        : { orderChange: { type: 'flag', orderId: order.orderId, flag: 'refund_exceeds_paid' } as const }),
      alert: {
        type: 'Refund Exceeds Paid',
        detail: {
          key,
          orderId: order.orderId,
          amountMinor,
          currency: event.currency,
          refundedPayMinor: order.refundedPayMinor,
          payAmountMinor: order.payAmountMinor,
        },
      },
    };
  }
  // Ours by id, else the oldest pending refund of the same amount, else one we did not initiate.
  const pending =
    (event.refundId ? pendingRefunds.find((r) => r.refundId === event.refundId) : undefined) ??
    [...pendingRefunds]
      .filter((r) => r.payAmountMinor === amountMinor)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
  const refunded = order.refundedPayMinor + amountMinor;
  return {
    entry: pending ? { ...entry, refundId: pending.refundId } : entry,
    outcome: 'processed',
    orderChange: {
      type: 'refund',
      orderId: order.orderId,
      amountMinor,
      seenRefundedPayMinor: order.refundedPayMinor,
      seenStatus: order.status,
      nextStatus: refunded === order.payAmountMinor ? 'refunded' : 'partially_refunded',
      ...(pending ? { refundId: pending.refundId } : {}),
    },
    ...(pending
      ? {}
      : {
          alert: {
            type: 'Unsolicited Refund' as const,
            detail: { key, orderId: order.orderId, amountMinor, currency: event.currency },
          },
        }),
  };
}

export interface ApplyDeps {
  readonly store: CallbackStore;
  readonly now: () => Date;
  readonly raise: (alert: NonNullable<Plan['alert']>) => Promise<void>;
  readonly hash: (s: string) => string;
}

/** How often a decision is retried after the order changed underneath it before giving up (500). */
const MAX_REPLANS = 4;

/** Applies a verified event once. Throws TransientStoreError for anything worth a gateway retry. */
export async function applyEvent(event: NormalizedEvent, deps: ApplyDeps): Promise<CallbackOutcome> {
  const receivedAt = deps.now().toISOString();
  let plan: Plan | undefined;
  switch (event.kind) {
    case 'attempt':
      plan = { entry: toEntry(event, 'failed_attempt', receivedAt), outcome: 'processed' };
      break;
    case 'payment':
      plan = planPayment(event, 'assume-pending', receivedAt);
      break;
    case 'refund':
    case 'reversal':
      plan = await planTakeBack(event, deps, receivedAt);
      break;
  }

  for (let attempt = 0; attempt < MAX_REPLANS; attempt++) {
    const result = await deps.store.commit(plan);
    if (result.type === 'committed') {
      if (plan.alert) await deps.raise(plan.alert);
      return plan.outcome;
    }
    if (result.type === 'entry_exists') {
      if (sameEffect(result.existing, plan.entry)) return 'duplicate';
      return quarantine(event, plan.entry, deps);
    }
    // The order moved (or does not exist): decide again on what it is now.
    plan =
      event.kind === 'payment'
        ? planPayment(event, result.order, receivedAt)
        : await planTakeBack(event, deps, receivedAt);
  }
  throw new TransientStoreError(`order kept changing while applying ${eventKey(event)}`);
}

/** A conflicting re-send of a recorded key: stored apart, alerted once, counted nowhere. */
export async function quarantine(
  event: NormalizedEvent,
  entry: Pick<LedgerEntry, 'pk' | 'receivedAt'> & Partial<LedgerEntry>,
  deps: ApplyDeps,
): Promise<'quarantined'> {
  const fingerprint = claimFingerprint(event, deps.hash);
  const stored = await deps.store.putQuarantine({
    ...toEntry(event, 'quarantined', entry.receivedAt),
    pk: quarantineKey(eventKey(event), fingerprint),
    kind: 'quarantine',
  });
  if (stored) {
    await deps.raise({
      type: 'Callback Quarantined',
      detail: {
        key: eventKey(event),
        fingerprint,
        eventId: event.eventId,
        claimed: { amountMinor: event.amountMinor, currency: event.currency, orderId: event.orderId },
      },
    });
  }
  return 'quarantined';
}

async function planTakeBack(event: NormalizedEvent, deps: ApplyDeps, receivedAt: string): Promise<Plan> {
  // Which order? The payment it refunds knows; else the order id the gateway echoed.
  const payment = event.refundOf
    ? await deps.store.getEntry(ledgerKey(event.gateway, event.refundOf, 'payment'))
    : undefined;
  const orderId = payment?.orderId ?? event.orderId;
  const found = orderId ? await deps.store.getOrder(orderId) : undefined;
  let amountMinor = event.amountMinor;
  if (event.cumulative && event.refundOf && orderId) {
    // Alipay reports the trade's cumulative refunded amount: this refund is the increment.
    const earlier = await deps.store.listEntriesOfOrder(orderId);
    const before = earlier
      .filter(
        (e) =>
          e.kind === 'refund' &&
          e.gateway === event.gateway &&
          e.refundOf === event.refundOf &&
          e.transactionId !== event.transactionId &&
          e.classification === 'processed',
      )
      .reduce((sum, e) => sum + e.amountMinor, 0);
    amountMinor = event.amountMinor - before;
    if (amountMinor <= 0) amountMinor = event.amountMinor;
  }
  if (event.kind === 'reversal') {
    const entry = {
      ...toEntry(event, 'processed', receivedAt),
      ...(orderId ? { orderId } : {}),
    };
    return {
      entry,
      outcome: 'processed',
      ...(found && !found.order.flags.includes('disputed')
        ? { orderChange: { type: 'flag', orderId: found.order.orderId, flag: 'disputed' } as const }
        : {}),
    };
  }
  return planRefund({ ...event, ...(orderId ? { orderId } : {}) }, amountMinor, found, receivedAt);
}
