/**
 * Open items through the sandbox, over HTTP and S3 only: a settlement file uploaded to s3rver opens an
 * item, the API lists it, the daily schedule (run on demand with a stand-in clock) alerts once, a person
 * resolves it with its URL-encoded id, and the open-items pages in the bucket follow.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../functions/adapters/aws-clients.ts';
import { type Sandbox, startSandbox } from '../../sandbox/main.ts';
import { freePort } from '../../sandbox/ports.ts';
import { stripeCsv } from '../fixtures/settlement/builders.ts';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    port: await freePort(),
    dynamodbPort: await freePort(),
    s3Port: await freePort(),
    inMemory: true,
    schedules: false,
    asyncRetryBackoffMs: 50,
    log: () => {},
  });
});

afterAll(async () => {
  await sandbox?.stop();
});

const s3 = () => createS3Client({ S3_ENDPOINT: sandbox.endpoints.s3 });

async function getObject(key: string): Promise<string> {
  const res = await s3().send(new GetObjectCommand({ Bucket: sandbox.endpoints.bucket, Key: key }));
  return await res.Body!.transformToString();
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${sandbox.endpoints.api}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('open items in the sandbox', () => {
  it('upload → list → daily aging alert once → resolve → 409, pages regenerated', async () => {
    const at = new Date(Date.now() - 3_600_000).toISOString();
    const csv = stripeCsv([
      { kind: 'payment', transactionId: 'pi_e2e_open', currency: 'USD', grossMinor: 1234, feeMinor: 66, at },
    ]);
    await s3().send(
      new PutObjectCommand({
        Bucket: sandbox.endpoints.bucket,
        Key: 'incoming/stripe/open-e2e.csv',
        Body: csv,
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    await sandbox.idle();

    const id = 'stripe#pi_e2e_open#payment';
    const listed = await api('GET', '/reconciliation/open-items?gateway=stripe');
    expect(listed.status).toBe(200);
    expect((listed.body.items as { id: string; category: string }[]).map((i) => [i.id, i.category])).toEqual([
      [id, 'missing_in_ledger'],
    ]);
    expect(listed.body.totals).toEqual({ USD: { count: 1, amountMinor: 1234 } });
    expect(await getObject('reports/open-items.html')).toContain(id);
    expect(await getObject('reports/stripe/open-e2e/report.html')).toContain('../../open-items.html');

    const later = new Date(Date.now() + 9 * 86_400_000).toISOString();
    const tick1 = await api('POST', '/_sandbox/schedules/open-items-daily', { now: later });
    expect(tick1).toMatchObject({ status: 200, body: { alerted: 1, open: 1 } });
    const tick2 = await api('POST', '/_sandbox/schedules/open-items-daily', { now: later });
    expect(tick2).toMatchObject({ status: 200, body: { alerted: 0 } });
    expect((await api('POST', '/_sandbox/schedules/open-items-daily', { now: 'tomorrow' })).status).toBe(400);
    const alerts = (await api('GET', '/_sandbox/alerts')).body.alerts as {
      detailType: string;
      detail: { id: string };
    }[];
    expect(alerts.filter((a) => a.detailType === 'Open Items Aging').map((a) => a.detail.id)).toEqual([id]);

    const path = `/reconciliation/open-items/${encodeURIComponent(id)}/resolve`;
    const resolved = await api('POST', path, { reason: 'written_off', note: 'below the chase threshold' });
    expect(resolved).toMatchObject({
      status: 200,
      body: { id, state: 'resolved', resolvedBy: 'sandbox', reason: 'written_off' },
    });
    expect(await api('POST', path, { reason: 'other' })).toMatchObject({
      status: 409,
      body: { error: 'not_open' },
    });
    expect((await api('GET', '/reconciliation/open-items')).body.items).toEqual([]);
    expect(await getObject('reports/open-items.html')).toContain('No open items');
  });
});
