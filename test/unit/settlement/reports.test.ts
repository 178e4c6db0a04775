/** Report builders: fileStem, summary shape, exceptions.csv quoting, the HTML page, drift. */
import { describe, expect, it } from 'vitest';
import {
  CATEGORIES,
  computeDrift,
  csvField,
  exceptionsCsv,
  fileStem,
  reconcile,
  renderHtml,
} from '../../../functions/core/settlement/index.ts';
import { MAX_REPORT_ID_CHARS, MAX_REPORT_NOTE_CHARS } from '../../../functions/core/settlement/limits.ts';
import { genericCsv } from '../../fixtures/settlement/builders.ts';
import { chunked, utf8 } from '../../fixtures/settlement/bytes.ts';
import { FakeLedger, ledgerEntry } from '../../fixtures/settlement/ledger.ts';
import { allCategories, SCENARIO_NOW } from '../../fixtures/settlement/scenario.ts';

describe('fileStem', () => {
  it.each([
    ['incoming/paypal/STL-20261123.01.009.CSV', 'STL-20261123.01.009'],
    ['incoming/wechatpay/bill-2026-11-23.csv.gz', 'bill-2026-11-23'],
    ['incoming/stripe/report.csv', 'report'],
    ['incoming/acme/noext', 'noext'],
    ['incoming/acme/.hidden', '.hidden'],
    ['x.GZ', 'x'],
  ])('%s → %s', (key, stem) => expect(fileStem(key)).toBe(stem));
});

