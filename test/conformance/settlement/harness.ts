/**
 * Runs a settlement file through the real reconcile handler: the object in s3rver under
 * `incoming/{gateway}/…`, the ledger in DynamoDB Local, the S3 event as AWS sends it. Answers the
 * report files the handler wrote.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerEntry } from '../../../functions/core/ledger.ts';
import type { SettlementSummary } from '../../../functions/core/settlement/types.ts';
import { createHandler } from '../../../functions/reconcile/app.ts';
import { createTestResources, type TestResources } from '../../support/resources.ts';
import { objectCreatedEvent } from '../../support/s3-events.ts';

export interface Report {
  readonly summary: SettlementSummary;
  readonly csv: string;
  readonly html: string;
  /** exceptions.csv as objects keyed by its header. */
  readonly exceptions: Record<string, string>[];
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (line[q + 1] === '"') {
          v += `${line.slice(i, q)}"`;
          i = q + 2;
        } else {
          v += line.slice(i, q);
          i = q + 2;
          break;
        }
      }
      out.push(v);
    } else {
      const c = line.indexOf(',', i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

export class Harness {
  private constructor(
    readonly r: TestResources,
    private readonly now: Date,
  ) {}

  static async create(now: Date): Promise<Harness> {
    return new Harness(await createTestResources(), now);
  }

  async seed(entries: readonly LedgerEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += 25) {
      await this.r.doc.send(
        new BatchWriteCommand({
          RequestItems: {
            [this.r.tables.payments]: entries.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
  }

  /** `env`: extra configuration of the reconcile function (e.g. `STRIPE_REPORT_TIMEZONE`). */
  async reconcile(key: string, body: string | Uint8Array, env: Record<string, string> = {}): Promise<Report> {
    const handler = createHandler(this.r.envFor('reconcile', env), { now: () => this.now });
    await this.r.s3.send(
      new PutObjectCommand({
        Bucket: this.r.bucket,
        Key: key,
        Body: typeof body === 'string' ? body : Buffer.from(body),
      }),
    );
    const event = objectCreatedEvent(this.r.bucket, key);
    const [run] = await handler(event);
    if (!run?.reportPrefix) throw new Error(`no report for ${key}: ${JSON.stringify(run)}`);
    const read = async (name: string) => {
      const res = await this.r.s3.send(
        new GetObjectCommand({ Bucket: this.r.bucket, Key: `${run.reportPrefix}${name}` }),
      );
      return await res.Body!.transformToString();
    };
    const csv = await read('exceptions.csv');
    const [header, ...lines] = csv.split('\r\n').filter((l) => l !== '');
    const names = parseCsvLine(header!);
    const exceptions = lines.map((l) => {
      const v = parseCsvLine(l);
      return Object.fromEntries(names.map((n, i) => [n, v[i] ?? '']));
    });
    return {
      summary: JSON.parse(await read('summary.json')),
      csv,
      html: await read('report.html'),
      exceptions,
    };
  }
}

/** The exception rows of one category, as `transaction_id → row`. */
export function byCategory(report: Report, category: string): Map<string, Record<string, string>> {
  return new Map(report.exceptions.filter((e) => e.category === category).map((e) => [e.transaction_id!, e]));
}
