/**
 * The reconcile handler's upload rules on s3rver and DynamoDB Local (CONTRACT §5 "Outputs"): a report
 * prefix belongs to the first key that used it, folders are kept, keys naming no configured gateway
 * or carrying dot segments get an alert and no report; exceptions.csv is streamed as a multipart
 * upload; the drift alert does not depend on storing the summary.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import { createObjectStore } from '../../functions/adapters/s3-objects.ts';
import { ReconciliationStore, StreamedReportFile } from '../../functions/adapters/settlement-reports.ts';
import type { SettlementSummary } from '../../functions/core/settlement/types.ts';
import { createHandler } from '../../functions/reconcile/app.ts';
import { stripeCsv, wechatOnePaymentBill } from '../fixtures/settlement/builders.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { objectCreatedEvent } from '../support/s3-events.ts';

let r: TestResources;
let handler: ReturnType<typeof createHandler>;
const NOW = new Date('2026-11-26T09:00:00.000Z');

beforeAll(async () => {
  r = await createTestResources();
  handler = createHandler(r.envFor('reconcile'), { now: () => NOW });
});

const s3Event = (key: string) => objectCreatedEvent(r.bucket, key);

async function put(key: string, body: string | Buffer) {
  await r.s3.send(new PutObjectCommand({ Bucket: r.bucket, Key: key, Body: body }));
}

async function read(key: string): Promise<string> {
  const res = await r.s3.send(new GetObjectCommand({ Bucket: r.bucket, Key: key }));
  return await res.Body!.transformToString();
}

async function keysUnder(prefix: string): Promise<string[]> {
  const res = await r.s3.send(new ListObjectsV2Command({ Bucket: r.bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

const payment = (id: string, grossMinor: number) => ({
  kind: 'payment' as const,
  transactionId: id,
  currency: 'USD' as const,
  grossMinor,
  feeMinor: 3,
  at: '2026-11-23T01:00:00.000Z',
});

describe('report prefixes', () => {
  it('x.csv and x.csv.gz: the first key owns reports/stripe/x/, the second gets the hash suffix', async () => {
    const drifting = stripeCsv([payment('pi_x1', 100)]);
    await put('incoming/stripe/x.csv', drifting);
    const [first] = await handler(s3Event('incoming/stripe/x.csv'));
    expect(first).toMatchObject({ outcome: 'reported', reportPrefix: 'reports/stripe/x/' });
    const firstSummary = await read('reports/stripe/x/summary.json');

    await put('incoming/stripe/x.csv.gz', gzipSync(Buffer.from(stripeCsv([payment('pi_x2', 200)]))));
    const [second] = await handler(s3Event('incoming/stripe/x.csv.gz'));
    const hash = createHash('sha256').update('incoming/stripe/x.csv.gz').digest('hex').slice(0, 8);
    expect(second).toMatchObject({ outcome: 'reported', reportPrefix: `reports/stripe/x--${hash}/` });
    // The clean file did not overwrite the drifting file's report.
    expect(await read('reports/stripe/x/summary.json')).toBe(firstSummary);
    expect(JSON.parse(await read(`reports/stripe/x--${hash}/summary.json`)).source.key).toBe(
      'incoming/stripe/x.csv.gz',
    );

    // The owner keeps its prefix for new content too.
    await put('incoming/stripe/x.csv', stripeCsv([payment('pi_x3', 300)]));
    const [again] = await handler(s3Event('incoming/stripe/x.csv'));
    expect(again).toMatchObject({ outcome: 'reported', reportPrefix: 'reports/stripe/x/' });
  });

  it('keeps finance folders under reports/{gateway}/', async () => {
    const key = 'incoming/stripe/2026/12/y.csv';
    await put(key, stripeCsv([payment('pi_y1', 100)]));
    const [run] = await handler(s3Event(key));
    expect(run).toMatchObject({ outcome: 'reported', reportPrefix: 'reports/stripe/2026/12/y/' });
    expect(await keysUnder('reports/stripe/2026/12/y/')).toEqual([
      'reports/stripe/2026/12/y/exceptions.csv',
      'reports/stripe/2026/12/y/report.html',
      'reports/stripe/2026/12/y/summary.json',
    ]);
  });

  it.each([
    ['incoming/Stripe/a.csv', /"Stripe" is not a configured gateway/],
    ['incoming/acme/a.csv', /"acme" is not a configured gateway/],
    ['incoming/stripe/../paypal/a.csv', /"\.\." segment/],
    ['incoming/stripe/./a.csv', /"\." segment/],
    ['incoming/stripe//a.csv', /empty segment/],
    ['incoming/stripe/', /empty segment/],
    ['incoming/stripe/..csv', /no report folder/],
    ['incoming/a.csv', /expected incoming\/\{gateway\}\/\{file\}/],
  ])('rejects %s with an alert and writes no report', async (key, reason) => {
    const alertsBefore = localAlerts.length;
    const reportsBefore = await keysUnder('reports/');
    const [run] = await handler(s3Event(key));
    expect(run).toMatchObject({ key, outcome: 'rejected', reason: expect.stringMatching(reason) });
    expect(localAlerts.slice(alertsBefore)).toEqual([
      expect.objectContaining({
        detailType: 'Settlement Upload Rejected',
        detail: expect.objectContaining({ key }),
      }),
    ]);
    expect(await keysUnder('reports/')).toEqual(reportsBefore);
  });
});

describe('exceptions.csv as a multipart upload', () => {
  it('streams parts and completes to the exact text; an aborted upload leaves nothing', async () => {
    // The function's own S3 adapter, through the IAM proxy with reconcile's key: the proxy parses
    // each multipart call and authorises it as AWS would.
    const objects = createObjectStore(r.envFor('reconcile'));
    const file = new StreamedReportFile(
      objects,
      r.bucket,
      'reports/test/parts/exceptions.csv',
      'text/csv',
      5 << 20,
    );
    const line = `"missing_in_ledger","stripe","pi_${'x'.repeat(100)}",,"USD",100,,3,,,,"note"\r\n`;
    const pieces: string[] = [];
    for (let i = 0; i < 120; i++) pieces.push(line.repeat(1000));
    for (const p of pieces) await file.write(p);
    await file.complete();
    const text = await read('reports/test/parts/exceptions.csv');
    expect(text.length).toBe(pieces.join('').length);
    expect(text).toBe(pieces.join(''));

    const aborted = new StreamedReportFile(
      objects,
      r.bucket,
      'reports/test/aborted/exceptions.csv',
      'text/csv',
      5 << 20,
    );
    for (const p of pieces.slice(0, 60)) await aborted.write(p);
    // Two parts are up; whether s3rver can delete them or not (it has no AbortMultipartUpload),
    // no object appears without completing.
    await aborted.abort();
    expect(await keysUnder('reports/test/aborted/')).toEqual([]);
  }, 60_000);
});

describe('the drift alert does not depend on storing the summary', () => {
  it('a summary the table refuses: the alert is raised and the run recorded without it', async () => {
    // DynamoDB refuses an item over 400 KB with this error; summaries are bounded far below it now,
    // so the refusal is simulated on the real table adapter.
    class RefusingStore extends ReconciliationStore {
      override async complete(
        objectId: string,
        sha256: string,
        summary: SettlementSummary | undefined,
        prefix: string,
      ): Promise<void> {
        if (summary) {
          const error = new Error('Item size has exceeded the maximum allowed size');
          error.name = 'ValidationException';
          throw error;
        }
        await super.complete(objectId, sha256, summary, prefix);
      }
    }
    const refusing = createHandler(r.envFor('reconcile'), {
      now: () => NOW,
      reconciliations: new RefusingStore(r.doc, r.tables.reconciliations),
    });
    const key = 'incoming/stripe/refused.csv';
    await put(key, stripeCsv([payment('pi_refused', 100)]));
    const alertsBefore = localAlerts.length;
    const [run] = await refusing(s3Event(key));
    expect(run!.outcome).toBe('reported');
    expect(localAlerts.slice(alertsBefore).map((a) => a.detailType)).toEqual([
      'Reconciliation Drift Exceeded',
    ]);
    const record = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.reconciliations,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `${r.bucket}/${key}` },
      }),
    );
    expect(record.Items).toEqual([expect.objectContaining({ state: 'done', summaryStored: false })]);
    // Recorded: S3's second notification changes nothing and raises nothing.
    const [again] = await refusing(s3Event(key));
    expect(again!.outcome).toBe('already_reported');
    expect(localAlerts.length).toBe(alertsBefore + 1);
  });

  it('a 600 KB value in a WeChat Pay summary row: a small stored summary and the drift alert', async () => {
    const bill = wechatOnePaymentBill('4200000009', 'O-9');
    const lines = bill.split(/\r?\n/);
    lines[3] = `\`${'9'.repeat(600 * 1024)},${lines[3]!.split(',').slice(1).join(',')}`;
    const key = 'incoming/wechatpay/huge-summary.csv';
    await put(key, lines.join('\r\n'));
    const alertsBefore = localAlerts.length;
    const [run] = await handler(s3Event(key));
    expect(run!.outcome).toBe('reported');
    expect(localAlerts.slice(alertsBefore).map((a) => a.detailType)).toEqual([
      'Reconciliation Drift Exceeded',
    ]);
    const summary = await read(`${run!.reportPrefix}summary.json`);
    expect(summary.length).toBeLessThan(16 * 1024);
    const record = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.reconciliations,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `${r.bucket}/${key}` },
      }),
    );
    expect(record.Items).toEqual([expect.objectContaining({ state: 'done', summary: expect.any(Object) })]);
  });
});
