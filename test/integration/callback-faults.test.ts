/**
 * Fault injection for "once": a crash between taking the lock and committing, a crash between
 * committing and answering, and a store that throttles or is down (mocked: these cannot be provoked on
 * DynamoDB Local). Each time: nothing half-written, and the gateway's retry does the right thing.
 */
import { randomBytes } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, createDynamoClient } from '../../functions/adapters/aws-clients.ts';
import { DynamoCallbackStore } from '../../functions/adapters/callback-store.ts';
import { createHandler } from '../../functions/callback/app.ts';
import type { CallbackStore } from '../../functions/core/callbacks.ts';
import type { LedgerEntry } from '../../functions/core/ledger.ts';
import { context } from '../support/http-events.ts';
import { putOrder } from '../support/orders.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { paymentIntentSucceeded, signedStripeEvent } from '../support/stripe-events.ts';

const secret = `whsec_${randomBytes(24).toString('base64url')}`;
let r: TestResources;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  r = await createTestResources();
  env = r.envFor('callbackStripe', { GATEWAY_SECRET_JSON: JSON.stringify({ webhookSecrets: [secret] }) });
});

function realStore(): DynamoCallbackStore {
  return new DynamoCallbackStore(r.dynamo, { payments: r.tables.payments, orders: r.tables.orders });
}

async function call(handler: ReturnType<typeof createHandler>, payload: string, timeoutMs = 10_000) {
  const res = await handler(signedStripeEvent(payload, secret), context(timeoutMs));
  return { statusCode: res.statusCode, body: JSON.parse(res.body || '{}') };
}

async function ledgerFor(orderId: string): Promise<LedgerEntry[]> {
  const out = await r.doc.send(new ScanCommand({ TableName: r.tables.payments, ConsistentRead: true }));
  return ((out.Items ?? []) as LedgerEntry[]).filter((e) => e.orderId === orderId);
}

async function statusOf(orderId: string) {
  const out = await r.doc.send(
    new GetCommand({ TableName: r.tables.orders, Key: { pk: orderId, sk: 'order' }, ConsistentRead: true }),
  );
  return out.Item?.status;
}

describe('crash safety', () => {
  it('a crash after taking the lock and before committing does not block the event', async () => {
    const o = await putOrder(r, { payAmountMinor: 1500 });
    const payload = paymentIntentSucceeded({ orderId: o.orderId, amount: 1500 });
    // This "invocation" takes the lock and then never gets to commit (the container died).
    const dying: CallbackStore = Object.assign(Object.create(realStore()), {
      commit: () => new Promise<never>(() => {}),
    });
    const crashed = createHandler(env, { store: dying });
    // Lambda ends the invocation at its timeout (400 ms here); the handler never answers.
    const crashedCall = Promise.race([
      call(crashed, payload, 400).then(() => 'answered'),
      new Promise((resolve) => setTimeout(resolve, 400, 'timed out')),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 150));

    const healthy = createHandler(env);
    // While the dead invocation's time has not run out, its lock holds: 409, never a 500.
    const during = await call(healthy, payload);
    expect(during.statusCode).toBe(409);
    expect(during.body).toEqual({ status: 'in_progress' });

    // The lock expires with the invocation; the gateway's retry applies the event.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await call(healthy, payload)).toEqual({ statusCode: 200, body: { status: 'processed' } });
    expect(await crashedCall).toBe('timed out');
    expect(await ledgerFor(o.orderId)).toHaveLength(1);
    expect(await statusOf(o.orderId)).toBe('paid');
  });

  it('a crash after committing and before answering makes the retry answer duplicate', async () => {
    const o = await putOrder(r, { payAmountMinor: 1600 });
    const payload = paymentIntentSucceeded({ orderId: o.orderId, amount: 1600 });
    const store = realStore();
    const crashing: CallbackStore = Object.assign(Object.create(store), {
      commit: async (plan: Parameters<CallbackStore['commit']>[0]) => {
        await store.commit(plan);
        throw new Error('container died after the commit');
      },
    });
    const first = await call(createHandler(env, { store: crashing }), payload);
    expect(first).toEqual({ statusCode: 500, body: { error: 'retry_later' } });

    const retry = await call(createHandler(env), payload);
    expect(retry).toEqual({ statusCode: 200, body: { status: 'duplicate' } });
    expect(await ledgerFor(o.orderId)).toHaveLength(1);
    expect(await statusOf(o.orderId)).toBe('paid');
  });
});

describe('transient store failures (mocked)', () => {
  for (const [name, failure] of [
    [
      'TransactionConflict',
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
      }),
    ],
    [
      'throttling',
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }],
      }),
    ],
    ['store unavailable', Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' })],
  ] as const) {
    it(`${name} → 500 retry_later, nothing half-written, and the retry applies it`, async () => {
      const o = await putOrder(r, { payAmountMinor: 1700 });
      const payload = paymentIntentSucceeded({ orderId: o.orderId, amount: 1700 });
      const failing = createDocumentClient(createDynamoClient({ DYNAMODB_ENDPOINT: r.dynamodbEndpoint }));
      const mock = mockClient(failing);
      mock.on(TransactWriteCommand).rejects(failure);
      const store = new DynamoCallbackStore(
        r.dynamo,
        { payments: r.tables.payments, orders: r.tables.orders },
        failing,
      );

      expect(await call(createHandler(env, { store }), payload)).toEqual({
        statusCode: 500,
        body: { error: 'retry_later' },
      });
      expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(1);
      expect(await ledgerFor(o.orderId)).toHaveLength(0);
      expect(await statusOf(o.orderId)).toBe('pending_payment');

      // The lock was released with the failure: the gateway's retry goes through.
      expect(await call(createHandler(env), payload)).toEqual({
        statusCode: 200,
        body: { status: 'processed' },
      });
      mock.restore();
    });
  }
});
