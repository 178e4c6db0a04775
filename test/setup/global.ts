/**
 * Starts ONE DynamoDB Local and ONE s3rver for the whole integration run (Java's start-up costs
 * seconds), on free ports, and hands their endpoints to the test files. Test files isolate themselves
 * by creating tables with their own suffix (test/support/resources.ts).
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../sandbox/dynamodb.ts';
import { freePort } from '../../sandbox/ports.ts';
import { startS3Local } from '../../sandbox/s3.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    s3Endpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const [db, s3] = await Promise.all([
    startDynamoDbLocal({ port: await freePort() }),
    startS3Local({ port: await freePort(), bucket: 'settlements' }),
  ]);
  project.provide('dynamodbEndpoint', db.endpoint);
  project.provide('s3Endpoint', s3.endpoint);
  return async () => {
    await Promise.all([db.stop(), s3.stop()]);
  };
}
