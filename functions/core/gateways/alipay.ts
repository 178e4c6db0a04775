/**
 * Alipay open-platform asynchronous notifications (异步通知): a form-encoded POST, RSA2-signed.
 *
 * The signed content is rebuilt from the percent-decoded BYTES of each parameter rather than from
 * decoded strings: Alipay signs the text in the notification's own `charset` (utf-8, or GBK for older
 * apps), and Node cannot re-encode a string to GBK. Working on bytes verifies either charset exactly;
 * the values are then decoded with that charset for use.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { TextDecoder } from 'node:util';
import * as z from 'zod/mini';
import type { Currency } from '../money.ts';
import { acknowledgement } from './acknowledgement.ts';
import { assertContentType } from './content-type.ts';
import { requireMajor } from './currencies.ts';
import {
  GatewayConfigError,
  InvalidSignatureError,
  MalformedEventError,
  UnsupportedMediaTypeError,
} from './errors.ts';
import { finish, header, refs, requireCurrency, requireStr, str } from './internal.ts';
import { nonEmpty, optionalCurrency, parseSecret } from './secrets.ts';
import type { CallbackRequest, Gateway, GatewayFromSecret, VerifyResult } from './types.ts';

export interface AlipayGatewayConfig {
  readonly name: string;
  readonly appId: string;
  /** Our merchant PID (2088…): `seller_id` must name it. */
  readonly sellerId: string;
  /** Alipay's public key: PEM, or the bare base64 SPKI the Alipay console shows. */
  readonly alipayPublicKeyPem: string;
  /** Currency when the notification has no `trans_currency`. @default 'CNY' */
  readonly defaultCurrency?: Currency;
}

/** One form parameter: raw (percent-decoded) bytes, for the signature. */
interface RawParam {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** Accepts a PEM public key or Alipay's bare base64 form. @throws GatewayConfigError */
export function alipayPublicKey(pemOrBase64: string, gateway = 'alipay'): KeyObject {
  const text = pemOrBase64.trim();
  const pem = text.startsWith('-----BEGIN')
    ? text
    : `-----BEGIN PUBLIC KEY-----\n${text.replace(/\s+/g, '').replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`;
  try {
    return createPublicKey(pem);
  } catch (cause) {
    throw new GatewayConfigError('alipayPublicKeyPem is not a public key', { gateway, cause });
  }
}

/**
 * Splits an `application/x-www-form-urlencoded` body into byte pairs: `+` is a space, `%XX` a byte,
 * any other byte stands for itself. @returns undefined when a `%` escape is broken.
 */
export function parseFormBytes(body: Buffer): RawParam[] | undefined {
  const params: RawParam[] = [];
  const text = body.toString('latin1'); // 1 char per byte, so indexes are byte offsets
  if (text === '') return params;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = percentDecode(eq < 0 ? part : part.slice(0, eq));
    const value = percentDecode(eq < 0 ? '' : part.slice(eq + 1));
    if (!key || !value) return undefined;
    params.push({ key, value });
  }
  return params;
}

function percentDecode(s: string): Buffer | undefined {
  const out = Buffer.alloc(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      out[n++] = 0x20;
    } else if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      out[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

/**
 * The RSA2 signed content: every non-empty parameter except `sign` and `sign_type`, sorted by key
 * (code-unit order, as Alipay's Java TreeMap does), `k=v` joined by `&`, as bytes.
 */
export function alipaySignedContent(params: ReadonlyMap<string, Buffer>): Buffer {
  const keys = [...params.keys()].filter(
    (k) => k !== 'sign' && k !== 'sign_type' && params.get(k)!.length > 0,
  );
  keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: Buffer[] = [];
  keys.forEach((k, i) => {
    if (i > 0) parts.push(Buffer.from('&'));
    parts.push(Buffer.from(`${k}=`, 'utf8'), params.get(k)!);
  });
  return Buffer.concat(parts);
}

/** Alipay times are Beijing time without an offset: "2026-11-23 15:45:57" → ISO 8601 with +08:00. */
function beijingIso(value: string | undefined): string | undefined {
  const m = value === undefined ? null : /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,3})?$/.exec(value);
  return m ? `${m[1]}T${m[2]}${m[3] ?? ''}+08:00` : undefined;
}

