/**
 * The callback handler end to end against DynamoDB Local: signatures, the status table, "once" under
 * concurrency, the incident replay, and the order state machine.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import { createHandler } from '../../functions/callback/app.ts';
import type { LedgerEntry } from '../../functions/core/ledger.ts';
import type { OrderRecord } from '../../functions/core/order-model.ts';
import { context } from '../support/http-events.ts';
import { putOrder } from '../support/orders.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { paymentIntentSucceeded, refundSucceeded, signedStripeEvent } from '../support/stripe-events.ts';

const secret = `whsec_${randomBytes(24).toString('base64url')}`;
let r: TestResources;
let handler: ReturnType<typeof createHandler>;

beforeAll(async () => {
  r = await createTestResources();
  handler = createHandler(
    r.envFor('callbackStripe', { GATEWAY_SECRET_JSON: JSON.stringify({ webhookSecrets: [secret] }) }),
  );
});

async function deliver(payload: string, timestamp?: number) {
  const res = await handler(signedStripeEvent(payload, secret, timestamp), context());
  return { statusCode: res.statusCode, body: JSON.parse(res.body || '{}') as Record<string, string> };
}

async function ledger(): Promise<LedgerEntry[]> {
  const out = await r.doc.send(new ScanCommand({ TableName: r.tables.payments, ConsistentRead: true }));
  return (out.Items ?? []) as LedgerEntry[];
}

async function order(orderId: string): Promise<OrderRecord> {
  const out = await r.doc.send(
    new GetCommand({ TableName: r.tables.orders, Key: { pk: orderId, sk: 'order' }, ConsistentRead: true }),
  );
  return out.Item as OrderRecord;
}

async function entriesFor(orderId: string) {
  return (await ledger()).filter((e) => e.orderId === orderId);
}

describe('stripe callbacks on DynamoDB Local', () => {
  it('applies an SDK-signed payment once: ledger entry, order paid, processed', async () => {
    const o = await putOrder(r, { payAmountMinor: 1657, payCurrency: 'USD' });
    const payload = paymentIntentSucceeded({ orderId: o.orderId, amount: 1657 });
    expect(await deliver(payload)).toEqual({ statusCode: 200, body: { status: 'processed' } });

    const paid = await order(o.orderId);
    expect(paid.status).toBe('paid');
    expect(paid.bufferCurrency).toBe('CNY');
    expect(paid.statusHistory.map((h) => h.status)).toEqual(['pending_payment', 'paid']);
    const entries = await entriesFor(o.orderId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      kind: 'payment',
      amountMinor: 1657,
      currency: 'USD',
      classification: 'processed',
    });
    expect(entries[0]!.pk).toBe(`stripe#${JSON.parse(payload).data.object.id}#payment`);
    expect(entries[0]!.references).toMatchObject({ charge: expect.stringMatching(/^ch_/) });

    // The same event again, re-signed later by the gateway's retry: duplicate, nothing new.
    expect(await deliver(payload)).toEqual({ statusCode: 200, body: { status: 'duplicate' } });
    expect(await entriesFor(o.orderId)).toHaveLength(1);
  });

  it('rejects bad signatures with 401 and writes nothing', async () => {
    const o = await putOrder(r);
    const payload = paymentIntentSucceeded({ orderId: o.orderId, amount: 1657 });
    const before = (await ledger()).length;
    const now = Math.floor(Date.now() / 1000);

    const tampered = signedStripeEvent(payload, secret);
    tampered.body = tampered.body!.replace('1657', '1');
    const wrongSecret = signedStripeEvent(payload, 'whsec_wrong');
    const expired = signedStripeEvent(payload, secret, now - 301);
    const future = signedStripeEvent(payload, secret, now + 301);
    const missing = signedStripeEvent(payload, secret);
    delete missing.headers['stripe-signature'];

    for (const event of [tampered, wrongSecret, expired, future, missing]) {
      const res = await handler(event, context());
      expect(res.statusCode).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: 'invalid_signature' });
    }
    expect((await ledger()).length).toBe(before);
    expect((await order(o.orderId)).status).toBe('pending_payment');
  });

  it('answers the status table for bad input, in check order, and loses nothing signed', async () => {
    const before = (await ledger()).length;
    const big = signedStripeEvent(`{"pad":"${'x'.repeat(300 * 1024)}"}`, secret);
    expect((await handler(big, context())).statusCode).toBe(413);
    // Size comes before signature: an unsigned huge body is still 413.
    const bigUnsigned = signedStripeEvent(`{"pad":"${'x'.repeat(300 * 1024)}"}`, 'whsec_other');
    expect(JSON.parse((await handler(bigUnsigned, context())).body)).toEqual({ error: 'payload_too_large' });

    const wrongType = signedStripeEvent(paymentIntentSucceeded({ orderId: 'x', amount: 1 }), secret);
    wrongType.headers['content-type'] = 'text/plain';
    expect(await handler(wrongType, context())).toMatchObject({ statusCode: 415 });

    const malformed = [
      'not json',
      paymentIntentSucceeded({ orderId: 'o', amount: 0 }),
      paymentIntentSucceeded({ orderId: 'o', amount: -5 }),
      paymentIntentSucceeded({ orderId: 'o', amount: 12.5 }),
      paymentIntentSucceeded({ orderId: 'o', amount: 100, currency: 'XYZ' }),
    ];
    for (const payload of malformed) {
      const res = await deliver(payload);
      expect(res, payload.slice(0, 60)).toEqual({ statusCode: 400, body: { error: 'malformed_event' } });
    }
    expect((await ledger()).length).toBe(before);

    const ignored = JSON.stringify({ id: 'evt_x', type: 'customer.created', data: { object: {} } });
    expect(await deliver(ignored)).toEqual({ statusCode: 200, body: { status: 'ignored' } });
  });

  it('quarantines the same transaction re-sent with another amount, stores it apart and alerts', async () => {
    const o = await putOrder(r, { payAmountMinor: 2000 });
    const pi = `pi_${randomBytes(8).toString('hex')}`;
    expect(
      (await deliver(paymentIntentSucceeded({ orderId: o.orderId, amount: 2000, paymentIntent: pi }))).body,
    ).toEqual({ status: 'processed' });
    const alertsBefore = localAlerts.length;
    const res = await deliver(
      paymentIntentSucceeded({ orderId: o.orderId, amount: 9999, paymentIntent: pi }),
    );
    expect(res.body).toEqual({ status: 'quarantined' });
    const entries = await ledger();
    const q = entries.find((e) => e.pk.startsWith(`stripe#${pi}#payment#quarantine#`));
    expect(q).toMatchObject({ amountMinor: 9999, kind: 'quarantine', classification: 'quarantined' });
    expect(entries.find((e) => e.pk === `stripe#${pi}#payment`)?.amountMinor).toBe(2000);
    expect(localAlerts.slice(alertsBefore).map((a) => a.detailType)).toContain('Callback Quarantined');
    expect((await order(o.orderId)).status).toBe('paid');
  });

  it('still answers duplicate and quarantined after the idempotency record has expired', async () => {
    const o = await putOrder(r, { payAmountMinor: 3100 });
    const pi = `pi_${randomBytes(8).toString('hex')}`;
    const payload = paymentIntentSucceeded({ orderId: o.orderId, amount: 3100, paymentIntent: pi });
    await deliver(payload);
    // Days later: the idempotency record is gone (TTL), the ledger's unique key remains.
    const records = await r.doc.send(
      new ScanCommand({ TableName: r.tables.idempotency, ConsistentRead: true }),
    );
    const { DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
    for (const item of records.Items ?? []) {
      await r.doc.send(new DeleteCommand({ TableName: r.tables.idempotency, Key: { id: item.id } }));
    }
    expect((await deliver(payload)).body).toEqual({ status: 'duplicate' });
    for (const item of (await r.doc.send(new ScanCommand({ TableName: r.tables.idempotency }))).Items ?? []) {
      await r.doc.send(new DeleteCommand({ TableName: r.tables.idempotency, Key: { id: item.id } }));
    }
    const other = paymentIntentSucceeded({ orderId: o.orderId, amount: 1, paymentIntent: pi });
    expect((await deliver(other)).body).toEqual({ status: 'quarantined' });
    expect((await entriesFor(o.orderId)).filter((e) => e.kind === 'payment')).toHaveLength(1);
  });

  it('sends an order paid with another amount to payment_review', async () => {
    const o = await putOrder(r, { payAmountMinor: 5000 });
    expect((await deliver(paymentIntentSucceeded({ orderId: o.orderId, amount: 4999 }))).body).toEqual({
      status: 'amount_mismatch',
    });
    const after = await order(o.orderId);
    expect(after.status).toBe('payment_review');
    expect((await entriesFor(o.orderId))[0]?.classification).toBe('amount_mismatch');

    // Another currency, same amount: also a mismatch (on a fresh order).
    const o2 = await putOrder(r, { payAmountMinor: 5000, payCurrency: 'USD' });
    expect(
      (await deliver(paymentIntentSucceeded({ orderId: o2.orderId, amount: 5000, currency: 'EUR' }))).body,
    ).toEqual({ status: 'amount_mismatch' });
  });

  it('records a second payment of a paid order as double_payment, flags the order and alerts', async () => {
    const o = await putOrder(r, { payAmountMinor: 1200 });
    await deliver(paymentIntentSucceeded({ orderId: o.orderId, amount: 1200 }));
    const alertsBefore = localAlerts.length;
    expect((await deliver(paymentIntentSucceeded({ orderId: o.orderId, amount: 1200 }))).body).toEqual({
      status: 'double_payment',
    });
    // A third one: still recorded, the flag is not added twice.
    expect((await deliver(paymentIntentSucceeded({ orderId: o.orderId, amount: 1200 }))).body).toEqual({
      status: 'double_payment',
    });
    const after = await order(o.orderId);
    expect(after.status).toBe('paid');
    expect(after.flags).toEqual(['double_payment']);
    const entries = await entriesFor(o.orderId);
    expect(entries.map((e) => e.classification).sort()).toEqual([
      'double_payment',
      'double_payment',
      'processed',
    ]);
    expect(localAlerts.slice(alertsBefore).filter((a) => a.detailType === 'Double Payment')).toHaveLength(2);
  });

  it('records a payment for an unknown order as unmatched so reconciliation sees the money', async () => {
    const res = await deliver(paymentIntentSucceeded({ orderId: 'ord_does_not_exist', amount: 777 }));
    expect(res.body).toEqual({ status: 'unmatched' });
    const entries = await entriesFor('ord_does_not_exist');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ classification: 'unmatched', amountMinor: 777 });
  });

  it('applies refunds up to the paid amount and records (never applies) one beyond it', async () => {
    const o = await putOrder(r, { payAmountMinor: 1000 });
    const pi = `pi_${randomBytes(8).toString('hex')}`;
    await deliver(paymentIntentSucceeded({ orderId: o.orderId, amount: 1000, paymentIntent: pi }));

    expect((await deliver(refundSucceeded({ paymentIntent: pi, amount: 400 }))).body).toEqual({
      status: 'processed',
    });
    let after = await order(o.orderId);
    expect(after).toMatchObject({ status: 'partially_refunded', refundedPayMinor: 400 });

    expect((await deliver(refundSucceeded({ paymentIntent: pi, amount: 700 }))).body).toEqual({
      status: 'refund_exceeds_paid',
    });
    after = await order(o.orderId);
    expect(after.refundedPayMinor).toBe(400);
    expect(after.flags).toContain('refund_exceeds_paid');

    expect((await deliver(refundSucceeded({ paymentIntent: pi, amount: 600 }))).body).toEqual({
      status: 'processed',
    });
    after = await order(o.orderId);
    expect(after).toMatchObject({ status: 'refunded', refundedPayMinor: 1000 });
    const refunds = (await entriesFor(o.orderId)).filter((e) => e.kind === 'refund');
    expect(refunds.map((e) => e.classification).sort()).toEqual([
      'processed',
      'processed',
      'refund_exceeds_paid',
    ]);
  });

  it('completes the pending refund a refund callback names', async () => {
    const o = await putOrder(r, { payAmountMinor: 1000, pendingRefundPayMinor: 300 });
    const pi = `pi_${randomBytes(8).toString('hex')}`;
    await deliver(paymentIntentSucceeded({ orderId: o.orderId, amount: 1000, paymentIntent: pi }));
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    await r.doc.send(
      new PutCommand({
        TableName: r.tables.orders,
        Item: {
          pk: o.orderId,
          sk: 'refund#rf_1',
          refundId: 'rf_1',
          orderId: o.orderId,
          status: 'pending',
          baseAmountMinor: 2136,
          payAmountMinor: 300,
          payCurrency: 'USD',
          rate: '7.123400',
          fxDifferenceMinor: 0,
          fxDifferenceCurrency: 'CNY',
          createdAt: new Date().toISOString(),
          bufferCurrency: 'CNY',
        },
      }),
    );
    expect(
      (await deliver(refundSucceeded({ paymentIntent: pi, amount: 300, refundId: 'rf_1' }))).body,
    ).toEqual({
      status: 'processed',
    });
    const after = await order(o.orderId);
    expect(after).toMatchObject({
      refundedPayMinor: 300,
      pendingRefundPayMinor: 0,
      status: 'partially_refunded',
    });
    const refund = await r.doc.send(
      new GetCommand({ TableName: r.tables.orders, Key: { pk: o.orderId, sk: 'refund#rf_1' } }),
    );
    expect(refund.Item).toMatchObject({
      status: 'completed',
      completedBy: expect.stringMatching(/^stripe#re_/),
    });
  });
});

describe('once means once', () => {
  it('100 concurrent deliveries of one event → one ledger entry, one transition, no 500', async () => {
    const o = await putOrder(r, { payAmountMinor: 4242 });
    const payload = paymentIntentSucceeded({ orderId: o.orderId, amount: 4242 });
    const results = await Promise.all(Array.from({ length: 100 }, () => deliver(payload)));
    const statuses = results.map((x) => x.body.status);
    expect(statuses.filter((s) => s === 'processed')).toHaveLength(1);
    for (const x of results) {
      expect([200, 409]).toContain(x.statusCode);
      expect(['processed', 'duplicate', 'in_progress']).toContain(x.body.status);
    }
    expect(await entriesFor(o.orderId)).toHaveLength(1);
    const after = await order(o.orderId);
    expect(after.statusHistory.filter((h) => h.status === 'paid')).toHaveLength(1);
  });

  it('the incident: 300 orders paid, 120 callbacks re-delivered later → ledger equals paid orders', async () => {
    const orders = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        putOrder(r, { payAmountMinor: 1000 + i * 7, customerId: 'incident' }),
      ),
    );
    const payloads = orders.map((o) =>
      paymentIntentSucceeded({ orderId: o.orderId, amount: o.payAmountMinor }),
    );
    const first = await inBatches(payloads, 16, (p) => deliver(p));
    expect(first.every((x) => x.body.status === 'processed')).toBe(true);

    // The retry job: 120 of them again, re-signed with fresh timestamps, a little later.
    const later = Math.floor(Date.now() / 1000) + 60;
    const retried = await inBatches(payloads.slice(0, 120), 16, (p) => deliver(p, later));
    expect(retried.every((x) => x.body.status === 'duplicate')).toBe(true);

    const ids = new Set(orders.map((o) => o.orderId));
    const entries = (await ledger()).filter((e) => e.orderId && ids.has(e.orderId));
    const ledgerTotal = entries.reduce((s, e) => s + e.amountMinor, 0);
    const paidTotal = orders.reduce((s, o) => s + o.payAmountMinor, 0);
    expect(entries).toHaveLength(300);
    expect(ledgerTotal).toBe(paidTotal);
    const byOrder = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.payments,
        IndexName: 'byOrder',
        KeyConditionExpression: 'orderId = :o',
        ExpressionAttributeValues: { ':o': orders[0]!.orderId },
      }),
    );
    expect(byOrder.Items).toHaveLength(1);
  });
});

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}
