/**
 * Regression: an `Idempotency-Key` belongs to the caller that sent it (AWS_IAM principal from the request
 * context). Before, the key was global: a second client choosing the same key got the first client's
 * order replayed to it (or a 422), so keys leaked one customer's order to another integration.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../functions/orders/app.ts';
import type { HttpEvent } from '../../functions/shared/http.ts';
import { functions } from '../../lib/topology.ts';
import { lambdaContext } from '../../sandbox/lambda.ts';
import { httpEvent } from '../support/http-events.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { type FxProviderStub, startFxProviderStub } from './fx-provider-stub.ts';

let provider: FxProviderStub;
let r: TestResources;
let handler: ReturnType<typeof createHandler>;

beforeAll(async () => {
  provider = await startFxProviderStub({ 'USD/CNY': '7.123400' });
  r = await createTestResources();
  handler = createHandler(r.envFor('orders', { FX_PROVIDER_URL: provider.url }));
  const now = new Date().toISOString();
  await r.doc.send(
    new PutCommand({
      TableName: r.tables.fxRates,
      Item: { pair: 'USD/CNY', sk: 'current', rate: '7.123400', asOf: now, source: 'seed', updatedAt: now },
    }),
  );
});
afterAll(() => provider.close());

const order = (customerId: string, callerArn: string | null) =>
  httpEvent({
    path: '/orders',
    headers: { 'content-type': 'application/json', 'Idempotency-Key': 'checkout-1' },
    body: JSON.stringify({
      customerId,
      payCurrency: 'USD',
      items: [{ sku: 'tb-6618', title: 'Tea set', quantity: 2, unitPriceMinor: 5900 }],
    }),
    callerArn,
  }) as HttpEvent;

const call = async (event: HttpEvent) => {
  const res = await handler(event, lambdaContext('orders', functions.orders!));
  return { status: res.statusCode, headers: res.headers ?? {}, json: JSON.parse(res.body as string) };
};

describe('Idempotency-Key is scoped to the calling IAM principal', () => {
  it('two callers using the same key get two orders; each caller’s retry replays its own', async () => {
    const shopA = 'arn:aws:sts::123456789012:assumed-role/shop-a/checkout';
    const shopB = 'arn:aws:sts::123456789012:assumed-role/shop-b/checkout';
    const a = await call(order('c-a', shopA));
    const b = await call(order('c-b', shopB));
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers['Idempotent-Replayed']).toBeUndefined();
    expect(b.json.orderId).not.toBe(a.json.orderId);
    expect(b.json.customerId).toBe('c-b');

    const againA = await call(order('c-a', shopA));
    expect(againA.headers['Idempotent-Replayed']).toBe('true');
    expect(againA.json.orderId).toBe(a.json.orderId);
    // The same key and another body from the same caller is still a reuse.
    expect((await call(order('c-other', shopA))).status).toBe(422);
  });
});
