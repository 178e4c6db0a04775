/**
 * Partial refunds at the order's original rate, and the refund buffer that absorbs their FX cost.
 *
 * Cumulative rounding: a refund's pay amount is `round(cumulativeBase / rate) − round(previousCumulativeBase / rate)`,
 * so however an order is split into refunds, refunding all of it returns exactly the pay amount the customer paid
 * (rounding each refund on its own could drift by a minor unit per refund).
 */
import type { Alerts } from './alerts.ts';
import { type FxRateStore, FxRateUnavailableError, pairOf } from './fx.ts';
import { applyRate, baseToPay, type Currency, payToBase } from './money.ts';
import { type OrderRecord, type RefundRecord, refundSk } from './order-model.ts';
import {
  newId,
  OrderError,
  OrderNotFoundError,
  type OrdersRepository,
  OrderValidationError,
} from './orders.ts';

export class RefundExceedsPaidError extends OrderError {
  constructor(orderId: string, detail: string) {
    super(`refund exceeds what order ${orderId} paid: ${detail}`, orderId);
    this.name = 'RefundExceedsPaidError';
  }
}

export class OrderNotPaidError extends OrderError {
  readonly status: string;
  constructor(orderId: string, status: string) {
    super(`order ${orderId} is ${status}, not paid`, orderId);
    this.name = 'OrderNotPaidError';
    this.status = status;
  }
}

/** The order kept changing under us (concurrent refunds or completions): the caller may retry. */
export class RefundConflictError extends OrderError {
  constructor(orderId: string, attempts: number) {
    super(`order ${orderId} changed concurrently ${attempts} times`, orderId);
    this.name = 'RefundConflictError';
  }
}

export type RefundRequest =
  | { readonly items: readonly { readonly sku: string; readonly quantity: number }[] }
  | { readonly baseAmountMinor: number };

export interface RefundPlan {
  readonly baseAmountMinor: number;
  readonly payAmountMinor: number;
  readonly refundBaseCumulativeMinor: number;
  readonly refundPayCumulativeMinor: number;
  /** A Map: skus come from requests, and `constructor` or `__proto__` must be a sku like any other. */
  readonly refundedQuantities: ReadonlyMap<string, number>;
  readonly items?: readonly { sku: string; quantity: number }[];
}

/** Statuses a refund may be created in; `refunded` answers refund_exceeds_paid (nothing is left). */
const REFUNDABLE = ['paid', 'partially_refunded'] as const;

/** Pay amount corresponding to a cumulative base amount, at the order's own rate. */
export function cumulativePay(order: OrderRecord, cumulativeBaseMinor: number): number {
  // The whole order is exactly what was paid, whatever rounding rule priced it.
  if (cumulativeBaseMinor === order.baseAmountMinor) return order.payAmountMinor;
  return baseToPay(
    cumulativeBaseMinor,
    order.baseCurrency,
    order.payCurrency,
    order.exchangeRate.rate,
    order.payIncrementMinor ?? 1,
  );
}

/**
 * Decides a refund against the order as read: its base amount (by items or given), its pay amount by
 * cumulative rounding, and the order's new refund totals. Pending refunds count against what is refundable.
 */
