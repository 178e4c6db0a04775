/**
 * WeChat Pay API v3, as WeChat Pay sends it: resources as its documentation shows them (direct,
 * partner and Global payments; refund results SUCCESS, CLOSED, ABNORMAL), encrypted and signed as the
 * API v3 rules define, through the real handlers on DynamoDB Local.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  directTransaction,
  globalTransaction,
  partnerTransaction,
  refundNo,
  refundResource,
  transactionNo,
  wechatNotification,
} from '../../fixtures/gateways/wechatpay.ts';
import { createHarness, type Harness, SUB_MCHID } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const send = (
  eventType: string,
  resource: Record<string, unknown>,
  handler: 'wechatpay' | 'wechatpay-partner' = 'wechatpay',
) => {
  const n = wechatNotification(h.keys.wechatpay, eventType, resource);
  return h.send(handler, n.headers, n.body);
};

async function paid(total = 11800) {
  const o = await h.order({ payAmountMinor: total, payCurrency: 'CNY' });
  const tx = transactionNo();
  const res = await send(
    'TRANSACTION.SUCCESS',
    directTransaction(h.keys.wechatpay, { transactionId: tx, outTradeNo: o.orderId, total }),
  );
  expect(res).toMatchObject({ status: 204, outcome: 'acknowledged' });
  return { o, tx };
}

describe('wechatpay payments', () => {
  it('TRANSACTION.SUCCESS (direct merchant) pays the order once', async () => {
    const { o, tx } = await paid();
    expect(await h.storedOrder(o.orderId)).toMatchObject({
      status: 'paid',
      paidBy: `wechatpay#${tx}#payment`,
    });
  });

  it('partner mode: sp_mchid is us and sub_mchid must be the configured one', async () => {
    const o = await h.order({ payAmountMinor: 5900, payCurrency: 'CNY' });
    const tx = transactionNo();
    const resource = partnerTransaction(h.keys.wechatpay, {
      transactionId: tx,
      outTradeNo: o.orderId,
      total: 5900,
      subMchid: SUB_MCHID,
    });
    expect(
      (await send('TRANSACTION.SUCCESS', { ...resource, sub_mchid: '1900000999' }, 'wechatpay-partner'))
        .status,
    ).toBe(401);
    expect((await send('TRANSACTION.SUCCESS', resource, 'wechatpay-partner')).status).toBe(204);
    expect(await h.entry(`wechatpay#${tx}#payment`)).toMatchObject({
      orderId: o.orderId,
      references: { subMchid: SUB_MCHID },
    });
  });

  it('WeChat Pay Global: the order number is `id`, priced in the order currency', async () => {
    const o = await h.order({ payAmountMinor: 1657, payCurrency: 'USD' });
    const id = transactionNo();
    const resource = globalTransaction(h.keys.wechatpay, {
      id,
      outTradeNo: o.orderId,
      total: 1657,
      currency: 'USD',
      subMchid: SUB_MCHID,
    });
    expect((await send('TRANSACTION.SUCCESS', resource)).status).toBe(204);
    expect(await h.entry(`wechatpay#${id}#payment`)).toMatchObject({ amountMinor: 1657, currency: 'USD' });
    expect((await h.storedOrder(o.orderId)).status).toBe('paid');
  });

  it('a field of the wrong type in the decrypted resource is 400 and writes nothing', async () => {
    const o = await h.order({ payAmountMinor: 100, payCurrency: 'CNY' });
    const tx = transactionNo();
    const resource = directTransaction(h.keys.wechatpay, {
      transactionId: tx,
      outTradeNo: o.orderId,
      total: 100,
    });
    const res = await send('TRANSACTION.SUCCESS', { ...resource, amount: { total: '100', currency: 'CNY' } });
    expect(res.status).toBe(400);
    expect(await h.entry(`wechatpay#${tx}#payment`)).toBeUndefined();
    expect((await send('TRANSACTION.CLOSED', { not: 'read' })).status).toBe(204);
  });
});

describe('wechatpay refund results', () => {
  const refundOf = (
    tx: string,
    orderId: string,
    outRefundNo: string,
    refund: number,
    status: 'SUCCESS' | 'CLOSED' | 'ABNORMAL',
    refundId = refundNo(),
  ) =>
    refundResource(h.keys.wechatpay, {
      transactionId: tx,
      outTradeNo: orderId,
      refundId,
      outRefundNo,
      total: 11800,
      refund,
      status,
    });

  it('REFUND.SUCCESS without amount.currency completes our refund (CNY by default)', async () => {
    const { o, tx } = await paid();
    const created = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 1 }] });
    const refundId = String(created.json.refundId);
    expect((await send('REFUND.SUCCESS', refundOf(tx, o.orderId, refundId, 5900, 'SUCCESS'))).status).toBe(
      204,
    );
    expect((await h.refundItem(o.orderId, refundId)).status).toBe('completed');
    expect(await h.storedOrder(o.orderId)).toMatchObject({
      status: 'partially_refunded',
      refundedPayMinor: 5900,
      pendingRefundPayMinor: 0,
    });
  });

  it('REFUND.CLOSED fails the named pending refund and gives back reservation, quantities and buffer charge', async () => {
    const { o, tx } = await paid();
    const created = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 1 }] });
    const refundId = String(created.json.refundId);
    const mark = h.alertMark();
    const resource = refundOf(tx, o.orderId, refundId, 5900, 'CLOSED');
    expect((await send('REFUND.CLOSED', resource)).status).toBe(204);
    expect(h.alertsSince(mark)).toContain('Refund Failed');
    const item = await h.refundItem(o.orderId, refundId);
    expect(item.status).toBe('failed');
    expect(item.bufferCurrency).toBeUndefined();
    expect(await h.storedOrder(o.orderId)).toMatchObject({
      status: 'paid',
      pendingRefundPayMinor: 0,
      refundBaseCumulativeMinor: 0,
      refundedQuantities: { 'tb-6618': 0 },
    });
    // No money moved: nothing that reconciliation counts.
    const kinds = (await h.entries(o.orderId)).map((e) => e.kind).sort();
    expect(kinds).toEqual(['attempt', 'payment']);
    // A failure is found only by explicit id: a closed refund naming no refund of ours fails nothing.
    const other = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 1 }] });
    expect((await send('REFUND.CLOSED', refundOf(tx, o.orderId, 'not-ours', 5900, 'CLOSED'))).status).toBe(
      204,
    );
    expect((await h.refundItem(o.orderId, String(other.json.refundId))).status).toBe('pending');
  });

  it('REFUND.ABNORMAL: abnormal, reservation kept, a person alerted; the later success completes it', async () => {
    const { o, tx } = await paid();
    const created = await h.createRefund(o.orderId, { items: [{ sku: 'tb-6618', quantity: 2 }] });
    const refundId = String(created.json.refundId);
    const gatewayRefund = refundNo();
    const mark = h.alertMark();
    expect(
      (await send('REFUND.ABNORMAL', refundOf(tx, o.orderId, refundId, 11800, 'ABNORMAL', gatewayRefund)))
        .status,
    ).toBe(204);
    expect(h.alertsSince(mark)).toContain('Refund Abnormal');
    expect((await h.refundItem(o.orderId, refundId)).status).toBe('abnormal');
    expect((await h.storedOrder(o.orderId)).pendingRefundPayMinor).toBe(11800);
    // The reservation still counts: nothing more can be refunded.
    expect((await h.createRefund(o.orderId, { baseAmountMinor: 100 })).status).toBe(409);

    expect(
      (await send('REFUND.SUCCESS', refundOf(tx, o.orderId, refundId, 11800, 'SUCCESS', gatewayRefund)))
        .status,
    ).toBe(204);
    expect((await h.refundItem(o.orderId, refundId)).status).toBe('completed');
    expect(await h.storedOrder(o.orderId)).toMatchObject({
      status: 'refunded',
      refundedPayMinor: 11800,
      pendingRefundPayMinor: 0,
    });
    expect((await h.getOrder(o.orderId)).refundedPayMinor).toBe(11800);
  });
});
