import { standardWebhooksGatewayFromSecret } from '../core/gateways/standard-webhooks.ts';
import { createCallbackHandler } from './callback.ts';

/** The standard-webhooks callback function: only this gateway kind's code is bundled. */
export const handler = createCallbackHandler(process.env, {
  'standard-webhooks': { fromSecret: standardWebhooksGatewayFromSecret },
});
