/**
 * Callback bench (CONTRACT §8): DynamoDB requests and write units per first delivery and per duplicate,
 * and throughput of 2,000 distinct first deliveries at 16 in flight through the real handler against
 * DynamoDB Local, next to a baseline handler that does only the effect's transaction (no idempotency)
 * and that baseline made idempotent with Powertools and nothing more (the design's 3 requests).
 */
import { createHash, randomBytes } from 'node:crypto';
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../functions/adapters/aws-clients.ts';
import { DynamoCallbackStore } from '../functions/adapters/callback-store.ts';
import { createHandler } from '../functions/callback/app.ts';
import { idempotencyOptions } from '../functions/callback/callback.ts';
import { applyEvent, claimOf, eventKey } from '../functions/core/callbacks.ts';
import type { NormalizedEvent } from '../functions/core/events.ts';
import { createGateway } from '../functions/core/gateways/index.ts';
import type { OrderRecord } from '../functions/core/order-model.ts';
import type { HttpEvent } from '../functions/shared/http.ts';
import { defaultSettings, functions, resourceEnvVars } from '../lib/topology.ts';
import { paymentCallback } from '../sandbox/gateway-events.ts';
import { lambdaContext } from '../sandbox/lambda.ts';
import { ensureTables, sandboxTableNames } from '../sandbox/resources.ts';
import { pool } from '../sandbox/simulator.ts';
import { orderRecord } from '../test/support/orders.ts';
import { countingClient, formatCounts, type WriteUnitSplit } from './dynamo-counter.ts';

export interface CallbackBench {
  requestsFirst: number;
  requestsDuplicate: number;
  /** As DynamoDB bills them: bench/dynamo-counter.ts re-prices DynamoDB Local's transactional index arms. */
  writeUnitsFirst: number;
  /** The same write units by table and index (`payments/byOrder`), so the floor can be checked. */
  writeUnitsFirstSplit: WriteUnitSplit;
  /** As DynamoDB Local reports them, and by table and index. */
  writeUnitsFirstDynamoDbLocal: number;
  writeUnitsFirstSplitDynamoDbLocal: WriteUnitSplit;
  throughputPerSec: number;
  baselineThroughputPerSec: number;
  /**
   * The baseline inside Powertools' `makeIdempotent` on the idempotency table, and nothing else of
   * the handler: the 3 requests a first delivery needs, so the most any handler of this design reaches.
   */
  idempotentBaselineThroughputPerSec: number;
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
  const verify = async (event: HttpEvent) => {
    const verified = await gateway.verify(
      { headers: event.headers as Record<string, string>, rawBody: Buffer.from(event.body!, 'utf8') },
      new Date(),
    );
    if (verified.type !== 'event') throw new Error('unexpected');
    return verified.event;
  };
  const applyDeps = {
    store,
    now: () => new Date(),
    raise: async () => {},
    hash: (s: string) => createHash('sha256').update(s).digest('hex'),
  };
  const baseline = async (event: HttpEvent) => applyEvent(await verify(event), applyDeps);

  // The baseline made idempotent with the handler's own idempotency options (key, claim validation,
  // persistence layer), without the handler's secret loading, response shaping, logs and metrics.
  const idempotency = idempotencyOptions(tables.idempotency, client, 'stripe');
  const idempotentApply = makeIdempotent(
    async (input: { key: string; claim: ReturnType<typeof claimOf>; event: NormalizedEvent }) => ({
      outcome: await applyEvent(input.event, applyDeps),
    }),
    idempotency,
  );
  const idempotentBaseline = async (event: HttpEvent) => {
    idempotency.config.registerLambdaContext(ctx());
    const e = await verify(event);
    return idempotentApply({ key: eventKey(e), claim: claimOf(e), event: e });
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
  counters.localWriteUnits = 0;
  counters.split = {};
  counters.localSplit = {};
  const first = await handler(firstEvent, ctx());
  if (!first.body.includes('processed')) throw new Error(`bench: first delivery answered ${first.body}`);
  const requestsFirst = counters.requests;
  const writeUnitsFirst = counters.writeUnits;
  const writeUnitsFirstSplit = { ...counters.split };
  const writeUnitsFirstDynamoDbLocal = counters.localWriteUnits;
  const writeUnitsFirstSplitDynamoDbLocal = { ...counters.localSplit };
  counters.requests = 0;
  const dup = await handler(firstEvent, ctx());
  if (!dup.body.includes('duplicate')) throw new Error(`bench: duplicate answered ${dup.body}`);
  const requestsDuplicate = counters.requests;
  log(
    `callback: ${requestsFirst} requests / ${writeUnitsFirst} WCU first (DynamoDB Local reports ${writeUnitsFirstDynamoDbLocal}), ${requestsDuplicate} request duplicate`,
  );
  log(`callback: write units of a first delivery by table/index: ${formatCounts(writeUnitsFirstSplit)}`);
  log(
    `callback: as DynamoDB Local reports them (transactional index writes doubled): ${formatCounts(writeUnitsFirstSplitDynamoDbLocal)}`,
  );

  // Throughput, the three alternating so drift on a noisy machine hits them alike, in an order that
  // rotates each round so none always runs first.
  const N = 2000;
  // Median of 5 rounds each: one round on a shared 2-core machine swings by ±20 %.
  const rounds = 5;
  const kinds = ['baseline', 'idempotent', 'full'] as const;
  const runs = { baseline: [] as number[], idempotent: [] as number[], full: [] as number[] };
  const deliver = { baseline, idempotent: idempotentBaseline, full: (e: HttpEvent) => handler(e, ctx()) };
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(round + k) % kinds.length]!;
      const events = (await makeOrders(N)).map(eventFor);
      const t0 = performance.now();
      await pool(events, 16, async (e): Promise<unknown> => deliver[kind](e));
      const perSec = N / ((performance.now() - t0) / 1000);
      runs[kind].push(perSec);
      log(`callback: round ${round + 1} ${kind} ${perSec.toFixed(0)}/s`);
    }
  }
  client.destroy();
  return {
    requestsFirst,
    requestsDuplicate,
    writeUnitsFirst,
    writeUnitsFirstSplit,
    writeUnitsFirstDynamoDbLocal,
    writeUnitsFirstSplitDynamoDbLocal,
    throughputPerSec: Math.round(median(runs.full)),
    baselineThroughputPerSec: Math.round(median(runs.baseline)),
    idempotentBaselineThroughputPerSec: Math.round(median(runs.idempotent)),
  };
}
