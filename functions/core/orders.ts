/**
 * Orders: creating one at a locked FX rate, and reading it back with its payments and refunds.
 * Storage sits behind the OrdersRepository port (functions/adapters/orders-repository.ts).
 */
import { randomBytes } from 'node:crypto';
import { lockRate, type RateLockDeps } from './fx.ts';
import { commonChargeIncrementMinor } from './gateways/currencies.ts';
import type { GatewayKind } from './gateways/types.ts';
import { baseToPay, type Currency } from './money.ts';
import {
  ORDER_SK,
  type OrderItem,
  type OrderRecord,
  type OrderStatus,
  type RefundRecord,
} from './order-model.ts';

// ---------------------------------------------------------------------------------------------------
// Errors

/** Base of the orders/refunds domain errors. */
export class OrderError extends Error {
  readonly orderId: string | undefined;
  constructor(message: string, orderId?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OrderError';
    this.orderId = orderId;
  }
}

export class OrderNotFoundError extends OrderError {
  constructor(orderId: string) {
    super(`order ${orderId} not found`, orderId);
    this.name = 'OrderNotFoundError';
  }
}

/** Input that passed the schema but makes no sense against the order (unknown sku, rounds to zero). */
export class OrderValidationError extends OrderError {
  readonly details: readonly string[];
  constructor(details: readonly string[], orderId?: string) {
    super(`invalid request: ${details.join('; ')}`, orderId);
    this.name = 'OrderValidationError';
    this.details = details;
  }
}

// ---------------------------------------------------------------------------------------------------
// Ports

/** One ledger entry of an order, as `GET /orders/{orderId}` shows it. */
export interface OrderPayment {
  readonly gateway: string;
  readonly transactionId: string;
  readonly kind: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly classification: string;
  readonly receivedAt: string;
}

/** What the refund transaction expects the order to still look like (optimistic concurrency). */
export interface RefundOrderExpectation {
  readonly refundBaseCumulativeMinor: number;
  readonly pendingRefundPayMinor: number;
  readonly refundedPayMinor: number;
}

export interface RefundOrderUpdate {
  readonly refundBaseCumulativeMinor: number;
  readonly refundPayCumulativeMinor: number;
  readonly pendingRefundPayMinor: number;
  /** Stored as a DynamoDB map; a Map here so no sku is ever an object property. */
  readonly refundedQuantities: ReadonlyMap<string, number>;
  readonly updatedAt: string;
}

/** A row of the byBufferCurrency GSI: a paid order (sk "order") or a refund (sk "refund#…"). */
export type BufferEntry =
  | { readonly kind: 'order'; readonly orderId: string; readonly baseAmountMinor: number }
  | {
      readonly kind: 'refund';
      readonly orderId: string;
      readonly refundSk: string;
      readonly fxDifferenceMinor: number;
    };

export interface OrdersRepository {
  /** Stores a new order; a second order with the same id is a bug, so it throws. */
  putOrder(order: OrderRecord): Promise<void>;
  /** Strongly consistent: refunds decide on what it returns. */
  getOrder(orderId: string): Promise<OrderRecord | undefined>;
  listRefunds(orderId: string): Promise<RefundRecord[]>;
  /**
   * Writes the pending refund and the order's new refund totals in ONE transaction, conditioned on the order
   * still having `expected` totals and a refundable status. `order_changed` means re-read and decide again.
   */
  createRefund(
    refund: RefundRecord,
    update: RefundOrderUpdate,
    expected: RefundOrderExpectation,
  ): Promise<'created' | 'order_changed'>;
  /** Every GSI row of one buffer currency (eventually consistent, as any GSI read). */
  bufferEntries(currency: Currency): AsyncIterable<BufferEntry>;
}

/** The payments table's byOrder GSI. */
export interface OrderPaymentsReader {
  listPayments(orderId: string): Promise<OrderPayment[]>;
}

// ---------------------------------------------------------------------------------------------------
// Ids

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * `{prefix}_` + 26 Crockford base32 characters (48-bit time, 80 random bits), time-sortable like a ULID.
 * `ord_…` is 30 characters: WeChat Pay's `out_trade_no` allows 32, so the order id fits every gateway as is.
 */
export function newId(prefix: string, now: Date = new Date()): string {
  let time = BigInt(now.getTime());
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = CROCKFORD[Number(time % 32n)] + head;
    time /= 32n;
  }
  let tail = '';
  for (const byte of randomBytes(16)) tail += CROCKFORD[byte % 32];
  return `${prefix}_${head}${tail}`;
}

// ---------------------------------------------------------------------------------------------------
// Create

export interface CreateOrderInput {
  readonly customerId: string;
  readonly payCurrency: Currency;
  readonly items: readonly OrderItem[];
}

export interface CreateOrderDeps extends RateLockDeps {
  readonly orders: OrdersRepository;
  /**
   * The kinds of gateway that may take the payment: the pay amount is rounded to a step all of them can
   * charge (CONTRACT §3 "currencies"), so a correct payment can always equal the locked amount.
   * @default [] (ISO minor units)
   */
  readonly chargeGateways?: readonly GatewayKind[];
}

