/** The secret each sandbox callback function receives, in the shape its gateway's secret schema expects. */
import type { SandboxGatewayKeys } from './gateway-keys.ts';

export function gatewaySecretFor(gateway: string, keys: SandboxGatewayKeys, _apiPort?: number): unknown {
  switch (gateway) {
    case 'stripe':
      return { webhookSecrets: [keys.stripe.webhookSecret] };
    case 'paypal':
      return { webhookId: keys.paypal.webhookId };
    case 'localpay':
      return { secrets: [keys.localpay.secret] };
    case 'alipay':
      return {
        appId: keys.alipay.appId,
        sellerId: keys.alipay.sellerId,
        alipayPublicKeyPem: keys.alipay.alipayPublicKeyPem,
      };
    case 'wechatpay':
      return {
        mchid: keys.wechatpay.mchid,
        apiV3Key: keys.wechatpay.apiV3Key,
        platformCertificates: { [keys.wechatpay.platformSerial]: keys.wechatpay.platformPublicKeyPem },
      };
    default:
      throw new Error(`the sandbox has no keys for gateway ${gateway}`);
  }
}

/**
 * The non-secret settings the sandbox gives a callback function of `kind`, over the topology's AWS
 * values: PayPal trusts the sandbox's own root CA (and only it), and its cert URLs may name the sandbox's
 * API unless `PAYPAL_CERT_URL_HOSTS` is set in the sandbox's environment, which it then honours.
 */
export function sandboxCallbackEnv(
  kind: string,
  keys: SandboxGatewayKeys,
  apiPort: number,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  if (kind !== 'paypal') return {};
  return {
    PAYPAL_CERT_URL_HOSTS: env.PAYPAL_CERT_URL_HOSTS || `127.0.0.1:${apiPort}`,
    PAYPAL_TRUST_ROOTS_PEM: keys.paypal.rootCaPem,
  };
}
