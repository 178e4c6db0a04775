/**
 * Real provider formats end to end: the FX refresh and the orders handler against DynamoDB Local, with a
 * local HTTP server answering as Open Exchange Rates, Fixer and the ECB document (fixtures under
 * test/fixtures/fx/). Cross rates, orders priced from them, the key sent as documented and never logged,
 * every bad answer refused as a whole with the last good rates kept, staleness per provider, the daily drift
 * guard, and the live-check cache across concurrent orders.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import type { FxRefreshResult } from '../../functions/core/fx.ts';
import { createHandler as createRefresh } from '../../functions/fx-refresh/app.ts';
import { createHandler as createOrders } from '../../functions/orders/app.ts';
import { ConfigError } from '../../functions/shared/config.ts';
import type { HttpEvent } from '../../functions/shared/http.ts';
import { functions } from '../../lib/topology.ts';
import { lambdaContext } from '../../sandbox/lambda.ts';
import { httpEvent } from '../support/http-events.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/fx/${name}`, import.meta.url), 'utf8');
const KEY = 'f5d35ca994d94d3691fe4cd1bcea81b1';
const PAIRS = 'USD/CNY,EUR/CNY,GBP/CNY,JPY/CNY,HKD/CNY';

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
  /** Writes this many bytes of body in chunks without a content-length. */
  streamBytes?: number;
}

interface ProviderServer {
  readonly base: string;
  answer: (path: string) => Answer;
  readonly requests: { path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function startProvider(): Promise<ProviderServer> {
  const sockets = new Set<import('node:net').Socket>();
  const provider = {
    base: '',
    answer: (_path: string): Answer => ({ status: 404, body: '{}' }),
    requests: [] as { path: string; headers: IncomingHttpHeaders }[],
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    provider.requests.push({ path: req.url ?? '', headers: req.headers });
    const a = provider.answer(req.url ?? '');
    const send = () => {
      if (res.destroyed) return;
      if (a.streamBytes) {
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const more = () => {
          while (sent < a.streamBytes! && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end();
        };
        more();
        return;
      }
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body ?? '');
    };
    if (a.delayMs) setTimeout(send, a.delayMs).unref();
    else send();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  provider.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return provider;
}

/** The OXR fixture with its timestamp (UNIX seconds) set, and CNY per USD replaced when asked. */
function oxr(at: Date, cny?: string): string {
  let text = fixture('oxr-latest.json').replace(
    /"timestamp": \d+/,
    `"timestamp": ${Math.floor(at.getTime() / 1000)}`,
  );
  if (cny) text = text.replace('"CNY": 7.0716', `"CNY": ${cny}`);
  return text;
}

function postOrder(payCurrency: string): HttpEvent {
  return httpEvent({
    path: '/orders',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      customerId: 'c-1001',
      payCurrency,
      items: [{ sku: 'tb-6618', title: 'Tea set', quantity: 2, unitPriceMinor: 5900 }],
    }),
    callerArn: null,
  }) as unknown as HttpEvent;
}

async function currentRates(r: TestResources): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const pair of PAIRS.split(',')) {
    const { Items } = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.fxRates,
        KeyConditionExpression: 'pair = :p AND sk = :c',
        ExpressionAttributeValues: { ':p': pair, ':c': 'current' },
        ConsistentRead: true,
      }),
    );
    out[pair] = Items?.[0];
  }
  return out;
}

async function allFxItems(r: TestResources): Promise<unknown[]> {
  const items: unknown[] = [];
  for (const pair of PAIRS.split(',')) {
    const { Items } = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.fxRates,
        KeyConditionExpression: 'pair = :p',
        ExpressionAttributeValues: { ':p': pair },
      }),
    );
    items.push(...(Items ?? []));
  }
  return items;
}

