/** Creates the topology's tables (with GSIs and TTL) and bucket where they are missing. */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { type TableDef, type TableName, tables } from '../lib/topology.ts';

export function createTableInput(def: TableDef, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, string>();
  const keySchema = (pk: { name: string; type: string }, sk?: { name: string; type: string }) => {
    attributes.set(pk.name, pk.type);
    if (sk) attributes.set(sk.name, sk.type);
    return [
      { AttributeName: pk.name, KeyType: 'HASH' as const },
      ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
    ];
  };
  const KeySchema = keySchema(def.partitionKey, def.sortKey);
  const gsis = (def.gsis ?? []).map((g) => ({
    IndexName: g.indexName,
    KeySchema: keySchema(g.partitionKey, g.sortKey),
    Projection: g.include
      ? { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...g.include] }
      : { ProjectionType: 'ALL' as const },
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema,
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType: AttributeType as 'S' | 'N',
    })),
    ...(gsis.length ? { GlobalSecondaryIndexes: gsis } : {}),
  };
}

/** Table names for a given prefix-free mapping (sandbox names by default). */
export function sandboxTableNames(suffix = ''): Record<TableName, string> {
  return Object.fromEntries(
    (Object.keys(tables) as TableName[]).map((t) => [t, `${tables[t].sandboxName}${suffix}`]),
  ) as Record<TableName, string>;
}

export async function ensureTables(client: DynamoDBClient, names: Record<TableName, string>): Promise<void> {
  await Promise.all(
    (Object.keys(tables) as TableName[]).map(async (t) => {
      const def: TableDef = tables[t];
      const name = names[t];
      try {
        await client.send(new CreateTableCommand(createTableInput(def, name)));
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      await waitUntilTableExists(
        { client, maxWaitTime: 30, minDelay: 0.1, maxDelay: 1 },
        { TableName: name },
      );
      if (def.ttlAttribute) {
        const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
        if (ttl.TimeToLiveDescription?.TimeToLiveStatus !== 'ENABLED') {
          await client.send(
            new UpdateTimeToLiveCommand({
              TableName: name,
              TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
            }),
          );
        }
      }
    }),
  );
}

export async function ensureBucket(client: S3Client, bucketName: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucketName }));
  } catch {
    await client.send(new CreateBucketCommand({ Bucket: bucketName }));
  }
}
