/**
 * AWS SDK clients, created once per container. `DYNAMODB_ENDPOINT` / `S3_ENDPOINT` point them at
 * DynamoDB Local and s3rver in the sandbox and tests; in AWS they are unset.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Env } from '../shared/config.ts';

/**
 * Against a local endpoint, the function's own keys when it has them (the sandbox gives each function
 * one, as Lambda does, and its IAM proxy authorises by it); else the operator's placeholder.
 */
function localCredentials(env: Env, fallback: string) {
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? fallback,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? fallback,
  };
}

export function createDynamoClient(env: Env = process.env): DynamoDBClient {
  const endpoint = env.DYNAMODB_ENDPOINT;
  return new DynamoDBClient({
    ...(endpoint
      ? { endpoint, region: env.AWS_REGION ?? 'us-east-1', credentials: localCredentials(env, 'local') }
      : {}),
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
          // s3rver accepts only this access key (the sandbox's IAM proxy swaps a function's key for it).
          credentials: localCredentials(env, 'S3RVER'),
        }
      : {}),
    // s3rver stores aws-chunked streams corrupted otherwise; harmless against AWS.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