describe('summary.json', () => {
  it('has every key of CONTRACT §5, counts included when 0', async () => {
    const s = allCategories('acme', 'USD', 'EUR');
    const { summary } = await reconcile({
      gateway: 'acme',
      chunks: chunked(utf8(genericCsv(s.rows))),
      ledger: new FakeLedger(s.ledger),
      now: SCENARIO_NOW,
      source: { bucket: 'settlements', key: 'incoming/acme/a.csv', versionId: 'v1', etag: '"e"' },
    });
    expect(Object.keys(summary)).toEqual(
      expect.arrayContaining([
        'schemaVersion',
        'gateway',
        'status',
        'source',
        'period',
        'generatedAt',
        'rows',
        'counts',
        'totals',
        'drift',
        'alert',
      ]),
    );
    expect(summary.schemaVersion).toBe(1);
    expect(Object.keys(summary.counts)).toEqual([...CATEGORIES]);
    expect(summary.source).toMatchObject({
      bucket: 'settlements',
      key: 'incoming/acme/a.csv',
      versionId: 'v1',
      etag: '"e"',
    });
    expect(summary.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.generatedAt).toBe(SCENARIO_NOW.toISOString());
    // No fee schedule given: fee_mismatch is off.
    expect(summary.counts.fee_mismatch).toBe(0);
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('a balanced file: no exceptions, drift 0, verdict Balanced', async () => {
    const at = '2026-11-20T10:00:00.000Z';
    const ledger = new FakeLedger([
      ledgerEntry({
        gateway: 'acme',
        transactionId: 'T1',
        amountMinor: 1000,
        currency: 'USD',
        receivedAt: at,
      }),
      ledgerEntry({
        gateway: 'acme',
        transactionId: 'R1',
        kind: 'refund',
        amountMinor: 400,
        currency: 'USD',
        receivedAt: at,
      }),
    ]);
    const csv = `transaction_id,type,order_id,gross,fee,net,currency,settled_at\nT1,charge,O-1,10.00,0.59,9.41,USD,${at}\nR1,refund,O-1,-4.00,0.00,-4.00,USD,${at}\nP1,payout,,-5.41,0,-5.41,USD,${at}\n`;
    const r = await reconcile({ gateway: 'acme', chunks: chunked(utf8(csv)), ledger, now: SCENARIO_NOW });
    expect(r.summary.counts).toMatchObject({ matched: 2, ignored: 1 });
    expect(r.summary.totals).toEqual({
      USD: {
        ledgerGrossMinor: 600,
        settlementGrossMinor: 600,
        feesMinor: 59,
        netMinor: 541,
        differenceMinor: 0,
      },
    });
    expect(r.summary.drift).toEqual({ byValue: 0, byCount: 0, threshold: 0.005, exceeded: false });
    expect(r.exceptionsCsv).toBe(
      'category,gateway,transaction_id,order_id,currency,settlement_amount_minor,ledger_amount_minor,fee_minor,expected_fee_minor,settled_at,ledger_at,note\r\n',
    );
    expect(r.html).toContain('<h1>Balanced</h1>');
  });
});

describe('drift', () => {
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<
    (typeof CATEGORIES)[number],
    number
  >;
  const totals = (ledger: number, settlement: number) => ({
    USD: {
      ledgerGrossMinor: ledger,
      settlementGrossMinor: settlement,
      feesMinor: 0,
      netMinor: settlement,
      differenceMinor: ledger - settlement,
    },
  });

  it('byValue is |difference| / |settlement|, exceeded compared exactly', () => {
    expect(computeDrift(totals(1005, 1000), counts, 0.005)).toMatchObject({
      byValue: 0.005,
      exceeded: false,
    });
    expect(computeDrift(totals(100501, 100000), counts, 0.005)).toMatchObject({ exceeded: true });
  });

  it('0 when both sides are 0; 1 when only the settlement side is', () => {
    expect(computeDrift(totals(0, 0), counts, 0.005).byValue).toBe(0);
    expect(computeDrift(totals(500, 0), counts, 0.005)).toMatchObject({ byValue: 1, exceeded: true });
  });

  it('byCount leaves out ignored and pending, and fee_mismatch is no item of its own', () => {
    const c = {
      ...counts,
      matched: 6,
      fee_mismatch: 2,
      amount_mismatch: 1,
      missing_in_settlement: 1,
      ignored: 10,
      pending_settlement: 5,
    };
    expect(computeDrift(totals(0, 0), c, 0.005).byCount).toBe(2 / 8);
  });
});

describe('exceptions.csv', () => {
  it('quotes every text cell, and commas, quotes and newlines inside it', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('plain')).toBe('"plain"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(-1999)).toBe('-1999');
    expect(csvField(undefined)).toBe('');
    const csv = exceptionsCsv([
      { category: 'rejected', gateway: 'acme', note: 'line 3: bad "x", really', line: 3 },
    ]);
    expect(csv.split('\r\n')[1]).toBe('"rejected","acme",,,,,,,,,,"line 3: bad ""x"", really"');
  });

  it('never hands a spreadsheet a formula from a settlement file', () => {
    expect(csvField('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`);
    expect(csvField('+cmd|x')).toBe(`"'+cmd|x"`);
    expect(csvField('@SUM(A1)')).toBe(`"'@SUM(A1)"`);
    expect(csvField('-2+3')).toBe(`"'-2+3"`);
    // A spreadsheet reading `;` as its separator would split here and run the second cell.
    expect(csvField('ok;=cmd|"/c calc"!A0')).toBe(`"ok;'=cmd|""/c calc""!A0"`);
    expect(csvField('ok; @SUM(A1)')).toBe(`"ok; '@SUM(A1)"`);
    expect(csvField('a\n=1+1')).toBe(`"a\n'=1+1"`);
    // Amounts are numbers, signed ones included, and stay numbers.
    expect(csvField(-1999)).toBe('-1999');
    expect(csvField(-5)).toBe('-5');
  });

  it('cuts ids and notes from a hostile file to their report lengths', () => {
    const line = exceptionsCsv([
      {
        category: 'missing_in_ledger',
        gateway: 'stripe',
        transactionId: 'x'.repeat(60_000),
        note: 'n'.repeat(60_000),
      },
    ]).split('\r\n')[1]!;
    expect(line.length).toBeLessThan(MAX_REPORT_ID_CHARS + MAX_REPORT_NOTE_CHARS + 100);
    expect(line).toContain('(60000 characters)');
  });
});

describe('report.html', () => {
  it('is self-contained and escapes everything from the file', async () => {
    const at = '2026-11-20T10:00:00.000Z';
    const csv = `transaction_id,type,order_id,gross,fee,net,currency,settled_at\n<script>alert(1)</script>,charge,"O-<b>",10.00,0.59,9.41,USD,${at}\n`;
    const r = await reconcile({
      gateway: 'acme',
      chunks: chunked(utf8(csv)),
      ledger: new FakeLedger([]),
      now: SCENARIO_NOW,
      source: { key: 'incoming/acme/<x>.csv' },
    });
    expect(r.html).not.toContain('<script>');
    expect(r.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(r.html).not.toMatch(/<link|src=|@import|url\(/i);
    expect(r.html).toContain('<svg');
    // Verdict first: the first heading is the verdict.
    expect(r.html.match(/<h1>([^<]*)<\/h1>/)?.[1]).toBe('Drift 100% exceeds 0.5% threshold');
    expect(r.html).toContain('10.00');
  });

  it('says Incomplete file first, with the reasons', () => {
    const s = {
      schemaVersion: 1 as const,
      gateway: 'paypal',
      status: 'incomplete' as const,
      source: {},
      period: { from: null, to: null },
      generatedAt: 'now',
      rows: { total: 0, parsed: 0, rejected: 0 },
      counts: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<
        (typeof CATEGORIES)[number],
        number
      >,
      totals: {},
      drift: { byValue: 0, byCount: 0, threshold: 0.005, exceeded: false },
      alert: { raised: false },
      format: 'paypal' as const,
      reasons: ['no FF row & more'],
      notes: [],
    };
    const html = renderHtml(s, []);
    expect(html.indexOf('Incomplete file')).toBeLessThan(html.indexOf('Totals per currency'));
    expect(html).toContain('no FF row &amp; more');
  });
});
