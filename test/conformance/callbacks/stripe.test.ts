/**
 * Stripe, as Stripe sends it: events built from Stripe's published fixtures (test/fixtures/gateways/stripe.ts),
 * signed by the official SDK, through the real callback and orders handlers on DynamoDB Local. Every
 * event type CONTRACT §3 names for Stripe, Payment Links and Checkout (late order reference both ways,
 * racing), refund failures before and after they were applied, disputes won, refunds of a double payment.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../functions/callback/app.ts';
import {
  checkoutSession,
  disputeObject,
  paymentIntent,
  refundObject,
  stripeEvent,
  stripeId,
  stripeSignatureHeader,
} from '../../fixtures/gateways/stripe.ts';
import { context, httpEvent } from '../../support/http-events.ts';
import { createHarness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const send = (payload: string) =>
  h.send(
    'stripe',
    {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': stripeSignatureHeader(payload, h.keys.stripe.webhookSecret),
    },
    payload,
  );

async function paidOrder(amount = 1657) {
  const o = await h.order({ payAmountMinor: amount, payCurrency: 'USD' });
  const pi = stripeId('pi');
  const res = await send(
    stripeEvent('payment_intent.succeeded', paymentIntent({ id: pi, amount, orderId: o.orderId })),
  );
  expect(res.outcome).toBe('processed');
  return { o, pi };
}

describe('stripe payments', () => {
  it('payment_intent.succeeded with metadata.order_id pays the order; a re-delivery is a duplicate', async () => {
    const o = await h.order({ payAmountMinor: 1657, payCurrency: 'USD' });
    const pi = stripeId('pi');
    const payload = stripeEvent(
      'payment_intent.succeeded',
      paymentIntent({ id: pi, amount: 1657, orderId: o.orderId }),
    );
    expect(await send(payload)).toMatchObject({ status: 200, outcome: 'processed' });
    expect(await send(payload)).toMatchObject({ status: 200, outcome: 'duplicate' });
    expect((await h.storedOrder(o.orderId)).status).toBe('paid');
    expect(await h.entry(`stripe#${pi}#payment`)).toMatchObject({
      orderId: o.orderId,
      amountMinor: 1657,
      references: { paymentIntent: pi, charge: `ch_${pi.slice(3)}` },
    });
  });

  it('payment_intent.payment_failed is a failed attempt, stored per event, never blocking the payment', async () => {
    const o = await h.order({ payAmountMinor: 1000, payCurrency: 'USD' });
    const pi = stripeId('pi');
    const failed = stripeEvent(
      'payment_intent.payment_failed',
      paymentIntent({ id: pi, amount: 1000, orderId: o.orderId, status: 'requires_payment_method' }),
    );
    expect((await send(failed)).outcome).toBe('processed');
    expect(
      (
        await send(
          stripeEvent(
            'payment_intent.succeeded',
            paymentIntent({ id: pi, amount: 1000, orderId: o.orderId }),
          ),
        )
      ).outcome,
    ).toBe('processed');
    const kinds = (await h.entries(o.orderId)).map((e) => e.kind).sort();
    expect(kinds).toEqual(['attempt', 'payment']);
  });

  it('Payment Link, intent first: recorded unmatched and alerted, then the session attaches the order once', async () => {
    const o = await h.order({ payAmountMinor: 2500, payCurrency: 'USD' });
    const pi = stripeId('pi');
    const mark = h.alertMark();
    const intent = stripeEvent('payment_intent.succeeded', paymentIntent({ id: pi, amount: 2500 }));
    expect(await send(intent)).toMatchObject({ status: 200, outcome: 'unmatched' });
    expect(h.alertsSince(mark)).toContain('Unmatched Payment');
    expect(await h.entry(`stripe#${pi}#payment`)).toMatchObject({ classification: 'unmatched' });
    expect((await h.entry(`stripe#${pi}#payment`))?.orderId).toBeUndefined();

    const session = stripeEvent(
      'checkout.session.completed',
      checkoutSession({
        paymentIntent: pi,
        amount: 2500,
        orderId: o.orderId,
        paymentLink: stripeId('plink'),
      }),
    );
    expect(await send(session)).toMatchObject({ status: 200, outcome: 'processed' });
    expect(await send(session)).toMatchObject({ outcome: 'duplicate' });
    expect(await send(intent)).toMatchObject({ outcome: 'duplicate' });

    const stored = await h.storedOrder(o.orderId);
    expect(stored).toMatchObject({ status: 'paid', paidBy: `stripe#${pi}#payment` });
    const entries = await h.entries(o.orderId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      classification: 'processed',
      references: {
        paymentIntent: pi,
        charge: `ch_${pi.slice(3)}`,
        checkoutSession: expect.stringMatching(/^cs_test_/),
      },
    });
  });

  it('Checkout, session first: one payment; the intent without metadata is a duplicate that merges latest_charge', async () => {
    const o = await h.order({ payAmountMinor: 3100, payCurrency: 'USD' });
    const pi = stripeId('pi');
    const session = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ paymentIntent: pi, amount: 3100, orderId: o.orderId }),
    );
    expect((await send(session)).outcome).toBe('processed');
    expect((await h.entry(`stripe#${pi}#payment`))?.references.charge).toBeUndefined();
    const intent = stripeEvent('payment_intent.succeeded', paymentIntent({ id: pi, amount: 3100 }));
    expect((await send(intent)).outcome).toBe('duplicate');
    expect(await h.entry(`stripe#${pi}#payment`)).toMatchObject({
      orderId: o.orderId,
      references: { charge: `ch_${pi.slice(3)}`, checkoutSession: expect.any(String) },
    });
    expect(await h.entries(o.orderId)).toHaveLength(1);
  });

  it('async_payment_succeeded pays (order from metadata.order_id); unpaid and intent-less sessions are ignored', async () => {
    const o = await h.order({ payAmountMinor: 4200, payCurrency: 'USD' });
    const pi = stripeId('pi');
    const unpaid = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ paymentIntent: pi, amount: 4200, orderId: o.orderId, paymentStatus: 'unpaid' }),
    );
    expect(await send(unpaid)).toMatchObject({ status: 200, outcome: 'ignored' });
    const noIntent = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ paymentIntent: null, amount: 4200 }),
    );
    expect(await send(noIntent)).toMatchObject({ status: 200, outcome: 'ignored' });
    expect(await h.entries(o.orderId)).toHaveLength(0);

    const succeeded = checkoutSession({ paymentIntent: pi, amount: 4200 });
    const payload = stripeEvent('checkout.session.async_payment_succeeded', {
      ...succeeded,
      payment_status: 'paid',
      metadata: { order_id: o.orderId },
    });
    expect((await send(payload)).outcome).toBe('processed');
    expect((await h.storedOrder(o.orderId)).status).toBe('paid');
  });

  it('a late order reference racing its own duplicates: one attach, one payment, never a 500', async () => {
    const o = await h.order({ payAmountMinor: 5100, payCurrency: 'USD' });
    const pi = stripeId('pi');
    const intent = stripeEvent('payment_intent.succeeded', paymentIntent({ id: pi, amount: 5100 }));
    expect((await send(intent)).outcome).toBe('unmatched');
    const session = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ paymentIntent: pi, amount: 5100, orderId: o.orderId }),
    );
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => send(session)),
      ...Array.from({ length: 8 }, () => send(intent)),
    ]);
    for (const res of results) expect([200, 409]).toContain(res.status);
    const sessionOutcomes = results.slice(0, 8).map((r) => r.outcome);
    expect(sessionOutcomes.filter((x) => x === 'processed')).toHaveLength(1);
    for (const outcome of results.map((r) => r.outcome))
      expect(['processed', 'duplicate', 'in_progress']).toContain(outcome);
    expect(await h.entries(o.orderId)).toHaveLength(1);
    const stored = await h.storedOrder(o.orderId);
    expect(stored.status).toBe('paid');
    expect(stored.statusHistory.filter((s) => s.status === 'paid')).toHaveLength(1);
  });

  it('a session naming another order than the recorded payment is quarantined', async () => {
    const { pi } = await paidOrder(1800);
    const other = await h.order({ payAmountMinor: 1800, payCurrency: 'USD' });
    const session = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ paymentIntent: pi, amount: 1800, orderId: other.orderId }),
    );
    expect((await send(session)).outcome).toBe('quarantined');
    expect((await h.storedOrder(other.orderId)).status).toBe('pending_payment');
  });

  it('bad input: unknown types ignored, a field of the wrong type is 400 and writes nothing', async () => {
    expect((await send(stripeEvent('charge.succeeded', { id: stripeId('ch') }))).outcome).toBe('ignored');
    expect((await send(stripeEvent('charge.refunded', { id: stripeId('ch') }))).outcome).toBe('ignored');
    const pi = stripeId('pi');
    const wrong = stripeEvent('payment_intent.succeeded', {
      ...paymentIntent({ id: pi, amount: 100 }),
      metadata: { order_id: 7 },
    });
    expect(await send(wrong)).toMatchObject({ status: 400, outcome: 'malformed_event' });
    const session = stripeEvent('checkout.session.completed', {
      ...checkoutSession({ paymentIntent: pi, amount: 100 }),
      amount_total: '100',
    });
    expect(await send(session)).toMatchObject({ status: 400, outcome: 'malformed_event' });
    expect(await h.entry(`stripe#${pi}#payment`)).toBeUndefined();
  });

  it('keeps its request budget: 3 DynamoDB requests for a first delivery, 1 for a duplicate', async () => {
    const counter = { n: 0 };
    const dynamo = new DynamoDBClient({
      endpoint: h.r.dynamodbEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    dynamo.middlewareStack.add(
      (next) => async (args) => {
        counter.n++;
        return next(args);
      },
      { step: 'initialize', name: 'conformanceCounter' },
    );
    const handler = createHandler(
      h.r.envFor('callbackStripe', {
        GATEWAY_SECRET_JSON: JSON.stringify({ webhookSecrets: [h.keys.stripe.webhookSecret] }),
      }),
      { dynamo },
    );
    const o = await h.order({ payAmountMinor: 999, payCurrency: 'USD' });
    const payload = stripeEvent(
      'payment_intent.succeeded',
      paymentIntent({ id: stripeId('pi'), amount: 999, orderId: o.orderId }),
    );
    const deliver = () =>
      handler(
        httpEvent({
          path: '/callbacks/stripe',
          headers: {
            'content-type': 'application/json',
            'stripe-signature': stripeSignatureHeader(payload, h.keys.stripe.webhookSecret),
          },
          body: payload,
        }),
        context(),
      );
    await deliver();
    expect(counter.n).toBe(3);
    counter.n = 0;
    expect(JSON.parse((await deliver()).body).status).toBe('duplicate');
    expect(counter.n).toBe(1);
  });
});

describe('stripe refund lifecycle', () => {
  it('refund.failed before the refund was applied: pending refund failed, everything given back, both entries written', async () => {
    const { o, pi } = await paidOrder();
    const created = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 1 }] });
    expect(created.status).toBe(201);
    const refundId = String(created.json.refundId);
    const payAmount = Number(created.json.payAmountMinor);
    expect(await h.refundItem(o.orderId, refundId)).toMatchObject({
      status: 'pending',
      bufferCurrency: 'CNY',
    });
    expect(await h.storedOrder(o.orderId)).toMatchObject({
      pendingRefundPayMinor: payAmount,
      refundedQuantities: { 'tb-6618': 1 },
    });

    const re = stripeId('re');
    const mark = h.alertMark();
    const failed = stripeEvent(
      'refund.failed',
      refundObject({ id: re, paymentIntent: pi, amount: payAmount, refundId, status: 'failed' }),
    );
    expect((await send(failed)).outcome).toBe('processed');
    expect(h.alertsSince(mark)).toContain('Refund Failed');
    expect(await send(failed)).toMatchObject({ outcome: 'duplicate' });

    const item = await h.refundItem(o.orderId, refundId);
    expect(item.status).toBe('failed');
    expect(item.bufferCurrency).toBeUndefined();
    expect(await h.storedOrder(o.orderId)).toMatchObject({
      status: 'paid',
      pendingRefundPayMinor: 0,
      refundedPayMinor: 0,
      refundBaseCumulativeMinor: 0,
      refundPayCumulativeMinor: 0,
      refundedQuantities: { 'tb-6618': 0 },
    });
    expect(await h.entry(`stripe#${re}#refund`)).toMatchObject({
      classification: 'refund_failed',
      amountMinor: payAmount,
    });
    expect(await h.entry(`stripe#${re}#refund_failed`)).toMatchObject({
      classification: 'refund_failed',
      refundId,
    });

    // A success of that refund arriving later is recorded (it is), never applied.
    const late = stripeEvent(
      'refund.updated',
      refundObject({ id: re, paymentIntent: pi, amount: payAmount, refundId }),
    );
    expect((await send(late)).outcome).toBe('duplicate');
    expect((await h.storedOrder(o.orderId)).refundedPayMinor).toBe(0);

    // Cumulative rounding stays exact: refunding everything now returns exactly what was paid.
    const all = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 2 }] });
    expect(all).toMatchObject({ status: 201, json: { payAmountMinor: 1657 } });
    const detail = await h.getOrder(o.orderId);
    expect(detail.refundedPayMinor).toBe(0);
    expect((detail.refunds as { status: string }[]).map((r) => r.status).sort()).toEqual([
      'failed',
      'pending',
    ]);
  });

  it('refund.updated to canceled before it was applied fails our refund the same way', async () => {
    const { o, pi } = await paidOrder();
    const created = await h.createRefund(o.orderId, { baseAmountMinor: 5900 });
    const refundId = String(created.json.refundId);
    const canceled = stripeEvent(
      'refund.updated',
      refundObject({
        id: stripeId('re'),
        paymentIntent: pi,
        amount: Number(created.json.payAmountMinor),
        refundId,
        status: 'canceled',
      }),
    );
    expect((await send(canceled)).outcome).toBe('processed');
    expect((await h.refundItem(o.orderId, refundId)).status).toBe('failed');
    expect((await h.storedOrder(o.orderId)).pendingRefundPayMinor).toBe(0);
  });

  it('a refund that fails after it was applied gives the money back and recomputes the status', async () => {
    const { o, pi } = await paidOrder();
    const created = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 2 }] });
    const refundId = String(created.json.refundId);
    const re = stripeId('re');
    const ok = stripeEvent(
      'refund.updated',
      refundObject({ id: re, paymentIntent: pi, amount: 1657, refundId }),
    );
    expect((await send(ok)).outcome).toBe('processed');
    expect(await h.storedOrder(o.orderId)).toMatchObject({ status: 'refunded', refundedPayMinor: 1657 });
    expect((await h.getOrder(o.orderId)).refundedPayMinor).toBe(1657);

    const mark = h.alertMark();
    const failed = stripeEvent(
      'refund.failed',
      refundObject({ id: re, paymentIntent: pi, amount: 1657, status: 'failed' }),
    );
    expect((await send(failed)).outcome).toBe('processed');
    expect(h.alertsSince(mark)).toContain('Refund Failed');
    const stored = await h.storedOrder(o.orderId);
    expect(stored).toMatchObject({ status: 'paid', refundedPayMinor: 0, refundBaseCumulativeMinor: 0 });
    expect(stored.statusHistory.map((s) => s.status)).toEqual([
      'pending_payment',
      'paid',
      'refunded',
      'paid',
    ]);
    expect((await h.refundItem(o.orderId, refundId)).status).toBe('failed');
    expect(await h.entry(`stripe#${re}#refund_failed`)).toMatchObject({
      amountMinor: 1657,
      orderId: o.orderId,
    });
    expect((await h.getOrder(o.orderId)).refundedPayMinor).toBe(0);
  });

  it('a refund of a double payment returns the duplicate and leaves the order alone', async () => {
    const { o } = await paidOrder(1200);
    const second = stripeId('pi');
    const dup = stripeEvent(
      'payment_intent.succeeded',
      paymentIntent({ id: second, amount: 1200, orderId: o.orderId }),
    );
    expect((await send(dup)).outcome).toBe('double_payment');
    const re = stripeId('re');
    const refund = stripeEvent(
      'refund.created',
      refundObject({ id: re, paymentIntent: second, amount: 1200 }),
    );
    expect((await send(refund)).outcome).toBe('processed');
    expect(await h.entry(`stripe#${re}#refund`)).toMatchObject({
      orderId: o.orderId,
      classification: 'double_payment',
    });
    expect(await h.storedOrder(o.orderId)).toMatchObject({ status: 'paid', refundedPayMinor: 0 });
    expect((await h.getOrder(o.orderId)).refundedPayMinor).toBe(0);
  });

  it('a dispute lost then won: reversal flags the order, reinstatement offsets it and is alerted', async () => {
    const { o, pi } = await paidOrder(2000);
    const dp = stripeId('dp');
    const withdrawn = stripeEvent(
      'charge.dispute.funds_withdrawn',
      disputeObject({ id: dp, paymentIntent: pi, amount: 2000, status: 'needs_response' }),
    );
    expect((await send(withdrawn)).outcome).toBe('processed');
    expect((await h.storedOrder(o.orderId)).flags).toContain('disputed');
    const mark = h.alertMark();
    const reinstated = stripeEvent(
      'charge.dispute.funds_reinstated',
      disputeObject({ id: dp, paymentIntent: pi, amount: 2000, status: 'won' }),
    );
    expect((await send(reinstated)).outcome).toBe('processed');
    expect(await send(reinstated)).toMatchObject({ outcome: 'duplicate' });
    expect(h.alertsSince(mark)).toEqual(['Dispute Reinstated']);
    expect(await h.entry(`stripe#${dp}#reversal`)).toMatchObject({ amountMinor: 2000, orderId: o.orderId });
    expect(await h.entry(`stripe#${dp}#reinstatement`)).toMatchObject({
      amountMinor: 2000,
      orderId: o.orderId,
    });
  });

  it('a failure racing the success of the same refund: once each, and the refund ends failed with its money back', async () => {
    for (let round = 0; round < 3; round++) {
      const { o, pi } = await paidOrder();
      const created = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 1 }] });
      const refundId = String(created.json.refundId);
      const amount = Number(created.json.payAmountMinor);
      const re = stripeId('re');
      const ok = stripeEvent('refund.updated', refundObject({ id: re, paymentIntent: pi, amount, refundId }));
      const failed = stripeEvent(
        'refund.failed',
        refundObject({ id: re, paymentIntent: pi, amount, refundId, status: 'failed' }),
      );
      // Gateways retry a 409 or 500: so does this test, until every delivery is answered 200.
      const untilAnswered = async (payload: string) => {
        for (let attempt = 0; ; attempt++) {
          const res = await send(payload);
          if (res.status === 200 || attempt > 20) return res;
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const results = await Promise.all([ok, failed, ok, failed].map(untilAnswered));
      for (const res of results) expect(res.status).toBe(200);
      expect((await h.refundItem(o.orderId, refundId)).status).toBe('failed');
      expect(await h.storedOrder(o.orderId)).toMatchObject({
        status: 'paid',
        refundedPayMinor: 0,
        pendingRefundPayMinor: 0,
        refundBaseCumulativeMinor: 0,
      });
      const kinds = (await h.entries(o.orderId)).map((e) => e.kind).sort();
      expect(kinds).toEqual(['payment', 'refund', 'refund_failed']);
    }
  });
});
