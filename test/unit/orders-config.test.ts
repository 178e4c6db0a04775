/** Configuration fails at start naming the bad variable (CONTRACT §7); bad requests never reach a use case. */
import { describe, expect, it } from 'vitest';
import { createHandler as createFxRefresh } from '../../functions/fx-refresh/app.ts';
import { createHandler as createOrders } from '../../functions/orders/app.ts';
import { readOrdersConfig } from '../../functions/orders/config.ts';
import { ConfigError } from '../../functions/shared/config.ts';
import { defaultSettings, functions } from '../../lib/topology.ts';

const ordersEnv = {
  ...defaultSettings,
  ORDERS_TABLE: 'o',
  PAYMENTS_TABLE: 'p',
  FX_RATES_TABLE: 'f',
  IDEMPOTENCY_TABLE: 'i',
  ALERT_SINK: 'local',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('no ConfigError thrown');
}

describe('orders configuration', () => {
  it('reads a complete environment with defaults', () => {
    const config = readOrdersConfig(ordersEnv);
    expect(config.BASE_CURRENCY).toBe('CNY');
    expect(config.FX_MAX_AGE_SECONDS).toBe(1200);
    expect(config.FX_MAX_DEVIATION).toBe('0.02');
    expect(config.pairs).toContain('USD/CNY');
    expect(config.chargeGateways).toEqual([]);
  });

  it('prices for every gateway kind the topology routes callbacks to', () => {
    const env = { ...ordersEnv, ...functions.orders!.environment };
    expect(readOrdersConfig(env).chargeGateways).toEqual(
      expect.arrayContaining(['stripe', 'paypal', 'alipay', 'wechatpay', 'standard-webhooks']),
    );
    expect(
      configError(() => readOrdersConfig({ ...env, PAYMENT_GATEWAY_KINDS: 'stripe,bitpay' })).message,
    ).toMatch(/PAYMENT_GATEWAY_KINDS/);
  });

  it.each([
    ['ORDERS_TABLE', { ORDERS_TABLE: undefined }],
    ['IDEMPOTENCY_TABLE', { IDEMPOTENCY_TABLE: '  ' }],
    ['FX_MAX_DEVIATION', { FX_MAX_DEVIATION: 'two percent' }],
    ['FX_LIVE_TIMEOUT_MS', { FX_LIVE_TIMEOUT_MS: '-5' }],
    ['BASE_CURRENCY', { BASE_CURRENCY: 'XYZ' }],
    ['FX_PROVIDER_URL', { FX_PROVIDER_URL: 'not a url' }],
    ['FX_PAIRS', { FX_PAIRS: 'USD/EUR' }],
    ['REFUND_BUFFER_RATE', { REFUND_BUFFER_RATE: '0,6%' }],
  ])('names %s', (variable, patch) => {
    const error = configError(() => createOrders({ ...ordersEnv, ...patch }));
    expect(error.variables).toContain(variable);
    expect(error.message).toContain(variable);
  });

  it('names every missing table at once', () => {
    const error = configError(() => readOrdersConfig({}));
    expect(error.variables).toEqual(
      expect.arrayContaining(['ORDERS_TABLE', 'PAYMENTS_TABLE', 'FX_RATES_TABLE', 'IDEMPOTENCY_TABLE']),
    );
  });
});

describe('fx-refresh configuration', () => {
  it.each([
    ['FX_RATES_TABLE', {}],
    ['FX_PROVIDER_RETRIES', { FX_RATES_TABLE: 'f', FX_PROVIDER_RETRIES: 'many' }],
    ['FX_MAX_JUMP', { FX_RATES_TABLE: 'f', FX_MAX_JUMP: '-1' }],
  ])('names %s', (variable, patch) => {
    const error = configError(() => createFxRefresh({ ...defaultSettings, ALERT_SINK: 'local', ...patch }));
    expect(error.variables).toContain(variable);
  });
});
