/**
 * WeChat Pay trade bills as WeChat Pay's "交易账单详细说明" lays them out (builder in
 * test/fixtures/settlement/published.ts): backtick-prefixed, never-quoted fields whose 商品名称 and
 * 商户数据包 hold commas and quotes, 5-decimal fees, the summary rows, the older layout, gzip; through
 * the real reconcile handler.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gzip, utf8 } from '../../fixtures/settlement/bytes.ts';
import { ledgerEntry } from '../../fixtures/settlement/ledger.ts';
import { type WechatBillRow, wechatBill } from '../../fixtures/settlement/published.ts';
import { byCategory, Harness } from './harness.ts';

const NOW = new Date('2026-11-26T09:00:00.000Z');
let h: Harness;
const at = (day: number, hh: number) => `2026-11-${day}T${String(hh).padStart(2, '0')}:00:00.000Z`;
const entry = (transactionId: string, kind: string, amountMinor: number, receivedAt: string) =>
  ledgerEntry({
    gateway: 'wechatpay',
    transactionId,
    kind: kind as 'payment',
    amountMinor,
    currency: 'CNY',
    receivedAt,
  });

beforeAll(async () => {
  h = await Harness.create(NOW);
  await h.seed([
    entry('4200000001202611220001', 'payment', 10000, at(22, 1)),
    entry('50300000012026112200001', 'refund', 3000, at(22, 3)),
    entry('4200000001202611230001', 'payment', 6600, at(23, 1)),
    entry('50300000012026112300001', 'refund', 1100, at(23, 2)),
  ]);
});

const rows: WechatBillRow[] = [
  {
    status: 'SUCCESS',
    transactionId: '4200000001202611220001',
    outTradeNo: 'O-1',
    orderMinor: 10000,
    couponMinor: 1000,
    feeE5: 60_000,
    at: at(22, 1),
    product: 'Tea set "Zisha", 4 pcs',
    attach: '{"order_id":"O-1","skus":["tb-6618","tb-7"],"note":"gift, wrapped"}',
  },
  {
    status: 'REFUND',
    transactionId: '4200000001202611220001',
    outTradeNo: 'O-1',
    refundId: '50300000012026112200001',
    outRefundNo: 'RF-1',
    requestedRefundMinor: 3000,
    refundMinor: 2700,
    orderMinor: 0,
    feeE5: 18_000,
    at: at(22, 3),
  },
  {
    status: 'REVOKED',
    transactionId: '4200000001202611220003',
    outTradeNo: 'O-3',
    orderMinor: 500,
    feeE5: 0,
    at: at(22, 4),
  },
  {
    status: 'SUCCESS',
    transactionId: '4200000001202611220002',
    outTradeNo: 'O-2',
    orderMinor: 1200,
    feeE5: 720,
    at: at(22, 5),
  },
];

describe('WeChat Pay trade bill', () => {
  it('splits on the backtick, matches payments on 订单金额 and refunds on 申请退款金额, nets coupons', async () => {
    const report = await h.reconcile('incoming/wechatpay/20261122_ALL.csv', utf8(wechatBill(rows)));
    expect(report.summary.reasons).toEqual([]);
    expect(report.summary).toMatchObject({
      status: 'complete',
      rows: { total: 4, rejected: 0 },
      counts: { matched: 2, missing_in_ledger: 1, ignored: 1, amount_mismatch: 0 },
    });
    // Net: 应结订单金额 90.00 − 0.60, −退款金额 27.00 + 0.18 returned, 12.00 − 0.01 (0.00720 half-up).
    expect(report.summary.totals.CNY).toMatchObject({
      settlementGrossMinor: 10000 - 3000 + 1200,
      ledgerGrossMinor: 10000 - 3000,
      feesMinor: 60 - 18 + 1,
      netMinor: 9000 - 60 - 2700 + 18 + 1200 - 1,
    });
    expect(byCategory(report, 'missing_in_ledger').get('4200000001202611220002')).toMatchObject({
      order_id: 'O-2',
      settlement_amount_minor: '1200',
    });
  });

  it('reads the bill gzipped with LF line ends', async () => {
    const report = await h.reconcile(
      'incoming/wechatpay/20261122_ALL.csv.gz',
      gzip(utf8(wechatBill(rows, { lf: true }))),
    );
    expect(report.summary).toMatchObject({ status: 'complete', counts: { matched: 2 } });
  });

  it('reads the older layout (总金额, 代金券或立减优惠金额, summary 总交易额)', async () => {
    const old: WechatBillRow[] = [
      {
        status: 'SUCCESS',
        transactionId: '4200000001202611230001',
        outTradeNo: 'O-5',
        orderMinor: 6600,
        feeE5: 40_000,
        at: at(23, 1),
      },
      {
        status: 'REFUND',
        transactionId: '4200000001202611230001',
        outTradeNo: 'O-5',
        refundId: '50300000012026112300001',
        outRefundNo: 'RF-5',
        refundMinor: 1100,
        orderMinor: 0,
        feeE5: 7_000,
        at: at(23, 2),
      },
    ];
    const report = await h.reconcile(
      'incoming/wechatpay/20261123_old.csv',
      utf8(wechatBill(old, { layout: 'old' })),
    );
    expect(report.summary.reasons).toEqual([]);
    expect(report.summary).toMatchObject({ status: 'complete', counts: { matched: 2 } });
  });

  it('makes a bill whose summary row disagrees with its rows incomplete', async () => {
    const report = await h.reconcile(
      'incoming/wechatpay/20261122_off.csv',
      utf8(wechatBill(rows, { declare: { 申请退款总金额: '31.00' } })),
    );
    expect(report.summary.status).toBe('incomplete');
    expect(report.summary.reasons).toEqual(['申请退款总金额 says 31.00, the rows add up to 30.00']);
  });
});
