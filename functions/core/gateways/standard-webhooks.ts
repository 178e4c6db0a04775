/**
 * Standard Webhooks gateways (`localpay` in the sandbox), verified with the reference `standardwebhooks`
 * package.
 *
 * Why not `new Webhook(secret).verify(payload, headers)`: in 1.1.1 `verify` reads `Date.now()` inside a
 * private `verifyTimestamp` (5 × 60 s both ways) and has no clock option, so a caller cannot check
 * against the request's receive time and tests would need fake timers. We check the timestamp against
 * the injected `now` ourselves (same ±300 s, strict digits instead of `parseInt`) and use the package's
 * public `sign(msgId, timestamp, payload)` for the expected signature, so the secret decoding
 * (`whsec_` prefix + base64) and the signed-content format stay the reference implementation's. The
 * unit tests check that the package's `verify` agrees with us.
 */
import { Webhook } from 'standardwebhooks';
import * as z from 'zod/mini';
import { acknowledgement } from './acknowledgement.ts';
import { assertContentType } from './content-type.ts';
import { GatewayConfigError, InvalidSignatureError } from './errors.ts';
import {
  checkTimestamp,
  finish,
  header,
  obj,
  parseJsonObject,
  refs,
  requireCurrency,
  requireMinor,
  requireStr,
  safeEqual,
  str,
} from './internal.ts';
import { parseSecret, secretList } from './secrets.ts';
import type { CallbackRequest, Gateway, GatewayFromSecret, VerifyResult } from './types.ts';

export interface StandardWebhooksGatewayConfig {
  readonly name: string;
  /** Every active secret (`whsec_<base64>`); two while rotating. */
  readonly secrets: readonly string[];
}

/** Builds a Standard Webhooks gateway. @throws GatewayConfigError on a secret that is not base64. */
export function createStandardWebhooksGateway(config: StandardWebhooksGatewayConfig): Gateway {
  const { name } = config;
  const webhooks = config.secrets.map((secret, i) => {
    try {
      return new Webhook(secret);
    } catch (cause) {
      // The package's message never echoes the secret, but we do not forward it anyway.
      throw new GatewayConfigError(`secrets[${i}] is not a whsec_/base64 secret`, { gateway: name, cause });
    }
  });
  return {
    name,
    kind: 'standard-webhooks',
    contentType: 'json',
    async verify(req: CallbackRequest, now: Date): Promise<VerifyResult> {
      assertContentType('json', header(req, 'content-type'), name);
      const msgId = header(req, 'webhook-id');
      const timestamp = header(req, 'webhook-timestamp');
      const signatures = header(req, 'webhook-signature');
      if (!msgId || !timestamp || !signatures) {
        throw new InvalidSignatureError('missing webhook-id/-timestamp/-signature', { gateway: name });
      }
      const seconds = checkTimestamp(timestamp, now, name);
      // The header holds space-separated `v1,<base64>` entries, one per secret the sender signs with;
      // other versions (`v1a,` asymmetric) are skipped as the spec says.
      const candidates = signatures
        .split(' ')
        .filter((s) => s.startsWith('v1,'))
        .map((s) => s.slice(3));
      const signedAt = new Date(seconds * 1000);
      const ok = webhooks.some((wh) => {
        const expected = wh.sign(msgId, signedAt, req.rawBody).slice(3);
        return candidates.reduce((found, c) => safeEqual(c, expected) || found, false);
      });
      if (!ok) throw new InvalidSignatureError('no v1 signature matches', { gateway: name });
      return normaliseStandardWebhooksEvent(parseJsonObject(req.rawBody, name), msgId, name);
    },
    acknowledge: (statusCode, body, headers) =>
      acknowledgement('standard-webhooks', statusCode, body, headers),
  };
}

/**
 * Maps a verified body (CONTRACT §3 "Standard Webhooks gateways") to a NormalizedEvent.
 * The delivery id is the `webhook-id` header, which the spec keeps stable across retries.
 * @throws MalformedEventError
 */
export function normaliseStandardWebhooksEvent(
  body: Record<string, unknown>,
  eventId: string,
  gateway: string,
): VerifyResult {
  const eventType = requireStr(body.type, 'type', gateway);
  const d = obj(body.data);
  const base = { gateway, eventId, eventType, occurredAt: str(body.timestamp) };
  switch (eventType) {
    case 'payment.succeeded':
    case 'payment.failed': {
      const succeeded = eventType === 'payment.succeeded';
      const transactionId = requireStr(d.transaction_id, 'data.transaction_id', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: succeeded ? 'payment' : 'attempt',
          transactionId,
          orderId: succeeded ? requireStr(d.order_id, 'data.order_id', gateway) : str(d.order_id),
          amountMinor: requireMinor(d.amount_minor, 'data.amount_minor', gateway),
          currency: requireCurrency(d.currency, 'data.currency', gateway),
          references: refs({ transaction: transactionId }),
        }),
      };
    }
    case 'refund.succeeded': {
      const transactionId = requireStr(d.transaction_id, 'data.transaction_id', gateway);
      const refundOf = requireStr(d.refunded_transaction_id, 'data.refunded_transaction_id', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: 'refund',
          transactionId,
          orderId: str(d.order_id),
          amountMinor: requireMinor(d.amount_minor, 'data.amount_minor', gateway),
          currency: requireCurrency(d.currency, 'data.currency', gateway),
          refundOf,
          refundId: str(d.refund_id),
          references: refs({
            transaction: transactionId,
            refundedTransaction: refundOf,
            refundId: d.refund_id,
          }),
        }),
      };
    }
    default:
      return { type: 'ignored', eventType, eventId };
  }
}

/** A Standard Webhooks gateway's secret JSON: `whsec_<base64>` secrets; two while rotating. */
export const standardWebhooksSecretSchema = z.strictObject({ secrets: secretList });

export const standardWebhooksGatewayFromSecret: GatewayFromSecret = (name, secret) =>
  createStandardWebhooksGateway({
    name,
    ...parseSecret(standardWebhooksSecretSchema, 'standard-webhooks', secret, name),
  });