/** Builds the Alipay gateway. @throws GatewayConfigError on a bad public key */
export function createAlipayGateway(config: AlipayGatewayConfig): Gateway {
  const { name } = config;
  const publicKey = alipayPublicKey(config.alipayPublicKeyPem, name);
  const defaultCurrency = config.defaultCurrency ?? 'CNY';

  return {
    name,
    kind: 'alipay',
    contentType: 'form',
    async verify(req: CallbackRequest, now: Date): Promise<VerifyResult> {
      void now; // Alipay signs no timestamp; notify_id + the ledger key make replays harmless.
      const headerCharset = assertContentType('form', header(req, 'content-type'), name);
      const raw = parseFormBytes(req.rawBody);
      if (!raw) throw new InvalidSignatureError('form body has a broken % escape', { gateway: name });

      // Keys are ASCII; a repeated key would make the signed content ambiguous, so it is refused.
      const bytes = new Map<string, Buffer>();
      for (const { key, value } of raw) {
        const k = key.toString('latin1');
        if (bytes.has(k)) throw new InvalidSignatureError(`parameter ${k} repeated`, { gateway: name });
        bytes.set(k, value);
      }
      const decoder = textDecoder(bytes.get('charset')?.toString('latin1') ?? headerCharset ?? 'utf-8', name);

      const sign = bytes.get('sign')?.toString('latin1');
      if (!sign) throw new InvalidSignatureError('missing sign', { gateway: name });
      const signType = bytes.get('sign_type')?.toString('latin1');
      if (signType !== undefined && signType !== 'RSA2') {
        throw new InvalidSignatureError('only sign_type RSA2 is accepted', { gateway: name });
      }
      const ok = cryptoVerify('sha256', alipaySignedContent(bytes), publicKey, Buffer.from(sign, 'base64'));
      if (!ok) throw new InvalidSignatureError('signature does not verify', { gateway: name });

      const params: Record<string, string> = {};
      for (const [k, v] of bytes) {
        try {
          params[k] = decoder.decode(v);
        } catch (cause) {
          throw new MalformedEventError(`parameter ${k} is not valid in its charset`, {
            gateway: name,
            cause,
          });
        }
      }
      // A genuine notification for another app or merchant (shared Alipay key) is not ours: 401 (CONTRACT).
      // seller_id is optional in Alipay's notification table (异步通知参数), but names us when present.
      const sellerId = params.seller_id === '' ? undefined : params.seller_id;
      if (params.app_id !== config.appId || (sellerId !== undefined && sellerId !== config.sellerId)) {
        throw new InvalidSignatureError('app_id or seller_id is not ours', { gateway: name });
      }
      return normaliseAlipayNotification(params, defaultCurrency, name);
    },
    acknowledge: (statusCode, body, headers) => acknowledgement('alipay', statusCode, body, headers),
  };
}

function textDecoder(charset: string, gateway: string): TextDecoder {
  try {
    return new TextDecoder(charset.trim().toLowerCase(), { fatal: true });
  } catch (cause) {
    throw new UnsupportedMediaTypeError('unsupported form charset', { gateway, cause });
  }
}

/** A decimal string that is zero ("0", "0.00"): some payment notifications carry `refund_fee=0.00`. */
const ZERO = /^0*(\.0*)?$/;

