/**
 * POST /orders/{orderId}/refunds and GET /refund-buffer through the real handler against DynamoDB Local.
 * An order is made "paid" by updating its item as the callback will (status, bufferCurrency, paidAt).
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import { createHandler } from '../../functions/orders/app.ts';
import type { HttpEvent, HttpResult } from '../../functions/shared/http.ts';
import { functions } from '../../lib/topology.ts';
import { lambdaContext } from '../../sandbox/lambda.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { type FxProviderStub, startFxProviderStub } from './fx-provider-stub.ts';

const RATE = '7.123400';
const items = [
  { sku: 'tb-6618', title: 'Tea set', quantity: 2, unitPriceMinor: 5900 },
  { sku: 'tb-0001', title: 'Cups', quantity: 3, unitPriceMinor: 1234 },
];
const BASE = 2 * 5900 + 3 * 1234; // 15502

let provider: FxProviderStub;
let r: TestResources;
// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
let invoke: (event: HttpEvent) => Promise<HttpResult & { json: Record<string, any> }>;

beforeAll(async () => {
  provider = await startFxProviderStub({ 'USD/CNY': RATE });
  r = await createTestResources();
  const handler = createHandler(r.envFor('orders', { FX_PROVIDER_URL: provider.url }));
  invoke = async (event) => {
    const res = await handler(event, lambdaContext('orders', functions.orders!));
    return { ...res, json: JSON.parse(res.body as string) };
  };
});
afterAll(() => provider.close());

async function setRate(rate: string) {
  const now = new Date().toISOString();
  await r.doc.send(
    new PutCommand({
      TableName: r.tables.fxRates,
      Item: { pair: 'USD/CNY', sk: 'current', rate, asOf: now, source: 'seed', updatedAt: now },
    }),
  );
}

function event(
  routeKey: string,
  rawPath: string,
  payload?: unknown,
  extra: Partial<HttpEvent> = {},
): HttpEvent {
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    isBase64Encoded: false,
    ...extra,
  } as unknown as HttpEvent;
}

const refund = (orderId: string, payload: unknown, headers: Record<string, string> = {}) =>
  invoke(
    event('POST /orders/{orderId}/refunds', `/orders/${orderId}/refunds`, payload, {
      pathParameters: { orderId },
      headers: { 'content-type': 'application/json', ...headers },
    }),
  );

async function newOrder(
  payItems: { sku: string; title?: string; quantity: number; unitPriceMinor: number }[] = items,
): Promise<{ orderId: string; payAmountMinor: number; baseAmountMinor: number }> {
  await setRate(RATE);
  const res = await invoke(
    event('POST /orders', '/orders', { customerId: 'c-1', payCurrency: 'USD', items: payItems }),
  );
  expect(res.statusCode).toBe(201);
  return res.json as never;
}

/** What the callback does when the payment arrives. */
async function markPaid(orderId: string) {
  const at = new Date().toISOString();
  await r.doc.send(
    new UpdateCommand({
      TableName: r.tables.orders,
      Key: { pk: orderId, sk: 'order' },
      UpdateExpression:
        'SET #s = :paid, bufferCurrency = :cny, paidAt = :at, statusHistory = list_append(statusHistory, :h)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: {
        ':paid': 'paid',
        ':cny': 'CNY',
        ':at': at,
        ':h': [{ status: 'paid', at }],
      },
    }),
  );
}

async function storedOrder(orderId: string) {
  const { Item } = await r.doc.send(
    new GetCommand({ TableName: r.tables.orders, Key: { pk: orderId, sk: 'order' }, ConsistentRead: true }),
  );
  return Item!;
}

