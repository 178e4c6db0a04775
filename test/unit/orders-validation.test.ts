/** Request validation at the edge: 400 validation_error with details, before any store or provider is touched. */
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { checkRate } from '../../functions/core/fx.ts';
import { createHandler } from '../../functions/orders/app.ts';
import type { HttpEvent } from '../../functions/shared/http.ts';
import { defaultSettings } from '../../lib/topology.ts';

const untouchable = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error('must not be called');
    },
  },
);
const handler = createHandler(
  {
    ...defaultSettings,
    ORDERS_TABLE: 'o',
    PAYMENTS_TABLE: 'p',
    FX_RATES_TABLE: 'f',
    IDEMPOTENCY_TABLE: 'i',
    ALERT_SINK: 'local',
    POWERTOOLS_METRICS_DISABLED: 'true',
  },
  {
    orders: untouchable as never,
    payments: untouchable as never,
    fxRates: untouchable as never,
    provider: untouchable as never,
    idempotencyStore: untouchable as never,
  },
);
const context = { getRemainingTimeInMillis: () => 10_000 } as Context;

function post(routeKey: string, body: string, pathParameters?: Record<string, string>): HttpEvent {
  return {
    routeKey,
    rawPath: routeKey.split(' ')[1]!,
    headers: { 'content-type': 'application/json' },
    body,
    isBase64Encoded: false,
    ...(pathParameters ? { pathParameters } : {}),
  } as unknown as HttpEvent;
}

const good = {
  customerId: 'c-1',
  payCurrency: 'USD',
  items: [{ sku: 'a', title: 'A', quantity: 2, unitPriceMinor: 5900 }],
};

describe('POST /orders validation', () => {
  it.each([
    ['bad JSON', '{"customerId":'],
    ['not an object', '[]'],
    ['unknown currency', JSON.stringify({ ...good, payCurrency: 'XYZ' })],
    ['currency not offered by the provider', JSON.stringify({ ...good, payCurrency: 'KRW' })],
    ['empty items', JSON.stringify({ ...good, items: [] })],
    ['zero quantity', JSON.stringify({ ...good, items: [{ sku: 'a', quantity: 0, unitPriceMinor: 1 }] })],
    ['negative price', JSON.stringify({ ...good, items: [{ sku: 'a', quantity: 1, unitPriceMinor: -1 }] })],
    [
      'fractional price',
      JSON.stringify({ ...good, items: [{ sku: 'a', quantity: 1, unitPriceMinor: 59.5 }] }),
    ],
    [
      'price as a string',
      JSON.stringify({ ...good, items: [{ sku: 'a', quantity: 1, unitPriceMinor: '5900' }] }),
    ],
    ['unknown key', JSON.stringify({ ...good, coupon: 'FREE' })],
    [
      'unknown item key',
      JSON.stringify({ ...good, items: [{ sku: 'a', qty: 1, quantity: 1, unitPriceMinor: 1 }] }),
    ],
    ['duplicate sku', JSON.stringify({ ...good, items: [good.items[0], good.items[0]] })],
    ['missing customer', JSON.stringify({ payCurrency: 'USD', items: good.items })],
  ])('%s → 400 validation_error', async (_name, body) => {
    const res = await handler(post('POST /orders', body), context);
    expect(res.statusCode).toBe(400);
    const parsed = JSON.parse(res.body as string);
    expect(parsed.error).toBe('validation_error');
    expect(parsed.details.length).toBeGreaterThan(0);
  });

  it('says where and what', async () => {
    const res = await handler(
      post(
        'POST /orders',
        JSON.stringify({ ...good, items: [{ sku: 'a', quantity: 1.5, unitPriceMinor: 0 }] }),
      ),
      context,
    );
    expect(JSON.parse(res.body as string).details).toEqual([
      { path: 'items.0.quantity', message: 'must be an integer' },
      { path: 'items.0.unitPriceMinor', message: 'must be greater than 0' },
    ]);
  });

  it('rejects a malformed Idempotency-Key', async () => {
    const event = post('POST /orders', JSON.stringify(good));
    event.headers['idempotency-key'] = 'has spaces in it';
    const res = await handler(event, context);
    expect(res.statusCode).toBe(400);
  });
});

describe('POST /orders/{orderId}/refunds validation', () => {
  it.each([
    ['both items and amount', { items: [{ sku: 'a', quantity: 1 }], baseAmountMinor: 5 }],
    ['neither', {}],
    ['zero amount', { baseAmountMinor: 0 }],
    ['empty items', { items: [] }],
    ['unknown key', { amount: 5 }],
  ])('%s → 400', async (_name, body) => {
    const res = await handler(
      post('POST /orders/{orderId}/refunds', JSON.stringify(body), { orderId: 'ord_x' }),
      context,
    );
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body as string).error).toBe('validation_error');
  });
});

describe('GET /refund-buffer validation', () => {
  it('rejects an unknown currency', async () => {
    const res = await handler(
      {
        routeKey: 'GET /refund-buffer',
        rawPath: '/refund-buffer',
        queryStringParameters: { currency: 'XXX' },
        headers: {},
      } as unknown as HttpEvent,
      context,
    );
    expect(res.statusCode).toBe(400);
  });
});

describe('checkRate (provider values)', () => {
  it.each([
    ['7.1234', { ok: true, rate: '7.123400' }],
    [7.1234, { ok: true, rate: '7.123400' }],
    ['7.12345650', { ok: true, rate: '7.123457' }],
    ['0', { ok: false, reason: 'zero' }],
    ['0.0000001', { ok: false, reason: 'zero' }],
    ['-7.1', { ok: false, reason: 'negative' }],
    ['abc', { ok: false, reason: 'non_numeric' }],
    ['1e3', { ok: false, reason: 'non_numeric' }],
    [true, { ok: false, reason: 'non_numeric' }],
    [null, { ok: false, reason: 'missing' }],
  ] as [unknown, unknown][])('%j → %j', (raw, expected) => {
    expect(checkRate(raw)).toEqual(expected);
  });
});
