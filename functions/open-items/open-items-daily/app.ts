/**
 * The daily open-items run (EventBridge schedule; in the sandbox a timer and
 * `POST /_sandbox/schedules/open-items-daily`): ages pending items, settles row items whose ledger
 * entry has been written, raises "Open Items Aging" once per item older than `OPEN_ITEM_MAX_AGE_DAYS`,
 * and regenerates the open-items pages. The scheduled event's `time` is its clock, so a replayed or
 * hand-run event judges ages as of that moment.
 */
import type { ScheduledEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { bucket as bucketDef } from '../../../lib/settings.ts';
import { createAlerts } from '../../adapters/alerts.ts';
import { createDocumentClient, createDynamoClient } from '../../adapters/aws-clients.ts';
import { DynamoOpenItemsStore, S3OpenItemsReports } from '../../adapters/open-items-store.ts';
import { createObjectStore } from '../../adapters/s3-objects.ts';
import { DynamoLedgerLookup } from '../../adapters/settlement-ledger.ts';
import type { Alerts } from '../../core/alerts.ts';
import { type DailyOutcome, runDaily } from '../../core/open-items/use-cases.ts';
import { type Env, intString, readConfig, required } from '../../shared/config.ts';

const ConfigSchema = z.object({
  OPEN_ITEMS_TABLE: required(),
  PAYMENTS_TABLE: required(),
  SETTLEMENTS_BUCKET: required(),
  SETTLEMENT_LAG_DAYS: z._default(
    z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a number of days')),
    '2',
  ),
  OPEN_ITEM_MAX_AGE_DAYS: intString(7),
});

export function createHandler(env: Env, overrides: { alerts?: Alerts } = {}) {
  const config = readConfig(ConfigSchema, env);
  const doc = createDocumentClient(createDynamoClient(env));
  const deps = {
    store: new DynamoOpenItemsStore(doc, config.OPEN_ITEMS_TABLE),
    reports: new S3OpenItemsReports(
      createObjectStore(env),
      config.SETTLEMENTS_BUCKET,
      bucketDef.reportsPrefix,
    ),
    ledger: new DynamoLedgerLookup(doc, config.PAYMENTS_TABLE),
    alerts: overrides.alerts ?? createAlerts(env),
  };
  return async (event: Partial<ScheduledEvent>): Promise<DailyOutcome> => {
    const time = event?.time ? new Date(event.time) : new Date();
    const now = Number.isNaN(time.getTime()) ? new Date() : time;
    return runDaily(deps, {
      now,
      lagDays: Number(config.SETTLEMENT_LAG_DAYS),
      maxAgeDays: config.OPEN_ITEM_MAX_AGE_DAYS,
    });
  };
}
