/**
 * The sandbox's asynchronous paths: an object put under incoming/ reaches the reconcile function the
 * topology names (key URL-encoded as AWS sends it), and a failing invocation is retried, dead-lettered
 * and, once its cause is fixed, replayed.
 */
import { DeleteTableCommand, waitUntilTableNotExists } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient, createS3Client } from '../../functions/adapters/aws-clients.ts';
import { type Sandbox, startSandbox } from '../../sandbox/main.ts';
import { freePort } from '../../sandbox/ports.ts';
import { replayInSandbox } from '../../sandbox/replay.ts';
import { ensureTables } from '../../sandbox/resources.ts';
import { STRIPE_HEADER, stripeCsv } from '../fixtures/settlement/builders.ts';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    port: await freePort(),
    dynamodbPort: await freePort(),
    s3Port: await freePort(),
    inMemory: true,
    asyncRetryBackoffMs: 50,
    log: () => {},
  });
});

afterAll(async () => {
  await sandbox?.stop();
});

async function summaryOf(key: string) {
  const s3 = createS3Client({ S3_ENDPOINT: sandbox.endpoints.s3 });
  const res = await s3.send(new GetObjectCommand({ Bucket: sandbox.endpoints.bucket, Key: key }));
  return JSON.parse(await res.Body!.transformToString());
}

async function upload(key: string, body: string) {
  const s3 = createS3Client({ S3_ENDPOINT: sandbox.endpoints.s3 });
  await s3.send(new PutObjectCommand({ Bucket: sandbox.endpoints.bucket, Key: key, Body: body }));
  // The notification is dispatched when s3rver has stored the object; wait for the invocation.
  await new Promise((r) => setTimeout(r, 100));
  await sandbox.idle();
}

describe('sandbox S3 trigger', () => {
  it('an object under incoming/ reaches the reconcile function, key decoded from its AWS encoding', async () => {
    const csv = stripeCsv([
      {
        kind: 'payment',
        transactionId: 'pi_e2e',
        orderId: 'O-1',
        currency: 'USD',
        grossMinor: 1000,
        feeMinor: 59,
        at: '2026-11-23T01:00:00.000Z',
      },
    ]);
    await upload('incoming/stripe/settlement 2026-11-23 (1).csv', csv);
    const summary = await summaryOf('reports/stripe/settlement 2026-11-23 (1)/summary.json');
    expect(summary.source.key).toBe('incoming/stripe/settlement 2026-11-23 (1).csv');
    expect(summary.counts.missing_in_ledger).toBe(1);
  });

  it('a failing reconciliation is retried, dead-lettered, and replayed after the fix', async () => {
    const dynamo = createDynamoClient({ DYNAMODB_ENDPOINT: sandbox.endpoints.dynamodb });
    const table = sandbox.endpoints.tables.reconciliations;
    // Break it: the reconciliations table is gone.
    await dynamo.send(new DeleteTableCommand({ TableName: table }));
    await waitUntilTableNotExists({ client: dynamo, maxWaitTime: 30 }, { TableName: table });
    const csv = `${STRIPE_HEADER}\n${
      stripeCsv([
        {
          kind: 'payment',
          transactionId: 'pi_dlq',
          currency: 'USD',
          grossMinor: 500,
          feeMinor: 45,
          at: '2026-11-23T02:00:00.000Z',
        },
      ]).split('\n')[1]
    }\n`;
    await upload('incoming/stripe/dlq.csv', csv);
    const pending = await replayInSandbox({
      api: sandbox.endpoints.api,
      function: 'reconcile',
      dryRun: true,
    });
    expect(pending).toHaveLength(1);

    // Fix it, then replay.
    await ensureTables(dynamo, sandbox.endpoints.tables);
    const replayed = await replayInSandbox({ api: sandbox.endpoints.api, function: 'reconcile' });
    expect(replayed).toEqual([expect.objectContaining({ function: 'reconcile', ok: true })]);
    expect((await summaryOf('reports/stripe/dlq/summary.json')).rows.total).toBe(1);
    expect(await replayInSandbox({ api: sandbox.endpoints.api, dryRun: true })).toEqual([]);
    dynamo.destroy();
  });
});
