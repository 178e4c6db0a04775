/**
 * S3 ObjectCreated under `incoming/{gateway}/` → reconcile the settlement file against the ledger and
 * write `reports/{gateway}/{fileStem}/` (exceptions.csv, report.html, then summary.json). The file is
 * streamed; the same content delivered twice yields one report and at most one alert.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Event } from 'aws-lambda';
import * as z from 'zod/mini';
import { bucket as bucketDef, customMetrics } from '../../lib/topology.ts';
import { createAlerts } from '../adapters/alerts.ts';
import { createDocumentClient, createDynamoClient, createS3Client } from '../adapters/aws-clients.ts';
import { DynamoOpenItemsStore, S3OpenItemsReports } from '../adapters/open-items-store.ts';
import { DynamoLedgerLookup } from '../adapters/settlement-ledger.ts';
import { ReconciliationStore, SettlementObjects } from '../adapters/settlement-reports.ts';
import type { Alerts } from '../core/alerts.ts';
import { openItemsNote } from '../core/open-items/render.ts';
import { recordReconciliation } from '../core/open-items/use-cases.ts';
import type { FeeSchedule } from '../core/settlement/match.ts';
import { reconcile } from '../core/settlement/reconcile.ts';
import { fileStem, withOpenItemsSection } from '../core/settlement/report.ts';
import type { SettlementSummary } from '../core/settlement/types.ts';
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
});

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
}

export interface ReconcileRun {
  readonly key: string;
  readonly outcome: 'reported' | 'already_reported' | 'skipped';
  readonly status?: SettlementSummary['status'];
  readonly reportPrefix?: string;
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
  const { logger, metrics } = createObservability(env, 'daigou-reconcile');
  const doc = createDocumentClient(createDynamoClient(env));
  const s3 = createS3Client(env);
  const objects = new SettlementObjects(s3);
  const ledger = new DynamoLedgerLookup(doc, config.PAYMENTS_TABLE);
  const runs = new ReconciliationStore(doc, config.RECONCILIATIONS_TABLE);
  const openItems = {
    store: new DynamoOpenItemsStore(doc, config.OPEN_ITEMS_TABLE),
    reports: new S3OpenItemsReports(s3, config.SETTLEMENTS_BUCKET, bucketDef.reportsPrefix),
    ledger,
  };
  const alerts = overrides.alerts ?? createAlerts(env);
  const now = overrides.now ?? (() => new Date());

  async function reconcileObject(bucket: string, key: string, versionId?: string): Promise<ReconcileRun> {
    const match = /^incoming\/([^/]+)\/(.+)$/.exec(key);
    if (!match || !key.startsWith(bucketDef.incomingPrefix)) {
      logger.warn('not a settlement file: expected incoming/{gateway}/{file}', { key });
      return { key, outcome: 'skipped' };
    }
    const gateway = match[1]!;
    const reportPrefix = `${bucketDef.reportsPrefix}${gateway}/${fileStem(key)}/`;
    const object = await objects.open(bucket, key, versionId);
    const at = now();
    const result = await reconcile({
      gateway,
      chunks: object.body,
      ledger,
      now: at,
      lagDays,
      threshold,
      ...(feeSchedule ? { feeSchedule } : {}),
      source: {
        bucket,
        key,
        ...(object.versionId ? { versionId: object.versionId } : {}),
        ...(object.etag ? { etag: object.etag } : {}),
      },
    });
    const objectId = `${bucket}/${key}`;
    const claim = await runs.claim(objectId, result.sha256, at);
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
      exceptions: result.exceptions,
      claimed: result.claimed,
    });
    const html = withOpenItemsSection(
      result.html,
      openItemsNote(open.openFromEarlierFiles, open.open, reportPrefix, open.untracked),
    );
    await objects.writeReports(bucket, reportPrefix, { ...result, html });
    // Recorded before alerting: a crash in between loses at most the alert, never doubles it.
    await runs.complete(objectId, result.sha256, result.summary, reportPrefix);
    const { summary } = result;
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
    return { key, outcome: 'reported', status: summary.status, reportPrefix };
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
