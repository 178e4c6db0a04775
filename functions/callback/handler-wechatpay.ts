import { wechatpayGatewayFromSecret } from '../core/gateways/wechatpay.ts';
import { createCallbackHandler } from './callback.ts';

/** The wechatpay callback function: only this gateway kind's code is bundled. */
export const handler = createCallbackHandler(process.env, {
  wechatpay: { fromSecret: wechatpayGatewayFromSecret },
});
