/**
 * The reconcile Lambda on DynamoDB Local and s3rver: reports in S3, the summary in the
 * reconciliations table, one report and one alert however often S3 notifies, a fresh report for new
 * content, bad files as clear statuses, and a 100,000-row file streamed through the real handler.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import type { LedgerEntry } from '../../functions/core/ledger.ts';
import { createHandler } from '../../functions/reconcile/app.ts';
import { type FixtureRow, STRIPE_HEADER, stripeCsv } from '../fixtures/settlement/builders.ts';
import { ledgerEntry } from '../fixtures/settlement/ledger.ts';
import { generatedStripeLine, writeStripeFile } from '../fixtures/settlement/stripe-generator.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { objectCreatedEvent } from '../support/s3-events.ts';

let r: TestResources;
let handler: ReturnType<typeof createHandler>;
const NOW = new Date('2026-11-26T09:00:00.000Z');

beforeAll(async () => {
  r = await createTestResources();
  handler = createHandler(r.envFor('reconcile'), { now: () => NOW });
});

function truncatedStripe(): string {
  const csv = stripeCsv([
    {
      kind: 'payment',
      transactionId: 'pi_t1',
      currency: 'USD',
      grossMinor: 100,
      feeMinor: 3,
      at: '2026-11-23T01:00:00.000Z',
    },
    {
      kind: 'payment',
      transactionId: 'pi_t2',
      currency: 'USD',
      grossMinor: 250,
      feeMinor: 4,
      at: '2026-11-23T02:00:00.000Z',
    },
  ]);
  return csv.slice(0, csv.lastIndexOf(',usd,2.50') + ',usd,2.'.length);
}

const s3Event = (key: string) => objectCreatedEvent(r.bucket, key);

async function put(key: string, body: string | Buffer | NodeJS.ReadableStream, length?: number) {
  await r.s3.send(
    new PutObjectCommand({
      Bucket: r.bucket,
      Key: key,
      Body: body as never,
      ...(length === undefined ? {} : { ContentLength: length }),
    }),
  );
}

async function read(key: string): Promise<string> {
  const res = await r.s3.send(new GetObjectCommand({ Bucket: r.bucket, Key: key }));
  return await res.Body!.transformToString();
}

async function seed(entries: LedgerEntry[]) {
  for (let i = 0; i < entries.length; i += 25) {
    await r.doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [r.tables.payments]: entries.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
        },
      }),
    );
  }
}

describe('reconcile handler', () => {
  it('writes the three reports and the summary record; a re-notification writes nothing new', async () => {
    const day = '2026-11-23';
    const at = (h: number) => `${day}T${String(h).padStart(2, '0')}:00:00.000Z`;
    await seed([
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_ok',
        amountMinor: 1000,
        currency: 'USD',
        receivedAt: at(1),
        orderId: 'O-1',
      }),
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_off',
        amountMinor: 2000,
        currency: 'USD',
        receivedAt: at(2),
        orderId: 'O-2',
      }),
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_gone',
        amountMinor: 3000,
        currency: 'USD',
        receivedAt: at(3),
        orderId: 'O-3',
      }),
    ]);
    const rows: FixtureRow[] = [
      {
        kind: 'payment',
        transactionId: 'pi_ok',
        orderId: 'O-1',
        currency: 'USD',
        grossMinor: 1000,
        feeMinor: 59,
        at: at(1),
      },
      {
        kind: 'payment',
        transactionId: 'pi_off',
        orderId: 'O-2',
        currency: 'USD',
        grossMinor: 2100,
        feeMinor: 91,
        at: at(2),
      },
      {
        kind: 'payment',
        transactionId: 'pi_new',
        orderId: 'O-9',
        currency: 'USD',
        grossMinor: 500,
        feeMinor: 45,
        at: at(4),
      },
    ];
    const key = 'incoming/stripe/balance report 2026-11-23.csv';
    await put(key, stripeCsv(rows));
    const alertsBefore = localAlerts.length;

    const [run] = await handler(s3Event(key));
    expect(run).toMatchObject({
      outcome: 'reported',
      status: 'complete',
      reportPrefix: 'reports/stripe/balance report 2026-11-23/',
    });
    const summary = JSON.parse(await read(`${run!.reportPrefix}summary.json`));
    expect(summary).toMatchObject({
      schemaVersion: 1,
      gateway: 'stripe',
      status: 'complete',
      source: { bucket: r.bucket, key, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      rows: { total: 3, parsed: 3, rejected: 0 },
      counts: { matched: 1, amount_mismatch: 1, missing_in_ledger: 1, missing_in_settlement: 1 },
      drift: { threshold: 0.005, exceeded: true },
      alert: { raised: true },
    });
    expect(summary.totals.USD).toMatchObject({
      ledgerGrossMinor: 6000,
      settlementGrossMinor: 3600,
      differenceMinor: 2400,
    });
    const csv = await read(`${run!.reportPrefix}exceptions.csv`);
    expect(csv.split(/\r?\n/)[0]).toBe(
      'category,gateway,transaction_id,order_id,currency,settlement_amount_minor,ledger_amount_minor,fee_minor,expected_fee_minor,settled_at,ledger_at,note',
    );
    expect(csv).toContain('missing_in_ledger');
    expect(await read(`${run!.reportPrefix}report.html`)).toContain('<svg');
    const record = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.reconciliations,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `${r.bucket}/${key}` },
      }),
    );
    expect(record.Items).toHaveLength(1);
    expect(record.Items![0]).toMatchObject({ state: 'done', summary: { status: 'complete' } });
    expect(localAlerts.slice(alertsBefore).map((a) => a.detailType)).toEqual([
      'Reconciliation Drift Exceeded',
    ]);

    // S3 notifies at least once: the same object again → no new report, no second alert.
    const [again] = await handler(s3Event(key));
    expect(again!.outcome).toBe('already_reported');
    expect(localAlerts.length).toBe(alertsBefore + 1);

    // New content under the same key (the fixed file): a fresh report.
    await put(key, stripeCsv(rows.slice(0, 1)));
    const [fresh] = await handler(s3Event(key));
    expect(fresh!.outcome).toBe('reported');
    const summary2 = JSON.parse(await read(`${run!.reportPrefix}summary.json`));
    expect(summary2.source.sha256).not.toBe(summary.source.sha256);
    expect(summary2.rows.total).toBe(1);
  });

  it('reports bad files with a clear status instead of failing', async () => {
    const cases: [string, string, string][] = [
      ['incoming/stripe/empty.csv', '', 'failed'],
      // A header alone has no coverage to compare the ledger with.
      ['incoming/stripe/header-only.csv', `${STRIPE_HEADER}\n`, 'failed'],
      [
        'incoming/paypal/not-stl.csv',
        'transaction_id,type,order_id,gross,fee,net,currency,settled_at\nx,charge,o,1.00,0.00,1.00,USD,2026-11-23T00:00:00Z\n',
        'failed',
      ],
      // Cut inside the gross amount of the last row ("…,usd,1.": no newline, not a number).
      ['incoming/stripe/truncated.csv', truncatedStripe(), 'incomplete'],
    ];
    for (const [key, body, status] of cases) {
      await put(key, body);
      const [run] = await handler(s3Event(key));
      expect(run, key).toMatchObject({ outcome: 'reported', status });
      const summary = JSON.parse(await read(`${run!.reportPrefix}summary.json`));
      expect(summary.status, key).toBe(status);
      if (status !== 'complete') expect(summary.reasons.length).toBeGreaterThan(0);
    }
    const truncated = JSON.parse(await read('reports/stripe/truncated/summary.json'));
    expect(truncated.rows.rejected).toBe(1);
    expect(await read('reports/stripe/truncated/exceptions.csv')).toMatch(/"rejected","stripe",.*line 3/);
  });

  it('reports a 50 MB file that is not a settlement file as failed, reading it as a stream', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'daigou-recon-'));
    const file = path.join(dir, 'garbage.bin');
    const chunk = randomBytes(1 << 20);
    writeFileSync(file, Buffer.concat(Array.from({ length: 50 }, () => chunk)));
    const key = 'incoming/stripe/export-50mb.csv';
    await put(key, createReadStream(file), statSync(file).size);
    const [run] = await handler(s3Event(key));
    const summary = JSON.parse(await read(`${run!.reportPrefix}summary.json`));
    expect(summary.status).toBe('failed');
    expect(summary.reasons.join(' ')).toMatch(/column|header|encoding|not/i);
    // The content identity still names the whole object, so a corrected re-upload is a new report.
    expect(summary.source.sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('streams a 100,000-row file through the real handler', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'daigou-recon-'));
    const file = path.join(dir, 'big.csv');
    await writeStripeFile(file, 100_000);
    // A slice of the ledger: the first 2,000 payments were received; the rest are missing in the ledger.
    const entries: LedgerEntry[] = [];
    for (let i = 0; i < 2000; i++) {
      const line = generatedStripeLine(i).split(',');
      if (line[8] !== 'charge') continue;
      entries.push(
        ledgerEntry({
          gateway: 'stripe',
          transactionId: `pi_${i}`,
          amountMinor: Math.round(Number(line[5]) * 100),
          currency: 'USD',
          receivedAt: `${line[1]!.replace(' ', 'T')}.000Z`,
          orderId: `O-${i}`,
        }),
      );
    }
    await seed(entries);
    const key = 'incoming/stripe/big-100k.csv';
    await put(key, createReadStream(file), statSync(file).size);
    const [run] = await handler(s3Event(key));
    const summary = JSON.parse(await read(`${run!.reportPrefix}summary.json`));
    expect(summary.rows.total).toBe(100_000);
    expect(summary.rows.rejected).toBe(0);
    expect(summary.counts.ignored).toBe(100);
    expect(summary.counts.matched).toBe(entries.length);
    expect(summary.counts.missing_in_ledger + summary.counts.unmatched_refund + summary.counts.matched).toBe(
      100_000 - 100,
    );
  }, 300_000);
});
