/**
 * Property: on any file the published-layout builders make, the bill's own control totals (Alipay's
 * summary lines and 业务明细(汇总), WeChat Pay's summary row in both layouts, PayPal's SF/SC/RC/FF in
 * either count reading) agree with what the parser read, and the parser's signed sums are the
 * builder's. A parser that mis-splits a field, drops a sign or rounds a fee the wrong way fails here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Currency } from '../../../functions/core/money.ts';
import { readSettlementRows, type SettlementRow } from '../../../functions/core/settlement/index.ts';
import { chunked, gbk, utf8, utf16le } from '../../fixtures/settlement/bytes.ts';
import {
  type AlipayBillRow,
  alipayDetail,
  alipaySummary,
  type StlBody,
  stl,
  type WechatBillRow,
  wechatBill,
  zipOf,
} from '../../fixtures/settlement/published.ts';

async function parse(gateway: string, bytes: Uint8Array, chunk: number) {
  const gen = readSettlementRows(gateway, chunked(bytes, chunk));
  const rows: SettlementRow[] = [];
  let rejected = 0;
  for (;;) {
    const r = await gen.next();
    if (r.done) return { rows, rejected, outcome: r.value };
    if (r.value.kind === 'rejected') rejected++;
    else rows.push(r.value);
  }
}

const gross = (rows: SettlementRow[]) =>
  rows.reduce((n, r) => n + (r.kind === 'ignored' ? 0 : r.grossMinor), 0);
/** Any minute of Nov 21 in China time. */
const minute = fc
  .integer({ min: 0, max: 1439 })
  .map((m) => new Date(Date.parse('2026-11-20T16:00:00.000Z') + m * 60_000).toISOString());
const text = fc.string({
  unit: fc.constantFrom('a', ',', '"', '`', '{', '}', ':', ' ', '茶', '\t'),
  maxLength: 20,
});
const chunk = fc.integer({ min: 7, max: 4096 });

describe('control totals agree with the rows on any built file', () => {
  it('Alipay: summary lines and the ZIP summary file', async () => {
    const row = fc.record({
      type: fc.constantFrom('交易', '退款', '转账'),
      tradeNo: fc.stringMatching(/^20261121\d{8}$/),
      outTradeNo: fc.stringMatching(/^O-[0-9A-Z]{1,8}$/),
      outBizNo: fc.stringMatching(/^RF[0-9]{1,6}$/),
      orderMinor: fc.integer({ min: 1, max: 10_000_000 }),
      discountMinor: fc.integer({ min: 0, max: 1000 }),
      feeMinor: fc.integer({ min: 0, max: 60_000 }),
      at: minute,
      product: text,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 30 }),
        chunk,
        fc.boolean(),
        async (specs, size, zipped) => {
          const rows: AlipayBillRow[] = specs.map((s) => ({
            ...s,
            discountMinor: Math.min(s.discountMinor, s.orderMinor),
          }));
          const detail = gbk(alipayDetail(rows));
          const bytes = zipped
            ? zipOf([
                { name: 'A_20261121_业务明细.csv', data: detail },
                { name: 'A_20261121_业务明细(汇总).csv', data: gbk(alipaySummary(rows)) },
              ])
            : detail;
          const { rows: parsed, rejected, outcome } = await parse('alipay', bytes, size);
          expect(outcome.reasons).toEqual([]);
          expect(rejected).toBe(0);
          expect(gross(parsed)).toBe(
            rows.reduce(
              (n, r) => n + (r.type === '交易' ? r.orderMinor : r.type === '退款' ? -r.orderMinor : 0),
              0,
            ),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('WeChat Pay: the summary row, current and older layout', async () => {
    const row = fc.record({
      status: fc.constantFrom('SUCCESS', 'REFUND', 'REVOKED'),
      transactionId: fc.stringMatching(/^42\d{20}$/),
      outTradeNo: fc.stringMatching(/^O-[0-9A-Z]{1,8}$/),
      orderMinor: fc.integer({ min: 1, max: 10_000_000 }),
      couponMinor: fc.integer({ min: 0, max: 500 }),
      refundId: fc.stringMatching(/^503\d{20}$/),
      requestedRefundMinor: fc.integer({ min: 1, max: 1_000_000 }),
      feeE5: fc.integer({ min: 0, max: 6_000_000 }),
      at: minute,
      product: text,
      attach: text,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 30 }),
        chunk,
        fc.boolean(),
        fc.boolean(),
        async (specs, size, old, lf) => {
          const rows = specs.map((s) => ({
            ...s,
            couponMinor: old ? 0 : Math.min(s.couponMinor, s.orderMinor),
            refundMinor: s.requestedRefundMinor,
            // ",`" is the one sequence the format cannot carry inside a field: it starts the next one.
            product: s.product.replaceAll('`', "'"),
            attach: s.attach.replaceAll('`', "'"),
          })) as WechatBillRow[];
          const {
            rows: parsed,
            rejected,
            outcome,
          } = await parse('wechatpay', utf8(wechatBill(rows, { layout: old ? 'old' : 'current', lf })), size);
          expect(outcome.reasons).toEqual([]);
          expect(rejected).toBe(0);
          expect(parsed).toHaveLength(rows.length);
          expect(gross(parsed)).toBe(
            rows.reduce(
              (n, r) =>
                n +
                (r.status === 'SUCCESS'
                  ? r.orderMinor
                  : r.status === 'REFUND'
                    ? -r.requestedRefundMinor!
                    : 0),
              0,
            ),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('PayPal: SF, SC, RC and FF in either count reading, UTF-8 or UTF-16', async () => {
    const code = fc.constantFrom<[string, string]>(
      ['T0006', 'CR'],
      ['T0000', 'DR'],
      ['T1107', 'DR'],
      ['T1201', 'DR'],
      ['T1202', 'CR'],
      ['T0106', 'DR'],
      ['T0400', 'DR'],
      ['T0200', 'CR'],
      ['T0200', 'DR'],
    );
    const row = fc.record({
      id: fc.stringMatching(/^[0-9A-Z]{17}$/),
      code,
      grossMinor: fc.integer({ min: 1, max: 10_000_000 }),
      currency: fc.constantFrom<Currency>('USD', 'JPY', 'EUR'),
      feeMinor: fc.integer({ min: 0, max: 5000 }),
      at: fc
        .integer({ min: 0, max: 1439 })
        .map((m) => new Date(Date.parse('2026-11-20T08:00:00.000Z') + m * 60_000).toISOString()),
      custom: text,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 30 }),
        chunk,
        fc.boolean(),
        fc.boolean(),
        async (specs, size, all, wide) => {
          const rows: StlBody[] = specs.map(({ code: [c, dc], ...s }) => ({
            ...s,
            code: c!,
            dc: dc as 'CR' | 'DR',
            feeDc: 'DR',
          }));
          const file = stl(rows, { from: '2026/11/20', to: '2026/11/20', counts: all ? 'all' : 'sb' });
          const {
            rows: parsed,
            rejected,
            outcome,
          } = await parse('paypal', wide ? utf16le(file) : utf8(file), size);
          expect(outcome.reasons).toEqual([]);
          expect(rejected).toBe(0);
          const kinds = new Map([
            ['T0006', 1],
            ['T1107', -1],
            ['T1201', -1],
            ['T1202', 1],
          ]);
          for (const currency of ['USD', 'JPY', 'EUR'] as const) {
            expect(gross(parsed.filter((r) => r.currency === currency))).toBe(
              rows
                .filter((r) => r.currency === currency)
                .reduce((n, r) => n + (kinds.get(r.code) ?? 0) * r.grossMinor, 0),
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