export function planRefund(order: OrderRecord, request: RefundRequest): RefundPlan {
  // Object.entries reads own properties only: a stored sku `constructor` is its count, not Object.
  const quantities = new Map<string, number>(Object.entries(order.refundedQuantities ?? {}));
  let baseAmountMinor: number;
  let items: { sku: string; quantity: number }[] | undefined;

  if ('items' in request) {
    const requested = new Map<string, number>();
    for (const { sku, quantity } of request.items) requested.set(sku, (requested.get(sku) ?? 0) + quantity);
    const unknown = [...requested.keys()].filter((sku) => !order.items.some((i) => i.sku === sku));
    if (unknown.length) {
      throw new OrderValidationError(
        unknown.map((sku) => `items: sku ${JSON.stringify(sku)} is not in the order`),
        order.orderId,
      );
    }
    let total = 0n;
    for (const [sku, quantity] of requested) {
      const lines = order.items.filter((i) => i.sku === sku);
      const ordered = lines.reduce((n, i) => n + i.quantity, 0);
      const already = quantities.get(sku) ?? 0;
      if (already + quantity > ordered) {
        throw new RefundExceedsPaidError(
          order.orderId,
          `${sku}: ${already} of ${ordered} refunded, ${quantity} more asked`,
        );
      }
      total += BigInt(quantity) * BigInt(lines[0]!.unitPriceMinor);
      quantities.set(sku, already + quantity);
    }
    baseAmountMinor = Number(total);
    items = [...requested].map(([sku, quantity]) => ({ sku, quantity }));
  } else {
    baseAmountMinor = request.baseAmountMinor;
  }

  const previous = order.refundBaseCumulativeMinor ?? 0;
  const cumulative = previous + baseAmountMinor;
  if (cumulative > order.baseAmountMinor) {
    throw new RefundExceedsPaidError(
      order.orderId,
      `base ${previous} already refunded of ${order.baseAmountMinor}, ${baseAmountMinor} more asked`,
    );
  }
  // round(cumulativeBase / rate) − Σ pay amounts of the refunds not failed (CONTRACT §3): without failures
  // this telescopes to round(cum / rate) − round(previous / rate); after one it stays exact.
  const payBefore = order.refundPayCumulativeMinor ?? cumulativePay(order, previous);
  const payAmountMinor = cumulativePay(order, cumulative) - payBefore;
  const committed = (order.refundedPayMinor ?? 0) + (order.pendingRefundPayMinor ?? 0);
  // Refunds the gateway reported without us asking also count: never promise more than was paid.
  if (committed + payAmountMinor > order.payAmountMinor) {
    throw new RefundExceedsPaidError(
      order.orderId,
      `pay ${committed} refunded or pending of ${order.payAmountMinor}, ${payAmountMinor} more asked`,
    );
  }
  if (payAmountMinor <= 0) {
    // No gateway refunds 0; cumulative rounding returns this amount with a later, larger refund.
    throw new OrderValidationError(
      [
        `refund of ${baseAmountMinor} ${order.baseCurrency} rounds to 0 ${order.payCurrency}; refund more at once`,
      ],
      order.orderId,
    );
  }
  return {
    baseAmountMinor,
    payAmountMinor,
    refundBaseCumulativeMinor: cumulative,
    refundPayCumulativeMinor: payBefore + payAmountMinor,
    refundedQuantities: quantities,
    ...(items ? { items } : {}),
  };
}

/**
 * What a refund costs the business in base currency against today's rate, beyond the base amount it refunds.
 * Positive = loss: the pay currency got dearer since the order, so buying back `payAmountMinor` today costs
 * more base currency than the goods were sold for. Negative = gain (it refills the buffer).
 */
export function fxDifferenceMinor(
  payAmountMinor: number,
  pay: Currency,
  base: Currency,
  todayRate: string,
  refundBaseMinor: number,
): number {
  return payToBase(payAmountMinor, pay, base, todayRate) - refundBaseMinor;
}

export interface RefundSettings {
  /** REFUND_BUFFER_RATE, a decimal fraction string ("0.006"). */
  readonly refundBufferRate: string;
}

export interface CreateRefundDeps {
  readonly orders: OrdersRepository;
  readonly fxRates: FxRateStore;
  readonly alerts: Alerts;
  readonly settings: RefundSettings;
}

const MAX_ATTEMPTS = 5;

/**
 * Creates a pending refund. The order's totals and the refund item are written in one transaction conditioned
 * on the totals read, so two concurrent refunds can never together exceed the paid amount; on a lost race we
 * re-read and decide again.
 */
