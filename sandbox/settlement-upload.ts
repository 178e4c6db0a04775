/**
 * What finance does by hand: upload a settlement file to `incoming/{gateway}/`, wait for the
 * reconciliation of exactly that content (summary.json names its sha256), and fetch the reports.
 * Works against the sandbox's s3rver or a real bucket (default AWS credentials).
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { suffixedPrefix } from '../functions/adapters/settlement-reports.ts';
import { fileStem } from '../functions/core/settlement/report.ts';
import type { SettlementSummary } from '../functions/core/settlement/types.ts';
import { bucket as bucketDef, gateways } from '../lib/topology.ts';

export interface UploadResult {
  readonly key: string;
  readonly reportPrefix: string;
  readonly summary: SettlementSummary;
  /** Where the three report files were saved locally. */
  readonly localDir: string;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function tryGet(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await res.Body!.transformToString('utf8');
  } catch {
    return undefined;
  }
}

export async function uploadAndWait(options: {
  s3: S3Client;
  bucket: string;
  file: string;
  gateway: string;
  /** Local folder for the downloaded reports. */
  saveTo: string;
  timeoutMs?: number;
  progress?: (line: string) => void;
}): Promise<UploadResult> {
  const { s3, bucket, file, gateway } = options;
  const names = gateways.map((g) => g.name);
  // The reconcile function rejects any other name (no report, an alert): say so now instead of waiting.
  if (!names.includes(gateway))
    throw new Error(`gateway must be one of ${names.join(', ')}, got ${JSON.stringify(gateway)}`);
  const size = (await stat(file)).size;
  const sha256 = await sha256Of(file);
  const key = `${bucketDef.incomingPrefix}${gateway}/${path.basename(file)}`;
  // The report goes to the plain prefix, or to the hashed one when another key owns it (x.csv, x.csv.gz).
  const plainPrefix = `${bucketDef.reportsPrefix}${gateway}/${fileStem(key)}/`;
  const candidates = [plainPrefix, suffixedPrefix(plainPrefix, key)];
  options.progress?.(
    `uploading ${path.basename(file)} (${(size / 1e6).toFixed(1)} MB) to s3://${bucket}/${key}`,
  );
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file), ContentLength: size }),
  );

  const started = Date.now();
  const timeout = options.timeoutMs ?? 15 * 60_000;
  for (;;) {
    for (const reportPrefix of candidates) {
      const text = await tryGet(s3, bucket, `${reportPrefix}summary.json`);
      if (!text) continue;
      const summary = JSON.parse(text) as SettlementSummary;
      // An older report of the same file name does not count: wait for this content's.
      if (summary.source.sha256 === sha256 && summary.source.key === key) {
        const localDir = path.join(options.saveTo, gateway, fileStem(key));
        mkdirSync(localDir, { recursive: true });
        writeFileSync(path.join(localDir, 'summary.json'), text);
        for (const name of ['exceptions.csv', 'report.html']) {
          const body = await tryGet(s3, bucket, `${reportPrefix}${name}`);
          if (body !== undefined) writeFileSync(path.join(localDir, name), body);
        }
        return { key, reportPrefix, summary, localDir };
      }
    }
    if (Date.now() - started > timeout) {
      throw new Error(
        `no report for ${key} after ${Math.round(timeout / 1000)} s: is the reconcile function running? (sandbox: see its terminal)`,
      );
    }
    options.progress?.(`waiting for the reconciliation… ${Math.round((Date.now() - started) / 1000)} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The verdict, counts and totals as a few lines a finance person reads. */
export function describeSummary(summary: SettlementSummary): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines: string[] = [];
  const verdict =
    summary.status === 'failed'
      ? `FAILED: the file could not be read (${(summary.reasons ?? []).join('; ')})`
      : summary.drift.exceeded
        ? `DRIFT ${pct(summary.drift.byValue)} exceeds the ${pct(summary.drift.threshold)} threshold: alert raised`
        : `BALANCED within ${pct(summary.drift.threshold)} (drift ${pct(summary.drift.byValue)} by value)`;
  lines.push(
    `verdict: ${verdict}${summary.status === 'incomplete' ? ' — INCOMPLETE file: control totals disagree' : ''}`,
  );
  if (summary.period?.from) lines.push(`period:  ${summary.period.from} → ${summary.period.to}`);
  lines.push(
    `rows:    ${summary.rows.total} (${summary.rows.parsed} parsed, ${summary.rows.rejected} rejected)`,
  );
  for (const [currency, t] of Object.entries(summary.totals)) {
    lines.push(
      `${currency}:     ledger ${t.ledgerGrossMinor}, settlement ${t.settlementGrossMinor}, difference ${t.differenceMinor} (minor units)`,
    );
  }
  const counts = Object.entries(summary.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  lines.push(`counts:  ${counts || 'none'}`);
  for (const reason of summary.reasons ?? []) lines.push(`note:    ${reason}`);
  return lines;
}
