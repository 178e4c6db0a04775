/**
 * Applying one verified callback event exactly once. Pure decisions here; the store port commits each
 * decision as ONE DynamoDB transaction (ledger entry + order update) and reports what it found when a
 * condition failed, so the next decision sees the real state. The ledger key is the permanent unique
 * index: whatever the idempotency lock did or forgot, a second effect cannot be written.
 */
import type { NormalizedEvent } from './events.ts';
import {
  adjustmentKey,
  attemptKey,
  type Classification,
  gatewayDay,
  type LedgerEntry,
  ledgerKey,
  quarantineKey,
} from './ledger.ts';
import { type OrderStatus, type RefundStatus, statusForRefunded } from './order-model.ts';

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
  /** Bumped by every refund commit: a refund decided on a stale order cannot commit (see `refund`). */
  readonly refundSeq: number;
}

/** One of the order's refunds (any status): failures are found by explicit id only. */
export interface RefundView {
  readonly refundId: string;
  readonly status: RefundStatus;
  readonly baseAmountMinor: number;
  readonly payAmountMinor: number;
  readonly createdAt: string;
  readonly items?: readonly { readonly sku: string; readonly quantity: number }[];
}

/** What a failed refund of ours gives back (CONTRACT §3 Refund lifecycle). */
export interface RefundGiveBack {
  readonly refundId: string;
  /** The status the refund must still have (the transaction's condition). */
  readonly fromStatus: RefundStatus;
  readonly baseAmountMinor: number;
  readonly payAmountMinor: number;
  readonly items?: readonly { readonly sku: string; readonly quantity: number }[];
  /** True when its amount is still reserved (pending or abnormal), so the reservation is given back. */
  readonly reserved: boolean;
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
      /** What the order's refunded total grows by (a refund plus any adjustment riding with it). */
      readonly amountMinor: number;
      readonly seenRefundedPayMinor: number;
      readonly seenStatus: OrderStatus;
      /**
       * The refund sequence seen: an Alipay refund whose correction nets to 0 leaves the refunded total
       * unchanged, so the total alone cannot tell that another refund committed in between.
       */
      readonly seenRefundSeq: number;
      readonly nextStatus: OrderStatus;
      /** The pending (or abnormal) refund of ours this completes, if any. */
      readonly refundId?: string;
      readonly refundFromStatus?: RefundStatus;
      /** Its reserved pay amount, released from `pendingRefundPayMinor`. */
      readonly reservedPayMinor?: number;
    }
  /**
   * A refund failed: our refund (if named) becomes `failed` and gives back what it held; when it had
   * been applied (`unapply`), the order's refunded total goes down and its status is recomputed.
   */
  | {
      readonly type: 'refund_failure';
      readonly orderId: string;
      readonly refund?: RefundGiveBack;
      readonly unapply?: {
        readonly amountMinor: number;
        readonly seenRefundedPayMinor: number;
        readonly seenStatus: OrderStatus;
        readonly nextStatus: OrderStatus;
      };
    }
  /** WeChat Pay REFUND.ABNORMAL: our pending refund becomes `abnormal`, reservation kept. */
  | { readonly type: 'refund_abnormal'; readonly orderId: string; readonly refundId: string };

