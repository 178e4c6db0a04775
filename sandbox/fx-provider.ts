/**
 * The sandbox's own FX provider: an HTTP JSON source the FX refresh and the orders' live check call over
 * real HTTP, and that tests steer with `PUT /_sandbox/fx/live`
 * (`{"rates":{"USD/CNY":"7.250000"}}`, optionally `"delayMs"` to be slow or `"status"` to fail).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { fxProviderSettings } from '../lib/topology.ts';

/** Provider settings the sandbox passes through from its own environment (CONTRACT §4 "Real providers"). */
const PASSED_THROUGH = [
  'FX_PROVIDER_API_KEY',
  'FX_PROVIDER_KEY_IN',
  'FX_PROVIDER_RATES_PATH',
  'FX_PROVIDER_AS_OF_PATH',
  'FX_PROVIDER_SOURCE_PATH',
  'FX_PROVIDER_BASE_PATH',
] as const;

/**
 * The FX settings of the sandbox's functions: its own `pairs` provider at `ownUrl`, unless `FX_PROVIDER` or
 * `FX_PROVIDER_URL` is set in the sandbox's environment; then that provider (its documented URL when only
 * `FX_PROVIDER` is set), with `FX_PROVIDER_API_KEY` as the key (the sandbox has no Secrets Manager).
 * Plain http is allowed to loopback hosts only, and only here.
 */
export function sandboxFxEnv(env: NodeJS.ProcessEnv, ownUrl: string): Record<string, string> {
  const loopback = { FX_PROVIDER_ALLOW_LOOPBACK_HTTP: 'true' };
  if (!env.FX_PROVIDER && !env.FX_PROVIDER_URL) {
    return {
      ...fxProviderSettings('pairs', { url: ownUrl, maxAgeSeconds: env.FX_MAX_AGE_SECONDS }),
      ...loopback,
      // `PUT /_sandbox/fx/live` must show in the very next order's live check (CONTRACT §2), so the live-check
      // cache is off against the sandbox's own provider unless asked for.
      FX_LIVE_CACHE_SECONDS: env.FX_LIVE_CACHE_SECONDS || '0',
    };
  }
  const settings: Record<string, string> = {
    ...fxProviderSettings(env.FX_PROVIDER || 'pairs', {
      url: env.FX_PROVIDER_URL,
      maxAgeSeconds: env.FX_MAX_AGE_SECONDS,
    }),
    ...loopback,
  };
  if (env.FX_LIVE_CACHE_SECONDS) settings.FX_LIVE_CACHE_SECONDS = env.FX_LIVE_CACHE_SECONDS;
  for (const name of PASSED_THROUGH) {
    const value = env[name];
    if (value) settings[name] = value;
  }
  return settings;
}

/** Base currency CNY: 1 unit of the pay currency = rate CNY. */
export const SANDBOX_RATES: Record<string, string> = {
  'USD/CNY': '7.123400',
  'EUR/CNY': '7.745000',
  'GBP/CNY': '9.012300',
  'JPY/CNY': '0.047600',
  'HKD/CNY': '0.915200',
};

const RATE = /^\d{1,9}(\.\d{1,9})?$/;

export class FakeFxProvider {
  rates: Record<string, string> = { ...SANDBOX_RATES };
  delayMs = 0;
  status = 200;

  handleSetLive(event: APIGatewayProxyEventV2): APIGatewayProxyStructuredResultV2 {
    let body: { rates?: Record<string, unknown>; delayMs?: unknown; status?: unknown };
    try {
      body = JSON.parse(event.body ?? '{}');
    } catch {
      return { statusCode: 400, body: JSON.stringify({ error: 'body must be JSON' }) };
    }
    // Test steering may set nonsense rates on purpose (zero, negative, text): only the shape is checked.
    if (body.rates && typeof body.rates === 'object') {
      for (const [pair, rate] of Object.entries(body.rates)) this.rates[pair] = String(rate);
    }
    if (typeof body.delayMs === 'number') this.delayMs = body.delayMs;
    if (typeof body.status === 'number') this.status = body.status;
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rates: this.rates, delayMs: this.delayMs, status: this.status }),
    };
  }

  async handleProvider(): Promise<APIGatewayProxyStructuredResultV2> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.status !== 200)
      return { statusCode: this.status, body: JSON.stringify({ error: 'provider_down' }) };
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'sandbox', asOf: new Date().toISOString(), rates: this.rates }),
    };
  }

  static isRate(value: string): boolean {
    return RATE.test(value);
  }
}
