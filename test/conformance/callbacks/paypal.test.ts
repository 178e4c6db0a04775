/**
 * PayPal, as PayPal sends it: events shaped like PayPal's published samples (test/fixtures/gateways/paypal.ts),
 * signed SHA256withRSA over PayPal's signed string, through the real handler on DynamoDB Local. Every
 * event type CONTRACT §3 names for PayPal; payments with custom_id, invoice_id only, or no reference.
 * (Certificate trust is tested with the certificate code.)
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { signPaypal } from '../../../functions/core/gateways/signers.ts';
import { captureEvent, paypalId, refundEvent } from '../../fixtures/gateways/paypal.ts';
import { createHarness, type Harness, PAYPAL_CERT_URL } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const send = (body: string) =>
  h.send(
    'paypal',
    {
      'content-type': 'application/json',
      ...signPaypal({
        privateKeyPem: h.keys.paypal.privateKeyPem,
        webhookId: h.keys.paypal.webhookId,
        transmissionId: randomUUID(),
        time: new Date().toISOString(),
        rawBody: body,
        certUrl: PAYPAL_CERT_URL,
      }),
    },
    body,
  );

describe('paypal events', () => {
  it('PAYMENT.CAPTURE.COMPLETED pays the order named by custom_id, else invoice_id', async () => {
    for (const ref of ['custom_id', 'invoice_id'] as const) {
      const o = await h.order({ payAmountMinor: 1657, payCurrency: 'USD' });
      const capture = paypalId();
      const body = captureEvent({
        captureId: capture,
        value: '16.57',
        currency: 'USD',
        ...(ref === 'custom_id' ? { customId: o.orderId } : { invoiceId: o.orderId }),
      });
      expect(await send(body)).toMatchObject({ status: 200, outcome: 'processed' });
      expect(await send(body)).toMatchObject({ status: 200, outcome: 'duplicate' });
      expect((await h.storedOrder(o.orderId)).status).toBe('paid');
      expect(await h.entry(`paypal#${capture}#payment`)).toMatchObject({
        references: { capture, paypalOrder: expect.any(String) },
      });
    }
  });

  it('a capture naming no order is recorded unmatched and alerted, never refused', async () => {
    const capture = paypalId();
    const mark = h.alertMark();
    expect(await send(captureEvent({ captureId: capture, value: '9.99', currency: 'USD' }))).toMatchObject({
      status: 200,
      outcome: 'unmatched',
    });
    expect(h.alertsSince(mark)).toContain('Unmatched Payment');
    expect(await h.entry(`paypal#${capture}#payment`)).toMatchObject({
      classification: 'unmatched',
      amountMinor: 999,
    });
  });

  it('DENIED and DECLINED are failed attempts', async () => {
    const o = await h.order({ payAmountMinor: 500, payCurrency: 'USD' });
    for (const eventType of ['PAYMENT.CAPTURE.DENIED', 'PAYMENT.CAPTURE.DECLINED']) {
      const res = await send(
        captureEvent({
          eventType,
          captureId: paypalId(),
          value: '5.00',
          currency: 'USD',
          customId: o.orderId,
        }),
      );
      expect(res.outcome).toBe('processed');
    }
    expect((await h.entries(o.orderId)).map((e) => e.kind)).toEqual(['attempt', 'attempt']);
    expect((await h.storedOrder(o.orderId)).status).toBe('pending_payment');
  });

  it('PAYMENT.CAPTURE.REFUNDED completes our refund (custom_id); REVERSED is a reversal', async () => {
    const o = await h.order({ payAmountMinor: 1657, payCurrency: 'USD' });
    const capture = paypalId();
    await send(captureEvent({ captureId: capture, value: '16.57', currency: 'USD', customId: o.orderId }));
    const created = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 1 }] });
    const refundId = String(created.json.refundId);
    const value = (Number(created.json.payAmountMinor) / 100).toFixed(2);
    const refund = paypalId();
    expect(
      (
        await send(
          refundEvent({
            refundId: refund,
            captureId: capture,
            value,
            currency: 'USD',
            ourRefundId: refundId,
          }),
        )
      ).outcome,
    ).toBe('processed');
    expect((await h.refundItem(o.orderId, refundId)).status).toBe('completed');
    // A PENDING refund (eCheck) moved no money yet.
    expect(
      (
        await send(
          refundEvent({
            refundId: paypalId(),
            captureId: capture,
            value: '1.00',
            currency: 'USD',
            status: 'PENDING',
          }),
        )
      ).outcome,
    ).toBe('ignored');
    const reversal = paypalId();
    expect(
      (
        await send(
          refundEvent({
            eventType: 'PAYMENT.CAPTURE.REVERSED',
            refundId: reversal,
            captureId: capture,
            value: '16.57',
            currency: 'USD',
          }),
        )
      ).outcome,
    ).toBe('processed');
    expect(await h.entry(`paypal#${reversal}#reversal`)).toMatchObject({
      orderId: o.orderId,
      kind: 'reversal',
    });
    expect((await h.storedOrder(o.orderId)).flags).toContain('disputed');
  });

  it('unknown event types are ignored; a field of the wrong type is 400 and writes nothing', async () => {
    const capture = paypalId();
    const body = JSON.parse(captureEvent({ captureId: capture, value: '1.00', currency: 'USD' }));
    expect((await send(JSON.stringify({ ...body, event_type: 'CHECKOUT.ORDER.APPROVED' }))).outcome).toBe(
      'ignored',
    );
    const wrong = { ...body, resource: { ...body.resource, custom_id: 12345 } };
    expect(await send(JSON.stringify(wrong))).toMatchObject({ status: 400, outcome: 'malformed_event' });
    expect(await h.entry(`paypal#${capture}#payment`)).toBeUndefined();
  });
});
