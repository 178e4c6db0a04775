/** The secret each sandbox callback function receives, in the shape its gateway's secret schema expects. */
import type { SandboxGatewayKeys } from './gateway-keys.ts';

export function gatewaySecretFor(gateway: string, keys: SandboxGatewayKeys, apiPort: number): unknown {
  switch (gateway) {
    case 'stripe':
      return { webhookSecrets: [keys.stripe.webhookSecret] };
    case 'paypal':
      return { webhookId: keys.paypal.webhookId, certHostAllowlist: [`127.0.0.1:${apiPort}`] };
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
