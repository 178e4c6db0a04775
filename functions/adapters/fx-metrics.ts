/**
 * FX metrics as CloudWatch EMF through Powertools Metrics, in the namespace and with the single `service`
 * dimension the CDK alarms expect (lib/settings.ts `customMetrics`).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { customMetrics } from '../../lib/settings.ts';
import type { FxMetrics } from '../core/fx.ts';
import type { Env } from '../shared/config.ts';

/** Not alarmed (not in customMetrics): a dashboard counter of orders that locked a rate unchecked. */
export const FX_LIVE_CHECK_UNAVAILABLE = 'FxLiveCheckUnavailable';

export interface FlushableFxMetrics extends FxMetrics {
  /** Publishes what this invocation recorded; call once at its end. */
  flush(): void;
}

/**
 * Handlers get their env explicitly (the sandbox loads several functions into one process), while
 * Powertools reads `POWERTOOLS_METRICS_DISABLED` from process.env: honour the function's own env here.
 */
export function createFxMetrics(env: Env): FlushableFxMetrics {
  if (env.POWERTOOLS_METRICS_DISABLED === 'true') {
    return { liveCheckUnavailable() {}, rateAgeSeconds() {}, flush() {} };
  }
  const metrics = new Metrics({
    namespace: customMetrics.namespace,
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'daigou-payments',
  });
  let recorded = false;
  return {
    liveCheckUnavailable() {
      metrics.addMetric(FX_LIVE_CHECK_UNAVAILABLE, MetricUnit.Count, 1);
      recorded = true;
    },
    rateAgeSeconds(seconds) {
      metrics.addMetric(customMetrics.names.fxRateAgeSeconds, MetricUnit.Seconds, seconds);
      recorded = true;
    },
    flush() {
      if (!recorded) return;
      recorded = false;
      metrics.publishStoredMetrics();
    },
  };
}
