/**
 * The callback handler with every gateway kind built in, as the sandbox and the tests load it. In AWS
 * each gateway's function is bundled from its own entry (`handler-{kind}.ts`), which imports that
 * gateway's module alone.
 */
import { gatewayFromSecret } from '../core/gateways/index.ts';
import type { Env } from '../shared/config.ts';
import { type CallbackDeps, type CallbackGateways, createCallbackHandler } from './callback.ts';
import { paypalSettings } from './paypal-settings.ts';

export { MAX_BODY_BYTES } from './callback.ts';

const callbackGateways: Required<CallbackGateways> = {
  stripe: { fromSecret: gatewayFromSecret.stripe },
  paypal: { fromSecret: gatewayFromSecret.paypal, settings: paypalSettings },
  alipay: { fromSecret: gatewayFromSecret.alipay },
  wechatpay: { fromSecret: gatewayFromSecret.wechatpay },
  'standard-webhooks': { fromSecret: gatewayFromSecret['standard-webhooks'] },
};

export function createHandler(env: Env, overrides: Partial<CallbackDeps> = {}) {
  return createCallbackHandler(env, callbackGateways, overrides);
}
