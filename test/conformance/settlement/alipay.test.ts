/**
 * Alipay trade bills (业务明细) as Alipay delivers them (builder in test/fixtures/settlement/published.ts):
 * GBK, tab-suffixed ids, summary lines in Alipay's wording, and the ZIP download with its
 * 业务明细(汇总) companion and GBK entry names, through the real reconcile handler. Bad archives
 * (no detail file, encrypted, corrupt, a ZIP bomb) are `failed` with a reason, never a crash.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../../functions/core/settlement/index.ts';
import { chunked, gbk, utf8 } from '../../fixtures/settlement/bytes.ts';
import { FakeLedger, ledgerEntry } from '../../fixtures/settlement/ledger.ts';
import {
  type AlipayBillRow,
  alipayDetail,
  alipaySummary,
  bombEntry,
  zipOf,
} from '../../fixtures/settlement/published.ts';
import { byCategory, Harness } from './harness.ts';

const NOW = new Date('2026-11-26T09:00:00.000Z');
let h: Harness;
beforeAll(async () => {
  h = await Harness.create(NOW);
  // Nov 21 in China time is 16:00 UTC Nov 20 to 16:00 UTC Nov 21.
  const refund = ledgerEntry({
    gateway: 'alipay',
    transactionId: '2026112122001400001:RF1',
    kind: 'refund',
    amountMinor: 2000,
    currency: 'CNY',
    receivedAt: at(3),
  });
  // Recorded before an earlier refund of the trade arrived, corrected later (CONTRACT §3).
  const adjustment = {
    ...ledgerEntry({
      gateway: 'alipay',
      transactionId: '2026112122001400001:RF1',
      kind: 'refund_adjustment' as 'refund',
      amountMinor: 1000,
      currency: 'CNY',
      receivedAt: at(4),
    }),
    pk: 'alipay#2026112122001400001:RF1#refund_adjustment#notify-2',
  };
  await h.seed([
    ledgerEntry({
      gateway: 'alipay',
      transactionId: '2026112122001400001',
      amountMinor: 10000,
      currency: 'CNY',
      receivedAt: at(1),
    }),
    refund,
    adjustment,
    // A payment made in another trans_currency: the bill only speaks CNY.
    ledgerEntry({
      gateway: 'alipay',
      transactionId: '2026112122001400002',
      amountMinor: 1214,
      currency: 'USD',
      receivedAt: at(2),
    }),
  ]);
});

function at(hh: number): string {
  return `2026-11-21T${String(hh).padStart(2, '0')}:00:00.000Z`;
}

const rows: AlipayBillRow[] = [
  {
    type: '交易',
    tradeNo: '2026112122001400001',
    outTradeNo: 'O-1',
    orderMinor: 10000,
    discountMinor: 1000,
    feeMinor: 60,
    at: at(1),
  },
  {
    type: '退款',
    tradeNo: '2026112122001400001',
    outTradeNo: 'O-1',
    outBizNo: 'RF1',
    orderMinor: 3000,
    feeMinor: 18,
    at: at(3),
  },
  {
    type: '交易',
    tradeNo: '2026112122001400002',
    outTradeNo: 'O-2',
    orderMinor: 8800,
    feeMinor: 53,
    at: at(2),
  },
  {
    type: '退款',
    tradeNo: '2026112122001400002',
    outTradeNo: 'O-2',
    outBizNo: 'RF9',
    orderMinor: 500,
    feeMinor: 3,
    at: at(5),
  },
  {
    type: '转账',
    tradeNo: '2026112122001400003',
    outTradeNo: 'T-1',
    orderMinor: 100,
    feeMinor: 0,
    at: at(6),
  },
];
const DETAIL = '20880000000000000156_20261121_业务明细.csv';
const SUMMARY = '20880000000000000156_20261121_业务明细(汇总).csv';

function expectCategories(summary: { counts: Record<string, number> }) {
  expect(summary.counts).toMatchObject({
    matched: 2,
    currency_mismatch: 1,
    unmatched_refund: 1,
    missing_in_settlement: 0,
    ignored: 1,
  });
}

describe('Alipay trade bill', () => {
  it('matches on 订单金额, refunds on their negative 订单金额 with adjustments added, and checks the summary lines', async () => {
    const report = await h.reconcile('incoming/alipay/20261121_业务明细.csv', gbk(alipayDetail(rows)));
    expect(report.summary.reasons).toEqual([]);
    expect(report.summary.status).toBe('complete');
    expectCategories(report.summary);
    expect(byCategory(report, 'currency_mismatch').get('2026112122001400002')).toMatchObject({
      currency: 'CNY',
      settlement_amount_minor: '8800',
      ledger_amount_minor: '1214',
      note: expect.stringMatching(/88\.00 CNY.*12\.14 USD/),
    });
    expect(byCategory(report, 'unmatched_refund').get('2026112122001400002:RF9')).toMatchObject({
      settlement_amount_minor: '-500',
    });
    // Fees from 服务费, net from 商家实收: (100 − 10 − 0.60) + 88 − 0.53 − (30 − 0.18) − (5 − 0.03).
    expect(report.summary.totals.CNY).toMatchObject({
      settlementGrossMinor: 10000 - 3000 + 8800 - 500,
      feesMinor: 60 - 18 + 53 - 3,
      netMinor: 9000 - 60 + 8800 - 53 - (3000 - 18) - (500 - 3),
    });
  });

  it('makes a bill whose summary line disagrees with its rows incomplete', async () => {
    const report = await h.reconcile(
      'incoming/alipay/short.csv',
      gbk(alipayDetail(rows, { declare: { 交易: { count: 3, received: '170.00' } } })),
    );
    expect(report.summary.status).toBe('incomplete');
    expect(report.summary.reasons).toEqual([
      '#交易合计 says 3 rows, the file has 2',
      '#交易合计 says 商家实收 170.00, the rows add up to 178.00',
    ]);
  });

  it('accepts the ZIP as downloaded: the detail file reconciled, the summary file checked', async () => {
    const zip = zipOf([
      { name: DETAIL, data: gbk(alipayDetail(rows)) },
      { name: SUMMARY, data: gbk(alipaySummary(rows)) },
    ]);
    const report = await h.reconcile('incoming/alipay/20880000000000000156_20261121.csv.zip', zip);
    expect(report.summary.reasons).toEqual([]);
    expect(report.summary.status).toBe('complete');
    expectCategories(report.summary);
  });

  it('makes a ZIP whose summary file disagrees with the detail file incomplete', async () => {
    const zip = zipOf([
      { name: DETAIL, data: gbk(alipayDetail(rows)) },
      { name: SUMMARY, data: gbk(alipaySummary(rows, { trades: 7 })) },
    ]);
    const report = await h.reconcile('incoming/alipay/summary-off.zip', zip);
    expect(report.summary.status).toBe('incomplete');
    expect(report.summary.reasons.join('\n')).toContain(`${SUMMARY} says 7 trades and 2 refunds`);
  });

  it.each([
    [
      'without a detail file',
      () => zipOf([{ name: SUMMARY, data: gbk(alipaySummary(rows)) }]),
      /holds no 业务明细 detail file/,
    ],
    [
      'encrypted',
      () => zipOf([{ name: DETAIL, data: gbk(alipayDetail(rows)), encrypted: true }]),
      /password-protected \(encrypted\)/,
    ],
    [
      'cut short',
      () => {
        const whole = zipOf([{ name: DETAIL, data: gbk(alipayDetail(rows)) }]);
        return whole.subarray(0, whole.length - 30);
      },
      /corrupt or truncated/,
    ],
    [
      'with a corrupt entry',
      () => {
        const z = zipOf([{ name: DETAIL, data: utf8(alipayDetail(rows)), stored: true }]);
        const bad = new Uint8Array(z);
        bad[200] = bad[200]! ^ 0xff;
        return bad;
      },
      /CRC-32/,
    ],
  ])('fails a ZIP %s, with the reason', async (_, build, reason) => {
    const report = await h.reconcile(
      `incoming/alipay/bad-${Math.random().toString(16).slice(2)}.zip`,
      build(),
    );
    expect(report.summary.status).toBe('failed');
    expect(report.summary.reasons[0]).toMatch(reason);
  });

  it('stops a ZIP bomb at the configured limit: failed, with the reason', async () => {
    // 64 MiB from ~70 KB, against a 4 MiB limit (MAX_SETTLEMENT_BYTES is 2 GiB by default).
    const zip = zipOf([bombEntry(DETAIL, 64)]);
    expect(zip.length).toBeLessThan(200_000);
    const result = await reconcile({
      gateway: 'alipay',
      chunks: chunked(zip),
      ledger: new FakeLedger([]),
      now: NOW,
      parserOptions: { maxDecompressedBytes: 4 * 1024 * 1024 },
    });
    expect(result.summary.status).toBe('failed');
    expect(result.summary.reasons[0]).toMatch(/inflates to more than 4194304 bytes .*ZIP bomb/);
  });
});