async function storedRefunds(orderId: string) {
  const { Items } = await r.doc.send(
    new QueryCommand({
      TableName: r.tables.orders,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': orderId, ':p': 'refund#' },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

async function buffer(currency = 'CNY') {
  return invoke(
    event('GET /refund-buffer', '/refund-buffer', undefined, { queryStringParameters: { currency } }),
  );
}

describe('POST /orders/{orderId}/refunds', () => {
  it('refuses an unpaid order with 409 order_not_paid and writes nothing', async () => {
    const order = await newOrder();
    const res = await refund(order.orderId, { baseAmountMinor: 100 });
    expect(res.statusCode).toBe(409);
    expect(res.json).toEqual({ error: 'order_not_paid' });
    expect(await storedRefunds(order.orderId)).toEqual([]);
  });

  it('404 order_not_found for an unknown order', async () => {
    const res = await refund('ord_nope', { baseAmountMinor: 100 });
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual({ error: 'order_not_found' });
  });

  it('refunds by items and by amount at the original rate with cumulative rounding, pending counting', async () => {
    const order = await newOrder();
    expect(order.payAmountMinor).toBe(2176); // 155.02 / 7.1234 = 21.7621…
    await markPaid(order.orderId);
    await setRate('7.300000'); // today's rate: USD got dearer → refunds cost more CNY than they refund

    const first = await refund(order.orderId, { items: [{ sku: 'tb-6618', quantity: 1 }] });
    expect(first.statusCode).toBe(201);
    // round(5900 / 7.1234) − round(0) = 828; FX difference: 8.28 USD × 7.3 = 60.444 → 6044 − 5900 = 144 (a loss)
    expect(first.json).toEqual({
      refundId: expect.stringMatching(/^rf_/),
      status: 'pending',
      baseAmountMinor: 5900,
      payAmountMinor: 828,
      rate: RATE,
      fxDifferenceMinor: 144,
      fxDifferenceCurrency: 'CNY',
    });

    const second = await refund(order.orderId, {
      items: [
        { sku: 'tb-0001', quantity: 1 },
        { sku: 'tb-0001', quantity: 1 },
      ],
    });
    expect(second.statusCode).toBe(201);
    // round((5900 + 2468) / 7.1234) − 828 = 1175 − 828 = 347
    expect(second.json).toMatchObject({ baseAmountMinor: 2468, payAmountMinor: 347 });

    // More cups than bought (1 left) → 409, nothing written.
    const tooMany = await refund(order.orderId, { items: [{ sku: 'tb-0001', quantity: 2 }] });
    expect(tooMany.statusCode).toBe(409);
    expect(tooMany.json).toEqual({ error: 'refund_exceeds_paid' });

    // The rest by amount: 15502 − 8368 = 7134 → 2176 − 1175 = 1001; the whole order is exactly what was paid.
    const before = await storedOrder(order.orderId);
    const above = await refund(order.orderId, { baseAmountMinor: 7135 });
    expect(above.statusCode).toBe(409);
    expect(above.json).toEqual({ error: 'refund_exceeds_paid' });
    expect(await storedOrder(order.orderId)).toEqual(before);
    expect(await storedRefunds(order.orderId)).toHaveLength(2);

    const rest = await refund(order.orderId, { baseAmountMinor: 7134 });
    expect(rest.statusCode).toBe(201);
    expect(rest.json.payAmountMinor).toBe(1001);
    expect(828 + 347 + 1001).toBe(order.payAmountMinor);

    // All of it is pending: nothing more, not even one fen.
    const more = await refund(order.orderId, { baseAmountMinor: 1 });
    expect(more.statusCode).toBe(409);
    expect(more.json).toEqual({ error: 'refund_exceeds_paid' });

    const stored = await storedOrder(order.orderId);
    expect(stored).toMatchObject({
      status: 'paid',
      refundBaseCumulativeMinor: BASE,
      pendingRefundPayMinor: 2176,
      refundedPayMinor: 0,
      refundedQuantities: { 'tb-6618': 1, 'tb-0001': 2 },
    });
    const refunds = await storedRefunds(order.orderId);
    expect(refunds).toHaveLength(3);
    for (const x of refunds)
      expect(x).toMatchObject({
        status: 'pending',
        bufferCurrency: 'CNY',
        fxDifferenceCurrency: 'CNY',
        fxDifferenceRate: '7.300000',
      });

    const detail = await invoke(
      event('GET /orders/{orderId}', `/orders/${order.orderId}`, undefined, {
        pathParameters: { orderId: order.orderId },
      }),
    );
    expect(detail.json.refunds).toHaveLength(3);
    expect(detail.json.refunds[0]).toEqual({
      refundId: first.json.refundId,
      status: 'pending',
      baseAmountMinor: 5900,
      payAmountMinor: 828,
      rate: RATE,
      createdAt: expect.any(String),
      completedAt: null,
    });
  });

  it('an unknown sku is a validation error', async () => {
    const order = await newOrder();
    await markPaid(order.orderId);
    const res = await refund(order.orderId, { items: [{ sku: 'nope', quantity: 1 }] });
    expect(res.statusCode).toBe(400);
    expect(res.json.error).toBe('validation_error');
  });

  it('concurrent refunds never exceed the paid amount together (optimistic concurrency)', async () => {
    const order = await newOrder([{ sku: 'x', quantity: 3, unitPriceMinor: 3000 }]);
    await markPaid(order.orderId);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => refund(order.orderId, { items: [{ sku: 'x', quantity: 1 }] })),
    );
    const created = results.filter((x) => x.statusCode === 201);
    expect(created).toHaveLength(3);
    for (const x of results.filter((y) => y.statusCode !== 201)) {
      expect([409, 503]).toContain(x.statusCode);
    }
    expect(created.reduce((s, x) => s + x.json.payAmountMinor, 0)).toBe(order.payAmountMinor);
    expect(await storedRefunds(order.orderId)).toHaveLength(3);
    expect((await storedOrder(order.orderId)).pendingRefundPayMinor).toBe(order.payAmountMinor);
  });

  it('Idempotency-Key: the same refund request once, replayed; the same key for another body → 422', async () => {
    const order = await newOrder();
    await markPaid(order.orderId);
    const a = await refund(order.orderId, { baseAmountMinor: 1000 }, { 'Idempotency-Key': 'rf-1' });
    const b = await refund(order.orderId, { baseAmountMinor: 1000 }, { 'Idempotency-Key': 'rf-1' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.headers['Idempotent-Replayed']).toBe('true');
    expect(b.json).toEqual(a.json);
    expect(await storedRefunds(order.orderId)).toHaveLength(1);
    const c = await refund(order.orderId, { baseAmountMinor: 2000 }, { 'Idempotency-Key': 'rf-1' });
    expect(c.statusCode).toBe(422);
    expect(c.json).toEqual({ error: 'idempotency_key_reused' });
  });
});

describe('GET /refund-buffer', () => {
  it('reserves REFUND_BUFFER_RATE of paid orders, draws FX losses, alerts when it goes negative', async () => {
    // The other tests' paid orders share the "CNY" partition: measure the difference this order makes.
    const start = (await buffer()).json;
    expect(start).toMatchObject({ currency: 'CNY' });
    expect(start.balanceMinor).toBe(start.reservedMinor - start.fxLossesMinor);

    const order = await newOrder([{ sku: 'big', quantity: 1, unitPriceMinor: 1_000_000 }]);
    await markPaid(order.orderId);
    // Eventually consistent GSI: DynamoDB Local is immediate, but poll rather than assume.
    let after = (await buffer()).json;
    for (let i = 0; i < 20 && after.reservedMinor === start.reservedMinor; i++) after = (await buffer()).json;
    expect(after.reservedMinor - start.reservedMinor).toBe(6000); // 0.6 % of 10,000.00 CNY

    // USD up 9 % since the order: refunding it all costs far more than the buffer holds.
    await setRate('7.764506');
    const before = localAlerts.length;
    const res = await refund(order.orderId, { baseAmountMinor: 1_000_000 });
    expect(res.statusCode).toBe(201);
    // 1403.82 USD (round(10000 / 7.1234)) × 7.764506 = 10899.97 CNY → 89997 fen more than refunded
    expect(res.json).toMatchObject({ payAmountMinor: 140382, fxDifferenceMinor: 89997 });

    const end = (await buffer()).json;
    expect(end.fxLossesMinor - after.fxLossesMinor).toBe(89997);
    expect(end.balanceMinor).toBe(end.reservedMinor - end.fxLossesMinor);
    expect(end.balanceMinor).toBeLessThan(0);
    const alerts = localAlerts.slice(before).filter((a) => a.detailType === 'Refund Buffer Negative');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.detail).toMatchObject({
      currency: 'CNY',
      orderId: order.orderId,
      fxDifferenceMinor: 89997,
    });
  });

  it('is empty for a currency nobody uses', async () => {
    const res = await buffer('JPY');
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ currency: 'JPY', reservedMinor: 0, fxLossesMinor: 0, balanceMinor: 0 });
  });
});
