import { beforeAll, describe, expect, it } from 'vitest';
import { bucket, type TableName, tables } from '../../lib/topology.ts';
import { type Built, buildStack, logicalId, resourcesOfType } from './build-stack.ts';

let built: Built;
beforeAll(() => {
  built = buildStack();
}, 120_000);

describe('tables', () => {
  it('creates exactly the topology tables', () => {
    built.template.resourceCountIs('AWS::DynamoDB::Table', Object.keys(tables).length);
  });

  it.each(Object.keys(tables) as TableName[])(
    '%s: on-demand, PITR, encrypted, retained, protected',
    (name) => {
      const id = logicalId(built.stack.tables[name].table);
      const resource = built.json.Resources[id]!;
      expect(resource.DeletionPolicy).toBe('Retain');
      expect(resource.UpdateReplacePolicy).toBe('Retain');
      expect(resource.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      });
      // AWS-managed KMS key (alias/aws/dynamodb): SSE enabled, no customer key named.
      expect(resource.Properties?.SSESpecification).toEqual({ SSEEnabled: true });
    },
  );

  it.each(Object.keys(tables) as TableName[])('%s: keys as in the topology', (name) => {
    const def = tables[name];
    const props = built.json.Resources[logicalId(built.stack.tables[name].table)]!.Properties!;
    const keys = [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      ...('sortKey' in def && def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' }] : []),
    ];
    expect(props.KeySchema).toEqual(keys);
  });

  it('idempotency records expire through TTL; other tables keep their items', () => {
    const ttl = (name: TableName) =>
      built.json.Resources[logicalId(built.stack.tables[name].table)]!.Properties!.TimeToLiveSpecification;
    expect(ttl('idempotency')).toEqual({ AttributeName: 'expiration', Enabled: true });
    for (const name of ['orders', 'payments', 'fxRates', 'reconciliations'] as const) {
      expect(ttl(name)).toBeUndefined();
    }
  });

  it('GSIs match the topology, with INCLUDE projections where listed', () => {
    const gsisOf = (name: TableName) =>
      built.json.Resources[logicalId(built.stack.tables[name].table)]!.Properties!.GlobalSecondaryIndexes;
    expect(gsisOf('orders')).toEqual([
      {
        IndexName: 'byBufferCurrency',
        KeySchema: [
          { AttributeName: 'bufferCurrency', KeyType: 'HASH' },
          { AttributeName: 'pk', KeyType: 'RANGE' },
        ],
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: ['sk', 'baseAmountMinor', 'fxDifferenceMinor', 'status'],
        },
      },
    ]);
    expect(gsisOf('payments')).toEqual([
      {
        IndexName: 'byGatewayDay',
        KeySchema: [
          { AttributeName: 'gatewayDay', KeyType: 'HASH' },
          { AttributeName: 'receivedAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: 'byOrder',
        KeySchema: [
          { AttributeName: 'orderId', KeyType: 'HASH' },
          { AttributeName: 'receivedAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
    for (const name of ['idempotency', 'fxRates', 'reconciliations'] as const) {
      expect(gsisOf(name)).toBeUndefined();
    }
  });
});

describe('settlements bucket', () => {
  const props = () => built.json.Resources[logicalId(built.stack.settlements.bucket)]!;

  it('blocks public access, encrypts, versions, is retained', () => {
    const bucketResource = props();
    expect(bucketResource.DeletionPolicy).toBe('Retain');
    expect(bucketResource.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('removes the parts of an exceptions.csv upload a run never completed', () => {
    expect((props().Properties!.LifecycleConfiguration as { Rules: unknown[] }).Rules).toContainEqual(
      expect.objectContaining({
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Status: 'Enabled',
      }),
    );
  });

  it('writes server access logs to the separate logs bucket', () => {
    expect(props().Properties!.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logicalId(built.stack.settlements.logsBucket) },
      LogFilePrefix: 'settlements/',
    });
    const logs = built.json.Resources[logicalId(built.stack.settlements.logsBucket)]!;
    expect(logs.DeletionPolicy).toBe('Retain');
    expect(logs.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      // Access-log delivery requires SSE-S3 on the destination.
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });

  it.each([
    ['settlements', () => built.stack.settlements.bucket],
    ['access logs', () => built.stack.settlements.logsBucket],
  ])('%s bucket policy denies every request without TLS', (_name, get) => {
    const bucketId = logicalId(get());
    const [, policy] = resourcesOfType(built.json, 'AWS::S3::BucketPolicy').find(
      ([, p]) => (p.Properties!.Bucket as { Ref: string }).Ref === bucketId,
    )!;
    expect((policy.Properties!.PolicyDocument as { Statement: unknown[] }).Statement).toContainEqual({
      Action: 's3:*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Resource: [
        { 'Fn::GetAtt': [bucketId, 'Arn'] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
      ],
    });
  });

  it('only S3 log delivery for this bucket may write the access logs', () => {
    const logsId = logicalId(built.stack.settlements.logsBucket);
    const [, policy] = resourcesOfType(built.json, 'AWS::S3::BucketPolicy').find(
      ([, p]) => (p.Properties!.Bucket as { Ref: string }).Ref === logsId,
    )!;
    expect((policy.Properties!.PolicyDocument as { Statement: unknown[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Action: 's3:PutObject',
        Condition: {
          ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(built.stack.settlements.bucket), 'Arn'] } },
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        },
      }),
    );
  });

  it('new objects under incoming/ invoke reconcile', () => {
    built.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: logicalId(built.stack.settlements.bucket) },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: bucket.incomingPrefix }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [logicalId(built.stack.functions.reconcile!.fn), 'Arn'] },
          },
        ],
      },
    });
    expect(bucket.incomingPrefix).toBe('incoming/');
    built.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [logicalId(built.stack.functions.reconcile!.fn), 'Arn'] },
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::GetAtt': [logicalId(built.stack.settlements.bucket), 'Arn'] },
    });
  });
});
