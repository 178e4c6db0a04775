/**
 * The reconciliation's fast paths read the same values as the plain ones they stand in for: the field
 * scanner as splitFields + field, the in-place amount reader as minorOf, the claim table as a Map,
 * the UTF-8 decoder (ASCII chunks as latin1) as one TextDecoder over the whole file.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClaimSet } from '../../../functions/core/settlement/claims.ts';
import { FieldScanner, field, splitFields } from '../../../functions/core/settlement/csv.ts';
import { decodeText } from '../../../functions/core/settlement/index.ts';
import { ExactSum } from '../../../functions/core/settlement/match.ts';
import {
  isoUtcOf,
  isPlainUtcAt,
  minorOf,
  simpleMinor2At,
} from '../../../functions/core/settlement/values.ts';
import { stripeCsv } from '../../fixtures/settlement/builders.ts';
import { chunked, gbk, utf8, utf16be, utf16le } from '../../fixtures/settlement/bytes.ts';

const csvText = fc
  .array(fc.constantFrom('a', 'b', ',', '"', '""', ' ', '\u00a0', '\t', 'é', '1', '\n'), { maxLength: 16 })
  .map((parts) => parts.join(''));

describe('FieldScanner', () => {
  it('reads every field as splitFields and field do', () => {
    const scanner = new FieldScanner();
    fc.assert(
      fc.property(csvText, (text) => {
        const fields = splitFields(text);
        scanner.scan(text);
        expect(scanner.count).toBe(fields.length);
        for (let i = -1; i <= fields.length + 1; i++) {
          expect(scanner.raw(i)).toBe(i < 0 ? undefined : fields[i]);
          expect(scanner.field(i)).toBe(field(fields, i));
          expect(scanner.isBlank(i)).toBe(field(fields, i) === '');
          expect(scanner.equals(i, 'a')).toBe(field(fields, i) === 'a');
          const s = scanner.plainStart(i);
          if (s >= 0) expect(text.slice(s, scanner.end(i))).toBe(field(fields, i));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('reads a Stripe line with a quoted description, and grows past 32 fields', () => {
    const scanner = new FieldScanner();
    scanner.scan('txn_1,"Order O-1, ""tea set""",,pi_1');
    expect([0, 1, 2, 3].map((i) => scanner.raw(i))).toEqual(['txn_1', 'Order O-1, "tea set"', '', 'pi_1']);
    const wide = Array.from({ length: 70 }, (_, i) => `f${i}`).join(',');
    scanner.scan(wide);
    expect(scanner.count).toBe(70);
    expect(scanner.raw(69)).toBe('f69');
  });
});

describe('in-place values', () => {
  const amount = fc.oneof(
    fc.stringMatching(/^-?\d{1,14}(\.\d{0,3})?$/),
    fc.constantFrom('', '-', '.5', '1.', '-0.00', '+1.00', '1e3', ' 1.00', '1,00', '１'),
  );

  it('simpleMinor2At accepts what minorOf reads fast, with the same value, and nothing else', () => {
    fc.assert(
      fc.property(amount, (raw) => {
        const fast = simpleMinor2At(`x${raw}y`, 1, raw.length + 1);
        if (/^-?\d{1,13}(?:\.\d{1,2})?$/.test(raw)) expect(fast).toBe(minorOf(raw, 'USD', 'gross'));
        else expect(fast).toBeNaN();
      }),
      { numRuns: 3000 },
    );
  });

  it('isPlainUtcAt accepts valid `YYYY-MM-DD HH:MM:SS` only, read at an offset', () => {
    const valid = ['2026-11-23 10:00:00', '2026-11-23T23:59:59', '2028-02-29 12:00:00'];
    const invalid = [
      '2026-02-29 12:00:00',
      '2026-11-23 24:00:00',
      '2026-11-23 10:60:00',
      '2026/11/23 10:00:00',
      '2026-1a-23 10:00:00',
    ];
    for (const raw of valid) {
      expect(isPlainUtcAt(`,${raw}`, 1)).toBe(true);
      expect(isoUtcOf(raw, 0, 'created_utc')).toBe(`${raw.slice(0, 10)}T${raw.slice(11)}.000Z`);
    }
    for (const raw of invalid) expect(isPlainUtcAt(`,${raw}`, 1)).toBe(false);
  });
});

describe('ClaimSet', () => {
  const key = fc
    .array(fc.constantFrom('a', 'b', '#', '1', '中', 'é'), { maxLength: 5 })
    .map((p) => p.join(''));

  it('answers as a Map of first claims would, across growth, blocks, prefixes and non-Latin-1 keys', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, fc.integer({ min: 0, max: 1000 })), { maxLength: 3000 }),
        fc.constantFrom('', 'a#', '中'),
        fc.constantFrom(1 << 20, 16, 7),
        (ops, prefix, blockBytes) => {
          const set = new ClaimSet(prefix, blockBytes);
          const ref = new Map<string, number>();
          for (const [k, line] of ops) {
            // Half the keys carry the prefix, as a matcher's keys all do.
            const key = line % 2 ? prefix + k : k;
            const before = ref.get(key);
            if (before === undefined) ref.set(key, Math.max(1, line));
            expect(set.claim(key, line)).toBe(before);
            expect(set.get(key)).toBe(ref.get(key));
          }
          expect(set.size).toBe(ref.size);
          for (const k of ref.keys()) expect(set.get(k)).toBe(ref.get(k));
          expect(set.has('never claimed')).toBe(false);
          expect(set.has(`${prefix}never claimed`)).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps lines up to 2^32 − 1 and keys up to a block long', () => {
    const set = new ClaimSet('p#', 64);
    const long = `p#${'x'.repeat(58)}`;
    const tooLong = `p#${'y'.repeat(59)}`;
    expect(set.claim(long, 2 ** 32 - 1)).toBeUndefined();
    expect(set.claim(tooLong, 7)).toBeUndefined();
    expect(set.claim('p#', 3)).toBeUndefined();
    expect(set.claim(long, 1)).toBe(2 ** 32 - 1);
    expect(set.claim(tooLong, 1)).toBe(7);
    expect(set.get('p#')).toBe(3);
    expect(set.size).toBe(3);
  });
});

describe('ExactSum', () => {
  const near = fc.integer({ min: -1000, max: 1000 });
  const amount = fc.oneof(
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.maxSafeInteger(),
    near.map((d) => Number.MAX_SAFE_INTEGER - Math.abs(d)),
    near.map((d) => -Number.MAX_SAFE_INTEGER + Math.abs(d)),
    fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 60, 1e15),
  );

  it('sums as bigint addition does, past 2^53 and back', () => {
    fc.assert(
      fc.property(fc.array(amount, { maxLength: 60 }), (xs) => {
        const sum = new ExactSum();
        let exact = 0n;
        for (const x of xs) {
          sum.add(x);
          exact += BigInt(x);
          expect(sum.value).toBe(exact);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('throws where BigInt does', () => {
    for (const bad of [0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => BigInt(bad)).toThrow(RangeError);
      expect(() => new ExactSum().add(bad)).toThrow(RangeError);
    }
  });
});

describe('UTF-8 decoding', () => {
  async function decode(bytes: Uint8Array, size: number): Promise<string> {
    let out = '';
    for await (const s of decodeText(chunked(bytes, size))) out += s;
    return out;
  }

  it('matches one TextDecoder when ASCII and non-ASCII chunks alternate, cut anywhere', async () => {
    // Past the 64 KiB sniff window, so later chunks take the per-chunk path.
    const text = `${'a,b\n'.repeat(20_000)}é,✓,😀\n${'c,d\n'.repeat(5_000)}\uFEFFmid-file BOM kept\n`;
    for (const bom of [false, true]) {
      const bytes = utf8(text, bom);
      for (const size of [1, 3, 1000, 65_537]) expect(await decode(bytes, size)).toBe(text);
    }
  });

  it('replaces bad bytes as TextDecoder does, whichever chunk they fall in', async () => {
    const good = utf8('x,y\n'.repeat(20_000));
    const bad = new Uint8Array([0x61, 0xe2, 0x82, 0x0a, 0xff, 0xc3, 0x61, 0xf0, 0x9f, 0x98]);
    const bytes = new Uint8Array(good.length + bad.length);
    bytes.set(good);
    bytes.set(bad, good.length);
    const expected = new TextDecoder().decode(bytes);
    // (In one chunk the bad bytes would fall in the 64 KiB sniff window: GBK, by design.)
    for (const size of [1, 2, 7, 4096]) expect(await decode(bytes, size)).toBe(expected);
  });

  it('decodes chunks larger than its 64 KiB pieces as one decoder does, characters cut at any offset', async () => {
    // Multi-byte characters at every alignment, so some straddle each 64 KiB piece boundary.
    const line = (n: number) => `${'a'.repeat(n % 7)}中é✓,${n}\n`;
    const text = Array.from({ length: 20_000 }, (_, n) => line(n)).join('');
    const cases: [string, Uint8Array][] = [
      ['utf-8', utf8(text, true)],
      ['utf-16le', utf16le(text)],
      ['utf-16be', utf16be(text)],
      ['gb18030', gbk(text.replace(/[é✓]/g, ''))],
    ];
    for (const [encoding, bytes] of cases) {
      expect(bytes.length).toBeGreaterThan(3 * 64 * 1024);
      const whole = new TextDecoder(encoding).decode(bytes);
      for (const size of [bytes.length, 200_000, 65_537]) expect(await decode(bytes, size)).toBe(whole);
    }
  });

  it('reads the same Stripe rows whatever the chunk size', async () => {
    const csv = stripeCsv([
      {
        kind: 'payment',
        transactionId: 'pi_é',
        orderId: 'O-✓',
        currency: 'USD',
        grossMinor: 1000,
        feeMinor: 59,
        at: '2026-11-23T10:00:00.000Z',
      },
    ]);
    for (const size of [1, 5, 64 * 1024]) expect(await decode(utf8(csv), size)).toBe(csv);
  });
});
