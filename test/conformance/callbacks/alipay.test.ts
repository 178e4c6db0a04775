/**
 * Alipay, as Alipay sends it: notifications with the parameters of Alipay's documented sample
 * (test/fixtures/gateways/alipay.ts), RSA2-signed, through the real handler on DynamoDB Local. Payment,
 * TRADE_FINISHED after TRADE_SUCCESS, TRADE_CLOSED, optional seller_id, and cumulative refund_fee
 * delivered in every order (Alipay retries 4m/10m/10m/1h/2h/6h/15h, so refunds overtake each other).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formatMajor } from '../../../functions/core/money.ts';
import { alipayBody, beijing, tradeNo, tradeParams } from '../../fixtures/gateways/alipay.ts';
import { createHarness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
const send = (params: Record<string, string | undefined>) =>
  h.send('alipay', FORM, alipayBody(h.keys.alipay, params));
const yuan = (minor: number) => formatMajor(minor, 'CNY');

async function paidTrade(totalMinor = 10000) {
  const o = await h.order({ payAmountMinor: totalMinor, payCurrency: 'CNY' });
  const trade = tradeNo();
  const params = tradeParams(h.keys.alipay, {
    tradeNo: trade,
    outTradeNo: o.orderId,
    totalAmount: yuan(totalMinor),
  });
  expect(await send(params)).toMatchObject({ status: 200, body: 'success', outcome: 'acknowledged' });
  return { o, trade, params };
}

/** A refund notification: Alipay sends the trade's parameters with refund_fee (cumulative) and out_biz_no. */
function refundParams(
  paid: Record<string, string>,
  o: { outBizNo: string; cumulativeMinor: number; at: Date; tradeStatus?: string },
): Record<string, string> {
  return {
    ...paid,
    notify_id: `${paid.notify_id}-${o.outBizNo}-${o.at.getTime()}`,
    trade_status: o.tradeStatus ?? 'TRADE_SUCCESS',
    refund_fee: yuan(o.cumulativeMinor),
    out_biz_no: o.outBizNo,
    gmt_refund: `${beijing(o.at)}.000`,
    notify_time: beijing(new Date()),
  };
}

