/**
 * POST /orders through the real handler against DynamoDB Local, with a local HTTP server as the FX provider:
 * the rate lock and each FX safety valve of CONTRACT §3, GET /orders/{orderId}, and Idempotency-Key.
 */
import { GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import { FX_LIVE_CHECK_UNAVAILABLE } from '../../functions/adapters/fx-metrics.ts';
import { createHandler } from '../../functions/orders/app.ts';
import type { HttpEvent, HttpResult } from '../../functions/shared/http.ts';
import { functions } from '../../lib/topology.ts';
import { lambdaContext } from '../../sandbox/lambda.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { type FxProviderStub, startFxProviderStub } from './fx-provider-stub.ts';

const CACHED = '7.123400';
const body = {
  customerId: 'c-1001',
  payCurrency: 'USD',
  items: [{ sku: 'tb-6618', title: 'Tea set', quantity: 2, unitPriceMinor: 5900 }],
};

let provider: FxProviderStub;
beforeAll(async () => {
  provider = await startFxProviderStub();
});
afterAll(() => provider.close());

interface Setup {
  r: TestResources;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  invoke(event: HttpEvent): Promise<HttpResult & { json: Record<string, any> }>;
  metrics: string[];
}

async function setup(): Promise<Setup> {
  const r = await createTestResources();
  const metrics: string[] = [];
  const handler = createHandler(
    // Every test steers the provider between orders: no live-check cache here (fx-providers.test.ts has it).
    // 1 s, not the 500 ms default: a loaded test machine can take longer than that for a first request.
    r.envFor('orders', {
      FX_PROVIDER_URL: provider.url,
      FX_LIVE_TIMEOUT_MS: '1000',
      FX_LIVE_CACHE_SECONDS: '0',
    }),
    {
      metrics: {
        liveCheckUnavailable: () => void metrics.push(FX_LIVE_CHECK_UNAVAILABLE),
        rateAgeSeconds: () => {},
        flush: () => {},
      },
    },
  );
  return {
    r,
    metrics,
    invoke: async (event) => {
      const res = await handler(event, lambdaContext('orders', functions.orders!));
      return { ...res, json: JSON.parse(res.body as string) };
    },
  };
}

function postOrder(payload: unknown = body, headers: Record<string, string> = {}): HttpEvent {
  return {
    version: '2.0',
    routeKey: 'POST /orders',
    rawPath: '/orders',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
    isBase64Encoded: false,
  } as unknown as HttpEvent;
}

function getOrder(orderId: string): HttpEvent {
  return {
    version: '2.0',
    routeKey: 'GET /orders/{orderId}',
    rawPath: `/orders/${orderId}`,
    rawQueryString: '',
    headers: {},
    pathParameters: { orderId },
    isBase64Encoded: false,
  } as unknown as HttpEvent;
}

async function seedRate(r: TestResources, rate: string, asOf = new Date().toISOString(), pair = 'USD/CNY') {
  await r.doc.send(
    new PutCommand({
      TableName: r.tables.fxRates,
      Item: { pair, sk: 'current', rate, asOf, source: 'seed', updatedAt: asOf },
    }),
  );
}

async function currentRate(r: TestResources, pair = 'USD/CNY') {
  const { Item } = await r.doc.send(
    new GetCommand({ TableName: r.tables.fxRates, Key: { pair, sk: 'current' } }),
  );
  return Item;
}

async function orderCount(r: TestResources): Promise<number> {
  const { Items } = await r.doc.send(new ScanCommand({ TableName: r.tables.orders }));
  return (Items ?? []).filter((i) => i.sk === 'order').length;
}

beforeEach(() => {
  provider.rates = { 'USD/CNY': CACHED, 'EUR/CNY': '7.745000' };
  provider.delayMs = 0;
  provider.status = 200;
  provider.rawBody = undefined;
});

describe('POST /orders locks the rate', () => {
  it('locks the cached rate when the live rate agrees, and stores the order with its status history', async () => {
    const { r, invoke, metrics } = await setup();
    await seedRate(r, CACHED);
    provider.rates['USD/CNY'] = '7.200000'; // 1.08 % away: within FX_MAX_DEVIATION
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(201);
    expect(res.json).toEqual({
      orderId: expect.stringMatching(/^ord_[0-9A-Z]{26}$/),
      status: 'pending_payment',
      customerId: 'c-1001',
      baseCurrency: 'CNY',
      baseAmountMinor: 11800,
      payCurrency: 'USD',
      payAmountMinor: 1657,
      exchangeRate: { pair: 'USD/CNY', rate: CACHED, asOf: expect.any(String), source: 'seed' },
      flags: [],
      createdAt: expect.any(String),
    });
    expect(metrics).toEqual([]);
    const { Item } = await r.doc.send(
      new GetCommand({ TableName: r.tables.orders, Key: { pk: res.json.orderId, sk: 'order' } }),
    );
    expect(Item).toMatchObject({
      status: 'pending_payment',
      statusHistory: [{ status: 'pending_payment', at: res.json.createdAt }],
      refundedPayMinor: 0,
      pendingRefundPayMinor: 0,
      refundBaseCumulativeMinor: 0,
    });
    expect(Item?.bufferCurrency).toBeUndefined();
  });

  it('locks "1.000000" when the customer pays in the base currency', async () => {
    const { invoke } = await setup();
    const res = await invoke(postOrder({ ...body, payCurrency: 'CNY' }));
    expect(res.statusCode).toBe(201);
    expect(res.json).toMatchObject({
      payAmountMinor: 11800,
      exchangeRate: { pair: 'CNY/CNY', rate: '1.000000' },
    });
  });
});

describe('FX safety valves, in order', () => {
  it('1. no cached rate → 503 fx_rate_unavailable + Retry-After', async () => {
    const { r, invoke } = await setup();
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(503);
    expect(res.json).toEqual({ error: 'fx_rate_unavailable' });
    expect(Number(res.headers['Retry-After'])).toBeGreaterThan(0);
    expect(await orderCount(r)).toBe(0);
  });

  it('2. cached rate older than FX_MAX_AGE_SECONDS → 503 fx_rate_stale + Retry-After', async () => {
    const { r, invoke } = await setup();
    await seedRate(r, CACHED, new Date(Date.now() - 1201_000).toISOString());
    const calls = provider.requests;
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(503);
    expect(res.json).toEqual({ error: 'fx_rate_stale' });
    expect(res.headers['Retry-After']).toBeDefined();
    expect(provider.requests).toBe(calls); // no live check for a rate we would refuse anyway
    expect(await orderCount(r)).toBe(0);
  });

  it('3a. provider down → cached rate used, and a metric counts it', async () => {
    const { r, invoke, metrics } = await setup();
    await seedRate(r, CACHED);
    provider.status = 503;
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(201);
    expect(res.json.exchangeRate.rate).toBe(CACHED);
    expect(metrics).toEqual([FX_LIVE_CHECK_UNAVAILABLE]);
  });

  it('3a. provider slower than FX_LIVE_TIMEOUT_MS → cached rate used, and a metric counts it', async () => {
    const { r, invoke, metrics } = await setup();
    await seedRate(r, CACHED);
    provider.delayMs = 4000;
    const started = Date.now();
    const res = await invoke(postOrder());
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.statusCode).toBe(201);
    expect(res.json.exchangeRate.rate).toBe(CACHED);
    expect(metrics).toEqual([FX_LIVE_CHECK_UNAVAILABLE]);
  });

  it('3a. provider answering nonsense for the pair → cached rate used, and a metric counts it', async () => {
    const { r, invoke, metrics } = await setup();
    await seedRate(r, CACHED);
    provider.rates['USD/CNY'] = 'abc';
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(201);
    expect(metrics).toEqual([FX_LIVE_CHECK_UNAVAILABLE]);
  });

  it('3b. deviation exactly FX_MAX_DEVIATION still locks the cached rate', async () => {
    const { r, invoke } = await setup();
    await seedRate(r, '7.000000');
    provider.rates['USD/CNY'] = '7.140000'; // exactly 2 %
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(201);
    expect(res.json.exchangeRate.rate).toBe('7.000000');
  });

  it('3c. moved beyond FX_MAX_DEVIATION → 409 fx_rate_moved, the cache takes the live rate, the retry gets it', async () => {
    const { r, invoke } = await setup();
    await seedRate(r, '7.000000');
    provider.rates['USD/CNY'] = '7.140001'; // just over 2 %
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(409);
    expect(res.json).toEqual({ error: 'fx_rate_moved', cachedRate: '7.000000', liveRate: '7.140001' });
    expect(await orderCount(r)).toBe(0);
    expect((await currentRate(r))?.rate).toBe('7.140001');
    const history = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.fxRates,
        KeyConditionExpression: 'pair = :p AND begins_with(sk, :h)',
        ExpressionAttributeValues: { ':p': 'USD/CNY', ':h': 'history#' },
      }),
    );
    expect(history.Items?.[0]).toMatchObject({ origin: 'live-check', rate: '7.140001', accepted: true });

    const retry = await invoke(postOrder());
    expect(retry.statusCode).toBe(201);
    expect(retry.json.exchangeRate.rate).toBe('7.140001');
    expect(retry.json.payAmountMinor).toBe(1653); // 118.00 / 7.140001 = 16.5266…
  });

  it('3d. jump beyond FX_MAX_JUMP → 503 fx_rate_unavailable, an "FX Rate Jump" alert, the cache left alone', async () => {
    const { r, invoke } = await setup();
    await seedRate(r, '7.000000');
    provider.rates['USD/CNY'] = '7.700001'; // just over 10 %
    const before = localAlerts.length;
    const res = await invoke(postOrder());
    expect(res.statusCode).toBe(503);
    expect(res.json).toEqual({ error: 'fx_rate_unavailable' });
    expect(res.headers['Retry-After']).toBeDefined();
    const alerts = localAlerts.slice(before);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      detailType: 'FX Rate Jump',
      detail: { pair: 'USD/CNY', cachedRate: '7.000000', liveRate: '7.700001' },
    });
    expect((await currentRate(r))?.rate).toBe('7.000000');
    expect(await orderCount(r)).toBe(0);
  });
});

