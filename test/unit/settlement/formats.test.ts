/**
 * Every format, every category: the same scenario planted once in each format (and each encoding),
 * found once by the reconciliation.
 */
import { describe, expect, it } from 'vitest';
import type { Currency } from '../../../functions/core/money.ts';
import { reconcile } from '../../../functions/core/settlement/index.ts';
import {
  alipayBill,
  genericCsv,
  paypalStl,
  stripeCsv,
  wechatBill,
} from '../../fixtures/settlement/builders.ts';
import { chunked, gbk, gzip, utf8, utf16be, utf16le } from '../../fixtures/settlement/bytes.ts';
import { FakeLedger } from '../../fixtures/settlement/ledger.ts';
import { allCategories, SCENARIO_NOW, type Scenario } from '../../fixtures/settlement/scenario.ts';

interface Case {
  name: string;
  gateway: string;
  currency: Currency;
  other: Currency;
  ids?: (n: string) => string;
  bytes: (s: Scenario) => Uint8Array;
  /** Expected coverage. */
  period: { from: string; to: string };
}

const utcDays = { from: '2026-11-20T00:00:00.000Z', to: '2026-11-24T00:00:00.000Z' };
const chinaDays = { from: '2026-11-19T16:00:00.000Z', to: '2026-11-23T16:00:00.000Z' };
const paypalDays = { from: '2026-11-20T08:00:00.000Z', to: '2026-11-24T08:00:00.000Z' };
const stl = (s: Scenario) => paypalStl(s.rows, { periodFrom: '2026/11/20', periodTo: '2026/11/23' });

const CASES: Case[] = [
  {
    name: 'stripe',
    gateway: 'stripe',
    currency: 'USD',
    other: 'EUR',
    ids: (n) => `pi_${n}`,
    bytes: (s) => utf8(stripeCsv(s.rows)),
    period: utcDays,
  },
  {
    name: 'stripe with BOM',
    gateway: 'stripe',
    currency: 'USD',
    other: 'EUR',
    ids: (n) => `pi_${n}`,
    bytes: (s) => utf8(stripeCsv(s.rows), true),
    period: utcDays,
  },
  {
    name: 'paypal UTF-8',
    gateway: 'paypal',
    currency: 'USD',
    other: 'EUR',
    ids: (n) => `8${n}0000000000`,
    bytes: (s) => utf8(stl(s)),
    period: paypalDays,
  },
  {
    name: 'paypal UTF-16LE with BOM',
    gateway: 'paypal',
    currency: 'USD',
    other: 'EUR',
    bytes: (s) => utf16le(stl(s)),
    period: paypalDays,
  },
  {
    name: 'paypal UTF-16BE with BOM',
    gateway: 'paypal',
    currency: 'USD',
    other: 'EUR',
    bytes: (s) => utf16be(stl(s)),
    period: paypalDays,
  },
  {
    name: 'alipay UTF-8',
    gateway: 'alipay',
    currency: 'CNY',
    other: 'USD',
    ids: (n) => `2026112${n}`,
    bytes: (s) => utf8(alipayBill(s.rows)),
    period: chinaDays,
  },
  {
    name: 'alipay GBK',
    gateway: 'alipay',
    currency: 'CNY',
    other: 'USD',
    ids: (n) => `2026112${n}`,
    bytes: (s) => gbk(alipayBill(s.rows)),
    period: chinaDays,
  },
  {
    name: 'wechatpay',
    gateway: 'wechatpay',
    currency: 'CNY',
    other: 'USD',
    ids: (n) => `4200${n}`,
    bytes: (s) => utf8(wechatBill(s.rows)),
    period: chinaDays,
  },
  {
    name: 'wechatpay gzip',
    gateway: 'wechatpay',
    currency: 'CNY',
    other: 'USD',
    ids: (n) => `4200${n}`,
    bytes: (s) => gzip(utf8(wechatBill(s.rows))),
    period: chinaDays,
  },
  {
    name: 'generic (localpay)',
    gateway: 'localpay',
    currency: 'USD',
    other: 'EUR',
    bytes: (s) => utf8(genericCsv(s.rows)),
    period: utcDays,
  },
];

describe.each(CASES)('$name: every category planted once', (c) => {
  const scenario = allCategories(c.gateway, c.currency, c.other, c.ids);

  it.each([7, 65536])('is found once (chunks of %i bytes)', async (chunkSize) => {
    const ledger = new FakeLedger(scenario.ledger);
    const result = await reconcile({
      gateway: c.gateway,
      chunks: chunked(c.bytes(scenario), chunkSize),
      ledger,
      now: SCENARIO_NOW,
      feeSchedule: scenario.feeSchedule,
      source: { bucket: 'settlements', key: `incoming/${c.gateway}/file.csv` },
    });
    const { summary } = result;
    expect(summary.reasons).toEqual([]);
    expect(summary.status).toBe('complete');
    expect(summary.counts).toEqual(scenario.expectedCounts);
    expect(summary.period).toEqual(c.period);
    expect(summary.rows).toEqual({ total: scenario.rows.length, parsed: scenario.rows.length, rejected: 0 });
    for (const [currency, [ledgerGross, settlementGross]] of Object.entries(scenario.expectedGross)) {
      expect(summary.totals[currency]).toMatchObject({
        ledgerGrossMinor: ledgerGross,
        settlementGrossMinor: settlementGross,
        differenceMinor: ledgerGross - settlementGross,
      });
    }
    for (const t of Object.values(summary.totals))
      expect(t.settlementGrossMinor - t.feesMinor).toBe(t.netMinor);
    // Every item neither matched nor ignored is one exceptions.csv line; the pending one included.
    const lines = result.exceptionsCsv.trimEnd().split('\r\n');
    expect(lines).toHaveLength(1 + 9);
    const categories = lines
      .slice(1)
      .map((l) => l.split(',')[0]!.replace(/^"|"$/g, ''))
      .sort();
    expect(categories).toEqual(
      [
        'amount_mismatch',
        'currency_mismatch',
        'double_payment',
        'duplicate_in_settlement',
        'fee_mismatch',
        'missing_in_ledger',
        'missing_in_settlement',
        'pending_settlement',
        'unmatched_refund',
      ].sort(),
    );
    // The port was used by key in batches and by one covered-range query, never more.
    expect(Math.max(...ledger.keyCalls)).toBeLessThanOrEqual(100);
    expect(ledger.rangeCalls).toEqual([{ gateway: c.gateway, ...c.period }]);
    expect(summary.drift.exceeded).toBe(true);
    expect(result.html).toContain('exceeds 0.5% threshold');
  });
});
