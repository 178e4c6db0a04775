/**
 * The gateway layer's entry point: load one gateway's secret JSON, build its verifier, and render
 * acknowledgements. Everything here is pure apart from the PayPal certificate download, which is
 * injectable (`fetchCert`).
 */
import type * as z from 'zod/mini';
import { alipayGatewayFromSecret, alipaySecretSchema } from './alipay.ts';
import { GatewayConfigError } from './errors.ts';
import { paypalGatewayFromSecret, paypalSecretSchema } from './paypal.ts';
import { parseSecret } from './secrets.ts';
import { standardWebhooksGatewayFromSecret, standardWebhooksSecretSchema } from './standard-webhooks.ts';
import { stripeGatewayFromSecret, stripeSecretSchema } from './stripe.ts';
import type { Gateway, GatewayFromSecret, GatewayKind, GatewayOptions } from './types.ts';
import { wechatpayGatewayFromSecret, wechatpaySecretSchema } from './wechatpay.ts';

export { type AckBody, type Acknowledgement, acknowledgement } from './acknowledgement.ts';
export { assertContentType } from './content-type.ts';
export * from './errors.ts';
export {
  DEFAULT_CERT_COMMON_NAME,
  DEFAULT_CERT_HOST_ALLOWLIST,
  type FetchCert,
  httpFetchCert,
  isAllowedCertUrl,
} from './paypal.ts';
export type {
  CallbackRequest,
  ContentKind,
  Gateway,
  GatewayFromSecret,
  GatewayKind,
  GatewayOptions,
  VerifyResult,
} from './types.ts';

/** Every kind's secret schema (each declared beside its gateway). */
export const GatewaySecretsSchema = {
  stripe: stripeSecretSchema,
  'standard-webhooks': standardWebhooksSecretSchema,
  paypal: paypalSecretSchema,
  alipay: alipaySecretSchema,
  wechatpay: wechatpaySecretSchema,
} as const satisfies Record<GatewayKind, z.ZodMiniType>;

/** The parsed secret of one kind of gateway. */
export type GatewaySecrets<K extends GatewayKind = GatewayKind> = z.infer<(typeof GatewaySecretsSchema)[K]>;

/**
 * Validates a gateway's secret (the JSON string from Secrets Manager, or an already parsed object).
 * The error names the bad fields, never their values.
 * @throws GatewayConfigError
 */
export function parseGatewaySecrets<K extends GatewayKind>(
  kind: K,
  secret: unknown,
  name: string = kind,
): GatewaySecrets<K> {
  const schema: z.ZodMiniType | undefined = GatewaySecretsSchema[kind];
  if (!schema)
    throw new GatewayConfigError(`unknown gateway kind ${JSON.stringify(kind)}`, { gateway: name });
  return parseSecret(schema, kind, secret, name) as GatewaySecrets<K>;
}

/** Every kind's builder. A function built for one gateway imports that gateway's module alone. */
export const gatewayFromSecret: Readonly<Record<GatewayKind, GatewayFromSecret>> = {
  stripe: stripeGatewayFromSecret,
  'standard-webhooks': standardWebhooksGatewayFromSecret,
  paypal: paypalGatewayFromSecret,
  alipay: alipayGatewayFromSecret,
  wechatpay: wechatpayGatewayFromSecret,
};

/**
 * Builds the gateway `name` of `kind` from its secret (validated here). Call once per Lambda instance,
 * at cold start, and keep the result: PayPal caches certificates in it.
 * @throws GatewayConfigError
 */
export function createGateway(
  kind: GatewayKind,
  name: string,
  secrets: unknown,
  options: GatewayOptions = {},
): Gateway {
  if (!Object.hasOwn(gatewayFromSecret, kind))
    throw new GatewayConfigError(`unknown gateway kind ${JSON.stringify(kind)}`, { gateway: name });
  return gatewayFromSecret[kind](name, secrets, options);
}
