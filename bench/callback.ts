/**
 * Callback bench (CONTRACT §8): DynamoDB requests and write units per first delivery and per duplicate,
 * and throughput of 2,000 distinct first deliveries at 16 in flight through the real handler against
 * DynamoDB Local, next to a baseline handler that does only the effect's transaction (no idempotency).
 */
import { createHash, randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../functions/adapters/aws-clients.ts';
import { DynamoCallbackStore } from '../functions/adapters/callback-store.ts';
import { createHandler } from '../functions/callback/app.ts';
import { applyEvent } from '../functions/core/callbacks.ts';
import { createGateway } from '../functions/core/gateways/index.ts';
import type { OrderRecord } from '../functions/core/order-model.ts';
import type { HttpEvent } from '../functions/shared/http.ts';
import { defaultSettings, functions, resourceEnvVars } from '../lib/topology.ts';
import { paymentCallback } from '../sandbox/gateway-events.ts';
import { lambdaContext } from '../sandbox/lambda.ts';
import { ensureTables, sandboxTableNames } from '../sandbox/resources.ts';
import { pool } from '../sandbox/simulator.ts';
import { orderRecord } from '../test/support/orders.ts';

export interface CallbackBench {
  requestsFirst: number;
  requestsDuplicate: number;
  writeUnitsFirst: number;
  /** The same write units by table and index (`payments/byOrder`), so the floor can be checked. */
  writeUnitsFirstSplit: WriteUnitSplit;
  throughputPerSec: number;
  baselineThroughputPerSec: number;
}

/** Write units per table and per index, named as the bench prints them (`orders`, `payments/byOrder`). */
export type WriteUnitSplit = Record<string, number>;

interface Capacity {
  TableName?: string;
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  Table?: { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<
    string,
    { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number }
  >;
}

/** Write units of one capacity figure: DynamoDB Local reports `CapacityUnits` (reads and writes in one). */
const writeOf = (c: { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number }) =>
  c.WriteCapacityUnits ?? Math.max(0, (c.CapacityUnits ?? 0) - (c.ReadCapacityUnits ?? 0));

/**
 * A DynamoDB client that counts requests and asks for consumed capacity per table and index
 * (`INDEXES`: the same total as `TOTAL`, split). Reads issued only to check (GetItem, Query) report
 * read units, so they add nothing to the write units.
 */
export function countingClient(endpoint: string, tableLabel: (name: string) => string = (n) => n) {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  const counters = {
    requests: 0,
    writeUnits: 0,
    readUnits: 0,
    split: {} as WriteUnitSplit,
    /** Requests by operation and table (`BatchGetItem payments`). */
    byOperation: {} as Record<string, number>,
  };
  const add = (label: string, units: number) => {
    if (units > 0) counters.split[label] = (counters.split[label] ?? 0) + units;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counters.requests++;
      // DynamoDB Local reports `CapacityUnits` alone; the operation says whether they were read or written.
      const reads = /^(Get|BatchGet|Query|Scan|TransactGet)/.test(context.commandName ?? '');
      const input = args.input as Record<string, unknown>;
      const transactTables = ((input.TransactItems ?? []) as Record<string, { TableName?: string }>[]).map(
        (item) => Object.values(item)[0]?.TableName ?? '?',
      );
      const table =
        (input.TableName as string | undefined) ??
        [...new Set([...Object.keys((input.RequestItems ?? {}) as object), ...transactTables])]
          .map(tableLabel)
          .join('+');
      const op =
        `${context.commandName?.replace(/Command$/, '')} ${input.TableName ? tableLabel(table) : table}`.trim();
      counters.byOperation[op] = (counters.byOperation[op] ?? 0) + 1;
      input.ReturnConsumedCapacity ??= 'INDEXES';
      const result = await next(args);
      const out = result.output as { ConsumedCapacity?: Capacity | Capacity[] };
      const consumed = Array.isArray(out.ConsumedCapacity) ? out.ConsumedCapacity : [out.ConsumedCapacity];
      for (const c of consumed) {
        if (!c) continue;
        if (reads) {
          counters.readUnits += c.ReadCapacityUnits ?? c.CapacityUnits ?? 0;
          continue;
        }
        counters.writeUnits += writeOf(c);
        const table = tableLabel(c.TableName ?? '?');
        add(table, c.Table ? writeOf(c.Table) : writeOf(c));
        for (const [index, gsi] of Object.entries(c.GlobalSecondaryIndexes ?? {}))
          add(`${table}/${index}`, writeOf(gsi));
      }
      return result;
    },
    { step: 'initialize', name: 'benchCounter' },
  );
  return { client, counters };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchCallback(
  dynamodbEndpoint: string,
  log: (s: string) => void,
): Promise<CallbackBench> {
  const tables = sandboxTableNames(`-bench-${randomBytes(3).toString('hex')}`);
  const byName = new Map(Object.entries(tables).map(([logical, physical]) => [physical, logical]));
  const { client, counters } = countingClient(dynamodbEndpoint, (n) => byName.get(n) ?? n);
  await ensureTables(client, tables);
  const doc = createDocumentClient(client);
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  const keys = { stripe: { webhookSecret: secret } };
  const def = functions.callbackStripe!;
  const env = {
    ...defaultSettings,
    ...def.environment,
    ...resourceEnvVars(def, { table: (t) => tables[t], bucket: 'unused' }),
    DYNAMODB_ENDPOINT: dynamodbEndpoint,
    ALERT_SINK: 'local',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    GATEWAY_SECRET_JSON: JSON.stringify({ webhookSecrets: [secret] }),
  };
  const handler = createHandler(env, { dynamo: client });

  // The baseline: same verification, same effect transaction, no idempotency layer.
  const gateway = createGateway('stripe', 'stripe', { webhookSecrets: [secret] });
  const store = new DynamoCallbackStore(client, { payments: tables.payments, orders: tables.orders });
  const baseline = async (event: HttpEvent) => {
    const verified = await gateway.verify(
      { headers: event.headers as Record<string, string>, rawBody: Buffer.from(event.body!, 'utf8') },
      new Date(),
    );
    if (verified.type !== 'event') throw new Error('unexpected');
    return applyEvent(verified.event, {
      store,
      now: () => new Date(),
      raise: async () => {},
      hash: (s) => createHash('sha256').update(s).digest('hex'),
    });
  };

  const makeOrders = async (n: number) => {
    const orders = Array.from({ length: n }, (_, i) =>
      orderRecord({ orderId: `bench-${randomBytes(6).toString('hex')}-${i}`, customerId: 'bench' }),
    );
    for (let i = 0; i < orders.length; i += 25) {
      await doc.send(
        new BatchWriteCommand({
          RequestItems: {
            [tables.orders]: orders.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
    return orders;
  };
  const eventFor = (o: OrderRecord): HttpEvent => {
    const spec = paymentCallback('stripe', keys, {
      orderId: o.orderId,
      amountMinor: o.payAmountMinor,
      currency: o.payCurrency,
      transactionId: `pi_${randomBytes(12).toString('hex')}`,
      eventId: `evt_${randomBytes(12).toString('hex')}`,
    });
    return {
      version: '2.0',
      routeKey: 'POST /callbacks/stripe',
      rawPath: spec.path,
      rawQueryString: '',
      headers: spec.headers,
      body: spec.body.toString('utf8'),
      isBase64Encoded: false,
      requestContext: {} as HttpEvent['requestContext'],
    };
  };
  // A generous timeout: on a saturated machine a slow delivery should lower throughput, not abort the bench.
  const ctx = () => lambdaContext('bench', { memoryMb: 512, timeoutSeconds: 300 });

  // Requests and write units, one delivery at a time.
  const [single] = await makeOrders(1);
  const firstEvent = eventFor(single!);
  counters.requests = 0;
  counters.writeUnits = 0;
  counters.split = {};
  const first = await handler(firstEvent, ctx());
  if (!first.body.includes('processed')) throw new Error(`bench: first delivery answered ${first.body}`);
  const requestsFirst = counters.requests;
  const writeUnitsFirst = counters.writeUnits;
  const writeUnitsFirstSplit = { ...counters.split };
  counters.requests = 0;
  const dup = await handler(firstEvent, ctx());
  if (!dup.body.includes('duplicate')) throw new Error(`bench: duplicate answered ${dup.body}`);
  const requestsDuplicate = counters.requests;
  log(
    `callback: ${requestsFirst} requests / ${writeUnitsFirst} WCU first, ${requestsDuplicate} request duplicate`,
  );
  log(
    `callback: write units of a first delivery by table/index: ${Object.entries(writeUnitsFirstSplit)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );

  // Throughput, alternating baseline and full runs so drift on a noisy machine hits both alike.
  const N = 2000;
  // Median of 5 rounds each: one round on a shared 2-core machine swings by ±20 %.
  const rounds = 5;
  const full: number[] = [];
  const base: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const kind of ['baseline', 'full'] as const) {
      const events = (await makeOrders(N)).map(eventFor);
      const t0 = performance.now();
      await pool(
        events,
        16,
        async (e): Promise<unknown> => (kind === 'full' ? handler(e, ctx()) : baseline(e)),
      );
      const perSec = N / ((performance.now() - t0) / 1000);
      (kind === 'full' ? full : base).push(perSec);
      log(`callback: round ${round + 1} ${kind} ${perSec.toFixed(0)}/s`);
    }
  }
  client.destroy();
  return {
    requestsFirst,
    requestsDuplicate,
    writeUnitsFirst,
    writeUnitsFirstSplit,
    throughputPerSec: Math.round(median(full)),
    baselineThroughputPerSec: Math.round(median(base)),
  };
}
