/**
 * The provider formats (functions/core/fx-formats.ts) against fixtures that follow each provider's document
 * (test/fixtures/fx/README.md), and the cross-rate arithmetic as properties: exact decimals, one half-up
 * rounding, no float anywhere.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crossRate, FxProviderError, type FxQuote, quoteRate } from '../../functions/core/fx.ts';
import {
  BASE_RATES_DEFAULT_PATHS,
  ecbConcertationUtc,
  type JsonNumber,
  PAIRS_DEFAULT_PATHS,
  parseBaseRatesAnswer,
  parseEcbAnswer,
  parseExactJson,
  parsePairsAnswer,
} from '../../functions/core/fx-formats.ts';
import { parseDecimal } from '../../functions/core/money.ts';
import { readOrdersConfig } from '../../functions/orders/config.ts';
import { ConfigError } from '../../functions/shared/config.ts';
import { sandboxFxEnv } from '../../sandbox/fx-provider.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/fx/${name}`, import.meta.url), 'utf8');
const LATER = new Date('2027-01-01T00:00:00Z');
const PAIRS = ['USD/CNY', 'EUR/CNY', 'GBP/CNY', 'JPY/CNY', 'HKD/CNY'];

function rates(quote: FxQuote): Record<string, string> {
  return Object.fromEntries(
    PAIRS.map((pair) => {
      const r = quoteRate(quote, pair);
      return [pair, r.ok ? r.rate : r.reason];
    }),
  );
}

function refused(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FxProviderError);
    return (error as FxProviderError).reason;
  }
  throw new Error('expected the answer to be refused');
}

describe('base-rates: Open Exchange Rates latest.json', () => {
  const quote = parseBaseRatesAnswer(fixture('oxr-latest.json'), BASE_RATES_DEFAULT_PATHS, LATER, 'oxr.test');

  it('reads base, timestamp (UNIX seconds) and every rate as the exact text of its JSON number', () => {
    expect(quote).toMatchObject({
      kind: 'base',
      base: 'USD',
      asOf: '2025-12-02T05:00:00.000Z',
      source: 'oxr.test',
    });
    expect(quote.rates.JPY).toBe('155.48650125');
    expect(quote.rates.BTC).toBe('0.000010875'); // 1.0875e-05, not a float's 0.000010874999…
  });

  it('crosses every pair through USD, rounded once to 6 decimals half-up', () => {
    // Oracle: Python's decimal module, 60 digits, ROUND_HALF_UP.
    expect(rates(quote)).toEqual({
      'USD/CNY': '7.071600',
      'EUR/CNY': '8.207264',
      'GBP/CNY': '9.342624',
      'JPY/CNY': '0.045480',
      'HKD/CNY': '0.908443',
    });
  });

  it('an OXR error body or a Fixer success:false is refused', () => {
    expect(
      refused(() =>
        parseBaseRatesAnswer(fixture('oxr-error-invalid-app-id.json'), BASE_RATES_DEFAULT_PATHS, LATER, 'h'),
      ),
    ).toBe('invalid_response');
    expect(
      refused(() =>
        parseBaseRatesAnswer(
          fixture('fixer-error-invalid-access-key.json'),
          BASE_RATES_DEFAULT_PATHS,
          LATER,
          'h',
        ),
      ),
    ).toBe('invalid_response');
  });

  it.each([
    ['not JSON', '<html>down for maintenance</html>'],
    ['truncated', fixture('oxr-latest.json').slice(0, 200)],
    ['a duplicate currency', '{"timestamp":1,"base":"USD","rates":{"CNY":7.1,"CNY":9.9}}'],
    ['no base', '{"timestamp":1,"rates":{"CNY":7.1}}'],
    ['no timestamp', '{"base":"USD","rates":{"CNY":7.1}}'],
    ['a timestamp that is no time', '{"timestamp":"soon","base":"USD","rates":{"CNY":7.1}}'],
    ['rates that are no object', '{"timestamp":1,"base":"USD","rates":[7.1]}'],
    ['trailing garbage', '{"timestamp":1,"base":"USD","rates":{"CNY":7.1}} x'],
    ['a leading-zero number', '{"timestamp":1,"base":"USD","rates":{"CNY":07.1}}'],
  ])('refuses an answer with %s', (_name, text) => {
    expect(refused(() => parseBaseRatesAnswer(text, BASE_RATES_DEFAULT_PATHS, LATER, 'h'))).toBe(
      'invalid_response',
    );
  });

  it('a missing, zero, negative or non-numeric currency refuses the pairs that need it', () => {
    const q = parseBaseRatesAnswer(
      '{"timestamp":1,"base":"USD","rates":{"CNY":7.1,"EUR":0,"GBP":-0.75,"JPY":"abc","HKD":true}}',
      BASE_RATES_DEFAULT_PATHS,
      LATER,
      'h',
    );
    expect(rates(q)).toEqual({
      'USD/CNY': '7.100000',
      'EUR/CNY': 'zero',
      'GBP/CNY': 'negative',
      'JPY/CNY': 'non_numeric',
      'HKD/CNY': 'non_numeric',
    });
    const noBase = parseBaseRatesAnswer(
      '{"timestamp":1,"base":"USD","rates":{"EUR":0.9}}',
      BASE_RATES_DEFAULT_PATHS,
      LATER,
      'h',
    );
    expect(quoteRate(noBase, 'EUR/CNY')).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('a provider clock ahead of ours counts as the fetch time', () => {
    const q = parseBaseRatesAnswer(
      '{"timestamp":4102444800,"base":"USD","rates":{}}',
      BASE_RATES_DEFAULT_PATHS,
      LATER,
      'h',
    );
    expect(q.asOf).toBe(LATER.toISOString());
  });
});

describe('base-rates: Fixer latest', () => {
  it('crosses through EUR', () => {
    const quote = parseBaseRatesAnswer(
      fixture('fixer-latest.json'),
      BASE_RATES_DEFAULT_PATHS,
      LATER,
      'data.fixer.io',
    );
    expect(quote).toMatchObject({ base: 'EUR', asOf: '2025-12-02T05:00:00.000Z' });
    expect(rates(quote)).toEqual({
      'USD/CNY': '7.071607',
      'EUR/CNY': '8.207265',
      'GBP/CNY': '9.342607',
      'JPY/CNY': '0.045480',
      'HKD/CNY': '0.908429',
    });
  });
});

describe('ecb: eurofxref-daily.xml', () => {
  const quote = parseEcbAnswer(fixture('ecb-eurofxref-daily.xml'), LATER);

  it('reads the day and the rates, EUR base, as of the 14:15 Frankfurt concertation (CEST in April)', () => {
    expect(quote).toMatchObject({
      kind: 'base',
      base: 'EUR',
      source: 'ecb',
      asOf: '2026-04-02T12:15:00.000Z',
    });
    expect(Object.keys(quote.rates)).toHaveLength(30);
    expect(rates(quote)).toEqual({
      'USD/CNY': '7.249815',
      'EUR/CNY': '7.838500',
      'GBP/CNY': '9.364435',
      'JPY/CNY': '0.048276',
      'HKD/CNY': '0.932056',
    });
  });

  it('14:15 CET is 13:15Z in winter and 12:15Z in summer, switching on the last Sundays of March and October', () => {
    const at = (d: string) => new Date(ecbConcertationUtc(d)).toISOString();
    expect(at('2026-03-27')).toBe('2026-03-27T13:15:00.000Z');
    expect(at('2026-03-30')).toBe('2026-03-30T12:15:00.000Z'); // 29 March 2026 is the last Sunday
    expect(at('2026-10-23')).toBe('2026-10-23T12:15:00.000Z');
    expect(at('2026-10-26')).toBe('2026-10-26T13:15:00.000Z'); // 25 October 2026
    expect(at('2026-12-02')).toBe('2026-12-02T13:15:00.000Z');
  });

  const xml = fixture('ecb-eurofxref-daily.xml');
  it.each([
    ['an HTML error page', '<html><body>Service unavailable</body></html>'],
    ['a truncated file', xml.slice(0, xml.indexOf("currency='GBP'"))],
    ['a DOCTYPE (entity expansion)', `<!DOCTYPE x [<!ENTITY a "b">]>${xml.replace(/^<\?xml[^>]*>/, '')}`],
    ['a CDATA section', xml.replace('<Cube>', '<Cube><![CDATA[x]]>')],
    ['an unknown entity', xml.replace("rate='1.0812'", "rate='&usd;'")],
    ['mismatched tags', xml.replace('</gesmes:Sender>', '</gesmes:Senders>')],
    [
      'two days',
      xml.replace("<Cube time='2026-04-02'>", "<Cube time='2026-04-01'></Cube><Cube time='2026-04-02'>"),
    ],
    ['no date', xml.replace("time='2026-04-02'", "time='yesterday'")],
    ['a currency twice', xml.replace("currency='JPY'", "currency='USD'")],
    ['a second root', `${xml}<x/>`],
    ['JSON', fixture('oxr-latest.json')],
  ])('refuses %s', (_name, text) => {
    expect(refused(() => parseEcbAnswer(text, LATER))).toBe('invalid_response');
  });

  it('a zero or non-numeric rate and a missing currency refuse the pairs that need them', () => {
    const bad = parseEcbAnswer(
      xml
        .replace("rate='1.0812'", "rate='0'")
        .replace("rate='0.83705'", "rate='n/a'")
        .replace(/<Cube currency='HKD'[^>]*>/, ''),
      LATER,
    );
    expect(rates(bad)).toMatchObject({ 'USD/CNY': 'zero', 'GBP/CNY': 'non_numeric', 'HKD/CNY': 'missing' });
  });
});

describe('pairs (our own format)', () => {
  it('reads rates keyed by pair', () => {
    const q = parsePairsAnswer(
      '{"source":"sandbox","asOf":"2026-12-02T05:00:00Z","rates":{"USD/CNY":"7.1234"}}',
      PAIRS_DEFAULT_PATHS,
      LATER,
      'h',
    );
    expect(quoteRate(q, 'USD/CNY')).toMatchObject({ ok: true, rate: '7.123400' });
    expect(q).toMatchObject({ kind: 'pairs', source: 'sandbox', asOf: '2026-12-02T05:00:00.000Z' });
  });
});

describe('exact JSON numbers', () => {
  it('any number keeps every digit, exponent forms included', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 30n }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: -12, max: 12 }),
        (units, scale, exp) => {
          const digits = units.toString().padStart(scale + 1, '0');
          const mantissa = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
          const text = exp ? `${mantissa}e${exp}` : mantissa;
          const parsed = parseExactJson(`{"r":${text}}`) as Record<string, JsonNumber>;
          const decimal = parseDecimal(parsed.r!.toDecimal());
          // value = units × 10^(exp − scale) exactly: compare as integers at a common scale.
          const expectedScale = scale - exp;
          const common = Math.max(decimal.scale, expectedScale, 0);
          const lhs = decimal.units * 10n ** BigInt(common - decimal.scale);
          const rhs = units * 10n ** BigInt(common - expectedScale);
          expect(lhs).toBe(rhs);
        },
      ),
    );
  });
});

// Rates as providers print them: 1 to 12 significant digits, 0 to 8 decimals.
const providerRate = fc
  .tuple(fc.bigInt({ min: 1n, max: 999_999_999_999n }), fc.integer({ min: 0, max: 8 }))
  .map(([units, scale]) => ({ units, scale }));

describe('cross rates', () => {
  it('are the exact quotient rounded once, half-up, to 6 decimals', () => {
    fc.assert(
      fc.property(providerRate, providerRate, (perBase, perPay) => {
        const x = parseDecimal(crossRate(perBase, perPay));
        expect(x.scale).toBe(6);
        // q = perBase / perPay × 10^6 = num / den; half-up means 2x − 1 ≤ 2q < 2x + 1.
        const num = perBase.units * 10n ** BigInt(perPay.scale + 6);
        const den = perPay.units * 10n ** BigInt(perBase.scale);
        expect(2n * x.units * den - den <= 2n * num).toBe(true);
        expect(2n * num < 2n * x.units * den + den).toBe(true);
      }),
    );
  });

  it('crossing through any base then inverting stays within one unit of the 6th decimal', () => {
    const code = fc.constantFrom('USD', 'EUR', 'CNY', 'JPY', 'GBP', 'HKD', 'KWD');
    fc.assert(
      fc.property(code, code, code, providerRate, providerRate, (base, a, b, ra, rb) => {
        fc.pre(a !== b);
        const text = (d: { units: bigint; scale: number }) => {
          const s = d.units.toString().padStart(d.scale + 1, '0');
          return d.scale ? `${s.slice(0, -d.scale)}.${s.slice(-d.scale)}` : s;
        };
        const quote: FxQuote = {
          kind: 'base',
          base,
          source: 't',
          asOf: LATER.toISOString(),
          rates: { [a]: text(ra), [b]: text(rb) },
        };
        const ab = quoteRate(quote, `${a}/${b}`);
        const ba = quoteRate(quote, `${b}/${a}`);
        fc.pre(ab.ok && ba.ok);
        if (!ab.ok || !ba.ok) return;
        // Inverting the side that is ≥ 1 loses at most half a unit, and rounding adds half: one unit in all.
        const [big, small] =
          parseDecimal(ab.rate).units >= 1_000_000n ? [ab.rate, ba.rate] : [ba.rate, ab.rate];
        const inverted = parseDecimal(crossRate({ units: 1n, scale: 0 }, parseDecimal(big))).units;
        const diff = inverted - parseDecimal(small).units;
        expect(diff >= -1n && diff <= 1n).toBe(true);
      }),
    );
  });
});

describe('sandbox FX settings', () => {
  it('keeps its own pairs provider unless FX_PROVIDER or FX_PROVIDER_URL is set', () => {
    expect(sandboxFxEnv({}, 'http://127.0.0.1:3000/_sandbox/fx/provider')).toEqual({
      FX_PROVIDER: 'pairs',
      FX_PROVIDER_URL: 'http://127.0.0.1:3000/_sandbox/fx/provider',
      FX_MAX_AGE_SECONDS: '1200',
      FX_PROVIDER_ALLOW_LOOPBACK_HTTP: 'true',
      FX_LIVE_CACHE_SECONDS: '0',
    });
    expect(sandboxFxEnv({ FX_PROVIDER: 'ecb' }, 'own')).toMatchObject({
      FX_PROVIDER: 'ecb',
      FX_PROVIDER_URL: 'https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml',
      FX_MAX_AGE_SECONDS: '453600',
    });
    expect(
      sandboxFxEnv(
        {
          FX_PROVIDER: 'base-rates',
          FX_PROVIDER_URL: 'http://127.0.0.1:9/latest.json',
          FX_PROVIDER_API_KEY: 'k',
        },
        'own',
      ),
    ).toMatchObject({
      FX_PROVIDER: 'base-rates',
      FX_PROVIDER_URL: 'http://127.0.0.1:9/latest.json',
      FX_PROVIDER_API_KEY: 'k',
    });
    expect(() => sandboxFxEnv({ FX_PROVIDER: 'yahoo' }, 'own')).toThrow(/not one of/);
  });
});

describe('FX provider configuration', () => {
  const base = { ORDERS_TABLE: 'o', PAYMENTS_TABLE: 'p', FX_RATES_TABLE: 'f', IDEMPOTENCY_TABLE: 'i' };
  it('FX_MAX_AGE_SECONDS defaults to the provider’s rhythm, and an explicit value wins', () => {
    expect(readOrdersConfig(base).FX_MAX_AGE_SECONDS).toBe(1200);
    expect(readOrdersConfig({ ...base, FX_PROVIDER: 'base-rates' }).FX_MAX_AGE_SECONDS).toBe(4500);
    expect(readOrdersConfig({ ...base, FX_PROVIDER: 'ecb' }).FX_MAX_AGE_SECONDS).toBe(453_600);
    expect(
      readOrdersConfig({ ...base, FX_PROVIDER: 'ecb', FX_MAX_AGE_SECONDS: '600' }).FX_MAX_AGE_SECONDS,
    ).toBe(600);
    expect(readOrdersConfig(base)).toMatchObject({ FX_LIVE_CACHE_SECONDS: 60, FX_MAX_DAILY_DRIFT: '0.15' });
  });

  it.each([
    ['FX_PROVIDER', { FX_PROVIDER: 'yahoo' }],
    ['FX_PROVIDER_KEY_IN', { FX_PROVIDER_KEY_IN: 'cookie' }],
    ['FX_LIVE_CACHE_SECONDS', { FX_LIVE_CACHE_SECONDS: 'a minute' }],
    ['FX_MAX_DAILY_DRIFT', { FX_MAX_DAILY_DRIFT: '-0.1' }],
  ])('a bad %s fails at start naming it', (name, extra) => {
    expect(() => readOrdersConfig({ ...base, ...extra })).toThrow(ConfigError);
    expect(() => readOrdersConfig({ ...base, ...extra })).toThrow(name);
  });
});
