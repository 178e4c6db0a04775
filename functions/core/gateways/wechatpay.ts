/**
 * WeChat Pay API v3 notifications: an RSA-signed envelope (platform key chosen by `Wechatpay-Serial`)
 * around an AEAD_AES_256_GCM-encrypted resource.
 */
import { createDecipheriv, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as z from 'zod/mini';
import type { Currency } from '../money.ts';
import { acknowledgement } from './acknowledgement.ts';
import { assertContentType } from './content-type.ts';
import { GatewayConfigError, InvalidSignatureError, MalformedEventError } from './errors.ts';
import {
  checkTimestamp,
  finish,
  header,
  isRecord,
  obj,
  optionalStr,
  parseJsonObject,
  refs,
  requireCurrency,
  requireMinor,
  requireStr,
  str,
} from './internal.ts';
import { nonEmpty, optionalCurrency, parseSecret } from './secrets.ts';
import type { CallbackRequest, Gateway, GatewayFromSecret, VerifyResult } from './types.ts';

export interface WechatpayGatewayConfig {
  readonly name: string;
  readonly mchid: string;
  /** The API v3 key: 32 ASCII characters, used as the 32 AES-256 key bytes. */
  readonly apiV3Key: string;
  /**
   * Platform serial → platform certificate or public key (PEM). Several while WeChat rotates its
   * platform certificate, or for the newer "WeChat Pay public key" (serial `PUB_KEY_ID_…`).
   */
  readonly platformCertificates: Readonly<Record<string, string>>;
  /** Currency when the resource's amount has none (domestic refunds omit it). @default 'CNY' */
  readonly defaultCurrency?: Currency;
  /**
   * Service-provider (partner / 服务商, Global: institutional) mode: `mchid` is then our `sp_mchid`, and
   * when this is set the resource's `sub_mchid` must name it too.
   */
  readonly subMchid?: string;
}

/** Events we act on; anything else is answered `ignored` without decrypting it. */
const HANDLED = new Set(['TRANSACTION.SUCCESS', 'REFUND.SUCCESS', 'REFUND.CLOSED', 'REFUND.ABNORMAL']);

const TAG_BYTES = 16;

/**
 * Decrypts a notification resource: AES-256-GCM, key = the API v3 key's bytes, iv = `nonce` (UTF-8,
 * 12 characters in practice), AAD = `associated_data`, the ciphertext's last 16 bytes are the tag.
 * @throws MalformedEventError when anything does not fit or the tag does not authenticate.
 */
export function decryptWechatpayResource(
  resource: Record<string, unknown>,
  apiV3Key: string,
  gateway = 'wechatpay',
): string {
  if (resource.algorithm !== 'AEAD_AES_256_GCM') {
    throw new MalformedEventError('resource.algorithm is not AEAD_AES_256_GCM', { gateway });
  }
  const ciphertext = str(resource.ciphertext);
  const nonce = str(resource.nonce);
  const aad = typeof resource.associated_data === 'string' ? resource.associated_data : '';
  if (!ciphertext || !nonce) throw new MalformedEventError('resource lacks ciphertext or nonce', { gateway });
  const data = Buffer.from(ciphertext, 'base64');
  if (data.length <= TAG_BYTES) throw new MalformedEventError('resource.ciphertext too short', { gateway });
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      Buffer.from(apiV3Key, 'utf8'),
      Buffer.from(nonce, 'utf8'),
      {
        authTagLength: TAG_BYTES,
      },
    );
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(data.subarray(0, data.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch (cause) {
    // CONTRACT: a resource that fails decryption is 400 malformed_event (the envelope was signed).
    throw new MalformedEventError('resource does not decrypt', { gateway, cause });
  }
}

/** Builds the WeChat Pay gateway. @throws GatewayConfigError on a bad key or API v3 key */
export function createWechatpayGateway(config: WechatpayGatewayConfig): Gateway {
  const { name } = config;
  if (Buffer.byteLength(config.apiV3Key, 'utf8') !== 32) {
    throw new GatewayConfigError('apiV3Key must be 32 ASCII characters', { gateway: name });
  }
  const keys = new Map<string, KeyObject>();
  for (const [serial, pem] of Object.entries(config.platformCertificates)) {
    try {
      // createPublicKey takes a certificate PEM as well as a public key PEM.
      keys.set(serial, createPublicKey(pem));
    } catch (cause) {
      throw new GatewayConfigError(`platformCertificates[${serial}] is not a PEM key or certificate`, {
        gateway: name,
        cause,
      });
    }
  }
  const defaultCurrency = config.defaultCurrency ?? 'CNY';

  return {
    name,
    kind: 'wechatpay',
    contentType: 'json',
    async verify(req: CallbackRequest, now: Date): Promise<VerifyResult> {
      assertContentType('json', header(req, 'content-type'), name);
      const timestamp = header(req, 'wechatpay-timestamp');
      const nonce = header(req, 'wechatpay-nonce');
      const signature = header(req, 'wechatpay-signature');
      const serial = header(req, 'wechatpay-serial');
      if (!timestamp || !nonce || !signature || !serial) {
        throw new InvalidSignatureError('missing Wechatpay-* signature headers', { gateway: name });
      }
      const signatureType = header(req, 'wechatpay-signature-type');
      if (signatureType !== undefined && signatureType !== 'WECHATPAY2-SHA256-RSA2048') {
        throw new InvalidSignatureError('unsupported Wechatpay-Signature-Type', { gateway: name });
      }
      const key = keys.get(serial);
      if (!key) throw new InvalidSignatureError('unknown Wechatpay-Serial', { gateway: name });
      // WeChat Pay also sends signature probes (`WECHATPAY/SIGNTEST/…`): they fail here, as it expects.
      const signed = Buffer.concat([
        Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'),
        req.rawBody,
        Buffer.from('\n'),
      ]);
      if (!cryptoVerify('sha256', signed, key, Buffer.from(signature, 'base64'))) {
        throw new InvalidSignatureError('signature does not verify', { gateway: name });
      }
      checkTimestamp(timestamp, now, name);

      const body = parseJsonObject(req.rawBody, name);
      const eventType = requireStr(body.event_type, 'event_type', name);
      const eventId = requireStr(body.id, 'id', name);
      // Only the events we act on are decrypted: nothing else needs the plaintext.
      if (!HANDLED.has(eventType)) {
        return { type: 'ignored', eventType, eventId };
      }
      let resource: unknown;
      try {
        resource = JSON.parse(decryptWechatpayResource(obj(body.resource), config.apiV3Key, name));
      } catch (cause) {
        if (cause instanceof MalformedEventError) throw cause;
        throw new MalformedEventError('decrypted resource is not JSON', { gateway: name, cause });
      }
      if (!isRecord(resource))
        throw new MalformedEventError('decrypted resource is not an object', { gateway: name });
      // Authentic (it decrypted with our key), but about another merchant: treated like a bad signature.
      if (!isOurMerchant(resource, config)) {
        throw new InvalidSignatureError('resource merchant (mchid / sp_mchid / sub_mchid) is not ours', {
          gateway: name,
        });
      }
      return normaliseWechatpayResource(
        { eventId, eventType, createTime: str(body.create_time) },
        resource,
        defaultCurrency,
        name,
      );
    },
    acknowledge: (statusCode, body, headers) => acknowledgement('wechatpay', statusCode, body, headers),
  };
}

/**
 * Direct mode names the merchant in `mchid`; partner mode in `sp_mchid` (the service provider, us) with
 * the sub-merchant in `sub_mchid` (WeChat Pay API v3 服务商 notifications; Global institutional mode).
 */
function isOurMerchant(r: Record<string, unknown>, config: WechatpayGatewayConfig): boolean {
  if (r.mchid !== undefined) return r.mchid === config.mchid;
  if (r.sp_mchid !== config.mchid) return false;
  return config.subMchid === undefined || r.sub_mchid === config.subMchid;
}

/**
 * Maps a decrypted resource (CONTRACT §3 "wechatpay") to a NormalizedEvent. Fields as WeChat Pay's API v3
 * notification references give them (支付通知 / 退款结果通知; Global: Payment / Refund Result Notification):
 *
 * | event_type | effect |
 * |---|---|
 * | `TRANSACTION.SUCCESS` | payment: `transaction_id` (Global: `id`), `out_trade_no`, `amount.total` of `amount.currency` |
 * | `REFUND.SUCCESS` | refund `refund_id` of `transaction_id`, ours in `out_refund_no`, `amount.refund` |
 * | `REFUND.CLOSED` | our pending refund `out_refund_no` → failed |
 * | `REFUND.ABNORMAL` | our pending refund `out_refund_no` → abnormal, for a person |
 * | anything else | ignored |
 * @throws MalformedEventError
 */
export function normaliseWechatpayResource(
  envelope: { eventId: string; eventType: string; createTime?: string },
  r: Record<string, unknown>,
  defaultCurrency: Currency,
  gateway = 'wechatpay',
): VerifyResult {
  const { eventId, eventType } = envelope;
  const amount = obj(r.amount);
  // Domestic refund notifications carry no amount.currency: the configured default (CNY).
  const currency =
    amount.currency === undefined
      ? defaultCurrency
      : requireCurrency(amount.currency, 'amount.currency', gateway);
  if (eventType === 'TRANSACTION.SUCCESS') {
    // The envelope and the resource must agree; a mismatch is a WeChat-side bug we refuse to guess about.
    if (r.trade_state !== undefined && r.trade_state !== 'SUCCESS') {
      throw new MalformedEventError('TRANSACTION.SUCCESS with trade_state other than SUCCESS', { gateway });
    }
    // WeChat Pay Global (the cross-border API) names the WeChat Pay order number `id`.
    const transactionId =
      optionalStr(r.transaction_id, 'transaction_id', gateway) ??
      requireStr(r.id, 'transaction_id or id', gateway);
    const outTradeNo = requireStr(r.out_trade_no, 'out_trade_no', gateway);
    return {
      type: 'event',
      event: finish({
        gateway,
        eventId,
        eventType,
        kind: 'payment',
        transactionId,
        orderId: outTradeNo,
        amountMinor: requireMinor(amount.total, 'amount.total', gateway),
        currency,
        occurredAt: str(r.success_time) ?? envelope.createTime,
        references: refs({ transactionId, outTradeNo, subMchid: r.sub_mchid }),
      }),
    };
  }
  const refundEvents: Record<string, { status: string; outcome?: 'closed' | 'abnormal' }> = {
    'REFUND.SUCCESS': { status: 'SUCCESS' },
    'REFUND.CLOSED': { status: 'CLOSED', outcome: 'closed' },
    'REFUND.ABNORMAL': { status: 'ABNORMAL', outcome: 'abnormal' },
  };
  const refundEvent = Object.hasOwn(refundEvents, eventType) ? refundEvents[eventType] : undefined;
  if (refundEvent) {
    if (r.refund_status !== undefined && r.refund_status !== refundEvent.status) {
      throw new MalformedEventError(`${eventType} with refund_status ${String(r.refund_status)}`, {
        gateway,
      });
    }
    const refundId = requireStr(r.refund_id, 'refund_id', gateway);
    const transactionId = requireStr(r.transaction_id, 'transaction_id', gateway);
    return {
      type: 'event',
      event: finish({
        gateway,
        eventId,
        eventType,
        // A closed or abnormal refund moved no money with this delivery: recorded per delivery.
        kind: refundEvent.outcome ? 'attempt' : 'refund',
        transactionId: refundId,
        orderId: str(r.out_trade_no),
        amountMinor: requireMinor(amount.refund, 'amount.refund', gateway),
        currency,
        refundOf: transactionId,
        refundId: optionalStr(r.out_refund_no, 'out_refund_no', gateway),
        ...(refundEvent.outcome ? { refundOutcome: refundEvent.outcome } : {}),
        occurredAt: str(r.success_time) ?? envelope.createTime,
        references: refs({
          refundId,
          outRefundNo: r.out_refund_no,
          transactionId,
          outTradeNo: r.out_trade_no,
        }),
      }),
    };
  }
  return { type: 'ignored', eventType, eventId };
}

/** WeChat Pay's secret JSON. */
export const wechatpaySecretSchema = z.strictObject({
  mchid: nonEmpty,
  apiV3Key: z.string().check(z.length(32)),
  /** Platform serial → platform certificate or public key PEM. */
  platformCertificates: z
    .record(nonEmpty, nonEmpty)
    .check(z.refine((m) => Object.keys(m).length > 0, 'empty')),
  /** @default 'CNY' */
  defaultCurrency: optionalCurrency,
  /** Partner mode: the sub-merchant notifications must name (our `mchid` is then the `sp_mchid`). */
  subMchid: z.optional(nonEmpty),
});

export const wechatpayGatewayFromSecret: GatewayFromSecret = (name, secret, options = {}) => {
  const s = parseSecret(wechatpaySecretSchema, 'wechatpay', secret, name);
  return createWechatpayGateway({
    name,
    ...s,
    defaultCurrency: options.defaultCurrency ?? (s.defaultCurrency as Currency | undefined),
  });
};