describe('GET /orders/{orderId}', () => {
  it('returns the order, its ledger entries (byOrder GSI) and refunds; 404 for an unknown id', async () => {
    const { r, invoke } = await setup();
    await seedRate(r, CACHED);
    const created = await invoke(postOrder());
    const orderId = created.json.orderId as string;
    const receivedAt = new Date().toISOString();
    await r.doc.send(
      new PutCommand({
        TableName: r.tables.payments,
        Item: {
          pk: 'stripe#pi_1#payment',
          gateway: 'stripe',
          transactionId: 'pi_1',
          kind: 'payment',
          orderId,
          amountMinor: 1657,
          currency: 'USD',
          classification: 'processed',
          eventId: 'evt_1',
          eventType: 'payment_intent.succeeded',
          references: {},
          receivedAt,
          gatewayDay: `stripe#${receivedAt.slice(0, 10)}`,
        },
      }),
    );
    const res = await invoke(getOrder(orderId));
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      ...created.json,
      items: body.items,
      payments: [
        {
          gateway: 'stripe',
          transactionId: 'pi_1',
          kind: 'payment',
          amountMinor: 1657,
          currency: 'USD',
          classification: 'processed',
          receivedAt,
        },
      ],
      refunds: [],
    });

    const missing = await invoke(getOrder('ord_00000000000000000000000000'));
    expect(missing.statusCode).toBe(404);
    expect(missing.json).toEqual({ error: 'order_not_found' });
  });
});

