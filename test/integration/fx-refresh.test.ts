/**
 * The FX refresh through the real handler against DynamoDB Local, with a local HTTP server as the provider:
 * bad answers (timeout, HTTP error, not JSON, zero, negative, non-numeric, jump) never replace the last good rate.
 */
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import type { FxRefreshResult } from '../../functions/core/fx.ts';
import { createHandler } from '../../functions/fx-refresh/app.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { type FxProviderStub, startFxProviderStub } from './fx-provider-stub.ts';

const GOOD = { 'USD/CNY': '7.123400', 'EUR/CNY': '7.745000' };

let provider: FxProviderStub;
let r: TestResources;
let refresh: () => Promise<FxRefreshResult>;
let ages: number[];

beforeAll(async () => {
  provider = await startFxProviderStub();
  r = await createTestResources();
  ages = [];
  const handler = createHandler(
    r.envFor('fxRefresh', {
      FX_PROVIDER_URL: provider.url,
      FX_PAIRS: 'USD/CNY,EUR/CNY',
      FX_PROVIDER_TIMEOUT_MS: '200',
      FX_PROVIDER_RETRIES: '1',
      FX_PROVIDER_BACKOFF_MS: '10',
    }),
    { metrics: { liveCheckUnavailable() {}, rateAgeSeconds: (s) => void ages.push(s), flush() {} } },
  );
  refresh = () => handler({ 'detail-type': 'Scheduled Event' });
});
afterAll(() => provider.close());

beforeEach(() => {
  provider.rates = { ...GOOD };
  provider.delayMs = 0;
  provider.status = 200;
  provider.rawBody = undefined;
});

async function current(pair: string) {
  const { Item } = await r.doc.send(
    new GetCommand({ TableName: r.tables.fxRates, Key: { pair, sk: 'current' }, ConsistentRead: true }),
  );
  return Item;
}

