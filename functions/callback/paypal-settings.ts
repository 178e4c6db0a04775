/**
 * PayPal certificate trust from the function's environment (CONTRACT §3 "paypal"), read at cold start:
 * a bad value fails the function's start with the variable's name, not a callback.
 */
import * as z from 'zod/mini';
import { parseHostAllowlist, trustStoreFromPem } from '../core/gateways/paypal-cert.ts';
import type { GatewayOptions } from '../core/gateways/types.ts';
import { type Env, readConfig } from '../shared/config.ts';

const succeeds = (parse: (value: string) => unknown) => (value: string) => {
  try {
    parse(value);
    return true;
  } catch {
    return false;
  }
};

const PaypalSettingsSchema = z.object({
  /** Comma-separated `host[:port]` patterns a `PAYPAL-CERT-URL` may name. @default '*.paypal.com' */
  PAYPAL_CERT_URL_HOSTS: z.optional(
    z.string().check(z.refine(succeeds(parseHostAllowlist), 'must be host[:port] patterns')),
  ),
  /** `*` pattern of the signing certificate's subject CN. @default 'messageverificationcerts*.paypal.com' */
  PAYPAL_CERT_CN: z.optional(z.string().check(z.minLength(1))),
  /** The only roots to trust, PEM (the sandbox's CA). Never set in AWS: Node's bundled roots. */
  PAYPAL_TRUST_ROOTS_PEM: z.optional(
    z.string().check(z.refine(succeeds(trustStoreFromPem), 'must hold PEM certificates')),
  ),
});

/** @throws ConfigError */
export function paypalSettings(env: Env): GatewayOptions {
  const config = readConfig(PaypalSettingsSchema, env);
  return {
    ...(config.PAYPAL_CERT_URL_HOSTS === undefined
      ? {}
      : { certHostAllowlist: parseHostAllowlist(config.PAYPAL_CERT_URL_HOSTS) }),
    ...(config.PAYPAL_CERT_CN === undefined ? {} : { certCommonName: config.PAYPAL_CERT_CN }),
    ...(config.PAYPAL_TRUST_ROOTS_PEM === undefined ? {} : { trustRootsPem: config.PAYPAL_TRUST_ROOTS_PEM }),
  };
}
