/**
 * AWS SDK clients, created once per container. `DYNAMODB_ENDPOINT` / `S3_ENDPOINT` point them at
 * DynamoDB Local and s3rver in the sandbox and tests; in AWS they are unset.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Env } from '../shared/config.ts';

const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export function createDynamoClient(env: Env = process.env): DynamoDBClient {
  const endpoint = env.DYNAMODB_ENDPOINT;
  return new DynamoDBClient({
    ...(endpoint ? { endpoint, region: env.AWS_REGION ?? 'us-east-1', credentials: localCredentials } : {}),
    // Transient faults surface as 500 retry_later; the gateway retries for days, so keep ours short.
    maxAttempts: 3,
  });
}

export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createS3Client(env: Env = process.env): S3Client {
  const endpoint = env.S3_ENDPOINT;
  return new S3Client({
    ...(endpoint
      ? {
          endpoint,
          region: env.AWS_REGION ?? 'us-east-1',
          forcePathStyle: true,
          // s3rver accepts only this access key.
          credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        }
      : {}),
    // s3rver stores aws-chunked streams corrupted otherwise; harmless against AWS.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
