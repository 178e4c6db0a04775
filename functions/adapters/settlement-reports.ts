/**
 * Where reconciliation results go: the three report files in S3 (summary.json last, so a reader that
 * sees it sees the others) and one record per object content in the reconciliations table, which is
 * also the claim that makes a re-notified object produce one report and at most one alert.
 */

import type { Readable } from 'node:stream';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SettlementSummary } from '../core/settlement/types.ts';

/** A claim older than this is taken over (its writer died); the reconcile timeout is 15 minutes. */
const STALE_CLAIM_MS = 16 * 60_000;

export type Claim = 'claimed' | 'done' | 'busy';

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

  async complete(
    objectId: string,
    sha256: string,
    summary: SettlementSummary,
    reportPrefix: string,
  ): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: objectId, sk: sha256 },
        UpdateExpression:
          'SET #state = :done, summary = :summary, reportPrefix = :prefix, completedAt = :now',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':done': 'done',
          ':summary': summary,
          ':prefix': reportPrefix,
          ':now': new Date().toISOString(),
        },
      }),
    );
  }
}

export class SettlementObjects {
  constructor(private readonly s3: S3Client) {}

  /** The object's body as a stream (never loaded whole), at the version the event names. */
  async open(bucket: string, key: string, versionId?: string) {
    const res = await this.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
    );
    return {
      body: res.Body as Readable,
      etag: res.ETag?.replace(/"/g, ''),
      versionId: res.VersionId,
    };
  }

  async writeReports(
    bucket: string,
    prefix: string,
    files: { exceptionsCsv: string; html: string; summary: SettlementSummary },
  ): Promise<void> {
    const put = (name: string, body: string, contentType: string) =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${prefix}${name}`,
          Body: body,
          ContentType: contentType,
        }),
      );
    await Promise.all([
      put('exceptions.csv', files.exceptionsCsv, 'text/csv; charset=utf-8'),
      put('report.html', files.html, 'text/html; charset=utf-8'),
    ]);
    // Last: its presence means the report is complete.
    await put('summary.json', `${JSON.stringify(files.summary, null, 2)}\n`, 'application/json');
  }
}
