/**
 * Hostile and broken settlement files (CONTRACT §5 "Hostile or broken files stay bounded"): generated
 * files with extreme dates, overlong fields, other encodings, prototype names and malformed control
 * rows go through the real parser and matcher, and each run ends with a bounded report. Then the
 * files a security review used to take the reconciliation down, each as a named regression.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENCY_EXPONENTS } from '../../../functions/core/money.ts';
import { planRefund } from '../../../functions/core/refunds.ts';
import { RecordSplitter } from '../../../functions/core/settlement/csv.ts';
import { MAX_REPORT_ID_CHARS, MAX_REPORT_NOTE_CHARS } from '../../../functions/core/settlement/limits.ts';
import { MAX_UNRESOLVED_IN_MEMORY } from '../../../functions/core/settlement/match.ts';
import { type ExceptionSink, reconcile } from '../../../functions/core/settlement/reconcile.ts';
import type { ExceptionItem } from '../../../functions/core/settlement/types.ts';
import {
  GENERIC_HEADER,
  genericCsv,
  stripeCsv,
  wechatOnePaymentBill,
} from '../../fixtures/settlement/builders.ts';
import { chunked, gbk, utf8, utf16le } from '../../fixtures/settlement/bytes.ts';
import { FakeLedger, ledgerEntry } from '../../fixtures/settlement/ledger.ts';

const NOW = new Date('2026-11-26T09:00:00.000Z');
const DAY_MS = 86_400_000;
/** Far below DynamoDB's 400 KB item limit, with room for the record's other attributes. */
const SUMMARY_BOUND = 64 * 1024;
const LINE_BOUND = 3 * MAX_REPORT_ID_CHARS + MAX_REPORT_NOTE_CHARS + 400;

async function run(gateway: string, bytes: Uint8Array, ledger = new FakeLedger([])) {
  const result = await reconcile({
    gateway,
    chunks: chunked(bytes, 4096),
    ledger,
    now: NOW,
    source: { key: `incoming/${gateway}/hostile.csv` },
  });
  return { ...result, ledger };
}

/** What every run must leave behind, whatever the file. */
function expectBounded(r: Awaited<ReturnType<typeof run>>): void {
  expect(['complete', 'incomplete', 'failed']).toContain(r.summary.status);
  expect(JSON.stringify(r.summary).length).toBeLessThan(SUMMARY_BOUND);
  expect(r.summary.rows.total).toBe(r.summary.rows.parsed + r.summary.rows.rejected);
  for (const line of r.exceptionsCsv.split('\r\n')) expect(line.length).toBeLessThan(LINE_BOUND);
  const { from, to } = r.summary.period;
  if (from && to) expect(Date.parse(to) - Date.parse(from)).toBeLessThanOrEqual(45 * DAY_MS);
  for (const call of r.ledger.rangeCalls) {
    expect(Date.parse(call.to) - Date.parse(call.from)).toBeLessThanOrEqual(45 * DAY_MS);
  }
}

/** The highest RSS seen while `work` runs, above the RSS before it (MB). */
async function rssGrowthMb(work: () => Promise<unknown>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return (peak - before) / 1024 / 1024;
}

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'];
const hostileText = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.constantFrom('=cmd|"/c calc"!A0', 'a;=1+1', '@SUM(A1)', '"', '""', '`', '\t', ''),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  // Longer than MAX_SETTLEMENT_RECORD_BYTES on its own; ASCII or three-byte UTF-8.
  fc.constantFrom('x'.repeat(70_000), '茶'.repeat(22_000), 'y'.repeat(3_000)),
);
const hostileDate = fc.oneof(
  fc.constantFrom(
    '0001-01-01 00:00:00',
    '9999-12-31 23:59:59',
    '1970-01-01 00:00:00',
    '2026-02-30 10:00:00',
    '2027-11-27 00:00:00',
    '275760-09-13 00:00:00',
    'yesterday',
  ),
  fc
    .integer({ min: -400, max: 400 })
    .map((d) => new Date(Date.parse('2026-11-23T12:00:00Z') + d * DAY_MS).toISOString()),
);
const amount = fc.oneof(
  fc.integer({ min: -100_000, max: 100_000 }).map((n) => (n / 100).toFixed(2)),
  fc.constantFrom('9999999999999.99', '-0.00', '1e5', 'NaN', '', '１２'),
);
const currency = fc.oneof(
  fc.constantFrom('usd', 'CNY', 'JPY', ...PROTOTYPE_NAMES),
  fc.constantFrom(...Object.keys(CURRENCY_EXPONENTS)),
);

