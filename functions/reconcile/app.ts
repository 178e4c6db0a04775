/**
 * S3 ObjectCreated under `incoming/{gateway}/` → reconcile the settlement file against the ledger and
 * write `reports/{gateway}/[folders/]{fileStem}/` (exceptions.csv, report.html, then summary.json).
 * The file is streamed in and exceptions.csv streamed out; the same content delivered twice yields
 * one report and at most one alert. An upload whose key names no configured gateway, or has an
 * empty, `.` or `..` segment, gets no report, only a "Settlement Upload Rejected" alert.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Event } from 'aws-lambda';
import * as z from 'zod/mini';
import { bucket as bucketDef, customMetrics, gateways } from '../../lib/settings.ts';
import { createAlerts } from '../adapters/alerts.ts';
import { createDocumentClient, createDynamoClient } from '../adapters/aws-clients.ts';
import { DynamoOpenItemsStore, S3OpenItemsReports } from '../adapters/open-items-store.ts';
import { createObjectStore } from '../adapters/s3-objects.ts';
import { DynamoLedgerLookup } from '../adapters/settlement-ledger.ts';
import {
  ReconciliationStore,
  SettlementObjects,
  type StreamedReportFile,
} from '../adapters/settlement-reports.ts';
import type { Alerts } from '../core/alerts.ts';
import { openItemsNote } from '../core/open-items/render.ts';
import { OpenItemsCollector, recordReconciliation } from '../core/open-items/use-cases.ts';
import { DEFAULT_LIMITS } from '../core/settlement/limits.ts';
import type { FeeSchedule } from '../core/settlement/match.ts';
import { type ExceptionSink, type ReconcileResult, reconcile } from '../core/settlement/reconcile.ts';
import { withOpenItemsSection } from '../core/settlement/report.ts';
import type { SettlementSummary } from '../core/settlement/types.ts';
import { settlementUpload } from '../core/settlement/uploads.ts';
import { assertTimeZone } from '../core/settlement/values.ts';
import { ConfigError, type Env, readConfig, required } from '../shared/config.ts';
import { createObservability } from '../shared/observability.ts';

const ConfigSchema = z.object({
  PAYMENTS_TABLE: required(),
  RECONCILIATIONS_TABLE: required(),
  OPEN_ITEMS_TABLE: required(),
  SETTLEMENTS_BUCKET: required(),
  SETTLEMENT_LAG_DAYS: z._default(
    z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a number of days')),
    '2',
  ),
  RECON_ALERT_THRESHOLD: z._default(
    z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a decimal ratio')),
    '0.005',
  ),
  /** JSON: gateway → currency → {"percent":"2.9","fixedMinor":30}. Unset: fee_mismatch is off. */
  FEE_SCHEDULE: z.optional(z.string()),
  /** IANA zone of Stripe's `created` when a report has no `created_utc` (the zone it was run with). */
  STRIPE_REPORT_TIMEZONE: z._default(
    z.string().check(z.refine(isTimeZone, 'must be an IANA time zone such as UTC or Europe/Berlin')),
    'UTC',
  ),
  MAX_SETTLEMENT_RECORD_BYTES: z._default(positiveInteger(), String(DEFAULT_LIMITS.maxRecordBytes)),
  MAX_SETTLEMENT_BYTES: z._default(positiveInteger(), String(DEFAULT_LIMITS.maxBytes)),
  MAX_SETTLEMENT_PERIOD_DAYS: z._default(positiveInteger(), String(DEFAULT_LIMITS.maxPeriodDays)),
});

function isTimeZone(value: string): boolean {
  try {
    assertTimeZone(value);
    return true;
  } catch {
    return false;
  }
}

function positiveInteger() {
  return z.string().check(z.regex(/^[1-9]\d{0,15}$/, 'must be a positive integer'));
}

const FeeRuleSchema = z.strictObject({
  percent: z.string().check(z.regex(/^\d+(\.\d+)?$/)),
  fixedMinor: z.int().check(z.gte(0)),
});
const FeeScheduleSchema = z.record(z.string(), z.record(z.string(), FeeRuleSchema));

