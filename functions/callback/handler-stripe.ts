import { stripeGatewayFromSecret } from '../core/gateways/stripe.ts';
import { createCallbackHandler } from './callback.ts';

/** The stripe callback function: only this gateway kind's code is bundled. */
export const handler = createCallbackHandler(process.env, {
  stripe: { fromSecret: stripeGatewayFromSecret },
});
