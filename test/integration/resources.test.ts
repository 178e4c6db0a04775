import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { tables } from '../../lib/topology.ts';
import { createTestResources } from '../support/resources.ts';

describe('tables and bucket created from the topology', () => {
  it('creates every table with its keys, GSIs and TTL on DynamoDB Local', async () => {
    const r = await createTestResources();
    for (const [name, def] of Object.entries(tables)) {
      const { Table } = await r.dynamo.send(
        new DescribeTableCommand({ TableName: r.tables[name as keyof typeof tables] }),
      );
      expect(Table?.KeySchema?.[0]).toEqual({ AttributeName: def.partitionKey.name, KeyType: 'HASH' });
      const gsiNames = (Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName).sort();
      expect(gsiNames).toEqual(('gsis' in def ? def.gsis.map((g) => g.indexName) : []).sort());
      if ('ttlAttribute' in def) {
        const ttl = await r.dynamo.send(
          new DescribeTimeToLiveCommand({ TableName: r.tables[name as keyof typeof tables] }),
        );
        expect(ttl.TimeToLiveDescription?.AttributeName).toBe(def.ttlAttribute);
      }
    }
  });

  it('round-trips bytes through s3rver unchanged (checksum settings)', async () => {
    const r = await createTestResources();
    const body = Buffer.from('transaction_id,type\n"a,b",charge\n\u00e9\u4e2d\n', 'utf8');
    await r.s3.send(new PutObjectCommand({ Bucket: r.bucket, Key: 'incoming/x/a b.csv', Body: body }));
    const got = await r.s3.send(new GetObjectCommand({ Bucket: r.bucket, Key: 'incoming/x/a b.csv' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
  });
});
