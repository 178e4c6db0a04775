/**
 * FX live-check bench: provider calls per 1,000 orders with the live-check cache (FX_LIVE_CACHE_SECONDS,
 * default 60) against without it. A flash sale of 1,000 orders at 100 orders a minute (a simulated clock,
 * 600 ms apart, 16 in flight) goes through the real orders handler against DynamoDB Local, with a local
 * provider on 127.0.0.1 that counts its requests. Reported as the extra `fx` field of the bench JSON.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDynamoClient } from '../functions/adapters/aws-clients.ts';
import { createHandler as createRefresh } from '../functions/fx-refresh/app.ts';
import { createHandler as createOrders } from '../functions/orders/app.ts';
import type { HttpEvent } from '../functions/shared/http.ts';
import { defaultSettings, functions, resourceEnvVars } from '../lib/topology.ts';
import { SANDBOX_RATES } from '../sandbox/fx-provider.ts';
import { lambdaContext } from '../sandbox/lambda.ts';
import { ensureTables, sandboxTableNames } from '../sandbox/resources.ts';
import { pool } from '../sandbox/simulator.ts';
import { httpEvent } from '../test/support/http-events.ts';

export interface FxBench {
  orders: number;
  ordersPerMinute: number;
  liveCacheSeconds: number;
  providerCalls: number;
  providerCallsPer1000Orders: number;
  uncachedProviderCallsPer1000Orders: number;
}

const ORDERS = 1000;
const UNCACHED_ORDERS = 250;
const ORDERS_PER_MINUTE = 100;

export async function benchFx(dynamodbEndpoint: string, log: (s: string) => void): Promise<FxBench> {
  const start = new Date('2026-12-02T05:00:00Z');
  let calls = 0;
  const server = createServer((_req, res) => {
    calls++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ source: 'bench', asOf: start.toISOString(), rates: SANDBOX_RATES }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rates`;
  try {
    const cached = await run(dynamodbEndpoint, url, ORDERS, '60', start, () => calls);
    log(`fx: ${cached} provider calls for ${ORDERS} orders at ${ORDERS_PER_MINUTE}/min with a 60 s cache`);
    const uncached = await run(dynamodbEndpoint, url, UNCACHED_ORDERS, '0', start, () => calls);
    log(`fx: ${uncached} provider calls for ${UNCACHED_ORDERS} orders without the cache`);
    return {
      orders: ORDERS,
      ordersPerMinute: ORDERS_PER_MINUTE,
      liveCacheSeconds: 60,
      providerCalls: cached,
      providerCallsPer1000Orders: (cached * 1000) / ORDERS,
      uncachedProviderCallsPer1000Orders: (uncached * 1000) / UNCACHED_ORDERS,
    };
  } finally {
    server.close();
  }
}

async function run(
  endpoint: string,
  url: string,
  orders: number,
  cacheSeconds: string,
  start: Date,
  calls: () => number,
): Promise<number> {
  const tables = sandboxTableNames(`-bench-fx-${randomBytes(3).toString('hex')}`);
  const dynamo = createDynamoClient({ DYNAMODB_ENDPOINT: endpoint });
  await ensureTables(dynamo, tables);
  const envOf = (fn: string) => ({
    ...defaultSettings,
    ...resourceEnvVars(functions[fn]!, { table: (t) => tables[t], bucket: 'unused' }),
    DYNAMODB_ENDPOINT: endpoint,
    AWS_REGION: 'us-east-1',
    ALERT_SINK: 'local',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
    FX_PROVIDER_URL: url,
    FX_PROVIDER_ALLOW_LOOPBACK_HTTP: 'true',
    FX_LIVE_CACHE_SECONDS: cacheSeconds,
    // A loaded machine can abort a 500 ms live check before its request leaves: count calls, not timeouts.
    FX_LIVE_TIMEOUT_MS: '5000',
  });
  let now = new Date(start.getTime() + 1_000);
  await createRefresh(envOf('fxRefresh'), { now: () => now })();
  const handler = createOrders(envOf('orders'), { now: () => now });
  const context = lambdaContext('orders', functions.orders!);
  const before = calls();
  const statuses = await pool(
    Array.from({ length: orders }, (_, i) => i),
    16,
    async (i) => {
      now = new Date(start.getTime() + 1_000 + (i * 60_000) / ORDERS_PER_MINUTE);
      const res = await handler(orderEvent(), context);
      return res.statusCode;
    },
  );
  const failed = statuses.filter((s) => s !== 201).length;
  if (failed) throw new Error(`fx bench: ${failed} of ${orders} orders were not created`);
  dynamo.destroy();
  return calls() - before;
}

function orderEvent(): HttpEvent {
  return httpEvent({
    path: '/orders',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      customerId: 'c-bench',
      payCurrency: 'USD',
      items: [{ sku: 'tb-6618', title: 'Tea set', quantity: 1, unitPriceMinor: 5900 }],
    }),
    callerArn: null,
  }) as unknown as HttpEvent;
}