describe('Idempotency-Key on POST /orders', () => {
  it('20 concurrent requests with one key create one order', async () => {
    const { r, invoke } = await setup();
    await seedRate(r, CACHED);
    provider.delayMs = 100; // keeps the first request in flight while the others arrive
    const results = await Promise.all(
      Array.from({ length: 20 }, () => invoke(postOrder(body, { 'Idempotency-Key': 'checkout-42' }))),
    );
    expect(await orderCount(r)).toBe(1);
    const created = results.filter((x) => x.statusCode === 201);
    const others = results.filter((x) => x.statusCode !== 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((x) => x.json.orderId)).size).toBe(1);
    expect(created.filter((x) => x.headers['Idempotent-Replayed'] !== 'true')).toHaveLength(1);
    for (const x of others) {
      expect(x.statusCode).toBe(409);
      expect(x.json).toEqual({ error: 'in_progress' });
      expect(x.headers['Retry-After']).toBeDefined();
    }

    const replay = await invoke(postOrder(body, { 'Idempotency-Key': 'checkout-42' }));
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['Idempotent-Replayed']).toBe('true');
    expect(replay.json).toEqual(created[0]!.json);
    expect(await orderCount(r)).toBe(1);
  });

  it('same key with another body → 422 idempotency_key_reused', async () => {
    const { r, invoke } = await setup();
    await seedRate(r, CACHED);
    expect((await invoke(postOrder(body, { 'Idempotency-Key': 'k-1' }))).statusCode).toBe(201);
    const res = await invoke(postOrder({ ...body, customerId: 'c-other' }, { 'Idempotency-Key': 'k-1' }));
    expect(res.statusCode).toBe(422);
    expect(res.json).toEqual({ error: 'idempotency_key_reused' });
    expect(await orderCount(r)).toBe(1);
  });

  it('a 4xx/5xx answer is not stored: the same key can be retried', async () => {
    const { r, invoke } = await setup();
    const first = await invoke(postOrder(body, { 'Idempotency-Key': 'k-2' }));
    expect(first.statusCode).toBe(503);
    await seedRate(r, CACHED);
    const second = await invoke(postOrder(body, { 'Idempotency-Key': 'k-2' }));
    expect(second.statusCode).toBe(201);
    expect(second.headers['Idempotent-Replayed']).toBeUndefined();
  });
});
