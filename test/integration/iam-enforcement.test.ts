/**
 * IAM parity, the sandbox's side: every function's DynamoDB and S3 calls go through the IAM proxy with
 * the function's own key, and a call its topology entry does not declare fails as AWS fails it. The
 * expectation below reads the topology's declarations directly (not the sandbox's grant list), and every
 * call is a real SDK command against DynamoDB Local and s3rver.
 */
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient, createS3Client } from '../../functions/adapters/aws-clients.ts';
import {
  bucket,
  type DynamoAction,
  type FunctionDef,
  functions,
  type TableDef,
  type TableName,
  tables,
} from '../../lib/topology.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';

let r: TestResources;
beforeAll(async () => {
  r = await createTestResources();
});

type Attr = { S: string };
const keyOf = (def: TableDef): Record<string, Attr> => ({
  [def.partitionKey.name]: { S: 'iam-probe' },
  ...(def.sortKey ? { [def.sortKey.name]: { S: 'iam-probe' } } : {}),
});

/** One real command per DynamoDB action a topology entry can declare, plus Scan, which none may. */
function dynamoCall(action: DynamoAction | 'Scan', table: string, def: TableDef) {
  const Key = keyOf(def);
  switch (action) {
    case 'GetItem':
      return new GetItemCommand({ TableName: table, Key });
    case 'BatchGetItem':
      return new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [Key] } } });
    case 'Query':
      return new QueryCommand({
        TableName: table,
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': def.partitionKey.name },
        ExpressionAttributeValues: { ':v': { S: 'iam-probe' } },
      });
    case 'PutItem':
      return new PutItemCommand({ TableName: table, Item: Key });
    case 'UpdateItem':
      return new UpdateItemCommand({
        TableName: table,
        Key,
        UpdateExpression: 'SET probe = :p',
        ExpressionAttributeValues: { ':p': { S: 'x' } },
      });
    case 'DeleteItem':
      return new DeleteItemCommand({ TableName: table, Key });
    case 'ConditionCheckItem':
      return new TransactWriteItemsCommand({
        TransactItems: [
          { ConditionCheck: { TableName: table, Key, ConditionExpression: 'attribute_not_exists(probe)' } },
        ],
      });
    case 'BatchWriteItem':
      return new BatchWriteItemCommand({ RequestItems: { [table]: [{ PutRequest: { Item: Key } }] } });
    case 'Scan':
      return new ScanCommand({ TableName: table, Limit: 1 });
  }
}

const dynamoActions: (DynamoAction | 'Scan')[] = [
  'GetItem',
  'BatchGetItem',
  'Query',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'ConditionCheckItem',
  'BatchWriteItem',
  'Scan',
];

