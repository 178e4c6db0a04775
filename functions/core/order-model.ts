/**
 * The order as stored (orders table, pk = orderId, sk = "order") and its refunds (sk = "refund#{refundId}").
 * Shared by the orders use cases (which create and refund) and the callback effect (which pays and completes refunds).
 */
import type { Currency } from './money.ts';

export const ORDER_STATUSES = [
  'pending_payment',
  'paid',
  'payment_review',
  'partially_refunded',
  'refunded',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Status only moves forward: the rank of each status. */
export const STATUS_RANK: Record<OrderStatus, number> = {
  pending_payment: 0,
  payment_review: 1,
  paid: 1,
  partially_refunded: 2,
  refunded: 3,
};

export const ORDER_SK = 'order';
export const refundSk = (refundId: string) => `refund#${refundId}`;

export interface OrderItem {
  readonly sku: string;
  readonly title?: string;
  readonly quantity: number;
  readonly unitPriceMinor: number;
}

export interface ExchangeRate {
  /** `USD/CNY`: pay currency / base currency. */
  readonly pair: string;
  /** 6 decimals: 1 unit of the pay currency = rate units of the base currency. */
  readonly rate: string;
  readonly asOf: string;
  readonly source: string;
}

export interface StatusChange {
  readonly status: OrderStatus;
  readonly at: string;
  readonly reason?: string;
}

export interface OrderRecord {
  readonly pk: string;
  readonly sk: typeof ORDER_SK;
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly baseCurrency: Currency;
  readonly baseAmountMinor: number;
  readonly payCurrency: Currency;
  readonly payAmountMinor: number;
  /**
   * The step the pay amount was rounded to, in pay minor units: what every configured gateway can charge
   * in the pay currency (100 for HUF when PayPal takes payments). Refund amounts round to it too.
   * Absent on orders priced before it existed: 1.
   */
  readonly payIncrementMinor?: number;
  readonly exchangeRate: ExchangeRate;
  readonly flags: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly statusHistory: readonly StatusChange[];
  /** Ledger key of the payment that paid the order. */
  readonly paidBy?: string;
  readonly paidAt?: string;
  /** Completed refunds, pay currency. */
  readonly refundedPayMinor: number;
  /** Refunds created and not yet completed or failed, pay currency: they count against the refundable amount. */
  readonly pendingRefundPayMinor: number;
  /** Cumulative base amount of all refunds created and not failed (for cumulative rounding). */
  readonly refundBaseCumulativeMinor: number;
  /**
   * Σ pay amounts of the refunds created and not failed. A new refund's pay amount is
   * `round(cumulativeBase / rate) − this`, which stays exact after a refund fails (CONTRACT §3).
   */
  readonly refundPayCumulativeMinor?: number;
  /** Quantity refunded per sku (refunds by items). */
  readonly refundedQuantities?: Readonly<Record<string, number>>;
  /** Bumped by every refund callback that changes the order: the callback's optimistic-concurrency token. */
  readonly refundSeq?: number;
  /** Set to baseCurrency when the order is paid: puts it in the refund buffer's GSI. */
  readonly bufferCurrency?: Currency;
}

/**
 * `pending` reserves its amount until a callback completes it; `failed` is final (given back: reservation,
 * quantities, buffer charge); `abnormal` (WeChat Pay) keeps its reservation and waits for a person.
 */
export const REFUND_STATUSES = ['pending', 'completed', 'failed', 'abnormal'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export interface RefundRecord {
  readonly pk: string;
  readonly sk: string;
  readonly refundId: string;
  readonly orderId: string;
  readonly status: RefundStatus;
  readonly baseAmountMinor: number;
  readonly payAmountMinor: number;
  readonly payCurrency: Currency;
  readonly rate: string;
  readonly fxDifferenceMinor: number;
  readonly fxDifferenceCurrency: Currency;
  /** Today's cached rate the FX difference was computed with (audit trail of the buffer charge). */
  readonly fxDifferenceRate?: string;
  readonly items?: readonly { sku: string; quantity: number }[];
  readonly createdAt: string;
  readonly completedAt?: string;
  /** Ledger key of the refund callback that completed it. */
  readonly completedBy?: string;
  readonly failedAt?: string;
  /** Ledger key of the callback that failed it. */
  readonly failedBy?: string;
  readonly abnormalAt?: string;
  /**
   * Set to the base currency: puts the refund's FX difference in the refund buffer's GSI. Removed when
   * the refund fails, which gives its charge back to the buffer.
   */
  readonly bufferCurrency?: Currency;
}

/** The order's status once its refunded total is `refundedPayMinor` (used when an applied refund fails). */
export function statusForRefunded(refundedPayMinor: number, payAmountMinor: number): OrderStatus {
  if (refundedPayMinor <= 0) return 'paid';
  return refundedPayMinor >= payAmountMinor ? 'refunded' : 'partially_refunded';
}
