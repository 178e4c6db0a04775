/** The byte and record layers: encodings, gzip, chunk boundaries, CSV quoting, the port's batching. */
import { describe, expect, it } from 'vitest';
import { RecordSplitter, splitFields } from '../../../functions/core/settlement/csv.ts';
import { decodeText, reconcile, sniffEncoding } from '../../../functions/core/settlement/index.ts';
import { stripeCsv } from '../../fixtures/settlement/builders.ts';
import { chunked, gbk, gzip, utf8, utf16be, utf16le } from '../../fixtures/settlement/bytes.ts';
import { FakeLedger } from '../../fixtures/settlement/ledger.ts';
import { generatedStripeLedger, generatedStripeLines } from '../../fixtures/settlement/stripe-generator.ts';

async function text(bytes: Uint8Array, size: number): Promise<string> {
  let out = '';
  for await (const s of decodeText(chunked(bytes, size))) out += s;
  return out;
}

describe('decodeText', () => {
  const sample = '支付宝交易号,商户订单号\r\n2026,订单 ✓\r\n';
  it.each([1, 2, 3, 5, 4096])(
    'UTF-8 (BOM or not), UTF-16LE/BE, GBK and gzip, in %i-byte chunks',
    async (size) => {
      expect(await text(utf8(sample), size)).toBe(sample);
      expect(await text(utf8(sample, true), size)).toBe(sample);
      expect(await text(utf16le(sample), size)).toBe(sample);
      expect(await text(utf16be(sample), size)).toBe(sample);
      const gbkSample = sample.replace(' ✓', '');
      expect(await text(gbk(gbkSample), size)).toBe(gbkSample);
      expect(await text(gzip(utf8(sample)), size)).toBe(sample);
    },
  );

  it('detects GBK only when the bytes are not valid UTF-8', () => {
    expect(sniffEncoding(gbk('业务明细'))).toBe('gb18030');
    expect(sniffEncoding(utf8('业务明细'))).toBe('utf-8');
    expect(sniffEncoding(utf8('plain ascii'))).toBe('utf-8');
  });
});

describe('CSV records', () => {
  it('splits fields with quotes, escaped quotes and empty fields', () => {
    expect(splitFields('a,"b,c","say ""hi""",,')).toEqual(['a', 'b,c', 'say "hi"', '', '']);
    expect(splitFields('plain,fields')).toEqual(['plain', 'fields']);
  });

  it('keeps a quoted newline inside one record and numbers records by their first line', () => {
    const records: [string, number][] = [];
    const splitter = new RecordSplitter();
    for (const part of ['h1,h2\r\n1,"multi', '\r\nline"\r\n', '2,x'])
      splitter.push(part, (t, l) => records.push([t, l]));
    const end = splitter.end((t, l) => records.push([t, l]));
    expect(records).toEqual([
      ['h1,h2', 1],
      ['1,"multi\nline"', 2],
      ['2,x', 4],
    ]);
    expect(end).toEqual({ lastUnterminated: true, openQuote: false, lastLine: 4 });
  });
});

describe('the ledger port', () => {
  it('is called by key in batches of at most 100 and once for the covered range', async () => {
    const lines = [...generatedStripeLines(2500)];
    const ledger = generatedStripeLedger();
    const r = await reconcile({
      gateway: 'stripe',
      chunks: chunked(utf8(`${lines.join('\n')}\n`), 1000),
      ledger,
      now: new Date('2026-11-30T00:00:00Z'),
    });
    expect(r.summary.status).toBe('complete');
    expect(r.summary.counts).toMatchObject({ matched: 2498, ignored: 2 });
    expect(r.summary.drift.byValue).toBe(0);
    expect(ledger.calls).toBe(Math.ceil(2498 / 100));
  });

  it('matches a row by a stored reference when its own id is not a ledger key', async () => {
    // A Stripe charge row without a payment intent: the charge id is in the entry's references.
    const at = '2026-11-20T10:00:00.000Z';
    const csv = stripeCsv([
      { kind: 'payment', transactionId: 'pi_A', currency: 'USD', grossMinor: 1000, feeMinor: 59, at },
    ]).replace(/,pi_A,/, ',,');
    const { ledgerEntry } = await import('../../fixtures/settlement/ledger.ts');
    const ledger = new FakeLedger([
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_A',
        amountMinor: 1000,
        currency: 'USD',
        receivedAt: at,
        references: { latest_charge: 'ch_pi_A' },
      }),
    ]);
    const r = await reconcile({
      gateway: 'stripe',
      chunks: chunked(utf8(csv)),
      ledger,
      now: new Date('2026-11-21T00:00:00Z'),
    });
    expect(r.summary.counts.matched).toBe(1);
    expect(r.summary.counts.missing_in_settlement).toBe(0);
  });
});

describe('timestamps', () => {
  it('reads Stripe UTC times fast and rejects impossible dates', async () => {
    const { isoUtcOf } = await import('../../../functions/core/settlement/values.ts');
    expect(isoUtcOf('2026-11-23 10:00:00', 0, 'c')).toBe('2026-11-23T10:00:00.000Z');
    expect(isoUtcOf('2024-02-29 10:00:00', 0, 'c')).toBe('2024-02-29T10:00:00.000Z');
    expect(isoUtcOf('2026/11/23 02:00:00 -0800', 0, 'c')).toBe('2026-11-23T10:00:00.000Z');
    expect(isoUtcOf('2026-11-23 18:00:00', 480, 'c')).toBe('2026-11-23T10:00:00.000Z');
    expect(() => isoUtcOf('2026-02-29 10:00:00', 0, 'c')).toThrow(/not a valid date/);
    expect(() => isoUtcOf('2026-04-31 00:00:00', 0, 'c')).toThrow(/not a valid date/);
  });
});