export async function createRefund(
  deps: CreateRefundDeps,
  orderId: string,
  request: RefundRequest,
  now: Date,
): Promise<RefundRecord> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const order = await deps.orders.getOrder(orderId);
    if (!order) throw new OrderNotFoundError(orderId);
    if (order.status === 'refunded') throw new RefundExceedsPaidError(orderId, 'the order is fully refunded');
    if (!(REFUNDABLE as readonly string[]).includes(order.status))
      throw new OrderNotPaidError(orderId, order.status);

    const plan = planRefund(order, request);
    const todayRate = await todaysRate(deps.fxRates, order);
    const fxDifference = fxDifferenceMinor(
      plan.payAmountMinor,
      order.payCurrency,
      order.baseCurrency,
      todayRate,
      plan.baseAmountMinor,
    );
    const at = now.toISOString();
    const refundId = newId('rf', now);
    const refund: RefundRecord = {
      pk: orderId,
      sk: refundSk(refundId),
      refundId,
      orderId,
      status: 'pending',
      baseAmountMinor: plan.baseAmountMinor,
      payAmountMinor: plan.payAmountMinor,
      payCurrency: order.payCurrency,
      rate: order.exchangeRate.rate,
      fxDifferenceMinor: fxDifference,
      fxDifferenceCurrency: order.baseCurrency,
      fxDifferenceRate: todayRate,
      ...(plan.items ? { items: plan.items } : {}),
      createdAt: at,
      bufferCurrency: order.baseCurrency,
    };
    const outcome = await deps.orders.createRefund(
      refund,
      {
        refundBaseCumulativeMinor: plan.refundBaseCumulativeMinor,
        refundPayCumulativeMinor: plan.refundPayCumulativeMinor,
        pendingRefundPayMinor: (order.pendingRefundPayMinor ?? 0) + plan.payAmountMinor,
        refundedQuantities: plan.refundedQuantities,
        updatedAt: at,
      },
      {
        refundBaseCumulativeMinor: order.refundBaseCumulativeMinor ?? 0,
        pendingRefundPayMinor: order.pendingRefundPayMinor ?? 0,
        refundedPayMinor: order.refundedPayMinor ?? 0,
      },
    );
    if (outcome === 'created') {
      if (fxDifference > 0) await alertIfBufferNegative(deps, refund);
      return refund;
    }
  }
  throw new RefundConflictError(orderId, MAX_ATTEMPTS);
}

/**
 * Today's cached rate of the order's pair. Its age does not matter here (unlike when pricing an order): the FX
 * difference is an accounting estimate, and the last known rate beats refusing a customer their refund.
 */
async function todaysRate(store: FxRateStore, order: OrderRecord): Promise<string> {
  if (order.payCurrency === order.baseCurrency) return '1.000000';
  const pair = pairOf(order.payCurrency, order.baseCurrency);
  const current = await store.getCurrent(pair);
  if (!current) throw new FxRateUnavailableError(pair, 'no_cached_rate');
  return current.rate;
}

async function alertIfBufferNegative(deps: CreateRefundDeps, refund: RefundRecord): Promise<void> {
  const buffer = await refundBuffer(deps, refund.bufferCurrency ?? refund.fxDifferenceCurrency, refund);
  if (buffer.balanceMinor < 0) {
    await deps.alerts.raise('Refund Buffer Negative', {
      ...buffer,
      orderId: refund.orderId,
      refundId: refund.refundId,
      fxDifferenceMinor: refund.fxDifferenceMinor,
    });
  }
}

export interface RefundBufferView {
  readonly currency: Currency;
  readonly reservedMinor: number;
  readonly fxLossesMinor: number;
  readonly balanceMinor: number;
}

/**
 * The refund buffer of one currency, derived from the byBufferCurrency GSI (no hot counter item):
 * `REFUND_BUFFER_RATE` of each paid order's base amount (rounded half-up per order, so an order's reservation
 * is a fixed, explainable number) minus the net FX differences of all refunds created (gains refill it).
 * `justWritten` is counted even if the GSI has not caught up with it yet.
 */
export async function refundBuffer(
  deps: { readonly orders: OrdersRepository; readonly settings: RefundSettings },
  currency: Currency,
  justWritten?: RefundRecord,
): Promise<RefundBufferView> {
  let reserved = 0;
  let losses = 0;
  let sawJustWritten = false;
  for await (const entry of deps.orders.bufferEntries(currency)) {
    if (entry.kind === 'order') {
      reserved += applyRate(entry.baseAmountMinor, deps.settings.refundBufferRate);
    } else {
      losses += entry.fxDifferenceMinor;
      if (justWritten && entry.orderId === justWritten.orderId && entry.refundSk === justWritten.sk)
        sawJustWritten = true;
    }
  }
  if (justWritten && !sawJustWritten) losses += justWritten.fxDifferenceMinor;
  return { currency, reservedMinor: reserved, fxLossesMinor: losses, balanceMinor: reserved - losses };
}
