/**
 * Where reconciliation results go: the three report files in S3 (summary.json last, so a reader that
 * sees it sees the others) and one record per object content in the reconciliations table, which is
 * also the claim that makes a re-notified object produce one report and at most one alert. The table
 * also records which object key owns each report prefix.
 */

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TextSink } from '../core/settlement/reconcile.ts';
import type { SettlementSummary } from '../core/settlement/types.ts';
import type { ObjectStore } from './s3-objects.ts';

/** A claim older than this is taken over (its writer died); the reconcile timeout is 15 minutes. */
const STALE_CLAIM_MS = 16 * 60_000;

export type Claim = 'claimed' | 'done' | 'busy';

/** `{prefix}--{first 8 hex of sha256(key)}/`: where a key reports when another key owns its prefix. */
export function suffixedPrefix(prefix: string, key: string): string {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 8);
  return `${prefix.replace(/\/$/, '')}--${hash}/`;
}

export class ReconciliationStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Claims `{bucket}/{key}` at `sha256`: one writer per content, however often S3 notifies. */
  async claim(objectId: string, sha256: string, now: Date): Promise<Claim> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: objectId, sk: sha256, state: 'writing', claimedAt: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR (#state = :writing AND claimedAt < :stale)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':writing': 'writing',
            ':stale': new Date(now.getTime() - STALE_CLAIM_MS).toISOString(),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'claimed';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return error.Item?.state?.S === 'done' ? 'done' : 'busy';
      }
      throw error;
    }
  }

  /**
   * The report prefix of `key` (CONTRACT §5): `prefix` when no other key has used it, else
   * {@link suffixedPrefix}. The first key to ask owns it, recorded with a conditional put, so
   * `x.csv` and `x.csv.gz` can never overwrite each other's reports, in whichever order they come.
   */
  async reportPrefixFor(bucket: string, prefix: string, key: string, now: Date): Promise<string> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `report-prefix#${bucket}/${prefix}`, sk: 'owner', key, claimedAt: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR #key = :key',
          ExpressionAttributeNames: { '#key': 'key' },
          ExpressionAttributeValues: { ':key': key },
        }),
      );
      return prefix;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return suffixedPrefix(prefix, key);
      throw error;
    }
  }

  /** Marks the content reported; the summary rides along (it is bounded far below 400 KB). */
  async complete(
    objectId: string,
    sha256: string,
    summary: SettlementSummary | undefined,
    reportPrefix: string,
  ): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: objectId, sk: sha256 },
        UpdateExpression: summary
          ? 'SET #state = :done, summary = :summary, reportPrefix = :prefix, completedAt = :now'
          : 'SET #state = :done, reportPrefix = :prefix, completedAt = :now, summaryStored = :false',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':done': 'done',
          ...(summary ? { ':summary': summary } : { ':false': false }),
          ':prefix': reportPrefix,
          ':now': new Date().toISOString(),
        },
      }),
    );
  }
}

/** S3's smallest part but the last; 8 MiB parts keep 10,000 parts (80 GB) far above any report. */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * exceptions.csv streamed into a multipart upload: memory holds one part, never the list. The
 * object appears only at {@link complete}, so a run that is not allowed to report after all (the
 * content was reported already, or another invocation is writing it) leaves nothing behind:
 * {@link abort}. A report smaller than a part is one PutObject.
 */