/** A generic-format file of hostile rows (header + rows, maybe cut, maybe no final newline). */
const genericFile = fc
  .record({
    rows: fc.array(
      fc.record({
        id: hostileText,
        type: fc.oneof(fc.constantFrom('charge', 'refund', 'payout'), hostileText),
        order: hostileText,
        gross: amount,
        fee: amount,
        currency,
        at: hostileDate,
      }),
      { maxLength: 12 },
    ),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ rows, cut }) => {
    const q = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const body = rows
      .map((r) => [r.id, r.type, r.order, r.gross, r.fee, r.gross, r.currency, r.at].map(q).join(','))
      .join('\n');
    const text = `${GENERIC_HEADER}\n${body}\n`;
    return cut === undefined ? text : text.slice(0, cut % (text.length + 1));
  });

/** A WeChat Pay bill whose rows and summary carry hostile values. */
const wechatFile = fc
  .record({
    currency: fc.oneof(fc.constantFrom('CNY', ...PROTOTYPE_NAMES), hostileText),
    status: fc.oneof(fc.constantFrom('SUCCESS', 'REFUND', ...PROTOTYPE_NAMES), hostileText),
    summaryValue: fc.oneof(amount, hostileText),
    summaryTitle: fc.oneof(fc.constantFrom('总交易单数', ...PROTOTYPE_NAMES), hostileText),
  })
  .map(({ currency, status, summaryValue, summaryTitle }) => {
    const bill = wechatOnePaymentBill();
    const lines = bill.split(/\r?\n/);
    // Data row: currency (column 12) and status (column 10); summary: one title and one value.
    lines[1] = lines[1]!.replace('`SUCCESS', `\`${status}`).replace('`CNY', `\`${currency}`);
    lines[2] = `${summaryTitle},${lines[2]!.split(',').slice(1).join(',')}`;
    lines[3] = `\`${summaryValue},${lines[3]!.split(',').slice(1).join(',')}`;
    return lines.join('\r\n');
  });

const encodings: [string, (text: string) => Uint8Array][] = [
  ['utf-8', (t) => utf8(t)],
  ['utf-8 with BOM', (t) => utf8(t, true)],
  ['utf-16le', (t) => utf16le(t)],
  ['gzip', (t) => gzipSync(utf8(t))],
  // The fixture encoder knows the characters bills use; anything else stays UTF-8 (still sniffed).
  [
    'gbk',
    (t) => {
      try {
        return gbk(t);
      } catch {
        return utf8(t);
      }
    },
  ],
];
const encoding = fc.constantFrom(...encodings);

