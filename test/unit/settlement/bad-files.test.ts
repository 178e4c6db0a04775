/** Files that are not what they claim, cut short, or whose own control totals disagree: a clear status. */
import { describe, expect, it } from 'vitest';
import { type ReconcileResult, reconcile } from '../../../functions/core/settlement/index.ts';
import {
  alipayBill,
  type FixtureRow,
  genericCsv,
  paypalStl,
  STRIPE_HEADER,
  stripeCsv,
  wechatBill,
} from '../../fixtures/settlement/builders.ts';
import { chunked, gzip, utf8 } from '../../fixtures/settlement/bytes.ts';
import { FakeLedger } from '../../fixtures/settlement/ledger.ts';
import { allCategories, SCENARIO_NOW } from '../../fixtures/settlement/scenario.ts';

async function run(
  gateway: string,
  bytes: Uint8Array,
  ledger = new FakeLedger([]),
): Promise<ReconcileResult> {
  return reconcile({
    gateway,
    chunks: chunked(bytes, 13),
    ledger,
    now: SCENARIO_NOW,
    source: { key: `incoming/${gateway}/f.csv` },
  });
}

const usd = allCategories('stripe', 'USD', 'EUR', (n) => `pi_${n}`);
const cny = allCategories('wechatpay', 'CNY', 'USD', (n) => `4200${n}`);

describe('unreadable files are failed, with the reason', () => {
  it('empty file', async () => {
    const { summary, html } = await run('stripe', new Uint8Array());
    expect(summary.status).toBe('failed');
    expect(summary.reasons).toEqual(['the file is empty']);
    expect(summary.counts.matched).toBe(0);
    expect(summary.alert.raised).toBe(false);
    expect(html).toContain('File could not be read');
  });

  it('header only', async () => {
    const { summary } = await run('stripe', utf8(`${STRIPE_HEADER}\n`));
    expect(summary.status).toBe('failed');
    expect(summary.reasons[0]).toMatch(/no data rows/);
  });

  it('wrong format for the prefix names the missing columns', async () => {
    const { summary } = await run('stripe', utf8(genericCsv(usd.rows)));
    expect(summary.status).toBe('failed');
    expect(summary.reasons[0]).toMatch(
      /missing required columns: balance_transaction_id, reporting_category/,
    );
  });

  it('a Stripe file under paypal/', async () => {
    const { summary } = await run('paypal', utf8(stripeCsv(usd.rows)));
    expect(summary.status).toBe('failed');
    expect(summary.reasons[0]).toMatch(/not a PayPal STL file/);
  });

  it('a truncated gzip upload', async () => {
    const full = gzip(utf8(wechatBill(cny.rows)));
    const { summary } = await run('wechatpay', full.subarray(0, full.length - 30));
    expect(summary.status).toBe('failed');
    expect(summary.reasons[0]).toMatch(/gzip/);
  });

  it('the hash still covers the whole object when reading stops early', async () => {
    const bytes = utf8(genericCsv(usd.rows));
    const a = await run('stripe', bytes);
    expect(a.summary.status).toBe('failed');
    const { createHash } = await import('node:crypto');
    expect(a.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});

describe('truncated files are incomplete, the cut row rejected', () => {
  it('Stripe file cut mid-row', async () => {
    const text = stripeCsv(usd.rows);
    const cut = text.slice(0, text.lastIndexOf('\n', text.length - 2) + 25);
    const { summary, exceptionsCsv } = await run('stripe', utf8(cut));
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons[0]).toMatch(/ends mid-row at line 9: truncated/);
    expect(summary.rows.rejected).toBe(1);
    expect(exceptionsCsv).toMatch(/\r\n"rejected","stripe",[^\r]*line 9: /);
  });

  it('PayPal file without its footers', async () => {
    const { summary } = await run(
      'paypal',
      utf8(paypalStl(usd.rows, { periodFrom: '2026/11/20', periodTo: '2026/11/23', truncateAfterSb: true })),
    );
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons).toContain('no FF row: the file is truncated or not a complete STL file');
  });

  it('WeChat Pay bill without its summary', async () => {
    const { summary } = await run('wechatpay', utf8(wechatBill(cny.rows, { noSummary: true })));
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons[0]).toMatch(/no summary rows/);
  });

  it('Alipay bill without its summary lines', async () => {
    const { summary } = await run('alipay', utf8(alipayBill(cny.rows, { noSummary: true })));
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons[0]).toMatch(/no #交易合计 summary line/);
  });
});

