/**
 * How the sandbox's IAM proxy breaks a call into the authorisations IAM evaluates (AWS Service
 * Authorization Reference for DynamoDB and Amazon S3): per transaction item, per batch table, per index.
 */
import { describe, expect, it } from 'vitest';
import { dynamoAccessRequests, s3AccessRequests } from '../../sandbox/iam-proxy.ts';

describe('dynamoAccessRequests', () => {
  it('a transaction needs each item’s own action on its own table', () => {
    expect(
      dynamoAccessRequests('TransactWriteItems', {
        TransactItems: [
          { Put: { TableName: 'ledger' } },
          { Update: { TableName: 'orders' } },
          { ConditionCheck: { TableName: 'orders' } },
          { Delete: { TableName: 'arn:aws:dynamodb:us-east-1:000000000000:table/locks' } },
        ],
      }),
    ).toEqual([
      { service: 'dynamodb', action: 'PutItem', table: 'ledger' },
      { service: 'dynamodb', action: 'UpdateItem', table: 'orders' },
      { service: 'dynamodb', action: 'ConditionCheckItem', table: 'orders' },
      { service: 'dynamodb', action: 'DeleteItem', table: 'locks' },
    ]);
  });

  it('a batch needs the batch action on every table it names; a query of an index names the index', () => {
    expect(dynamoAccessRequests('BatchGetItem', { RequestItems: { a: {}, b: {} } })).toEqual([
      { service: 'dynamodb', action: 'BatchGetItem', table: 'a' },
      { service: 'dynamodb', action: 'BatchGetItem', table: 'b' },
    ]);
    expect(dynamoAccessRequests('Query', { TableName: 'ledger', IndexName: 'byOrder' })).toEqual([
      { service: 'dynamodb', action: 'Query', table: 'ledger', index: 'byOrder' },
    ]);
    expect(dynamoAccessRequests('ListTables', {})).toEqual([{ service: 'dynamodb', action: 'ListTables' }]);
  });
});

describe('s3AccessRequests', () => {
  const url = (path: string) => new URL(path, 'http://127.0.0.1');
  it('reads are GetObject (GetObjectVersion with a version id), HEAD included; keys are decoded', () => {
    expect(s3AccessRequests('HEAD', url('/settlements/incoming/stripe/a%20b.csv'), {})).toEqual([
      { service: 's3', action: 'GetObject', bucket: 'settlements', key: 'incoming/stripe/a b.csv' },
    ]);
    expect(s3AccessRequests('GET', url('/settlements/incoming/x.csv?versionId=v1'), {})).toEqual([
      { service: 's3', action: 'GetObjectVersion', bucket: 'settlements', key: 'incoming/x.csv' },
    ]);
  });

  it('a copy writes its target and reads its source; bucket-level calls are bucket actions', () => {
    expect(
      s3AccessRequests('PUT', url('/settlements/reports/x'), {
        'x-amz-copy-source': '/settlements/incoming/x',
      }),
    ).toEqual([
      { service: 's3', action: 'PutObject', bucket: 'settlements', key: 'reports/x' },
      { service: 's3', action: 'GetObject', bucket: 'settlements', key: 'incoming/x' },
    ]);
    expect(s3AccessRequests('GET', url('/settlements?list-type=2&prefix=incoming/'), {})).toEqual([
      { service: 's3', action: 'ListBucket', bucket: 'settlements' },
    ]);
    expect(s3AccessRequests('DELETE', url('/settlements/reports/x?uploadId=u'), {})).toEqual([
      { service: 's3', action: 'AbortMultipartUpload', bucket: 'settlements', key: 'reports/x' },
    ]);
  });
});