/** Σ quantity × unitPriceMinor, exactly; throws OrderValidationError beyond Number.MAX_SAFE_INTEGER. */
export function baseAmountOf(items: readonly Pick<OrderItem, 'quantity' | 'unitPriceMinor'>[]): number {
  let total = 0n;
  for (const item of items) total += BigInt(item.quantity) * BigInt(item.unitPriceMinor);
  if (total > BigInt(Number.MAX_SAFE_INTEGER))
    throw new OrderValidationError(['items: order total is too large']);
  return Number(total);
}

/** Prices the order in base currency, locks the rate (FX safety valves may throw FxError) and stores it. */
export async function createOrder(
  deps: CreateOrderDeps,
  input: CreateOrderInput,
  now: Date,
): Promise<OrderRecord> {
  const base = deps.settings.baseCurrency;
  const baseAmountMinor = baseAmountOf(input.items);
  const exchangeRate = await lockRate(deps, input.payCurrency, now);
  const payIncrementMinor = commonChargeIncrementMinor(deps.chargeGateways ?? [], input.payCurrency);
  const payAmountMinor = baseToPay(
    baseAmountMinor,
    base,
    input.payCurrency,
    exchangeRate.rate,
    payIncrementMinor,
  );
  if (payAmountMinor <= 0) {
    throw new OrderValidationError([`items: order total rounds to 0 ${input.payCurrency}`]);
  }
  const at = now.toISOString();
  const orderId = newId('ord', now);
  const order: OrderRecord = {
    pk: orderId,
    sk: ORDER_SK,
    orderId,
    status: 'pending_payment',
    customerId: input.customerId,
    items: input.items,
    baseCurrency: base,
    baseAmountMinor,
    payCurrency: input.payCurrency,
    payAmountMinor,
    ...(payIncrementMinor > 1 ? { payIncrementMinor } : {}),
    exchangeRate,
    flags: [],
    createdAt: at,
    updatedAt: at,
    statusHistory: [{ status: 'pending_payment', at }],
    refundedPayMinor: 0,
    pendingRefundPayMinor: 0,
    refundBaseCumulativeMinor: 0,
    refundPayCumulativeMinor: 0,
    refundedQuantities: {},
  };
  await deps.orders.putOrder(order);
  return order;
}

// ---------------------------------------------------------------------------------------------------
// Views (CONTRACT §3 shapes)

export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly customerId: string;
  readonly baseCurrency: Currency;
  readonly baseAmountMinor: number;
  readonly payCurrency: Currency;
  readonly payAmountMinor: number;
  readonly exchangeRate: OrderRecord['exchangeRate'];
  readonly flags: readonly string[];
  readonly createdAt: string;
}

/** The order as `POST /orders` answers it: exactly the CONTRACT's fields. */
export function orderView(order: OrderRecord): OrderView {
  return {
    orderId: order.orderId,
    status: order.status,
    customerId: order.customerId,
    baseCurrency: order.baseCurrency,
    baseAmountMinor: order.baseAmountMinor,
    payCurrency: order.payCurrency,
    payAmountMinor: order.payAmountMinor,
    exchangeRate: order.exchangeRate,
    flags: order.flags,
    createdAt: order.createdAt,
  };
}

export interface RefundListView {
  readonly refundId: string;
  readonly status: RefundRecord['status'];
  readonly baseAmountMinor: number;
  readonly payAmountMinor: number;
  readonly rate: string;
  readonly createdAt: string;
  readonly completedAt: string | null;
}

export interface OrderDetailView extends OrderView {
  readonly items: readonly OrderItem[];
  readonly updatedAt: string;
  readonly paidAt: string | null;
  readonly refundedPayMinor: number;
  readonly pendingRefundPayMinor: number;
  readonly statusHistory: OrderRecord['statusHistory'];
  readonly payments: readonly OrderPayment[];
  readonly refunds: readonly RefundListView[];
}

export interface GetOrderDeps {
  readonly orders: OrdersRepository;
  readonly payments: OrderPaymentsReader;
}

/** `GET /orders/{orderId}`: the order, its ledger entries and its refunds (oldest first). */
export async function getOrderDetail(deps: GetOrderDeps, orderId: string): Promise<OrderDetailView> {
  const [order, refunds, payments] = await Promise.all([
    deps.orders.getOrder(orderId),
    deps.orders.listRefunds(orderId),
    deps.payments.listPayments(orderId),
  ]);
  if (!order) throw new OrderNotFoundError(orderId);
  return {
    ...orderView(order),
    items: order.items,
    updatedAt: order.updatedAt,
    paidAt: order.paidAt ?? null,
    refundedPayMinor: order.refundedPayMinor ?? 0,
    pendingRefundPayMinor: order.pendingRefundPayMinor ?? 0,
    statusHistory: order.statusHistory,
    payments,
    refunds: [...refunds]
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.refundId.localeCompare(b.refundId))
      .map((r) => ({
        refundId: r.refundId,
        status: r.status,
        baseAmountMinor: r.baseAmountMinor,
        payAmountMinor: r.payAmountMinor,
        rate: r.rate,
        createdAt: r.createdAt,
        completedAt: r.completedAt ?? null,
      })),
  };
}