describe('hostile files: every run ends with a bounded report', () => {
  it('generic files with extreme dates, lengths, encodings and prototype names', async () => {
    await fc.assert(
      fc.asyncProperty(genericFile, encoding, async (text, [, encode]) => {
        const r = await run('localpay', encode(text));
        expectBounded(r);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('WeChat Pay bills with prototype names and malformed summary rows', async () => {
    await fc.assert(
      fc.asyncProperty(wechatFile, encoding, async (text, [, encode]) => {
        const r = await run('wechatpay', encode(text));
        expectBounded(r);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('the record bound holds for any chunking of an overlong line', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
        (long, quoted, cuts) => {
          const text = `a,b\n${quoted ? '"' : ''}${'z'.repeat(long)}\nc,d\n`;
          const records: [string, number][] = [];
          const overlong: number[] = [];
          const splitter = new RecordSplitter({ maxRecordBytes: 100, onOverlong: (l) => overlong.push(l) });
          let at = 0;
          for (const n of cuts) {
            splitter.push(text.slice(at, at + n), (t, l) => records.push([t, l]));
            at += n;
          }
          splitter.push(text.slice(at), (t, l) => records.push([t, l]));
          splitter.end((t, l) => records.push([t, l]));
          for (const [t] of records) expect(t.length).toBeLessThanOrEqual(100);
          expect(records[0]).toEqual(['a,b', 1]);
          if (long + (quoted ? 1 : 0) > 100) expect(overlong).toEqual([2]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('named regressions', () => {
  it('0001-01-01 and 9999-12-31: the far-future row is rejected and no millennia of days are queried', async () => {
    const csv = `${GENERIC_HEADER}\ntx_1,charge,O-1,1.00,0.00,1.00,USD,0001-01-01T00:00:00Z\ntx_2,charge,O-2,1.00,0.00,1.00,USD,9999-12-31T23:59:59Z\n`;
    const r = await run('localpay', utf8(csv));
    expectBounded(r);
    expect(r.summary.rows.rejected).toBe(1);
    expect(r.exceptionsCsv).toMatch(/more than 365 days after the report/);
    expect(r.ledger.rangeCalls.length).toBeLessThanOrEqual(1);
  });

  it('a wrong year next to a right one makes the file failed, naming MAX_SETTLEMENT_PERIOD_DAYS', async () => {
    const csv = `${GENERIC_HEADER}\ntx_1,charge,O-1,1.00,0.00,1.00,USD,2025-11-23T00:00:00Z\ntx_2,charge,O-2,1.00,0.00,1.00,USD,2026-11-23T00:00:00Z\n`;
    const ledger = new FakeLedger([]);
    const r = await run('localpay', utf8(csv), ledger);
    expect(r.summary.status).toBe('failed');
    expect(r.summary.reasons.join()).toMatch(/MAX_SETTLEMENT_PERIOD_DAYS \(45\)/);
    // Nothing of the ledger was loaded as "missing".
    expect(ledger.rangeCalls).toEqual([]);
    expect(r.exceptionsCsv.trimEnd().split('\r\n')).toHaveLength(1);
  });

  it('a 49 KB gzip inflating to a 48 MiB line: the line is rejected, memory and reports stay small', async () => {
    const row = (i: number) => `tx_${i},charge,O-${i},1.00,0.00,1.00,USD,2026-11-23T0${i}:00:00Z`;
    const text = `${GENERIC_HEADER}\n${row(1)}\n${'A'.repeat(48 * 1024 * 1024)}\n${row(2)}\n`;
    const bytes = gzipSync(Buffer.from(text, 'latin1'), { level: 9 });
    expect(bytes.length).toBeLessThan(60_000);
    let r: Awaited<ReturnType<typeof run>> | undefined;
    const growth = await rssGrowthMb(async () => {
      r = await run('localpay', bytes);
    });
    expectBounded(r!);
    expect(r!.summary.rows).toEqual({ total: 3, parsed: 2, rejected: 1 });
    expect(r!.exceptionsCsv).toMatch(/line 3: record longer than 65536 bytes/);
    // Before the bound: +220 MB. The line is never held; what remains is the gunzip window and chunks.
    expect(growth).toBeLessThan(100);
  }, 60_000);

  it('a 600 KB value in a WeChat Pay summary row: rejected, and summary.json stays far below 400 KB', async () => {
    const bill = wechatOnePaymentBill();
    const lines = bill.split(/\r?\n/);
    lines[3] = `\`${'9'.repeat(600 * 1024)},${lines[3]!.split(',').slice(1).join(',')}`;
    const r = await run('wechatpay', utf8(lines.join('\r\n')));
    expectBounded(r);
    expect(JSON.stringify(r.summary).length).toBeLessThan(8 * 1024);
  });

  it('400k rows no key finds: exceptions leave batch by batch and the rows are read again, not held', async () => {
    // Above the in-memory limit, so the second read runs; the sink sees every item, in small batches.
    const rows = MAX_UNRESOLVED_IN_MEMORY + 5_000;
    const at = '2026-11-23T01:00:00.000Z';
    const csv = stripeCsv(
      Array.from({ length: rows }, (_, i) => ({
        kind: 'payment' as const,
        transactionId: `pi_${i}`,
        orderId: `O-${i}`,
        currency: 'USD' as const,
        grossMinor: 100 + i,
        feeMinor: 3,
        at,
      })),
    );
    const bytes = utf8(csv);
    // One row at the end can still be found by reference: its charge is in the covered ledger.
    const ledger = new FakeLedger([
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_other',
        references: { charge: `ch_pi_${rows - 1}` },
        amountMinor: 100 + rows - 1,
        currency: 'USD',
        receivedAt: at,
      }),
    ]);
    let batches = 0;
    let largest = 0;
    const seen: ExceptionItem[] = [];
    const sink: ExceptionSink = {
      add: (items) => {
        batches++;
        largest = Math.max(largest, items.length);
        seen.push(...items);
      },
      discard: () => undefined,
    };
    const written: string[] = [];
    let reads = 0;
    const r = await reconcile({
      gateway: 'stripe',
      chunks: chunked(bytes, 65536),
      ledger,
      now: NOW,
      exceptionsOut: { write: (t) => void written.push(t), discard: () => undefined },
      exceptionSinks: [sink],
      reopen: () => {
        reads++;
        return chunked(bytes, 65536);
      },
    });
    expect(reads).toBe(1);
    expect(r.exceptionsCsv).toBe('');
    expect(r.exceptions.length).toBe(1000);
    expect(r.summary.counts.missing_in_ledger).toBe(rows - 1);
    expect(r.summary.counts.matched).toBe(1);
    expect(r.summary.counts.missing_in_settlement).toBe(0);
    // pi_other was claimed through its charge by the very last row, read the second time.
    expect(seen.find((e) => e.transactionId === `pi_${rows - 1}`)).toBeUndefined();
    expect(seen).toHaveLength(rows - 1);
    expect(r.exceptionCount).toBe(rows - 1);
    expect(written.join('').trimEnd().split('\r\n')).toHaveLength(rows);
    expect(batches).toBeGreaterThan(10);
    // The largest batch: the rows kept whole, decided together once the coverage is known.
    expect(largest).toBeLessThanOrEqual(MAX_UNRESOLVED_IN_MEMORY);
  }, 60_000);

  it('the second read must see the same bytes', async () => {
    const rows = MAX_UNRESOLVED_IN_MEMORY + 10;
    const make = (gross: number) =>
      utf8(
        stripeCsv(
          Array.from({ length: rows }, (_, i) => ({
            kind: 'payment' as const,
            transactionId: `pi_${i}`,
            currency: 'USD' as const,
            grossMinor: gross,
            feeMinor: 0,
            at: '2026-11-23T01:00:00.000Z',
          })),
        ),
      );
    await expect(
      reconcile({
        gateway: 'stripe',
        chunks: chunked(make(100)),
        ledger: new FakeLedger([]),
        now: NOW,
        exceptionsOut: { write: () => undefined, discard: () => undefined },
        reopen: () => chunked(make(200)),
      }),
    ).rejects.toThrow(/changed between its two reads/);
  }, 60_000);

  it('a WeChat Pay currency or status named constructor or __proto__ is an unknown value, not a crash', async () => {
    for (const name of ['constructor', '__proto__', 'toString']) {
      const bill = wechatOnePaymentBill().replace('`CNY', `\`${name}`);
      const r = await run('wechatpay', utf8(bill));
      expect(r.summary.rows.rejected).toBe(1);
      expect(r.exceptionsCsv).toMatch(new RegExp(`unknown currency .*${name}`));
    }
  });

  it('a settlement type named like an Object property is as unknown as any other', async () => {
    for (const name of ['constructor', '__proto__', 'hasOwnProperty']) {
      const generic = genericCsv([
        {
          kind: 'payment',
          transactionId: 'tx_1',
          orderId: 'O-1',
          currency: 'USD',
          grossMinor: 100,
          feeMinor: 0,
          at: '2026-11-23T02:00:00.000Z',
        },
      ]).replace(',charge,', `,${name},`);
      const asName = await run('localpay', utf8(generic));
      const asBogus = await run('localpay', utf8(generic.replace(`,${name},`, ',bogus,')));
      expect(asName.summary.rows).toEqual(asBogus.summary.rows);
      expect(asName.summary.counts).toEqual(asBogus.summary.counts);
      const stripe = stripeCsv([
        {
          kind: 'payment',
          transactionId: 'pi_1',
          currency: 'USD',
          grossMinor: 100,
          feeMinor: 0,
          at: '2026-11-23T02:00:00.000Z',
        },
      ]).replace(',charge,', `,${name},`);
      const stripeRun = await run('stripe', utf8(stripe));
      expect(stripeRun.summary.counts.ignored).toBe(1);
    }
  });

  it('an order item with sku constructor is refundable only as often as it was ordered', () => {
    const order = {
      orderId: 'O-1',
      status: 'paid',
      customerId: 'c-1',
      baseCurrency: 'CNY',
      baseAmountMinor: 2000,
      payCurrency: 'CNY',
      payAmountMinor: 2000,
      exchangeRate: { pair: 'CNY/CNY', rate: '1.000000', asOf: '2026-11-23T00:00:00Z', source: 'x' },
      items: [
        { sku: 'constructor', title: 'x', quantity: 1, unitPriceMinor: 1000 },
        { sku: 'tb-1', title: 'y', quantity: 1, unitPriceMinor: 1000 },
      ],
      flags: [],
      createdAt: '2026-11-23T00:00:00Z',
      refundBaseCumulativeMinor: 0,
      refundedQuantities: {},
    } as unknown as Parameters<typeof planRefund>[0];
    const first = planRefund(order, { items: [{ sku: 'constructor', quantity: 1 }] });
    expect(first.refundedQuantities.get('constructor')).toBe(1);
    // Stored and read back as the DynamoDB map it becomes.
    const after = {
      ...order,
      refundBaseCumulativeMinor: first.refundBaseCumulativeMinor,
      refundedQuantities: Object.fromEntries(first.refundedQuantities),
    } as typeof order;
    expect(() => planRefund(after, { items: [{ sku: 'constructor', quantity: 1 }] })).toThrow(
      /1 of 1 refunded/,
    );
  });
});
