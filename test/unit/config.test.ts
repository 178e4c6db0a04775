/** Configuration fails at start, naming the bad variable, for every handler. */
import { describe, expect, it } from 'vitest';
import { createHandler as createCallback } from '../../functions/callback/app.ts';
import { createHandler as createReconcile } from '../../functions/reconcile/app.ts';
import { ConfigError } from '../../functions/shared/config.ts';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('handler configuration', () => {
  it('names every missing table of the callback function', () => {
    const error = configError(() => createCallback({ GATEWAY: 'stripe', GATEWAY_KIND: 'stripe' }));
    expect(error.variables.sort()).toEqual(['IDEMPOTENCY_TABLE', 'ORDERS_TABLE', 'PAYMENTS_TABLE']);
    expect(error.message).toContain('PAYMENTS_TABLE: is required (not set)');
  });

  it('names a bad gateway kind', () => {
    const error = configError(() =>
      createCallback({
        GATEWAY: 'x',
        GATEWAY_KIND: 'bitcoin',
        PAYMENTS_TABLE: 'p',
        ORDERS_TABLE: 'o',
        IDEMPOTENCY_TABLE: 'i',
      }),
    );
    expect(error.variables).toEqual(['GATEWAY_KIND']);
  });

  it('names a bad threshold or fee schedule of the reconcile function', () => {
    const base = {
      PAYMENTS_TABLE: 'p',
      RECONCILIATIONS_TABLE: 'r',
      OPEN_ITEMS_TABLE: 'oi',
      SETTLEMENTS_BUCKET: 'b',
      ALERT_SINK: 'local',
    };
    expect(configError(() => createReconcile({ ...base, RECON_ALERT_THRESHOLD: 'half' })).variables).toEqual([
      'RECON_ALERT_THRESHOLD',
    ]);
    expect(configError(() => createReconcile({ ...base, FEE_SCHEDULE: '{not json' })).message).toContain(
      'FEE_SCHEDULE',
    );
    expect(
      configError(() =>
        createReconcile({
          ...base,
          FEE_SCHEDULE: JSON.stringify({ stripe: { USD: { percent: 'x', fixedMinor: 30 } } }),
        }),
      ).variables,
    ).toEqual(['FEE_SCHEDULE']);
  });

  it('refuses an unknown alert sink by name', () => {
    expect(() =>
      createReconcile({
        PAYMENTS_TABLE: 'p',
        RECONCILIATIONS_TABLE: 'r',
        OPEN_ITEMS_TABLE: 'oi',
        SETTLEMENTS_BUCKET: 'b',
        ALERT_SINK: 'pager',
      }),
    ).toThrow(/ALERT_SINK/);
  });
});