/**
 * Maps verified, decoded notification parameters (CONTRACT §3 "alipay") to a NormalizedEvent. Fields as
 * Alipay's asynchronous notification reference lists them (opendocs.alipay.com 异步通知参数说明:
 * `trade_status`, `refund_fee` 总退款金额, `out_biz_no` 商户业务号, `gmt_refund`):
 *
 * | notification | effect |
 * |---|---|
 * | `refund_fee` > 0 and `out_biz_no` | refund `{trade_no}:{out_biz_no}`, `refund_fee` cumulative for the trade |
 * | `TRADE_SUCCESS` / `TRADE_FINISHED` otherwise | payment `trade_no` (`TRADE_FINISHED` after `TRADE_SUCCESS`: the same key, a duplicate) |
 * | `TRADE_CLOSED` without a refund, `WAIT_BUYER_PAY`, anything else | ignored |
 *
 * A `refund_fee` without `out_biz_no` (the status change of an already refunded trade) is no new refund:
 * with TRADE_SUCCESS/TRADE_FINISHED it is the trade's payment again (a duplicate), else ignored.
 * @throws MalformedEventError
 */
export function normaliseAlipayNotification(
  params: Readonly<Record<string, string>>,
  defaultCurrency: Currency,
  gateway = 'alipay',
): VerifyResult {
  const p = (k: string) => str(params[k]);
  const tradeStatus = p('trade_status');
  const eventType = tradeStatus ?? p('notify_type') ?? 'unknown';
  const eventId = requireStr(params.notify_id, 'notify_id', gateway);
  const currency = p('trans_currency')
    ? requireCurrency(params.trans_currency, 'trans_currency', gateway)
    : defaultCurrency;
  const refundFee = p('refund_fee');
  const outBizNo = p('out_biz_no');

  if (outBizNo !== undefined && refundFee !== undefined && !ZERO.test(refundFee)) {
    // A (partial or full) refund: trade_status is TRADE_SUCCESS or TRADE_CLOSED then, so it cannot decide.
    const tradeNo = requireStr(params.trade_no, 'trade_no', gateway);
    return {
      type: 'event',
      event: finish({
        gateway,
        eventId,
        eventType,
        kind: 'refund',
        // out_biz_no is unique only within a trade, and defaults to out_trade_no (CONTRACT).
        transactionId: `${tradeNo}:${outBizNo}`,
        orderId: p('out_trade_no'),
        // refund_fee is the trade's total refunded so far, not this refund's amount (CONTRACT).
        amountMinor: requireMajor(refundFee, currency, 'refund_fee', gateway),
        cumulative: true,
        currency,
        refundOf: tradeNo,
        refundId: outBizNo,
        occurredAt: beijingIso(p('gmt_refund')),
        references: refs({ tradeNo, outTradeNo: params.out_trade_no, outBizNo }),
      }),
    };
  }
  if (tradeStatus === 'TRADE_SUCCESS' || tradeStatus === 'TRADE_FINISHED') {
    // TRADE_FINISHED follows TRADE_SUCCESS when the refund window closes: same key, so a duplicate.
    const tradeNo = requireStr(params.trade_no, 'trade_no', gateway);
    const outTradeNo = requireStr(params.out_trade_no, 'out_trade_no', gateway);
    return {
      type: 'event',
      event: finish({
        gateway,
        eventId,
        eventType,
        kind: 'payment',
        transactionId: tradeNo,
        orderId: outTradeNo,
        amountMinor: requireMajor(params.total_amount, currency, 'total_amount', gateway),
        currency,
        occurredAt: beijingIso(p('gmt_payment')),
        references: refs({ tradeNo, outTradeNo }),
      }),
    };
  }
  // WAIT_BUYER_PAY, TRADE_CLOSED without a refund (unpaid and timed out): nothing to apply.
  return { type: 'ignored', eventType, eventId };
}

/** Alipay's secret JSON. */
export const alipaySecretSchema = z.strictObject({
  appId: nonEmpty,
  sellerId: nonEmpty,
  /** PEM or Alipay's bare base64 public key. */
  alipayPublicKeyPem: nonEmpty,
  /** @default 'CNY' */
  defaultCurrency: optionalCurrency,
});

export const alipayGatewayFromSecret: GatewayFromSecret = (name, secret, options = {}) => {
  const s = parseSecret(alipaySecretSchema, 'alipay', secret, name);
  return createAlipayGateway({
    name,
    ...s,
    defaultCurrency: options.defaultCurrency ?? (s.defaultCurrency as Currency | undefined),
  });
};