function parseFeeSchedule(raw: string | undefined): FeeSchedule | undefined {
  if (!raw) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError('FEE_SCHEDULE: not valid JSON', ['FEE_SCHEDULE']);
  }
  const result = FeeScheduleSchema.safeParse(json);
  if (!result.success) {
    throw new ConfigError(
      `FEE_SCHEDULE: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      ['FEE_SCHEDULE'],
    );
  }
  return result.data;
}

export interface ReconcileDeps {
  readonly alerts: Alerts;
  readonly now: () => Date;
  /** The reconciliations table adapter (tests replace it to make storing fail as DynamoDB can). */
  readonly reconciliations: ReconciliationStore;
  /**
   * Further consumers of the exceptions as they are decided (open items): each gets every item
   * neither matched nor ignored, batch by batch, and `discard()` when the file turns out `failed`.
   * Made per object. The items arrive before the run knows whether it may report (a re-notified
   * content is recomputed, then found `already_reported`): a consumer writes idempotently, or
   * stages and commits in {@link ReconcileDeps.afterReport}, which runs only for a new report.
   */
  readonly exceptionSinks?: (run: { bucket: string; key: string; gateway: string }) => ExceptionSink[];
  /** Called once the report is written and the content recorded (never for a re-notification). */
  readonly afterReport?: (run: {
    bucket: string;
    key: string;
    gateway: string;
    reportPrefix: string;
    result: ReconcileResult;
  }) => Promise<void>;
  /** The DynamoDB client (the bench counts requests and read units on it). */
  readonly dynamo: DynamoDBClient;
}

export interface ReconcileRun {
  readonly key: string;
  readonly outcome: 'reported' | 'already_reported' | 'skipped' | 'rejected';
  readonly status?: SettlementSummary['status'];
  readonly reportPrefix?: string;
  /** Why a `rejected` upload got no report. */
  readonly reason?: string;
}

/** S3 event keys are URL-encoded, spaces as "+". */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export class ReconciliationBusyError extends Error {
  constructor(key: string) {
    super(`another invocation is writing the report for ${key}; retry later`);
    this.name = 'ReconciliationBusyError';
  }
}

export function createHandler(env: Env, overrides: Partial<ReconcileDeps> = {}) {
  const config = readConfig(ConfigSchema, env);
  const feeSchedule = parseFeeSchedule(config.FEE_SCHEDULE);
  const lagDays = Number(config.SETTLEMENT_LAG_DAYS);
  const threshold = Number(config.RECON_ALERT_THRESHOLD);
  const limits = {
    maxRecordBytes: Number(config.MAX_SETTLEMENT_RECORD_BYTES),
    maxBytes: Number(config.MAX_SETTLEMENT_BYTES),
    maxPeriodDays: Number(config.MAX_SETTLEMENT_PERIOD_DAYS),
  };
  const gatewayNames = new Set(gateways.map((g) => g.name));
  const prefixes = { incoming: bucketDef.incomingPrefix, reports: bucketDef.reportsPrefix };
  const { logger, metrics } = createObservability(env, 'daigou-reconcile');
  const doc = createDocumentClient(overrides.dynamo ?? createDynamoClient(env));
  const s3 = createObjectStore(env);
  const objects = new SettlementObjects(s3);
  const ledger = new DynamoLedgerLookup(doc, config.PAYMENTS_TABLE);
  const runs = overrides.reconciliations ?? new ReconciliationStore(doc, config.RECONCILIATIONS_TABLE);
  const openItems = {
    store: new DynamoOpenItemsStore(doc, config.OPEN_ITEMS_TABLE),
    reports: new S3OpenItemsReports(s3, config.SETTLEMENTS_BUCKET, bucketDef.reportsPrefix),
    ledger,
  };
  const alerts = overrides.alerts ?? createAlerts(env);
  const now = overrides.now ?? (() => new Date());

  async function reconcileObject(bucket: string, key: string, versionId?: string): Promise<ReconcileRun> {
    if (!key.startsWith(bucketDef.incomingPrefix)) {
      logger.warn('not a settlement file: expected incoming/{gateway}/{file}', { key });
      return { key, outcome: 'skipped' };
    }
    const upload = settlementUpload(key, gatewayNames, prefixes);
    if (!upload.ok) {
      // No report, no summary: a name that is not ours must not choose where reports go.
      logger.warn('settlement upload rejected', { key, reason: upload.reason });
      await alerts.raise('Settlement Upload Rejected', { key, bucket, reason: upload.reason });
      return { key, outcome: 'rejected', reason: upload.reason };
    }
    const { gateway } = upload;
    const at = now();
    const reportPrefix = await runs.reportPrefixFor(bucket, upload.reportPrefix, key, at);
    const object = await objects.open(bucket, key, versionId);
    // The second read (only for files with very many rows no key found) reads the same version.
    const version = object.versionId ?? versionId;
    const exceptionsFile = objects.exceptionsFile(bucket, reportPrefix);
    const forOpenItems = new OpenItemsCollector();
    let result: ReconcileResult;
    try {
      result = await reconcile({
        gateway,
        chunks: object.body,
        ledger,
        now: at,
        lagDays,
        threshold,
        limits,
        parserOptions: { stripeReportTimeZone: config.STRIPE_REPORT_TIMEZONE },
        ...(feeSchedule ? { feeSchedule } : {}),
        source: {
          bucket,
          key,
          ...(object.versionId ? { versionId: object.versionId } : {}),
          ...(object.etag ? { etag: object.etag } : {}),
        },
        exceptionsOut: exceptionsFile,
        exceptionSinks: [forOpenItems, ...(overrides.exceptionSinks?.({ bucket, key, gateway }) ?? [])],
        reopen: async () => (await objects.open(bucket, key, version)).body,
      });
    } catch (error) {
      await abortQuietly(exceptionsFile);
      throw error;
    }
    const objectId = `${bucket}/${key}`;
    const claim = await runs.claim(objectId, result.sha256, at);
    if (claim !== 'claimed') await abortQuietly(exceptionsFile);
    if (claim === 'done') {
      logger.info('already reported: same key, same content', { key, sha256: result.sha256 });
      return { key, outcome: 'already_reported', status: result.summary.status, reportPrefix };
    }
    // Another invocation is writing this very content: fail so Lambda retries after it has finished.
    if (claim === 'busy') throw new ReconciliationBusyError(key);

    // Open items are recorded before the report is written, so report.html can say what is still open.
    const open = await recordReconciliation(openItems, {
      gateway,
      file: key,
      at,
      exceptions: forOpenItems.items,
      ...(forOpenItems.dropped ? { dropped: forOpenItems.dropped } : {}),
      claimed: result.claimed,
    });
    const html = withOpenItemsSection(
      result.html,
      openItemsNote(open.openFromEarlierFiles, open.open, reportPrefix, open.untracked),
    );
    await exceptionsFile.complete();
    await objects.writeReportPages(bucket, reportPrefix, { ...result, html });
    const { summary } = result;
    // Storing the summary and raising the alert are independent: a summary the table refuses (or a
    // table that is down) must not swallow the alarm. Recorded before alerting where it can be: a
    // crash in between loses at most the alert, never doubles it.
    let notRecorded: unknown;
    try {
      await runs.complete(objectId, result.sha256, summary, reportPrefix);
    } catch (error) {
      logger.error('storing the summary failed; recording the run without it', { key, error });
      try {
        await runs.complete(objectId, result.sha256, undefined, reportPrefix);
      } catch (again) {
        notRecorded = again;
      }
    }
    // The drift alarm watches this metric; the alert below tells people which file and why.
    metrics.addMetric(customMetrics.names.reconciliationDrift, MetricUnit.NoUnit, summary.drift.byValue);
    if (summary.alert.raised) {
      await alerts.raise('Reconciliation Drift Exceeded', {
        gateway,
        key,
        status: summary.status,
        drift: summary.drift,
        totals: summary.totals,
        counts: summary.counts,
        report: `s3://${bucket}/${reportPrefix}report.html`,
      });
    }
    logger.info('reconciled', {
      key,
      status: summary.status,
      rows: summary.rows,
      driftByValue: summary.drift.byValue,
      alert: summary.alert.raised,
    });
    if (notRecorded !== undefined) {
      // Neither record was written: publish the metric now, then let Lambda retry the bookkeeping.
      metrics.publishStoredMetrics();
      throw notRecorded;
    }
    await overrides.afterReport?.({ bucket, key, gateway, reportPrefix, result });
    return { key, outcome: 'reported', status: summary.status, reportPrefix };
  }

  async function abortQuietly(file: StreamedReportFile): Promise<void> {
    // An abandoned upload costs storage until the bucket's lifecycle rule removes it; nothing else.
    if (!(await file.abort())) logger.warn('could not abort the exceptions.csv upload', { key: file.key });
  }

  return async (event: S3Event): Promise<ReconcileRun[]> => {
    const out: ReconcileRun[] = [];
    for (const record of event.Records ?? []) {
      if (!record.eventName?.startsWith('ObjectCreated')) continue;
      const bucket = record.s3.bucket.name;
      if (bucket !== config.SETTLEMENTS_BUCKET) {
        logger.warn('event for another bucket ignored', { bucket });
        continue;
      }
      out.push(await reconcileObject(bucket, decodeS3Key(record.s3.object.key), record.s3.object.versionId));
    }
    if (out.some((run) => run.outcome === 'reported')) metrics.publishStoredMetrics();
    return out;
  };
}