describe('alipay notifications', () => {
  it('TRADE_SUCCESS pays; TRADE_FINISHED of the same trade is a duplicate; TRADE_CLOSED without refund is ignored', async () => {
    const { o, trade, params } = await paidTrade(11800);
    expect(await h.storedOrder(o.orderId)).toMatchObject({
      status: 'paid',
      paidBy: `alipay#${trade}#payment`,
    });
    const finished = { ...params, notify_id: `${params.notify_id}f`, trade_status: 'TRADE_FINISHED' };
    expect((await send(finished)).outcome).toBe('acknowledged');
    expect(await h.entries(o.orderId)).toHaveLength(1);

    const closed = await h.order({ payAmountMinor: 500, payCurrency: 'CNY' });
    const closedParams = tradeParams(h.keys.alipay, {
      tradeNo: tradeNo(),
      outTradeNo: closed.orderId,
      totalAmount: '5.00',
      tradeStatus: 'TRADE_CLOSED',
    });
    delete closedParams.gmt_payment;
    expect(await send(closedParams)).toMatchObject({ status: 200, body: 'success' });
    expect(await h.entries(closed.orderId)).toHaveLength(0);
    expect((await h.storedOrder(closed.orderId)).status).toBe('pending_payment');
  });

  it('seller_id is optional, but must be ours when present', async () => {
    const o = await h.order({ payAmountMinor: 700, payCurrency: 'CNY' });
    const params = tradeParams(h.keys.alipay, {
      tradeNo: tradeNo(),
      outTradeNo: o.orderId,
      totalAmount: '7.00',
    });
    expect((await send({ ...params, seller_id: '2088999999999999' })).status).not.toBe(200);
    expect(await send({ ...params, seller_id: undefined })).toMatchObject({ status: 200, body: 'success' });
    expect((await h.storedOrder(o.orderId)).status).toBe('paid');
  });

  it('a refund_fee without out_biz_no is no new refund and never a 400', async () => {
    const { o, params } = await paidTrade(3000);
    const status = {
      ...params,
      notify_id: `${params.notify_id}s`,
      refund_fee: '30.00',
      trade_status: 'TRADE_CLOSED',
    };
    expect(await send(status)).toMatchObject({ status: 200, body: 'success' });
    const finished = {
      ...params,
      notify_id: `${params.notify_id}t`,
      refund_fee: '30.00',
      trade_status: 'TRADE_FINISHED',
    };
    expect(await send(finished)).toMatchObject({ status: 200, body: 'success' });
    expect((await h.entries(o.orderId)).map((e) => e.kind)).toEqual(['payment']);
  });

  it('completes our pending refund named by out_biz_no, keyed {trade_no}:{out_biz_no}', async () => {
    const { o, trade, params } = await paidTrade(10000);
    const created = await h.createRefund(o.orderId, { baseAmountMinor: 2500 });
    const refundId = String(created.json.refundId);
    expect(created.json.payAmountMinor).toBe(2500);
    const res = await send(
      refundParams(params, { outBizNo: refundId, cumulativeMinor: 2500, at: new Date() }),
    );
    expect(res.body).toBe('success');
    expect(await h.entry(`alipay#${trade}:${refundId}#refund`)).toMatchObject({
      amountMinor: 2500,
      refundId,
    });
    expect((await h.refundItem(o.orderId, refundId)).status).toBe('completed');
    expect((await h.getOrder(o.orderId)).refundedPayMinor).toBe(2500);
  });

  // Three refunds of 30.00, 40.00 and 10.00 (cumulative 30, 70, 80), delivered in every order.
  const refunds = [
    { outBizNo: 'RF-A', cumulativeMinor: 3000, own: 3000 },
    { outBizNo: 'RF-B', cumulativeMinor: 7000, own: 4000 },
    { outBizNo: 'RF-C', cumulativeMinor: 8000, own: 1000 },
  ];
  const orders = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ];
  it.each(orders)(
    'cumulative refund_fee delivered in order %i,%i,%i ends right, corrected by refund_adjustment',
    async (...order) => {
      const { o, trade, params } = await paidTrade(10000);
      const start = Date.now() - 3600_000;
      const at = (i: number) => new Date(start + i * 60_000);
      const notifications = refunds.map((r, i) => refundParams(params, { ...r, at: at(i) }));
      for (const i of order) expect((await send(notifications[i]!)).body).toBe('success');
      // Alipay's retries: every notification again, answered and changing nothing.
      for (const i of order) expect((await send(notifications[i]!)).body).toBe('success');

      expect((await h.storedOrder(o.orderId)).refundedPayMinor).toBe(8000);
      expect((await h.getOrder(o.orderId)).refundedPayMinor).toBe(8000);
      const entries = await h.entries(o.orderId);
      const refundEntries = entries.filter((e) => e.kind === 'refund');
      const adjustments = entries.filter((e) => e.kind === 'refund_adjustment');
      // Each out_biz_no's own amount (what the trade bill lists per 退款批次号) = refund + its adjustments.
      for (const r of refunds) {
        const pk = `alipay#${trade}:${r.outBizNo}#refund`;
        const entry = refundEntries.find((e) => e.pk === pk)!;
        const own =
          entry.amountMinor +
          adjustments.filter((a) => a.adjusts === pk).reduce((s, a) => s + a.amountMinor, 0);
        expect(own, r.outBizNo).toBe(r.own);
      }
      for (const a of adjustments)
        expect(a.pk).toMatch(new RegExp(`^alipay#${trade}:RF-[ABC]#refund_adjustment#`));
    },
  );

  it('cumulative refunds delivered concurrently, with their retries, still end right', async () => {
    const { o, trade, params } = await paidTrade(10000);
    const start = Date.now() - 3600_000;
    const notifications = refunds.map((r, i) =>
      refundParams(params, { ...r, at: new Date(start + i * 60_000) }),
    );
    const untilAnswered = async (n: Record<string, string>) => {
      for (let attempt = 0; ; attempt++) {
        const res = await send(n);
        if (res.status === 200 || attempt > 20) return res;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const results = await Promise.all([...notifications, ...notifications].map(untilAnswered));
    for (const res of results) expect(res.body).toBe('success');
    expect((await h.storedOrder(o.orderId)).refundedPayMinor).toBe(8000);
    const entries = await h.entries(o.orderId);
    for (const r of refunds) {
      const pk = `alipay#${trade}:${r.outBizNo}#refund`;
      const own = entries
        .filter((e) => e.pk === pk || e.adjusts === pk)
        .reduce((s, e) => s + e.amountMinor, 0);
      expect(own, r.outBizNo).toBe(r.own);
    }
  });
});
