/**
 * The plain settings functions read at run time: gateway kinds, the bucket's layout, the alert source,
 * the metric names the alarms expect and the default non-secret settings. A leaf module (no imports), so
 * a function's bundle carries these constants and not the rest of the topology (lib/topology.ts, which
 * re-exports them and builds the tables, functions and routes from them).
 */

export const bucket = {
  /** Bucket name in the sandbox; CDK names it in AWS. */
  sandboxName: 'settlements',
  envVar: 'SETTLEMENTS_BUCKET',
  incomingPrefix: 'incoming/',
  reportsPrefix: 'reports/',
} as const;

export const GATEWAY_KINDS = ['stripe', 'paypal', 'standard-webhooks', 'alipay', 'wechatpay'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

export interface GatewayDef {
  readonly name: string;
  readonly kind: GatewayKind;
}

/**
 * Gateways with a callback route. Standard Webhooks gateways are configured by name; the sandbox
 * configures `localpay`, and a deployment adds its own here.
 */
export const gateways: readonly GatewayDef[] = [
  { name: 'stripe', kind: 'stripe' },
  { name: 'paypal', kind: 'paypal' },
  { name: 'alipay', kind: 'alipay' },
  { name: 'wechatpay', kind: 'wechatpay' },
  { name: 'localpay', kind: 'standard-webhooks' },
];

/** Event source of alerts on EventBridge (CONTRACT §6). */
export const alertSource = 'daigou.payments';

/**
 * Per `FX_PROVIDER` (CONTRACT §4 "Real providers"): its documented URL and the `FX_MAX_AGE_SECONDS` that fits
 * its publication rhythm (the FxRateAgeSeconds alarm uses the same number).
 * - `pairs`: our own format; no public provider answers it, so the URL is a placeholder (`.invalid` never
 *   resolves) until a deployment names its own. 20 minutes: four missed 5-minute refreshes.
 * - `base-rates`: Open Exchange Rates' `latest.json` by default. Its entry plans publish hourly, so
 *   75 minutes: one publication interval, the 5-minute schedule and a margin.
 * - `ecb`: published around 16:00 CET each TARGET working day, as of the 14:15 CET concertation. The longest
 *   gap is Maundy Thursday to the Tuesday after Easter Monday (a weekend and two holidays): 5 days and 6 hours
 *   cover it with about four hours to spare for a late publication.
 */
export const fxProviderDefaults = {
  pairs: { FX_PROVIDER_URL: 'https://fx-provider.invalid/v1/rates', FX_MAX_AGE_SECONDS: '1200' },
  'base-rates': {
    FX_PROVIDER_URL: 'https://openexchangerates.org/api/latest.json',
    FX_MAX_AGE_SECONDS: '4500',
  },
  ecb: {
    FX_PROVIDER_URL: 'https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml',
    FX_MAX_AGE_SECONDS: '453600',
  },
} as const;

export type FxProviderName = keyof typeof fxProviderDefaults;

/**
 * Default non-secret settings every function receives, in AWS and in the sandbox alike (CONTRACT §3–§5).
 * The CDK app replaces the FX provider settings from the context (`fxProvider`, `fxProviderUrl`); the
 * sandbox points them at its own FX provider unless FX_PROVIDER / FX_PROVIDER_URL are set. No
 * `FX_MAX_AGE_SECONDS` here: both set it from fxProviderSettings, and a function without it uses its
 * provider's default.
 */
export const defaultSettings = {
  BASE_CURRENCY: 'CNY',
  FX_PROVIDER: 'pairs',
  /** Placeholder (`.invalid` never resolves): a `pairs` deployment must set `-c fxProviderUrl=…`. */
  FX_PROVIDER_URL: fxProviderDefaults.pairs.FX_PROVIDER_URL,
  FX_PAIRS: 'USD/CNY,EUR/CNY,GBP/CNY,JPY/CNY,HKD/CNY',
  FX_LIVE_TIMEOUT_MS: '500',
  FX_LIVE_CACHE_SECONDS: '60',
  FX_MAX_DEVIATION: '0.02',
  FX_MAX_JUMP: '0.10',
  FX_MAX_DAILY_DRIFT: '0.15',
  SETTLEMENT_LAG_DAYS: '2',
  RECON_ALERT_THRESHOLD: '0.005',
  REFUND_BUFFER_RATE: '0.006',
  OPEN_ITEM_MAX_AGE_DAYS: '7',
} as const;

/**
 * Custom metrics (CloudWatch embedded metric format via Powertools Metrics). The CDK app alarms on
 * them, so handlers must emit exactly these names in this namespace, with the default `service`
 * dimension only (an alarm matches the exact dimension set).
 */
export const customMetrics = {
  namespace: 'DaigouPayments',
  dimension: 'service',
  names: {
    signatureFailures: 'SignatureFailures',
    callbacksQuarantined: 'CallbacksQuarantined',
    doublePayments: 'DoublePayments',
    reconciliationDrift: 'ReconciliationDrift',
    fxRateAgeSeconds: 'FxRateAgeSeconds',
  },
} as const;
