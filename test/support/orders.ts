/** Writes orders straight into the orders table, in the stored shape, for tests of the callback path. */
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Currency } from '../../functions/core/money.ts';
import { ORDER_SK, type OrderRecord } from '../../functions/core/order-model.ts';
import type { TestResources } from './resources.ts';

/** An order in its stored shape, pending payment of 16.57 USD for 118.00 CNY, unless overridden. */
export function orderRecord(
  overrides: Partial<OrderRecord> & { payAmountMinor?: number; payCurrency?: Currency } = {},
): OrderRecord {
  const orderId = overrides.orderId ?? `ord_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const now = new Date().toISOString();
  const order: OrderRecord = {
    pk: orderId,
    sk: ORDER_SK,
    orderId,
    status: 'pending_payment',
    customerId: 'c-1001',
    items: [{ sku: 'tb-6618', title: 'Tea set', quantity: 2, unitPriceMinor: 5900 }],
    baseCurrency: 'CNY',
    baseAmountMinor: 11800,
    payCurrency: 'USD',
    payAmountMinor: 1657,
    exchangeRate: { pair: 'USD/CNY', rate: '7.123400', asOf: now, source: 'test' },
    flags: [],
    createdAt: now,
    updatedAt: now,
    statusHistory: [{ status: 'pending_payment', at: now }],
    refundedPayMinor: 0,
    pendingRefundPayMinor: 0,
    refundBaseCumulativeMinor: 0,
    ...overrides,
  };
  return order;
}

export async function putOrder(
  r: TestResources,
  overrides: Partial<OrderRecord> & { payAmountMinor?: number; payCurrency?: Currency } = {},
): Promise<OrderRecord> {
  const order = orderRecord(overrides);
  await r.doc.send(new PutCommand({ TableName: r.tables.orders, Item: order }));
  return order;
}
