/**
 * The FX refresh (EventBridge schedule, every 5 minutes; the sandbox runs it at start and on
 * `POST /_sandbox/fx/refresh`): fetches the configured pairs, keeps the last good rate of any pair the provider
 * got wrong, and answers a summary. A provider outage is an outcome, not a failure: throwing would only make
 * Lambda retry into the same outage, and the FxRateAgeSeconds alarm is what pages.
 */
import * as z from 'zod/mini';
import { defaultSettings } from '../../lib/settings.ts';
import { createAlerts } from '../adapters/alerts.ts';
import { createDocumentClient, createDynamoClient } from '../adapters/aws-clients.ts';
import { fxProviderEnv, httpFxProviderFromConfig } from '../adapters/fx-http-provider.ts';
import { createFxMetrics, type FlushableFxMetrics } from '../adapters/fx-metrics.ts';
import { DynamoFxRateStore } from '../adapters/fx-rates-store.ts';
import type { Alerts } from '../core/alerts.ts';
import {
  type FxProvider,
  type FxRateStore,
  type FxRefreshResult,
  parsePairs,
  refreshRates,
} from '../core/fx.ts';
import { type Currency, isCurrency } from '../core/money.ts';
import { ConfigError, decimalString, type Env, intString, readConfig, required } from '../shared/config.ts';

const schema = z.object({
  FX_RATES_TABLE: required(),
  BASE_CURRENCY: z._default(
    z.string().check(z.refine(isCurrency, 'must be a supported ISO 4217 currency code')),
    defaultSettings.BASE_CURRENCY,
  ),
  FX_PAIRS: z._default(z.string(), defaultSettings.FX_PAIRS),
  FX_MAX_JUMP: decimalString(defaultSettings.FX_MAX_JUMP),
  FX_MAX_DAILY_DRIFT: decimalString(defaultSettings.FX_MAX_DAILY_DRIFT),
  /** Per attempt. Three attempts with backoff stay well inside the function's 30 s timeout. */
  FX_PROVIDER_TIMEOUT_MS: intString(5_000),
  FX_PROVIDER_RETRIES: intString(2),
  FX_PROVIDER_BACKOFF_MS: intString(500),
  ...fxProviderEnv,
});

export interface FxRefreshDeps {
  readonly store: FxRateStore;
  readonly provider: FxProvider;
  readonly alerts: Alerts;
  readonly metrics: FlushableFxMetrics;
  readonly now: () => Date;
}

export function createHandler(env: Env, overrides: Partial<FxRefreshDeps> = {}) {
  const config = readConfig(schema, env);
  let pairs: string[];
  try {
    pairs = parsePairs(config.FX_PAIRS, config.BASE_CURRENCY as Currency);
  } catch (cause) {
    throw new ConfigError(`invalid configuration: FX_PAIRS: ${(cause as Error).message}`, ['FX_PAIRS'], {
      cause,
    });
  }
  const deps: FxRefreshDeps = {
    store:
      overrides.store ??
      new DynamoFxRateStore(createDocumentClient(createDynamoClient(env)), config.FX_RATES_TABLE),
    provider:
      overrides.provider ??
      httpFxProviderFromConfig(config, env, {
        backoffMs: config.FX_PROVIDER_BACKOFF_MS,
        ...(overrides.now ? { now: overrides.now } : {}),
      }),
    alerts: overrides.alerts ?? createAlerts(env),
    metrics: overrides.metrics ?? createFxMetrics(env),
    now: overrides.now ?? (() => new Date()),
  };
  const settings = {
    pairs,
    maxJump: config.FX_MAX_JUMP,
    maxDailyDrift: config.FX_MAX_DAILY_DRIFT,
    timeoutMs: config.FX_PROVIDER_TIMEOUT_MS,
    retries: config.FX_PROVIDER_RETRIES,
  };

  return async (_event?: unknown, _context?: unknown): Promise<FxRefreshResult> => {
    try {
      return await refreshRates({ ...deps, settings }, deps.now());
    } finally {
      deps.metrics.flush();
    }
  };
}
