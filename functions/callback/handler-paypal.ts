import { paypalGatewayFromSecret } from '../core/gateways/paypal.ts';
import { createCallbackHandler } from './callback.ts';
import { paypalSettings } from './paypal-settings.ts';

/** The paypal callback function: only this gateway kind's code is bundled. */
export const handler = createCallbackHandler(process.env, {
  paypal: { fromSecret: paypalGatewayFromSecret, settings: paypalSettings },
});
