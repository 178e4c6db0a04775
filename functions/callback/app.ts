/**
 * The callback handler with every gateway kind built in, as the sandbox and the tests load it. In AWS
 * each gateway's function is bundled from its own entry (`handler-{kind}.ts`), which imports that
 * gateway's module alone.
 */
import { alipayGatewayFromSecret } from '../core/gateways/alipay.ts';
import { paypalGatewayFromSecret } from '../core/gateways/paypal.ts';
import { standardWebhooksGatewayFromSecret } from '../core/gateways/standard-webhooks.ts';
import { stripeGatewayFromSecret } from '../core/gateways/stripe.ts';
import { wechatpayGatewayFromSecret } from '../core/gateways/wechatpay.ts';
import type { Env } from '../shared/config.ts';
import { type CallbackDeps, type CallbackGateways, createCallbackHandler } from './callback.ts';
import { paypalSettings } from './paypal-settings.ts';

export { MAX_BODY_BYTES } from './callback.ts';

export const callbackGateways = {
  stripe: { fromSecret: stripeGatewayFromSecret },
  paypal: { fromSecret: paypalGatewayFromSecret, settings: paypalSettings },
  alipay: { fromSecret: alipayGatewayFromSecret },
  wechatpay: { fromSecret: wechatpayGatewayFromSecret },
  'standard-webhooks': { fromSecret: standardWebhooksGatewayFromSecret },
} as const satisfies Required<CallbackGateways>;

export function createHandler(env: Env, overrides: Partial<CallbackDeps> = {}) {
  return createCallbackHandler(env, callbackGateways, overrides);
}