/** Everything written to stdout/stderr (Powertools logger, console) while `run` runs. */
async function captureOutput<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const grab = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  try {
    const result = await run();
    return { result, output: chunks.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

let provider: ProviderServer;
beforeAll(async () => {
  provider = await startProvider();
});
afterAll(() => provider.close());

interface Rig {
  r: TestResources;
  clock: { now: Date };
  refresh(): Promise<FxRefreshResult>;
  order(payCurrency: string): Promise<{ statusCode: number; json: Record<string, unknown> }>;
}

async function rig(extra: Record<string, string>, start: Date): Promise<Rig> {
  const r = await createTestResources();
  const clock = { now: start };
  const now = () => clock.now;
  const refresh = createRefresh(
    r.envFor('fxRefresh', {
      FX_PAIRS: PAIRS,
      FX_PROVIDER_TIMEOUT_MS: '1500',
      FX_PROVIDER_RETRIES: '0',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      ...extra,
    }),
    { now },
  );
  const orders = createOrders(
    r.envFor('orders', {
      FX_PAIRS: PAIRS,
      FX_LIVE_TIMEOUT_MS: '1500',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      ...extra,
    }),
    { now },
  );
  return {
    r,
    clock,
    refresh: () => refresh({ 'detail-type': 'Scheduled Event' }),
    order: async (payCurrency) => {
      const res = await orders(postOrder(payCurrency), lambdaContext('orders', functions.orders!));
      return { statusCode: res.statusCode ?? 0, json: JSON.parse(res.body as string) };
    },
  };
}

describe('base-rates: Open Exchange Rates', () => {
  const t0 = new Date('2026-12-02T05:00:00Z');
  let rg: Rig;
  beforeAll(async () => {
    rg = await rig(
      {
        FX_PROVIDER: 'base-rates',
        FX_PROVIDER_URL: `${provider.base}/api/latest.json`,
        FX_PROVIDER_API_KEY: KEY,
      },
      new Date(t0.getTime() + 120_000),
    );
  });

  it('refresh crosses every pair through USD, the key goes as "Authorization: Token", orders are priced from it', async () => {
    provider.answer = () => ({ body: oxr(t0) });
    const before = provider.requests.length;
    const result = await rg.refresh();
    expect(result).toMatchObject({
      refused: false,
      updated: 5,
      source: `127.0.0.1:${provider.base.split(':')[2]}`,
    });
    expect(result.asOf).toBe(t0.toISOString());
    expect(result.pairs).toEqual({
      'USD/CNY': { status: 'updated', rate: '7.071600' },
      'EUR/CNY': { status: 'updated', rate: '8.207264' },
      'GBP/CNY': { status: 'updated', rate: '9.342624' },
      'JPY/CNY': { status: 'updated', rate: '0.045480' },
      'HKD/CNY': { status: 'updated', rate: '0.908443' },
    });
    const request = provider.requests[before]!;
    expect(request.path).toBe('/api/latest.json'); // not in the URL
    expect(request.headers.authorization).toBe(`Token ${KEY}`);

    const eur = await rg.order('EUR');
    expect(eur.statusCode).toBe(201);
    expect(eur.json).toMatchObject({
      payAmountMinor: 1438, // 118.00 CNY / 8.207264
      exchangeRate: { pair: 'EUR/CNY', rate: '8.207264', asOf: t0.toISOString() },
    });
    const jpy = await rg.order('JPY');
    expect(jpy.json).toMatchObject({ payAmountMinor: 2595, exchangeRate: { rate: '0.045480' } });
  });

  it('the same answer again writes nothing; a newer one updates every pair', async () => {
    expect(await rg.refresh()).toMatchObject({
      updated: 0,
      refused: false,
      pairs: { 'USD/CNY': { status: 'unchanged' } },
    });
    const t1 = new Date(t0.getTime() + 3_600_000);
    rg.clock.now = new Date(t1.getTime() + 60_000);
    provider.answer = () => ({ body: oxr(t1, '7.0801') });
    expect(await rg.refresh()).toMatchObject({
      updated: 5,
      pairs: { 'USD/CNY': { status: 'updated', rate: '7.080100' } },
    });
  });

  it('staleness follows the provider: 75 minutes for base-rates', async () => {
    const stored = (await currentRates(rg.r))['USD/CNY'] as { asOf: string };
    const asOf = Date.parse(stored.asOf);
    provider.answer = () => ({ status: 503, body: '{}' });
    rg.clock.now = new Date(asOf + 4_400_000);
    expect((await rg.order('USD')).statusCode).toBe(201);
    rg.clock.now = new Date(asOf + 4_600_000);
    expect(await rg.order('USD')).toMatchObject({ statusCode: 503, json: { error: 'fx_rate_stale' } });
  });

  it('the key never shows in results, history, alerts or logs, whatever the provider answers', async () => {
    const alertsBefore = localAlerts.length;
    const { result: outcomes, output } = await captureOutput(async () => {
      const seen: unknown[] = [];
      for (const answer of [
        { status: 401, body: fixture('oxr-error-invalid-app-id.json') },
        { status: 302, headers: { location: `${provider.base}/elsewhere?app_id=${KEY}` } },
        { body: 'not json' },
        { body: oxr(new Date(0)) },
      ] as Answer[]) {
        provider.answer = () => answer;
        seen.push(await rg.refresh());
        seen.push(await rg.order('USD'));
      }
      return seen;
    });
    const everything = JSON.stringify({
      outcomes,
      output,
      alerts: localAlerts.slice(alertsBefore),
      items: await allFxItems(rg.r),
    });
    expect(localAlerts.length).toBeGreaterThan(alertsBefore);
    expect(everything).not.toContain(KEY);
    expect(provider.requests.some((q) => q.path.startsWith('/elsewhere'))).toBe(false);
  });
});

describe('base-rates: Fixer', () => {
  it('sends the key as the access_key query parameter; success:false is refused and alerted', async () => {
    const at = new Date('2025-12-02T05:00:00Z');
    const rg = await rig(
      {
        FX_PROVIDER: 'base-rates',
        FX_PROVIDER_URL: `${provider.base}/fixer/latest`,
        FX_PROVIDER_KEY_IN: 'query:access_key',
        FX_PROVIDER_API_KEY: KEY,
      },
      new Date(at.getTime() + 60_000),
    );
    provider.answer = () => ({ body: fixture('fixer-latest.json') });
    const before = provider.requests.length;
    expect(await rg.refresh()).toMatchObject({
      updated: 5,
      pairs: { 'USD/CNY': { rate: '7.071607' }, 'EUR/CNY': { rate: '8.207265' } },
    });
    expect(provider.requests[before]!.path).toBe(`/fixer/latest?access_key=${KEY}`);
    expect(provider.requests[before]!.headers.authorization).toBeUndefined();

    provider.answer = () => ({ body: fixture('fixer-error-invalid-access-key.json') });
    const alertsBefore = localAlerts.length;
    const result = await rg.refresh();
    expect(result).toMatchObject({ refused: true, providerError: 'invalid_response', updated: 0 });
    expect(localAlerts.slice(alertsBefore)).toEqual([
      expect.objectContaining({
        detailType: 'FX Provider Rejected',
        detail: expect.objectContaining({ reason: 'invalid_response' }),
      }),
    ]);
    expect(JSON.stringify(localAlerts.slice(alertsBefore))).not.toContain(KEY);
  });
});

describe('ecb: eurofxref-daily.xml', () => {
  // 2 April 2026 is Maundy Thursday: Good Friday and Easter Monday are TARGET closing days.
  const published = new Date('2026-04-02T14:05:00Z'); // 16:05 CEST
  let rg: Rig;
  beforeAll(async () => {
    rg = await rig(
      {
        FX_PROVIDER: 'ecb',
        FX_PROVIDER_URL: `${provider.base}/eurofxref-daily.xml`,
        FX_PROVIDER_API_KEY: KEY,
      },
      published,
    );
  });

  it('refresh crosses through EUR, sends no key, and the rates are as of the concertation', async () => {
    provider.answer = () => ({
      body: fixture('ecb-eurofxref-daily.xml'),
      headers: { 'content-type': 'text/xml' },
    });
    const before = provider.requests.length;
    const result = await rg.refresh();
    expect(result).toMatchObject({
      refused: false,
      updated: 5,
      source: 'ecb',
      asOf: '2026-04-02T12:15:00.000Z',
    });
    expect(result.pairs['USD/CNY']).toEqual({ status: 'updated', rate: '7.249815' });
    expect(result.pairs['HKD/CNY']).toEqual({ status: 'updated', rate: '0.932056' });
    expect(provider.requests[before]!.headers.authorization).toBeUndefined();
    expect(provider.requests[before]!.path).toBe('/eurofxref-daily.xml');
  });

  it('the rates stay valid across Easter (a weekend and two holidays) and go stale after', async () => {
    // Tuesday 7 April, 17:00 CEST: the next publication is due about now; orders still sell.
    rg.clock.now = new Date('2026-04-07T15:00:00Z');
    const tuesday = await rg.order('USD');
    expect(tuesday).toMatchObject({
      statusCode: 201,
      json: { payAmountMinor: 1628, exchangeRate: { rate: '7.249815' } },
    });
    // Wednesday morning without a new publication: something is wrong at the ECB or here.
    rg.clock.now = new Date('2026-04-08T06:00:00Z');
    expect(await rg.order('USD')).toMatchObject({ statusCode: 503, json: { error: 'fx_rate_stale' } });
  });
});

describe('bad answers are refused as a whole, alerted, and the last good rates kept', () => {
  const t0 = new Date('2026-12-02T05:00:00Z');
  const xml = fixture('ecb-eurofxref-daily.xml');
  const cases: [string, 'base-rates' | 'ecb', () => Answer, string][] = [
    ['malformed JSON', 'base-rates', () => ({ body: oxr(t0).slice(0, 300) }), 'invalid_response'],
    [
      'malformed XML',
      'ecb',
      () => ({ body: xml.replace('</Cube>\n\t</Cube>', '</Cube>') }),
      'invalid_response',
    ],
    [
      'a missing currency',
      'ecb',
      () => ({ body: xml.replace(/<Cube currency='HKD'[^>]*>/, '') }),
      'invalid_pairs',
    ],
    [
      'a zero rate',
      'base-rates',
      () => ({ body: oxr(t0).replace('"GBP": 0.756918', '"GBP": 0') }),
      'invalid_pairs',
    ],
    [
      'a negative rate',
      'ecb',
      () => ({ body: xml.replace("rate='0.83705'", "rate='-0.83705'") }),
      'invalid_pairs',
    ],
    [
      'a non-numeric rate',
      'base-rates',
      () => ({ body: oxr(t0).replace('"EUR": 0.861627', '"EUR": "n/a"') }),
      'invalid_pairs',
    ],
    [
      'an answer older than the stored one',
      'base-rates',
      () => ({ body: oxr(new Date(t0.getTime() - 3_600_000)) }),
      'invalid_pairs',
    ],
    [
      'an older ECB day',
      'ecb',
      () => ({ body: xml.replace("time='2026-04-02'", "time='2026-04-01'") }),
      'invalid_pairs',
    ],
    ['HTTP 500', 'base-rates', () => ({ status: 500, body: '{"error":true}' }), 'http_error'],
    ['a timeout', 'ecb', () => ({ body: xml, delayMs: 3000 }), 'timeout'],
    [
      'a redirect',
      'base-rates',
      () => ({ status: 301, headers: { location: 'https://example.com/latest.json' } }),
      'redirect',
    ],
    [
      'a declared body over 1 MB',
      'base-rates',
      () => ({ body: ' '.repeat(1_048_577), headers: { 'content-length': '1048577' } }),
      'too_large',
    ],
    ['a streamed body over 1 MB', 'ecb', () => ({ streamBytes: 2_000_000 }), 'too_large'],
  ];
  const rigs: Partial<Record<'base-rates' | 'ecb', Rig>> = {};
  beforeAll(async () => {
    rigs['base-rates'] = await rig(
      { FX_PROVIDER: 'base-rates', FX_PROVIDER_URL: `${provider.base}/bad/latest.json` },
      new Date(t0.getTime() + 60_000),
    );
    rigs.ecb = await rig(
      { FX_PROVIDER: 'ecb', FX_PROVIDER_URL: `${provider.base}/bad/eurofxref-daily.xml` },
      new Date('2026-04-02T15:00:00Z'),
    );
    provider.answer = (path) => ({ body: path.endsWith('.xml') ? xml : oxr(t0) });
    expect(await rigs['base-rates'].refresh()).toMatchObject({ updated: 5 });
    expect(await rigs.ecb.refresh()).toMatchObject({ updated: 5 });
  });

  it.each(cases)('%s (%s)', async (_name, kind, answer, reason) => {
    const rg = rigs[kind]!;
    const before = await currentRates(rg.r);
    const alertsBefore = localAlerts.length;
    provider.answer = answer;
    const result = await rg.refresh();
    expect(result).toMatchObject({ refused: true, updated: 0, rejected: 5 });
    expect(await currentRates(rg.r)).toEqual(before);
    for (const outcome of Object.values(result.pairs)) {
      expect(outcome).toMatchObject({ status: 'rejected', keptRate: expect.any(String) });
    }
    expect(localAlerts.slice(alertsBefore)).toEqual([
      expect.objectContaining({
        detailType: 'FX Provider Rejected',
        detail: expect.objectContaining({ reason }),
      }),
    ]);
  });
});

describe('FX_MAX_DAILY_DRIFT', () => {
  it('steps within FX_MAX_JUMP may not walk a rate more than 15 % from the first rate stored that UTC day', async () => {
    const day = (h: number, m: number) => new Date(Date.UTC(2026, 11, 3, h, m));
    const rg = await rig(
      { FX_PROVIDER: 'base-rates', FX_PROVIDER_URL: `${provider.base}/drift/latest.json` },
      day(0, 10),
    );
    const step = async (at: Date, cny: string) => {
      rg.clock.now = new Date(at.getTime() + 30_000);
      provider.answer = () => ({ body: oxr(at, cny) });
      return rg.refresh();
    };
    expect(await step(day(0, 10), '7.0000')).toMatchObject({ updated: 5 });
    expect(await step(day(1, 10), '7.5000')).toMatchObject({ updated: 5 }); // +7.1 %
    const alertsBefore = localAlerts.length;
    const third = await step(day(2, 10), '8.1000'); // +8 % on the last, +15.7 % on the day's first
    expect(third).toMatchObject({
      refused: true,
      pairs: { 'USD/CNY': { status: 'rejected', reason: 'daily_drift', keptRate: '7.500000' } },
    });
    expect(localAlerts.slice(alertsBefore).map((a) => a.detailType)).toContain('FX Provider Rejected');
    expect(localAlerts.slice(alertsBefore)).toContainEqual(
      expect.objectContaining({
        detailType: 'FX Rate Jump',
        detail: expect.objectContaining({ pair: 'USD/CNY', dayFirstRate: '7.000000', maxDailyDrift: '0.15' }),
      }),
    );
    // The next UTC day starts a new anchor.
    expect(await step(new Date(Date.UTC(2026, 11, 4, 0, 5)), '8.1000')).toMatchObject({
      updated: 5,
      pairs: { 'USD/CNY': { rate: '8.100000' } },
    });
  });
});

describe('the live-check cache (FX_LIVE_CACHE_SECONDS)', () => {
  it('50 concurrent orders cost one provider call; after the cache expires, one more', async () => {
    const t0 = new Date('2026-12-05T05:00:00Z');
    const rg = await rig(
      {
        FX_PROVIDER: 'base-rates',
        FX_PROVIDER_URL: `${provider.base}/cache/latest.json`,
        FX_LIVE_CACHE_SECONDS: '60',
      },
      new Date(t0.getTime() + 10_000),
    );
    provider.answer = () => ({ body: oxr(t0), delayMs: 100 });
    await rg.refresh();
    const calls = () => provider.requests.filter((q) => q.path.startsWith('/cache/')).length;
    const before = calls();
    const results = await Promise.all(Array.from({ length: 50 }, () => rg.order('USD')));
    expect(results.every((o) => o.statusCode === 201)).toBe(true);
    expect(calls() - before).toBe(1);
    rg.clock.now = new Date(rg.clock.now.getTime() + 59_000);
    await rg.order('USD');
    expect(calls() - before).toBe(1);
    rg.clock.now = new Date(rg.clock.now.getTime() + 2_000);
    await Promise.all(Array.from({ length: 10 }, () => rg.order('EUR')));
    expect(calls() - before).toBe(2);
  });
});

describe('transport rules', () => {
  it('https only: plain http is refused at start, except to loopback where the sandbox allows it', async () => {
    const r = await createTestResources();
    const start = (extra: Record<string, string>) => () => createRefresh(r.envFor('fxRefresh', extra));
    expect(start({ FX_PROVIDER_URL: 'http://rates.example.com/latest.json' })).toThrow(ConfigError);
    expect(
      start({ FX_PROVIDER_URL: 'http://127.0.0.1:9/x', FX_PROVIDER_ALLOW_LOOPBACK_HTTP: 'false' }),
    ).toThrow(/FX_PROVIDER_URL/);
    expect(start({ FX_PROVIDER_URL: 'http://127.0.0.1:9/x' })).not.toThrow();
    expect(start({ FX_PROVIDER: 'ecb', FX_PROVIDER_URL: 'https://www.ecb.europa.eu/x.xml' })).not.toThrow();
  });
});
