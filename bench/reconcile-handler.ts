/**
 * `reconcileHandler` (CONTRACT §8): a 100,000-row Stripe file reconciled by the real reconcile handler
 * (object in s3rver, a ledger of 100,000 entries in DynamoDB Local, reports written to s3rver), with the
 * DynamoDB requests and read units counted on the handler's own client.
 *
 * The ledger holds an entry for every transaction row of the file (payments and refunds) plus a few
 * entries of the same day without a row (missing_in_settlement), up to `ledgerEntries`: so ≥ 99 % of
 * the items match and the coverage query has work to do too.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { S3Event } from 'aws-lambda';
import { LocalAlerts } from '../functions/adapters/alerts.ts';
import {
  createDocumentClient,
  createDynamoClient,
  createS3Client,
} from '../functions/adapters/aws-clients.ts';
import type { LedgerEntry } from '../functions/core/ledger.ts';
import { createHandler } from '../functions/reconcile/app.ts';
import { defaultSettings, functions, resourceEnvVars } from '../lib/topology.ts';
import { ensureBucket, ensureTables, sandboxTableNames } from '../sandbox/resources.ts';
import { encodeS3EventKey } from '../sandbox/s3.ts';
import { pool } from '../sandbox/simulator.ts';
import { generatedStripeLedger } from '../test/fixtures/settlement/stripe-generator.ts';
import { countingClient, formatCounts } from './dynamo-counter.ts';

export interface ReconcileHandlerBench {
  rows: number;
  ledgerEntries: number;
  seconds: number;
  dynamoRequests: number;
  /** The same requests by operation and table (`BatchGetItem payments`). */
  dynamoRequestsByOperation: Record<string, number>;
  readUnits: number;
  /** Matched items / items that are neither ignored nor pending (CONTRACT §5 categories). */
  matchedShare: number;
  /** The goal: DynamoDB requests ≤ rows / 90. */
  requestBudget: number;
}

/** Keys of the generated file's transaction rows (see test/fixtures/settlement/stripe-generator.ts). */
function transactionKeys(rows: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < rows; i++) {
    if (i % 1000 === 999) continue; // payout: no ledger entry
    keys.push(i % 50 === 49 ? `stripe#re_${i}#refund` : `stripe#pi_${i}#payment`);
  }
  return keys;
}

export async function benchReconcileHandler(
  endpoints: { dynamodb: string; s3: string },
  file: string,
  rows: number,
  ledgerEntries: number,
  log: (s: string) => void,
): Promise<ReconcileHandlerBench> {
  const suffix = `-bench-${randomBytes(3).toString('hex')}`;
  const tables = sandboxTableNames(suffix);
  const bucket = `settlements${suffix}`;
  const seedClient = createDynamoClient({ DYNAMODB_ENDPOINT: endpoints.dynamodb });
  const s3 = createS3Client({ S3_ENDPOINT: endpoints.s3 });
  await Promise.all([ensureTables(seedClient, tables), ensureBucket(s3, bucket)]);

  // The ledger: the same entries the in-memory bench synthesises, written to DynamoDB Local.
  const synthesise = generatedStripeLedger();
  const entries: LedgerEntry[] = [...(await synthesise.getByKeys(transactionKeys(rows)))];
  for (let i = 0; entries.length < ledgerEntries; i++) {
    const [template] = await synthesise.getByKeys([`stripe#pi_${rows + i}#payment`]);
    entries.push(template!);
  }
  const doc = createDocumentClient(seedClient);
  const batches: LedgerEntry[][] = [];
  for (let i = 0; i < entries.length; i += 25) batches.push(entries.slice(i, i + 25));
  const t0 = performance.now();
  await pool(batches, 8, async (batch) => {
    let pending: Record<string, unknown>[] = batch.map((Item) => ({ PutRequest: { Item } }));
    while (pending.length) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tables.payments]: pending } }));
      pending = (out.UnprocessedItems?.[tables.payments] ?? []) as Record<string, unknown>[];
    }
  });
  log(
    `reconcileHandler: ${entries.length.toLocaleString('en')} ledger entries written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const key = `incoming/stripe/${path.basename(file)}`;
  const put = await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: createReadStream(file),
      ContentLength: statSync(file).size,
    }),
  );

  const def = functions.reconcile!;
  const env = {
    ...defaultSettings,
    ...def.environment,
    ...resourceEnvVars(def, { table: (t) => tables[t], bucket }),
    AWS_REGION: 'us-east-1',
    DYNAMODB_ENDPOINT: endpoints.dynamodb,
    S3_ENDPOINT: endpoints.s3,
    ALERT_SINK: 'local',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
  const byName = new Map(Object.entries(tables).map(([logical, physical]) => [physical, logical]));
  const { client, counters } = countingClient(endpoints.dynamodb, (n) => byName.get(n) ?? n);
  const handler = createHandler(env, {
    dynamo: client,
    alerts: new LocalAlerts(),
    now: () => new Date('2026-11-26T00:00:00.000Z'),
  });
  const event = {
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: bucket },
          object: { key: encodeS3EventKey(key), ...(put.VersionId ? { versionId: put.VersionId } : {}) },
        },
      },
    ],
  } as unknown as S3Event;

  counters.requests = 0;
  counters.readUnits = 0;
  counters.byOperation = {};
  const t1 = performance.now();
  const [run] = await handler(event);
  const seconds = (performance.now() - t1) / 1000;
  if (run?.outcome !== 'reported') throw new Error(`reconcileHandler: ${JSON.stringify(run)}`);
  const summary = JSON.parse(
    await (
      await s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: `${run.reportPrefix}summary.json`,
        }),
      )
    ).Body!.transformToString(),
  ) as { rows: { total: number }; counts: Record<string, number> };
  const { ignored = 0, pending_settlement = 0, matched = 0 } = summary.counts;
  const considered = Object.values(summary.counts).reduce((a, b) => a + b, 0) - ignored - pending_settlement;
  const out: ReconcileHandlerBench = {
    rows: summary.rows.total,
    ledgerEntries: entries.length,
    seconds: Math.round(seconds * 1000) / 1000,
    dynamoRequests: counters.requests,
    dynamoRequestsByOperation: counters.byOperation,
    readUnits: Math.round(counters.readUnits * 10) / 10,
    matchedShare: Math.round((matched / Math.max(1, considered)) * 10000) / 10000,
    requestBudget: Math.floor(rows / 90),
  };
  log(
    `reconcileHandler: ${out.rows.toLocaleString('en')} rows in ${out.seconds.toFixed(2)} s, ${out.dynamoRequests} DynamoDB requests (budget ${out.requestBudget}), ${out.readUnits} read units, ${(out.matchedShare * 100).toFixed(2)} % matched`,
  );
  log(`reconcileHandler: requests by operation: ${formatCounts(out.dynamoRequestsByOperation)}`);
  client.destroy();
  seedClient.destroy();
  s3.destroy();
  return out;
}
