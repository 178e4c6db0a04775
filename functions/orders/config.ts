/** The orders function's configuration, read once per container (CONTRACT §7). */
import * as z from 'zod/mini';
import { defaultSettings, fxProviderDefaults, GATEWAY_KINDS, type GatewayKind } from '../../lib/settings.ts';
import { fxProviderEnv } from '../adapters/fx-http-provider.ts';
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
  /** Default: the provider's own (lib/settings.ts fxProviderDefaults), applied below. */
  FX_MAX_AGE_SECONDS: z.optional(z.string().check(z.regex(/^\d+$/, 'must be a whole number'))),
  FX_LIVE_TIMEOUT_MS: intString(Number(defaultSettings.FX_LIVE_TIMEOUT_MS)),
  /** One provider answer serves the live checks of this instance this long (0: every order asks). */
  FX_LIVE_CACHE_SECONDS: intString(Number(defaultSettings.FX_LIVE_CACHE_SECONDS)),
  FX_MAX_DEVIATION: decimalString(defaultSettings.FX_MAX_DEVIATION),
  FX_MAX_JUMP: decimalString(defaultSettings.FX_MAX_JUMP),
  FX_MAX_DAILY_DRIFT: decimalString(defaultSettings.FX_MAX_DAILY_DRIFT),
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
  ...fxProviderEnv,
});

export type OrdersConfig = Omit<z.infer<typeof schema>, 'FX_MAX_AGE_SECONDS'> & {
  BASE_CURRENCY: Currency;
  FX_MAX_AGE_SECONDS: number;
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
  const maxAge = config.FX_MAX_AGE_SECONDS ?? fxProviderDefaults[config.FX_PROVIDER].FX_MAX_AGE_SECONDS;
  return { ...config, BASE_CURRENCY: base, FX_MAX_AGE_SECONDS: Number(maxAge), pairs, chargeGateways };
}
