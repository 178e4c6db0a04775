/**
 * Per-test-file resources on the shared DynamoDB Local and s3rver: tables named with a unique suffix,
 * created from the topology exactly as the sandbox creates them, and the environment a function would get.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import {
  createDocumentClient,
  createDynamoClient,
  createS3Client,
} from '../../functions/adapters/aws-clients.ts';
import {
  bucket,
  defaultSettings,
  type FunctionDef,
  functions,
  resourceEnvVars,
  type TableName,
} from '../../lib/topology.ts';
import { SandboxIam } from '../../sandbox/iam.ts';
import { type IamProxy, startIamProxy } from '../../sandbox/iam-proxy.ts';
import { ensureBucket, ensureTables, sandboxTableNames } from '../../sandbox/resources.ts';

export interface TestResources {
  readonly dynamodbEndpoint: string;
  readonly s3Endpoint: string;
  readonly tables: Record<TableName, string>;
  readonly bucket: string;
  readonly dynamo: ReturnType<typeof createDynamoClient>;
  readonly doc: ReturnType<typeof createDocumentClient>;
  readonly s3: ReturnType<typeof createS3Client>;
  /** The IAM proxy the functions' environments point at (its `denials` show what was refused). */
  readonly iam: IamProxy;
  /**
   * The environment the named topology function gets, pointed at these resources through the IAM proxy
   * with the function's own key: a call its topology entry does not declare fails as in AWS.
   */
  envFor(functionName: string, extra?: Record<string, string>): Record<string, string | undefined>;
}

export async function createTestResources(): Promise<TestResources> {
  const dynamodbEndpoint = inject('dynamodbEndpoint');
  const s3Endpoint = inject('s3Endpoint');
  const suffix = `-${randomBytes(4).toString('hex')}`;
  const tables = sandboxTableNames(suffix);
  const bucketName = `${bucket.sandboxName}${suffix}`;
  const dynamo = createDynamoClient({ DYNAMODB_ENDPOINT: dynamodbEndpoint });
  const s3 = createS3Client({ S3_ENDPOINT: s3Endpoint });
  await Promise.all([ensureTables(dynamo, tables), ensureBucket(s3, bucketName)]);
  const sandboxIam = new SandboxIam({ region: 'us-east-1', tables, bucket: bucketName });
  const iam = await startIamProxy({ iam: sandboxIam, dynamodb: dynamodbEndpoint, s3: s3Endpoint });
  return {
    dynamodbEndpoint,
    s3Endpoint,
    tables,
    bucket: bucketName,
    dynamo,
    doc: createDocumentClient(dynamo),
    s3,
    iam,
    envFor(functionName, extra = {}) {
      const def: FunctionDef | undefined = functions[functionName];
      if (!def) throw new Error(`no function ${functionName}`);
      return {
        AWS_REGION: 'us-east-1',
        DYNAMODB_ENDPOINT: iam.dynamodbEndpoint,
        S3_ENDPOINT: iam.s3Endpoint,
        ...sandboxIam.credentialsOf(functionName),
        ALERT_SINK: 'local',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        POWERTOOLS_METRICS_DISABLED: 'true',
        ...defaultSettings,
        // As in the sandbox: the test FX providers are plain http on 127.0.0.1.
        FX_PROVIDER_ALLOW_LOOPBACK_HTTP: 'true',
        ...def.environment,
        ...resourceEnvVars(def, { table: (t) => tables[t], bucket: bucketName }),
        ...extra,
      };
    },
  };
}