describe('control totals that disagree make the file incomplete', () => {
  it('PayPal SF gross credit', async () => {
    const { summary } = await run(
      'paypal',
      utf8(
        paypalStl(usd.rows, {
          periodFrom: '2026/11/20',
          periodTo: '2026/11/23',
          override: { sf: { USD: [1, 0, 0, 0] } },
        }),
      ),
    );
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons.some((r) => r.startsWith('SF USD: gross credit total 0.01'))).toBe(true);
    // The rows are still reconciled: finance sees both the broken file and what it holds.
    expect(summary.counts.matched).toBe(0);
  });

  it.each([
    ['sc', { sc: 99 }, /SC \(section\) record count says 99/],
    ['rc', { rc: 1 }, /RC \(report\) record count says 1,/],
    ['ff', { ff: 7 }, /FF \(file\) record count says 7/],
  ])('PayPal %s count', async (_, override, reason) => {
    const { summary } = await run(
      'paypal',
      utf8(paypalStl(usd.rows, { periodFrom: '2026/11/20', periodTo: '2026/11/23', override })),
    );
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons.some((r) => reason.test(r))).toBe(true);
  });

  it('Alipay #交易合计 amount', async () => {
    const { summary } = await run(
      'alipay',
      utf8(alipayBill(cny.rows, { override: { tradeReceived: '1.00' } })),
    );
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons).toEqual(['#交易合计 says 商家实收 1.00, the rows add up to 263.00']);
  });

  it('Alipay #退款合计 count', async () => {
    const { summary } = await run('alipay', utf8(alipayBill(cny.rows, { override: { refundCount: 3 } })));
    expect(summary.reasons).toEqual(['#退款合计 says 3 rows, the file has 1']);
  });

  it('WeChat Pay 手续费总金额 (5 decimals, exact)', async () => {
    const { summary } = await run(
      'wechatpay',
      utf8(wechatBill(cny.rows, { override: { 手续费总金额: '9.61001' } })),
    );
    expect(summary.status).toBe('incomplete');
    expect(summary.reasons).toEqual(['手续费总金额 says 9.61001, the rows add up to 11.23']);
  });

  it('WeChat Pay 总交易单数', async () => {
    const { summary } = await run('wechatpay', utf8(wechatBill(cny.rows, { override: { 总交易单数: '9' } })));
    expect(summary.reasons).toEqual(['总交易单数 says 9, the file has 8 rows']);
  });
});

describe('rows that cannot be parsed are rejected, never dropped', () => {
  const good: FixtureRow = {
    kind: 'payment',
    transactionId: 'T1',
    currency: 'USD',
    grossMinor: 1000,
    feeMinor: 30,
    at: '2026-11-20T10:00:00.000Z',
  };

  it('generic: bad amount, broken conservation, unknown currency, unknown type, bad date', async () => {
    const text = [
      'transaction_id,type,order_id,gross,fee,net,currency,settled_at',
      'T1,charge,O-1,10.00,0.30,9.70,USD,2026-11-20T10:00:00Z',
      'T2,charge,O-2,10.0x,0.30,9.70,USD,2026-11-20T10:00:00Z',
      'T3,charge,O-3,10.00,0.30,9.71,USD,2026-11-20T10:00:00Z',
      'T4,charge,O-4,10.00,0.30,9.70,XXX,2026-11-20T10:00:00Z',
      'T5,bonus,O-5,10.00,0.30,9.70,USD,2026-11-20T10:00:00Z',
      'T6,charge,O-6,10.00,0.30,9.70,USD,2026-02-30T10:00:00Z',
      'T7,charge,O-7,10.001,0.30,9.701,USD,2026-11-20T10:00:00Z',
    ].join('\n');
    const { summary, exceptions } = await run('acme', utf8(`${text}\n`));
    expect(summary.status).toBe('complete');
    expect(summary.rows).toEqual({ total: 7, parsed: 1, rejected: 6 });
    expect(exceptions.filter((e) => e.category === 'rejected').map((e) => e.note)).toEqual([
      'line 3: gross: not a decimal number: "10.0x"',
      'line 4: gross − fee ≠ net (1000 − 30 ≠ 971 minor units)',
      'line 5: currency: unknown currency "XXX"',
      'line 6: type: "bonus" is none of charge|refund|fee|adjustment|payout',
      'line 7: settled_at: not a valid date: "2026-02-30T10:00:00Z"',
      'line 8: gross: "10.001" has more than 2 decimals for USD',
    ]);
    expect(exceptions.find((e) => e.note.startsWith('line 3'))?.transactionId).toBe('T2');
    expect(good.kind).toBe('payment');
  });

  it('PayPal JPY: hundredths divided exactly, a remainder rejected', async () => {
    const rows: FixtureRow[] = [
      {
        kind: 'payment',
        transactionId: 'JP1',
        orderId: 'O-J1',
        currency: 'JPY',
        grossMinor: 1999,
        feeMinor: 80,
        at: '2026-11-20T20:00:00.000Z',
      },
    ];
    const extra = [
      '"JP2","","","","T0006","2026/11/20 12:00:00 -0800","2026/11/20 12:00:00 -0800","CR","199950","JPY","DR","0","JPY","O-J2","","",""',
    ];
    const ledger = new FakeLedger([]);
    const { summary, exceptions } = await run(
      'paypal',
      utf8(
        paypalStl(rows, {
          periodFrom: '2026/11/20',
          periodTo: '2026/11/20',
          extraSb: extra,
          override: { sf: { JPY: [199900 + 199950, 0, 0, 8000] } },
        }),
      ),
      ledger,
    );
    expect(summary.reasons).toEqual([]);
    expect(summary.rows).toEqual({ total: 2, parsed: 1, rejected: 1 });
    expect(summary.totals.JPY).toMatchObject({ settlementGrossMinor: 1999, feesMinor: 80, netMinor: 1919 });
    expect(exceptions.find((e) => e.category === 'rejected')?.note).toBe(
      'line 6: Gross Transaction Amount: 199950 hundredths is a fraction of a JPY unit',
    );
  });
});
