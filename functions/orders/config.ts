/** The orders function's configuration, read once per container (CONTRACT §7). */
import * as z from 'zod/mini';
import { defaultSettings, GATEWAY_KINDS, type GatewayKind } from '../../lib/topology.ts';
import { httpFxProviderEnv } from '../adapters/fx-http-provider.ts';
import { parsePairs } from '../core/fx.ts';
import { type Currency, isCurrency } from '../core/money.ts';
import { ConfigError, decimalString, type Env, intString, readConfig, required } from '../shared/config.ts';

const schema = z.object({
  ORDERS_TABLE: required(),
  PAYMENTS_TABLE: required(),
  FX_RATES_TABLE: required(),
  IDEMPOTENCY_TABLE: required(),
  BASE_CURRENCY: z._default(
    z.string().check(z.refine(isCurrency, 'must be a supported ISO 4217 currency code')),
    defaultSettings.BASE_CURRENCY,
  ),
  FX_PAIRS: z._default(z.string(), defaultSettings.FX_PAIRS),
  FX_MAX_AGE_SECONDS: intString(Number(defaultSettings.FX_MAX_AGE_SECONDS)),
  FX_LIVE_TIMEOUT_MS: intString(Number(defaultSettings.FX_LIVE_TIMEOUT_MS)),
  FX_MAX_DEVIATION: decimalString(defaultSettings.FX_MAX_DEVIATION),
  FX_MAX_JUMP: decimalString(defaultSettings.FX_MAX_JUMP),
  REFUND_BUFFER_RATE: decimalString(defaultSettings.REFUND_BUFFER_RATE),
  /** Comma-separated gateway kinds that take payments: pay amounts are rounded to what all can charge. */
  PAYMENT_GATEWAY_KINDS: z._default(
    z
      .string()
      .check(
        z.refine(
          (s) =>
            s === '' || s.split(',').every((k) => (GATEWAY_KINDS as readonly string[]).includes(k.trim())),
          `must be a comma-separated list of ${GATEWAY_KINDS.join(', ')}`,
        ),
      ),
    '',
  ),
  /** How long an Idempotency-Key answers with the stored response (a day, like the big PSPs). */
  IDEMPOTENCY_EXPIRY_SECONDS: intString(86_400),
  ...httpFxProviderEnv,
});

export type OrdersConfig = z.infer<typeof schema> & {
  BASE_CURRENCY: Currency;
  pairs: string[];
  chargeGateways: GatewayKind[];
};

/** Throws ConfigError naming every bad variable. */
export function readOrdersConfig(env: Env): OrdersConfig {
  const config = readConfig(schema, env);
  const base = config.BASE_CURRENCY as Currency;
  let pairs: string[];
  try {
    pairs = parsePairs(config.FX_PAIRS, base);
  } catch (cause) {
    throw new ConfigError(`invalid configuration: FX_PAIRS: ${(cause as Error).message}`, ['FX_PAIRS'], {
      cause,
    });
  }
  const chargeGateways = config.PAYMENT_GATEWAY_KINDS.split(',')
    .map((k) => k.trim())
    .filter((k): k is GatewayKind => k !== '');
  return { ...config, BASE_CURRENCY: base, pairs, chargeGateways };
}