export interface Plan {
  readonly entry: LedgerEntry;
  /** Further ledger entries written in the same transaction, each only if its key is new. */
  readonly extraEntries?: readonly LedgerEntry[];
  /**
   * Late order reference: `entry` already exists without an order id; the commit sets its order id,
   * classification and references (only if it still has no order id) instead of creating it.
   */
  readonly attach?: boolean;
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
  /**
   * The order (or one of the extra entries, or the refund item) was not in the state the plan
   * expected; `order` is the order now when known (undefined: no such order, or decide from a fresh read).
   */
  | { readonly type: 'order_changed'; readonly order: OrderView | undefined };

/** The storage port the callback use case needs. Adapters turn SDK exceptions into these results. */
export interface CallbackStore {
  commit(plan: Plan): Promise<CommitResult>;
  /** Writes a quarantined delivery apart; false when that exact fingerprint was stored before. */
  putQuarantine(entry: LedgerEntry): Promise<boolean>;
  getEntry(key: string): Promise<LedgerEntry | undefined>;
  /** The order and all its refunds, strongly consistent. */
  getOrder(orderId: string): Promise<{ order: OrderView; refunds: RefundView[] } | undefined>;
  /** Ledger entries of one order (for cumulative refund amounts). */
  listEntriesOfOrder(orderId: string): Promise<LedgerEntry[]>;
  /** Adds the references an entry lacks (never overwrites one). */
  mergeReferences(key: string, references: Readonly<Record<string, string>>): Promise<void>;
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

/**
 * Same effect, or a conflicting re-send under the same key? Amount, currency and order decide; a missing
 * order id never conflicts with a present one (CONTRACT §3 "Late order reference").
 */
export function sameEffect(
  a: Pick<LedgerEntry, 'amountMinor' | 'currency' | 'orderId'>,
  b: typeof a,
): boolean {
  return (
    a.amountMinor === b.amountMinor &&
    a.currency === b.currency &&
    (a.orderId === undefined || b.orderId === undefined || a.orderId === b.orderId)
  );
}

/** A short stable fingerprint of what a delivery claims, for storing conflicting re-sends apart. */
export function claimFingerprint(
  event: Pick<NormalizedEvent, 'amountMinor' | 'currency' | 'orderId'>,
  hash: (s: string) => string,
): string {
  return hash(`${event.amountMinor}|${event.currency}|${event.orderId ?? ''}`).slice(0, 16);
}

/**
 * What the idempotency record compares between deliveries of one key. Any difference sends the delivery
 * past the stored answer to the ledger entry itself, which decides: a conflicting amount, currency or
 * order is quarantined; an order id where the entry has none attaches it; new references are merged.
 * Re-deliveries of the very same event (the common retry) have the same claim: 1 request.
 */
export function claimOf(event: NormalizedEvent): readonly [number, string, string, string] {
  const refs = Object.entries(event.references)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return [event.amountMinor, event.currency, event.orderId ?? '', refs];
}

function unmatchedAlert(event: NormalizedEvent, key: string): NonNullable<Plan['alert']> {
  return {
    type: 'Unmatched Payment',
    detail: {
      key,
      orderId: event.orderId,
      amountMinor: event.amountMinor,
      currency: event.currency,
      ...(event.orderId ? {} : { reason: 'the payment names no order' }),
    },
  };
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
    // Recorded all the same (reconciliation sees the money); a later event naming the order attaches it.
    return { entry: entry('unmatched'), outcome: 'unmatched', alert: unmatchedAlert(event, key) };
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
 * Late order reference: the payment is in the ledger as `unmatched` without an order id, and this
 * delivery names the order. Decided as a first delivery would be, committed as an update of the one
 * existing entry (only while it has no order id) in the order's transaction.
 */
export function planAttach(
  event: NormalizedEvent,
  existing: LedgerEntry,
  order: OrderView | undefined | 'assume-pending',
  receivedAt: string,
): Plan {
  const decided = planPayment(event, order, receivedAt);
  return {
    ...decided,
    attach: true,
    entry: {
      ...existing,
      orderId: event.orderId!,
      classification: decided.entry.classification,
      references: { ...event.references, ...existing.references },
    },
  };
}

const APPLIED = 'processed';
const OPEN_REFUND: readonly RefundStatus[] = ['pending', 'abnormal'];

function giveBack(refund: RefundView): RefundGiveBack {
  return {
    refundId: refund.refundId,
    fromStatus: refund.status,
    baseAmountMinor: refund.baseAmountMinor,
    payAmountMinor: refund.payAmountMinor,
    ...(refund.items ? { items: refund.items } : {}),
    reserved: OPEN_REFUND.includes(refund.status),
  };
}

/** Alipay's cumulative `refund_fee` turned into this refund's own amount and the correction it causes. */
export interface CumulativeSplit {
  /** This refund's own amount: its cumulative minus the highest cumulative below it. */
  readonly amountMinor: number;
  /** A correction of the next refund up, recorded before this one arrived. */
  readonly adjustment?: { readonly of: LedgerEntry; readonly amountMinor: number };
}

/**
 * Whatever the order of arrival, each refund of a trade ends at its cumulative minus the one before it,
 * and the trade's refunds sum to the highest cumulative seen. Cumulative totals only grow, so ordering
 * by them is Alipay's `gmt_refund` order. `entries` are the trade's recorded refunds and adjustments.
 */
export function splitCumulative(cumulativeMinor: number, entries: readonly LedgerEntry[]): CumulativeSplit {
  const refunds = entries.filter((e) => e.kind === 'refund' && e.cumulativeMinor !== undefined);
  const below = refunds.filter((e) => e.cumulativeMinor! < cumulativeMinor);
  const previous = below.reduce((max, e) => Math.max(max, e.cumulativeMinor!), 0);
  const amountMinor = cumulativeMinor - previous;
  const next = refunds
    .filter((e) => e.cumulativeMinor! > cumulativeMinor)
    .sort((a, b) => a.cumulativeMinor! - b.cumulativeMinor!)[0];
  if (!next) return { amountMinor };
  const recorded =
    next.amountMinor +
    entries
      .filter((e) => e.kind === 'refund_adjustment' && e.adjusts === next.pk)
      .reduce((sum, e) => sum + e.amountMinor, 0);
  const correction = next.cumulativeMinor! - cumulativeMinor - recorded;
  return correction === 0
    ? { amountMinor }
    : { amountMinor, adjustment: { of: next, amountMinor: correction } };
}

/**
 * Decides a refund given the order and its refunds, the refund's own amount, and for Alipay the
 * correction of a refund recorded before this earlier one arrived.
 */
export function planRefund(
  event: NormalizedEvent,
  amountMinor: number,
  found: { order: OrderView; refunds: readonly RefundView[] } | undefined,
  receivedAt: string,
  extra: { readonly adjustment?: LedgerEntry; readonly cumulativeMinor?: number } = {},
): Plan {
  const key = eventKey(event);
  const base: LedgerEntry = {
    ...toEntry(event, 'processed', receivedAt),
    amountMinor,
    ...(extra.cumulativeMinor !== undefined ? { cumulativeMinor: extra.cumulativeMinor } : {}),
  };
  const adjustment = extra.adjustment;
  // The adjustment shares this refund's fate, unless the refund it corrects was never applied itself.
  const withAdjustment = (entry: LedgerEntry, classification: Classification) =>
    adjustment
      ? [
          {
            ...adjustment,
            orderId: entry.orderId ?? adjustment.orderId,
            classification:
              adjustment.classification === APPLIED ? classification : adjustment.classification,
          },
        ]
      : [];
  if (!found) {
    return {
      entry: { ...base, classification: 'unmatched' },
      extraEntries: withAdjustment(base, 'unmatched'),
      outcome: 'unmatched',
      alert: { type: 'Unsolicited Refund', detail: { key, refundOf: event.refundOf, amountMinor } },
    };
  }
  const { order, refunds } = found;
  const entry = { ...base, orderId: order.orderId };
  // A failure is final: a success of a refund we know failed is recorded, never applied (CONTRACT §3).
  const named = event.refundId ? refunds.find((r) => r.refundId === event.refundId) : undefined;
  if (named?.status === 'failed') {
    return {
      entry: { ...entry, refundId: named.refundId, classification: 'refund_failed' },
      extraEntries: withAdjustment(entry, 'refund_failed'),
      outcome: 'processed',
    };
  }
  // The adjustment changes the refunded total only when the refund it corrects was applied.
  const delta =
    amountMinor + (adjustment && extra.adjustment?.classification === APPLIED ? adjustment.amountMinor : 0);
  const paid = order.status !== 'pending_payment' && order.paidBy !== undefined;
  if (
    !paid ||
    event.currency !== order.payCurrency ||
    order.refundedPayMinor + delta > order.payAmountMinor
  ) {
    // Recorded so reconciliation sees the money, flagged and alerted, never applied to the order.
    return {
      entry: { ...entry, classification: 'refund_exceeds_paid' },
      extraEntries: withAdjustment(entry, 'refund_exceeds_paid'),
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
  // Ours by id, else the oldest open refund of the same amount, else one we did not initiate.
  const open = refunds.filter((r) => OPEN_REFUND.includes(r.status));
  const pending =
    (named && OPEN_REFUND.includes(named.status) ? named : undefined) ??
    (named
      ? undefined
      : open
          .filter((r) => r.status === 'pending' && r.payAmountMinor === amountMinor)
          .sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0]);
  const refunded = order.refundedPayMinor + delta;
  return {
    entry: pending ? { ...entry, refundId: pending.refundId } : entry,
    extraEntries: withAdjustment(entry, APPLIED),
    outcome: 'processed',
    orderChange: {
      type: 'refund',
      orderId: order.orderId,
      amountMinor: delta,
      seenRefundedPayMinor: order.refundedPayMinor,
      seenStatus: order.status,
      seenRefundSeq: order.refundSeq,
      nextStatus: refunded === order.payAmountMinor ? 'refunded' : 'partially_refunded',
      ...(pending
        ? {
            refundId: pending.refundId,
            refundFromStatus: pending.status,
            reservedPayMinor: pending.payAmountMinor,
          }
        : {}),
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
  const firstPlan = event.kind === 'payment' ? planPayment(event, 'assume-pending', receivedAt) : undefined;
  return run(event, deps, receivedAt, firstPlan);
}

/**
 * A delivery whose claim differs from what the idempotency record stored for its key (another order
 * reference, new references, another amount): the ledger entry decides, not the stored answer.
 */
export async function applyToRecorded(event: NormalizedEvent, deps: ApplyDeps): Promise<CallbackOutcome> {
  const receivedAt = deps.now().toISOString();
  const existing = await deps.store.getEntry(eventKey(event));
  if (!existing) return run(event, deps, receivedAt, undefined);
  const next = await onExisting(event, existing, deps, receivedAt);
  return typeof next === 'string' ? next : run(event, deps, receivedAt, next);
}

async function run(
  event: NormalizedEvent,
  deps: ApplyDeps,
  receivedAt: string,
  first: Plan | undefined,
): Promise<CallbackOutcome> {
  let plan = first ?? (await planFresh(event, deps, receivedAt));
  for (let attempt = 0; attempt < MAX_REPLANS; attempt++) {
    const result = await deps.store.commit(plan);
    if (result.type === 'committed') {
      if (plan.alert) await deps.raise(plan.alert);
      return plan.outcome;
    }
    if (result.type === 'entry_exists') {
      const next = await onExisting(event, result.existing, deps, receivedAt);
      if (typeof next === 'string') return next;
      plan = next;
      continue;
    }
    // The order moved (or does not exist): decide again on what it is now.
    if (event.kind === 'payment') {
      plan = plan.attach
        ? planAttach(event, plan.entry, result.order, receivedAt)
        : planPayment(event, result.order, receivedAt);
    } else {
      plan = await planFresh(event, deps, receivedAt);
    }
  }
  throw new TransientStoreError(`order kept changing while applying ${eventKey(event)}`);
}

/**
 * The ledger already holds this key. Another amount, currency or order → quarantined; a payment
 * recorded `unmatched` without an order id, now named by this delivery → attached (a plan to commit);
 * anything else → `duplicate`, merging the references the entry lacks.
 */
async function onExisting(
  event: NormalizedEvent,
  existing: LedgerEntry,
  deps: ApplyDeps,
  receivedAt: string,
): Promise<CallbackOutcome | Plan> {
  const claimed = event.cumulative
    ? (existing.cumulativeMinor ?? existing.amountMinor)
    : existing.amountMinor;
  // Refunds and reversals take their order from the payment: only a payment's own order id can conflict.
  const orderId = event.kind === 'payment' ? event.orderId : undefined;
  const same = sameEffect(
    { amountMinor: claimed, currency: existing.currency, orderId: existing.orderId },
    {
      amountMinor: event.amountMinor,
      currency: event.currency,
      orderId,
    },
  );
  if (!same) return quarantine(event, { pk: eventKey(event), receivedAt }, deps);
  if (event.kind === 'payment' && orderId && !existing.orderId && existing.classification === 'unmatched') {
    return planAttach(event, existing, 'assume-pending', receivedAt);
  }
  const missing = Object.entries(event.references).filter(([k]) => existing.references?.[k] === undefined);
  if (missing.length > 0) await deps.store.mergeReferences(existing.pk, Object.fromEntries(missing));
  return 'duplicate';
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

/** Reads what a non-payment decision needs and decides. */
async function planFresh(event: NormalizedEvent, deps: ApplyDeps, receivedAt: string): Promise<Plan> {
  switch (event.kind) {
    case 'payment':
      return planPayment(event, 'assume-pending', receivedAt);
    case 'attempt':
      return event.refundOutcome
        ? planRefundNotice(event, deps, receivedAt)
        : { entry: toEntry(event, 'failed_attempt', receivedAt), outcome: 'processed' };
    case 'refund':
      return planRefundEvent(event, deps, receivedAt);
    case 'refund_failed':
      return planRefundFailure(event, deps, receivedAt);
    case 'reversal':
    case 'reinstatement':
      return planDispute(event, deps, receivedAt);
    case 'refund_adjustment':
      // Written by the core beside a refund, never sent by a gateway: a gateway adapter bug.
      throw new TypeError(`a gateway event cannot be a refund_adjustment (${eventKey(event)})`);
  }
}

/** The payment an event takes money back from, and its order (the payment knows it best). */
async function paymentContext(event: NormalizedEvent, deps: ApplyDeps, orderHint?: string) {
  const payment = event.refundOf
    ? await deps.store.getEntry(ledgerKey(event.gateway, event.refundOf, 'payment'))
    : undefined;
  const orderId = payment?.orderId ?? orderHint ?? event.orderId;
  const found = orderId ? await deps.store.getOrder(orderId) : undefined;
  return { payment, orderId, found };
}

async function planRefundEvent(event: NormalizedEvent, deps: ApplyDeps, receivedAt: string): Promise<Plan> {
  const { payment, orderId, found } = await paymentContext(event, deps);
  const evt = { ...event, ...(orderId ? { orderId } : {}) };
  if (found && payment && found.order.paidBy !== undefined && found.order.paidBy !== payment.pk) {
    // A refund of a double payment returns the duplicate and leaves the order alone (CONTRACT §3).
    return {
      entry: { ...toEntry(evt, 'double_payment', receivedAt) },
      outcome: 'processed',
    };
  }
  if (!(event.cumulative && event.refundOf && orderId)) {
    return planRefund(evt, event.amountMinor, found, receivedAt);
  }
  // Alipay: refund_fee is the trade's cumulative refunded amount; refunds arrive in any order.
  const ofOrder = await deps.store.listEntriesOfOrder(orderId);
  if (found && appliedRefunds(ofOrder) !== found.order.refundedPayMinor) {
    // The byOrder index has not caught up with the order yet (GSIs are eventually consistent): deciding
    // on it could split the cumulative amount wrongly, so the gateway's retry decides instead.
    throw new TransientStoreError(`ledger index behind order ${orderId}`);
  }
  const trade = ofOrder.filter(
    (e) =>
      e.gateway === event.gateway &&
      e.refundOf === event.refundOf &&
      e.transactionId !== event.transactionId &&
      (e.kind === 'refund' || e.kind === 'refund_adjustment'),
  );
  const split = splitCumulative(event.amountMinor, trade);
  // CONTRACT: when out_biz_no names our refund, the refund's amount is that refund's.
  const ours = event.refundId ? found?.refunds.find((r) => r.refundId === event.refundId) : undefined;
  const amountMinor = ours && OPEN_REFUND.includes(ours.status) ? ours.payAmountMinor : split.amountMinor;
  const adjustment = split.adjustment
    ? ({
        ...toEntry(evt, split.adjustment.of.classification, receivedAt),
        pk: adjustmentKey(event.gateway, split.adjustment.of.transactionId, event.eventId),
        kind: 'refund_adjustment',
        transactionId: split.adjustment.of.transactionId,
        amountMinor: split.adjustment.amountMinor,
        adjusts: split.adjustment.of.pk,
        ...(split.adjustment.of.refundId ? { refundId: split.adjustment.of.refundId } : {}),
        references: split.adjustment.of.references,
      } satisfies LedgerEntry)
    : undefined;
  return planRefund(evt, amountMinor, found, receivedAt, {
    cumulativeMinor: event.amountMinor,
    ...(adjustment ? { adjustment } : {}),
  });
}

/** The refunded total the ledger entries of one order account for (what the order's own total must equal). */
function appliedRefunds(entries: readonly LedgerEntry[]): number {
  let total = 0;
  for (const e of entries) {
    if (e.classification !== APPLIED) continue;
    if (e.kind === 'refund' || e.kind === 'refund_adjustment') total += e.amountMinor;
    else if (e.kind === 'refund_failed') total -= e.amountMinor;
  }
  return total;
}

/**
 * A refund the gateway failed, closed or cancelled (Stripe `refund.failed`, `refund.updated` to
 * failed/canceled). Found only by explicit id: our `metadata.refund_id`, or the refund entry the
 * gateway's refund id names. Applied before → the money goes back to the order; not applied → our
 * pending refund fails and gives back what it held, and the `refund` entry is written unapplied beside
 * the `refund_failed` one, as Stripe's balance shows both.
 */
async function planRefundFailure(event: NormalizedEvent, deps: ApplyDeps, receivedAt: string): Promise<Plan> {
  const refundKey = ledgerKey(event.gateway, event.transactionId, 'refund');
  const refundEntry = await deps.store.getEntry(refundKey);
  const { orderId, found } = await paymentContext(event, deps, refundEntry?.orderId);
  const refundId = event.refundId ?? refundEntry?.refundId;
  const ours = refundId ? found?.refunds.find((r) => r.refundId === refundId) : undefined;
  const applied = refundEntry?.classification === APPLIED && found !== undefined;
  const entry: LedgerEntry = {
    // `processed` only when it takes an applied refund back; `refund_failed` when it never was applied.
    ...toEntry(event, !found ? 'unmatched' : applied ? 'processed' : 'refund_failed', receivedAt),
    ...(orderId ? { orderId } : {}),
    ...(ours ? { refundId: ours.refundId } : {}),
  };
  const key = eventKey(event);
  const alert: NonNullable<Plan['alert']> = {
    type: 'Refund Failed',
    detail: {
      key,
      orderId,
      refundId: ours?.refundId,
      amountMinor: event.amountMinor,
      currency: event.currency,
      applied: refundEntry?.classification === APPLIED,
    },
  };
  if (applied && refundEntry) {
    const { order } = found;
    const refunded = order.refundedPayMinor - refundEntry.amountMinor;
    return {
      entry,
      outcome: 'processed',
      orderChange: {
        type: 'refund_failure',
        orderId: order.orderId,
        ...(ours && ours.status !== 'failed' ? { refund: giveBack(ours) } : {}),
        unapply: {
          amountMinor: refundEntry.amountMinor,
          seenRefundedPayMinor: order.refundedPayMinor,
          seenStatus: order.status,
          nextStatus: statusForRefunded(refunded, order.payAmountMinor),
        },
      },
      alert,
    };
  }
  const unappliedRefund: LedgerEntry | undefined = refundEntry
    ? undefined
    : {
        ...toEntry({ ...event, kind: 'refund' }, 'refund_failed', receivedAt),
        ...(orderId ? { orderId } : {}),
        ...(ours ? { refundId: ours.refundId } : {}),
      };
  return {
    entry,
    ...(unappliedRefund ? { extraEntries: [unappliedRefund] } : {}),
    outcome: found ? 'processed' : 'unmatched',
    ...(ours && OPEN_REFUND.includes(ours.status)
      ? {
          orderChange: {
            type: 'refund_failure',
            orderId: found!.order.orderId,
            refund: giveBack(ours),
          } as const,
        }
      : {}),
    alert,
  };
}

/**
 * WeChat Pay `REFUND.CLOSED` (our pending refund → `failed`, given back) and `REFUND.ABNORMAL` (→
 * `abnormal`, reservation kept, a person redirects the money). No money moved with either delivery:
 * recorded per delivery like an attempt, counted nowhere.
 */
async function planRefundNotice(event: NormalizedEvent, deps: ApplyDeps, receivedAt: string): Promise<Plan> {
  const closed = event.refundOutcome === 'closed';
  const { orderId, found } = await paymentContext(event, deps);
  const ours = event.refundId ? found?.refunds.find((r) => r.refundId === event.refundId) : undefined;
  const entry: LedgerEntry = {
    ...toEntry(event, closed ? 'refund_closed' : 'refund_abnormal', receivedAt),
    ...(orderId ? { orderId } : {}),
  };
  const alert: NonNullable<Plan['alert']> = {
    type: closed ? 'Refund Failed' : 'Refund Abnormal',
    detail: {
      key: eventKey(event),
      orderId,
      refundId: event.refundId,
      gatewayRefundId: event.transactionId,
      amountMinor: event.amountMinor,
      currency: event.currency,
      ...(closed ? {} : { action: 'redirect the refund (the buyer account could not take it)' }),
    },
  };
  let orderChange: OrderChange | undefined;
  if (ours && found && closed && OPEN_REFUND.includes(ours.status)) {
    orderChange = { type: 'refund_failure', orderId: found.order.orderId, refund: giveBack(ours) };
  } else if (ours && found && !closed && ours.status === 'pending') {
    orderChange = { type: 'refund_abnormal', orderId: found.order.orderId, refundId: ours.refundId };
  }
  return { entry, outcome: 'processed', ...(orderChange ? { orderChange } : {}), alert };
}

/**
 * `reversal` (a dispute's funds withdrawn) flags the order `disputed`; `reinstatement` (a dispute the
 * merchant won, Stripe `charge.dispute.funds_reinstated`) offsets it and is alerted.
 */
async function planDispute(event: NormalizedEvent, deps: ApplyDeps, receivedAt: string): Promise<Plan> {
  const { orderId, found } = await paymentContext(event, deps);
  const entry = { ...toEntry(event, 'processed', receivedAt), ...(orderId ? { orderId } : {}) };
  if (event.kind === 'reinstatement') {
    return {
      entry,
      outcome: 'processed',
      alert: {
        type: 'Dispute Reinstated',
        detail: {
          key: eventKey(event),
          orderId,
          dispute: event.transactionId,
          amountMinor: event.amountMinor,
          currency: event.currency,
        },
      },
    };
  }
  return {
    entry,
    outcome: 'processed',
    ...(found && !found.order.flags.includes('disputed')
      ? { orderChange: { type: 'flag', orderId: found.order.orderId, flag: 'disputed' } as const }
      : {}),
  };
}