async function history(pair: string) {
  const { Items } = await r.doc.send(
    new QueryCommand({
      TableName: r.tables.fxRates,
      KeyConditionExpression: 'pair = :p AND begins_with(sk, :h)',
      ExpressionAttributeValues: { ':p': pair, ':h': 'history#' },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

describe('FX refresh', () => {
  it('stores good rates as current, one history record per pair and fetch, and the rate age metric', async () => {
    const result = await refresh();
    expect(result).toMatchObject({
      source: 'stub',
      providerError: null,
      updated: 2,
      rejected: 0,
      pairs: {
        'USD/CNY': { status: 'updated', rate: '7.123400' },
        'EUR/CNY': { status: 'updated', rate: '7.745000' },
      },
      maxRateAgeSeconds: expect.any(Number),
    });
    expect(await current('USD/CNY')).toMatchObject({ rate: '7.123400', source: 'stub' });
    const h = await history('USD/CNY');
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ accepted: true, rate: '7.123400', raw: '7.123400', origin: 'refresh' });
    expect(ages.at(-1)).toBeLessThan(5);
  });

  it('normalises a small move to 6 decimals and takes it', async () => {
    provider.rates['USD/CNY'] = '7.1301';
    const result = await refresh();
    expect(result.pairs['USD/CNY']).toEqual({
      status: 'updated',
      rate: '7.130100',
      previousRate: '7.123400',
    });
    expect((await current('USD/CNY'))?.rate).toBe('7.130100');
  });

  it.each([
    ['zero', '0', 'zero'],
    ['negative', '-7.130100', 'negative'],
    ['non-numeric', 'seven', 'non_numeric'],
    ['missing', undefined, 'missing'],
  ])(
    'refuses an answer with a %s rate as a whole: "FX Provider Rejected", every last good rate kept',
    async (_name, value, reason) => {
      if (value === undefined) delete provider.rates['USD/CNY'];
      else provider.rates['USD/CNY'] = value;
      provider.rates['EUR/CNY'] = '7.750000';
      const eurBefore = (await current('EUR/CNY'))?.rate;
      const historyBefore = (await history('USD/CNY')).length;
      const alertsBefore = localAlerts.length;
      const result = await refresh();
      expect(result).toMatchObject({ refused: true, updated: 0, rejected: 2 });
      expect(result.pairs['USD/CNY']).toMatchObject({ status: 'rejected', reason, keptRate: '7.130100' });
      // The good pair of a bad answer is not written either: the stored set always comes from one answer.
      expect(result.pairs['EUR/CNY']).toMatchObject({ status: 'rejected', reason: 'answer_refused' });
      expect((await current('USD/CNY'))?.rate).toBe('7.130100');
      expect((await current('EUR/CNY'))?.rate).toBe(eurBefore);
      const h = await history('USD/CNY');
      expect(h).toHaveLength(historyBefore + 1);
      expect(h.at(-1)).toMatchObject({ accepted: false, reason });
      expect(localAlerts.slice(alertsBefore)).toEqual([
        expect.objectContaining({
          detailType: 'FX Provider Rejected',
          detail: expect.objectContaining({ reason: 'invalid_pairs', pairs: { 'USD/CNY': reason } }),
        }),
      ]);
    },
  );

  it('rejects a jump beyond FX_MAX_JUMP with an "FX Rate Jump" alert, keeping the last good rate', async () => {
    provider.rates['USD/CNY'] = '7.843111'; // 7.1301 × 1.1 = 7.84311: just over 10 %
    const before = localAlerts.length;
    const result = await refresh();
    expect(result.pairs['USD/CNY']).toMatchObject({
      status: 'rejected',
      reason: 'jump',
      keptRate: '7.130100',
    });
    expect((await current('USD/CNY'))?.rate).toBe('7.130100');
    const alerts = localAlerts.slice(before);
    expect(alerts.map((a) => a.detailType)).toEqual(['FX Provider Rejected', 'FX Rate Jump']);
    expect(alerts[1]).toMatchObject({
      detailType: 'FX Rate Jump',
      detail: { pair: 'USD/CNY', lastGoodRate: '7.130100', providerRate: '7.843111', origin: 'fx-refresh' },
    });
  });

  it('accepts a move of exactly FX_MAX_JUMP', async () => {
    provider.rates['USD/CNY'] = '7.843110'; // exactly 10 %
    const result = await refresh();
    expect(result.pairs['USD/CNY']).toMatchObject({ status: 'updated', rate: '7.843110' });
    // back for the next tests
    provider.rates['USD/CNY'] = '7.130100';
    expect((await refresh()).pairs['USD/CNY']).toMatchObject({ status: 'updated' });
  });

  it('a provider timeout (after its retries) keeps every last good rate', async () => {
    provider.delayMs = 1000;
    const eurBefore = (await current('EUR/CNY'))?.rate;
    const requests = provider.requests;
    const started = Date.now();
    const result = await refresh();
    expect(Date.now() - started).toBeLessThan(900);
    expect(provider.requests - requests).toBe(2); // one try + FX_PROVIDER_RETRIES=1
    expect(result).toMatchObject({
      providerError: 'timeout',
      refused: true,
      updated: 0,
      rejected: 2,
      source: null,
    });
    expect(result.pairs['USD/CNY']).toMatchObject({
      status: 'rejected',
      reason: 'timeout',
      keptRate: '7.130100',
    });
    expect((await current('USD/CNY'))?.rate).toBe('7.130100');
    expect((await current('EUR/CNY'))?.rate).toBe(eurBefore);
    expect((await history('EUR/CNY')).at(-1)).toMatchObject({ accepted: false, reason: 'timeout' });
  });

  it('an HTTP error or an answer that is not JSON keeps every last good rate', async () => {
    provider.status = 502;
    expect(await refresh()).toMatchObject({ providerError: 'http_error', updated: 0 });
    provider.status = 200;
    provider.rawBody = '<html>maintenance</html>';
    expect(await refresh()).toMatchObject({ providerError: 'invalid_response', updated: 0 });
    provider.rawBody = JSON.stringify({ source: 'stub', data: {} });
    expect(await refresh()).toMatchObject({ providerError: 'invalid_response', updated: 0 });
    expect((await current('USD/CNY'))?.rate).toBe('7.130100');
  });

  it('refuses an answer older than a stored rate, and alerts', async () => {
    const future = new Date(Date.now() + 60_000).toISOString();
    await r.doc.send(
      new PutCommand({
        TableName: r.tables.fxRates,
        Item: {
          pair: 'EUR/CNY',
          sk: 'current',
          rate: '7.800000',
          asOf: future,
          source: 'newer',
          updatedAt: future,
        },
      }),
    );
    const before = localAlerts.length;
    const result = await refresh();
    expect(result.pairs['EUR/CNY']).toMatchObject({ status: 'rejected', reason: 'older_than_stored' });
    expect(result.pairs['USD/CNY']).toMatchObject({ status: 'rejected', reason: 'answer_refused' });
    expect((await current('EUR/CNY'))?.rate).toBe('7.800000');
    expect(localAlerts.slice(before)).toEqual([
      expect.objectContaining({
        detailType: 'FX Provider Rejected',
        detail: expect.objectContaining({ pairs: { 'EUR/CNY': 'older_than_stored' } }),
      }),
    ]);
  });
});

describe('FX refresh with a custom response mapping', () => {
  it('reads rates, timestamp and source where FX_PROVIDER_*_PATH say', async () => {
    const own = await createTestResources();
    const handler = createHandler(
      own.envFor('fxRefresh', {
        FX_PROVIDER_URL: provider.url,
        FX_PAIRS: 'USD/CNY',
        FX_PROVIDER_RATES_PATH: 'data.quotes',
        FX_PROVIDER_AS_OF_PATH: 'data.timestamp',
        FX_PROVIDER_SOURCE_PATH: 'provider',
      }),
    );
    const asOf = new Date(Date.now() - 30_000).toISOString();
    provider.rawBody = JSON.stringify({
      provider: 'acme',
      data: { timestamp: asOf, quotes: { USDCNY: 7.2 } },
    });
    const result = await handler();
    expect(result).toMatchObject({
      source: 'acme',
      asOf,
      pairs: { 'USD/CNY': { status: 'updated', rate: '7.200000' } },
    });
    expect(result.maxRateAgeSeconds).toBeGreaterThanOrEqual(29);
  });
});