export class StreamedReportFile implements TextSink {
  private uploadId: string | undefined;
  private parts: { ETag: string; PartNumber: number }[] = [];
  private buffered: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly s3: ObjectStore,
    private readonly bucket: string,
    readonly key: string,
    private readonly contentType: string,
    private readonly partBytes = PART_BYTES,
  ) {}

  async write(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    this.buffered.push(bytes);
    this.size += bytes.length;
    if (this.size >= this.partBytes) await this.uploadPart();
  }

  async discard(): Promise<void> {
    await this.abort();
  }

  async complete(): Promise<void> {
    if (!this.uploadId) {
      await this.s3.putObject({
        Bucket: this.bucket,
        Key: this.key,
        Body: Buffer.concat(this.buffered),
        ContentType: this.contentType,
      });
      this.buffered = [];
      this.size = 0;
      return;
    }
    if (this.size > 0 || this.parts.length === 0) await this.uploadPart();
    await this.s3.completeMultipartUpload({
      Bucket: this.bucket,
      Key: this.key,
      UploadId: this.uploadId,
      Parts: this.parts,
    });
    this.uploadId = undefined;
    this.parts = [];
  }

  /**
   * Forgets everything written; an upload already started is aborted (its parts deleted). Never
   * throws: the object cannot appear without {@link complete}, and parts an abort could not delete
   * (S3 unreachable; s3rver, which has no AbortMultipartUpload) are removed by the bucket's
   * lifecycle rule. Returns whether nothing is left behind.
   */
  async abort(): Promise<boolean> {
    this.buffered = [];
    this.size = 0;
    const uploadId = this.uploadId;
    this.uploadId = undefined;
    this.parts = [];
    if (!uploadId) return true;
    try {
      await this.s3.abortMultipartUpload({ Bucket: this.bucket, Key: this.key, UploadId: uploadId });
      return true;
    } catch {
      return false;
    }
  }

  private async uploadPart(): Promise<void> {
    if (!this.uploadId) {
      const created = await this.s3.createMultipartUpload({
        Bucket: this.bucket,
        Key: this.key,
        ContentType: this.contentType,
      });
      this.uploadId = created.UploadId;
    }
    const body = Buffer.concat(this.buffered);
    this.buffered = [];
    this.size = 0;
    const PartNumber = this.parts.length + 1;
    const res = await this.s3.uploadPart({
      Bucket: this.bucket,
      Key: this.key,
      UploadId: this.uploadId,
      PartNumber,
      Body: body,
    });
    this.parts.push({ ETag: res.ETag, PartNumber });
  }
}

export class SettlementObjects {
  constructor(private readonly s3: ObjectStore) {}

  /** The object's body as a stream (never loaded whole), at the version the event names. */
  async open(bucket: string, key: string, versionId?: string) {
    const res = await this.s3.getObject({
      Bucket: bucket,
      Key: key,
      ...(versionId ? { VersionId: versionId } : {}),
    });
    return {
      body: res.Body as Readable,
      etag: res.ETag?.replace(/"/g, ''),
      versionId: res.VersionId,
    };
  }

  /** exceptions.csv of `prefix`, to be streamed while the file is reconciled. */
  exceptionsFile(bucket: string, prefix: string): StreamedReportFile {
    return new StreamedReportFile(this.s3, bucket, `${prefix}exceptions.csv`, 'text/csv; charset=utf-8');
  }

  /**
   * report.html then summary.json (last: its presence means the report is complete), after the
   * streamed exceptions.csv has been completed.
   */
  async writeReportPages(
    bucket: string,
    prefix: string,
    files: { html: string; summary: SettlementSummary },
  ): Promise<void> {
    const put = (name: string, body: string, contentType: string) =>
      this.s3.putObject({ Bucket: bucket, Key: `${prefix}${name}`, Body: body, ContentType: contentType });
    await put('report.html', files.html, 'text/html; charset=utf-8');
    await put('summary.json', `${JSON.stringify(files.summary, null, 2)}\n`, 'application/json');
  }

  async writeReports(
    bucket: string,
    prefix: string,
    files: { exceptionsCsv: string; html: string; summary: SettlementSummary },
  ): Promise<void> {
    const put = (name: string, body: string, contentType: string) =>
      this.s3.putObject({ Bucket: bucket, Key: `${prefix}${name}`, Body: body, ContentType: contentType });
    await Promise.all([
      put('exceptions.csv', files.exceptionsCsv, 'text/csv; charset=utf-8'),
      put('report.html', files.html, 'text/html; charset=utf-8'),
    ]);
    // Last: its presence means the report is complete.
    await put('summary.json', `${JSON.stringify(files.summary, null, 2)}\n`, 'application/json');
  }
}
