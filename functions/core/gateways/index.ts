/**
 * The gateway layer's entry point: load one gateway's secret JSON, build its verifier, and render
 * acknowledgements. Everything here is pure apart from the PayPal certificate download, which is
 * injectable (`fetchCert`).
 */
import * as z from 'zod/mini';
import { type Currency, isCurrency } from '../money.ts';
import { createAlipayGateway } from './alipay.ts';
import { GatewayConfigError } from './errors.ts';
import { createPaypalGateway, DEFAULT_CERT_HOST_ALLOWLIST, type FetchCert, httpFetchCert } from './paypal.ts';
import { createStandardWebhooksGateway } from './standard-webhooks.ts';
import { createStripeGateway } from './stripe.ts';
import type { Gateway, GatewayKind } from './types.ts';
import { createWechatpayGateway } from './wechatpay.ts';

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
export type { CallbackRequest, ContentKind, Gateway, GatewayKind, VerifyResult } from './types.ts';

const nonEmpty = z.string().check(z.minLength(1));
const secretList = z.array(nonEmpty).check(z.minLength(1));
const currency = z.optional(z.string().check(z.refine(isCurrency, 'unknown currency')));

/**
 * The secret JSON (Secrets Manager in AWS, the sandbox locally) each kind of gateway needs, one schema
 * per kind. Strict objects: a misspelt optional key (`defaultCurency`) fails at start instead of
 * silently falling back to a default.
 */
export const GatewaySecretsSchema = {
  stripe: z.strictObject({
    /** Every active endpoint secret; two while rolling. */
    webhookSecrets: secretList,
  }),
  'standard-webhooks': z.strictObject({
    /** `whsec_<base64>` secrets; two while rotating. */
    secrets: secretList,
  }),
  paypal: z.strictObject({
    webhookId: nonEmpty,
  }),
  alipay: z.strictObject({
    appId: nonEmpty,
    sellerId: nonEmpty,
    /** PEM or Alipay's bare base64 public key. */
    alipayPublicKeyPem: nonEmpty,
    /** @default 'CNY' */
    defaultCurrency: currency,
  }),
  wechatpay: z.strictObject({
    mchid: nonEmpty,
    apiV3Key: z.string().check(z.length(32)),
    /** Platform serial → platform certificate or public key PEM. */
    platformCertificates: z
      .record(nonEmpty, nonEmpty)
      .check(z.refine((m) => Object.keys(m).length > 0, 'empty')),
    /** @default 'CNY' */
    defaultCurrency: currency,
    /** Partner mode: the sub-merchant notifications must name (our `mchid` is then the `sp_mchid`). */
    subMchid: z.optional(nonEmpty),
  }),
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
  let value = secret;
  if (typeof secret === 'string') {
    try {
      value = JSON.parse(secret);
    } catch {
      // The parser's message can quote the input: do not chain it as the cause.
      throw new GatewayConfigError(`secret of gateway ${name} is not JSON`, { gateway: name });
    }
  }
  const schema: z.ZodMiniType = GatewaySecretsSchema[kind];
  if (!schema)
    throw new GatewayConfigError(`unknown gateway kind ${JSON.stringify(kind)}`, { gateway: name });
  const result = schema.safeParse(value);
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`).join('; ');
    throw new GatewayConfigError(`secret of gateway ${name} (${kind}) is invalid: ${fields}`, {
      gateway: name,
    });
  }
  return result.data as GatewaySecrets<K>;
}

/** Non-secret settings and injected dependencies. */
export interface GatewayOptions {
  /** PayPal: certificate download. @default httpFetchCert (fetch, 3 s timeout, no redirects) */
  readonly fetchCert?: FetchCert;
  /** PayPal: cert URL host patterns (`PAYPAL_CERT_URL_HOSTS`). @default ['*.paypal.com'] */
  readonly certHostAllowlist?: readonly string[];
  /** PayPal: the only roots to trust (`PAYPAL_TRUST_ROOTS_PEM`). @default Node's bundled root CAs */
  readonly trustRootsPem?: string;
  /** PayPal: leaf subject CN pattern (`PAYPAL_CERT_CN`). @default 'messageverificationcerts*.paypal.com' */
  readonly certCommonName?: string;
  /** Alipay / WeChat Pay: currency when the notification names none. Overrides the secret's. @default 'CNY' */
  readonly defaultCurrency?: Currency;
}

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
  switch (kind) {
    case 'stripe':
      return createStripeGateway({ name, ...parseGatewaySecrets(kind, secrets, name) });
    case 'standard-webhooks':
      return createStandardWebhooksGateway({ name, ...parseGatewaySecrets(kind, secrets, name) });
    case 'paypal': {
      const s = parseGatewaySecrets(kind, secrets, name);
      return createPaypalGateway({
        name,
        webhookId: s.webhookId,
        certHostAllowlist: options.certHostAllowlist ?? DEFAULT_CERT_HOST_ALLOWLIST,
        fetchCert: options.fetchCert ?? ((url) => httpFetchCert(url)),
        ...(options.trustRootsPem === undefined ? {} : { trustRootsPem: options.trustRootsPem }),
        ...(options.certCommonName === undefined ? {} : { certCommonName: options.certCommonName }),
      });
    }
    case 'alipay': {
      const s = parseGatewaySecrets(kind, secrets, name);
      return createAlipayGateway({
        name,
        ...s,
        defaultCurrency: options.defaultCurrency ?? (s.defaultCurrency as Currency | undefined),
      });
    }
    case 'wechatpay': {
      const s = parseGatewaySecrets(kind, secrets, name);
      return createWechatpayGateway({
        name,
        ...s,
        defaultCurrency: options.defaultCurrency ?? (s.defaultCurrency as Currency | undefined),
      });
    }
    default:
      throw new GatewayConfigError(`unknown gateway kind ${JSON.stringify(kind satisfies never)}`, {
        gateway: name,
      });
  }
}
