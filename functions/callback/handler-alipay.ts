import { alipayGatewayFromSecret } from '../core/gateways/alipay.ts';
import { createCallbackHandler } from './callback.ts';

/** The alipay callback function: only this gateway kind's code is bundled. */
export const handler = createCallbackHandler(process.env, {
  alipay: { fromSecret: alipayGatewayFromSecret },
});