/** `undefined` when the call went through, else the error's name, HTTP status and message. */
async function outcome(client: DynamoDBClient | S3Client, command: unknown) {
  try {
    await (client as DynamoDBClient).send(command as never);
    return undefined;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
}

const clientsOf = (fnId: string) => ({
  dynamo: createDynamoClient(r.envFor(fnId)),
  s3: createS3Client(r.envFor(fnId)),
});

const declaredIndexes = (def: FunctionDef, t: TableName): readonly string[] => def.indexes?.[t] ?? [];

describe('the sandbox enforces each function’s topology permissions (IAM parity)', () => {
  it.each(Object.keys(functions))(
    '%s: DynamoDB calls succeed iff declared, else AccessDeniedException',
    async (fnId) => {
      const def = functions[fnId]!;
      const { dynamo } = clientsOf(fnId);
      const mismatches: string[] = [];
      for (const t of Object.keys(tables) as TableName[]) {
        const tableDef: TableDef = tables[t];
        for (const action of dynamoActions) {
          const declared = (def.tables[t] as readonly string[] | undefined)?.includes(action) ?? false;
          const result = await outcome(dynamo, dynamoCall(action, r.tables[t], tableDef));
          const denied = result?.name === 'AccessDeniedException';
          if (denied === declared)
            mismatches.push(`${action} on ${t}: declared ${declared}, got ${result?.name}`);
          if (denied) expect(result?.status).toBe(400);
        }
        for (const gsi of tableDef.gsis ?? []) {
          const declared = declaredIndexes(def, t).includes(gsi.indexName);
          const result = await outcome(
            dynamo,
            new QueryCommand({
              TableName: r.tables[t],
              IndexName: gsi.indexName,
              KeyConditionExpression: '#k = :v',
              ExpressionAttributeNames: { '#k': gsi.partitionKey.name },
              ExpressionAttributeValues: { ':v': { S: 'iam-probe' } },
            }),
          );
          const denied = result?.name === 'AccessDeniedException';
          if (denied === declared) {
            mismatches.push(
              `Query on ${t}/index/${gsi.indexName}: declared ${declared}, got ${result?.name}`,
            );
          }
        }
      }
      dynamo.destroy();
      expect(mismatches).toEqual([]);
    },
  );

  it.each(Object.keys(functions))(
    '%s: S3 calls succeed iff declared for the key prefix, else 403 AccessDenied',
    async (fnId) => {
      const def = functions[fnId]!;
      const { s3 } = clientsOf(fnId);
      const allowed = (action: string, key: string) =>
        (def.bucket ?? []).some(
          (g) => key.startsWith(g.prefix) && (g.actions as readonly string[]).includes(action),
        );
      const mismatches: string[] = [];
      // Each key exists (written by the test as the account's admin), so an allowed read succeeds.
      const keys = [
        `${bucket.incomingPrefix}stripe/probe.csv`,
        `${bucket.reportsPrefix}stripe/probe/summary.json`,
        'other/probe.txt',
      ];
      for (const key of keys) {
        await r.s3.send(new PutObjectCommand({ Bucket: r.bucket, Key: key, Body: 'probe' }));
        const calls: [string, unknown][] = [
          ['GetObject', new GetObjectCommand({ Bucket: r.bucket, Key: key })],
          ['PutObject', new PutObjectCommand({ Bucket: r.bucket, Key: key, Body: 'probe' })],
          ['DeleteObject', new DeleteObjectCommand({ Bucket: r.bucket, Key: `${key}.none` })],
        ];
        for (const [action, command] of calls) {
          const result = await outcome(s3, command);
          const declared = allowed(action, key);
          const denied = result?.name === 'AccessDenied';
          if (denied === declared || (declared && result)) {
            mismatches.push(`${action} ${key}: declared ${declared}, got ${result?.name ?? 'ok'}`);
          }
          if (denied) expect(result?.status).toBe(403);
        }
      }
      const list = await outcome(s3, new ListObjectsV2Command({ Bucket: r.bucket, Prefix: 'incoming/' }));
      if (list?.name !== 'AccessDenied') mismatches.push(`ListBucket: not refused (${list?.name ?? 'ok'})`);
      s3.destroy();
      expect(mismatches).toEqual([]);
    },
  );

  /** A Query of the ledger's byOrder index: callbacks may, the health function may not. */
  const queryLedgerByOrder = () =>
    new QueryCommand({
      TableName: r.tables.payments,
      IndexName: 'byOrder',
      KeyConditionExpression: 'orderId = :o',
      ExpressionAttributeValues: { ':o': { S: 'o-1' } },
    });

  it('answers with AWS’s AccessDeniedException: HTTP 400, the role, the action and the index ARN', async () => {
    const { dynamo } = clientsOf('health');
    const result = await outcome(dynamo, queryLedgerByOrder());
    expect(result).toEqual({
      name: 'AccessDeniedException',
      status: 400,
      message: `User: arn:aws:sts::000000000000:assumed-role/health-role/health is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${r.tables.payments}/index/byOrder because no identity-based policy allows the dynamodb:Query action`,
    });
    expect(r.iam.denials.at(-1)).toMatchObject({ functionId: 'health', action: 'dynamodb:Query' });
    dynamo.destroy();
  });

  it('checks each item of a transaction: one undeclared item refuses the whole call, nothing written', async () => {
    // The orders function may write orders but not the ledger.
    const { dynamo } = clientsOf('orders');
    const result = await outcome(
      dynamo,
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: r.tables.orders, Item: { pk: { S: 'tx-probe' }, sk: { S: 'order' } } } },
          { Put: { TableName: r.tables.payments, Item: { pk: { S: 'tx-probe' } } } },
        ],
      }),
    );
    expect(result?.name).toBe('AccessDeniedException');
    expect(result?.message).toContain(
      `dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${r.tables.payments} `,
    );
    const got = await r.dynamo.send(
      new GetItemCommand({ TableName: r.tables.orders, Key: { pk: { S: 'tx-probe' }, sk: { S: 'order' } } }),
    );
    expect(got.Item).toBeUndefined();
    dynamo.destroy();
  });

  it('refuses another deployment’s table and unknown keys, as another account’s resources are refused', async () => {
    const { dynamo } = clientsOf('orders');
    const foreign = await outcome(
      dynamo,
      new GetItemCommand({
        TableName: tables.orders.sandboxName,
        Key: { pk: { S: 'x' }, sk: { S: 'order' } },
      }),
    );
    expect(foreign?.name).toBe('AccessDeniedException');
    const stranger = createDynamoClient({
      DYNAMODB_ENDPOINT: r.iam.dynamodbEndpoint,
      AWS_ACCESS_KEY_ID: 'SOMEONEELSE',
      AWS_SECRET_ACCESS_KEY: 'x',
    });
    expect(
      (
        await outcome(
          stranger,
          new GetItemCommand({ TableName: r.tables.orders, Key: { pk: { S: 'x' }, sk: { S: 'order' } } }),
        )
      )?.name,
    ).toBe('UnrecognizedClientException');
    stranger.destroy();
    dynamo.destroy();
  });

  it('regression: the callback functions may query the ledger by order (Alipay refunds need byOrder)', async () => {
    // Found by this enforcement: the Alipay cumulative-refund test answered 500 with
    // `…assumed-role/callbackAlipay-role/callbackAlipay is not authorized to perform: dynamodb:Query on
    // resource: …table/daigou-payments-…/index/byOrder`; in AWS every Alipay refund would have failed.
    const { dynamo } = clientsOf('callbackAlipay');
    const result = await outcome(dynamo, queryLedgerByOrder());
    expect(result).toBeUndefined();
    dynamo.destroy();
  });
});
