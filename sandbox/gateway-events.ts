/**
 * Signed callback requests exactly as each gateway sends them, for the simulator, the demo, the bench
 * and the e2e tests. Signing uses the sandbox's published keys (endpoints.json `gateways`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  signAlipay,
  signPaypal,
  signStandardWebhook,
  signStripe,
  signWechatpay,
} from '../functions/core/gateways/signers.ts';
import { type Currency, formatMajor } from '../functions/core/money.ts';

export type GatewayKeys = Record<string, Record<string, string>>;

export interface CallbackRequestSpec {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface PaymentSpec {
  readonly orderId: string;
  readonly amountMinor: number;
  readonly currency: Currency;
  /** The gateway's transaction id; stable across re-deliveries of the same payment. */
  readonly transactionId: string;
  /** The delivery id; re-deliveries keep it (gateways resend the same event). */
  readonly eventId: string;
}

export interface RefundSpec {
  readonly orderId: string;
  readonly paymentTransactionId: string;
  readonly refundTransactionId: string;
  readonly amountMinor: number;
  readonly currency: Currency;
  readonly eventId: string;
  /** Our refund id, echoed as each gateway echoes it. */
  readonly refundId?: string;
  /** Alipay: the trade's cumulative refunded amount. */
  readonly cumulativeMinor?: number;
}

const hex = (n: number) => randomBytes(n).toString('hex');

/** A new transaction id in the gateway's own style. */
export function newTransactionId(gateway: string, kind: 'payment' | 'refund'): string {
  switch (gateway) {
    case 'stripe':
      return kind === 'payment' ? `pi_${hex(12)}` : `re_${hex(12)}`;
    case 'paypal':
      return hex(8).toUpperCase().slice(0, 17);
    case 'alipay':
      return kind === 'payment' ? `2026${Date.now()}${hex(4)}` : `RF${hex(8)}`;
    case 'wechatpay':
      return kind === 'payment' ? `42000${Date.now()}${hex(3)}` : `50300${Date.now()}${hex(3)}`;
    default:
      return `${kind === 'payment' ? 'txn' : 'rfd'}_${hex(10)}`;
  }
}

export function newEventId(gateway: string): string {
  switch (gateway) {
    case 'stripe':
      return `evt_${hex(12)}`;
    case 'paypal':
      return `WH-${hex(8).toUpperCase()}-${hex(8).toUpperCase()}`;
    case 'alipay':
      return hex(16);
    case 'wechatpay':
      return randomUUID();
    default:
      return `msg_${hex(12)}`;
  }
}

/** A payment callback, signed now (or at `at`). */
export function paymentCallback(
  gateway: string,
  keys: GatewayKeys,
  p: PaymentSpec,
  at: Date = new Date(),
): CallbackRequestSpec {
  const seconds = Math.floor(at.getTime() / 1000);
  const k = keys[gateway];
  if (!k) throw new Error(`no keys for gateway ${gateway} in endpoints.json`);
  switch (gateway) {
    case 'stripe': {
      const body = JSON.stringify({
        id: p.eventId,
        object: 'event',
        type: 'payment_intent.succeeded',
        created: seconds,
        data: {
          object: {
            id: p.transactionId,
            object: 'payment_intent',
            amount: p.amountMinor,
            amount_received: p.amountMinor,
            currency: p.currency.toLowerCase(),
            latest_charge: `ch_${p.transactionId.slice(3)}`,
            metadata: { order_id: p.orderId },
            status: 'succeeded',
          },
        },
      });
      return json('/callbacks/stripe', body, {
        'stripe-signature': signStripe({ payload: body, secrets: k.webhookSecret!, timestamp: seconds }),
      });
    }
    case 'paypal': {
      const body = JSON.stringify({
        id: p.eventId,
        event_type: 'PAYMENT.CAPTURE.COMPLETED',
        resource_type: 'capture',
        create_time: at.toISOString(),
        resource: {
          id: p.transactionId,
          status: 'COMPLETED',
          amount: { currency_code: p.currency, value: formatMajor(p.amountMinor, p.currency) },
          custom_id: p.orderId,
          invoice_id: p.orderId,
        },
      });
      return json('/callbacks/paypal', body, paypalHeaders(k, body, at));
    }
    case 'alipay': {
      const body = signAlipay({
        privateKeyPem: k.alipayPrivateKeyPem!,
        params: {
          notify_id: p.eventId,
          notify_time: alipayTime(at),
          notify_type: 'trade_status_sync',
          app_id: k.appId!,
          seller_id: k.sellerId!,
          charset: 'utf-8',
          version: '1.0',
          trade_no: p.transactionId,
          out_trade_no: p.orderId,
          trade_status: 'TRADE_SUCCESS',
          total_amount: formatMajor(p.amountMinor, p.currency),
          ...(p.currency === 'CNY' ? {} : { trans_currency: p.currency }),
          gmt_payment: alipayTime(at),
        },
      });
      return {
        path: '/callbacks/alipay',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: Buffer.from(body, 'utf8'),
      };
    }
    case 'wechatpay': {
      const { headers, rawBody } = signWechatpay({
        platformPrivateKeyPem: k.platformPrivateKeyPem!,
        platformSerial: k.platformSerial!,
        apiV3Key: k.apiV3Key!,
        timestamp: seconds,
        notification: { id: p.eventId, event_type: 'TRANSACTION.SUCCESS' },
        resource: {
          mchid: k.mchid,
          appid: 'wx0sandbox',
          out_trade_no: p.orderId,
          transaction_id: p.transactionId,
          trade_state: 'SUCCESS',
          success_time: at.toISOString(),
          amount: { total: p.amountMinor, currency: p.currency, payer_total: p.amountMinor },
        },
      });
      return {
        path: '/callbacks/wechatpay',
        headers: { 'content-type': 'application/json', ...headers },
        body: rawBody,
      };
    }
    default: {
      const body = JSON.stringify({
        type: 'payment.succeeded',
        timestamp: at.toISOString(),
        data: {
          transaction_id: p.transactionId,
          order_id: p.orderId,
          amount_minor: p.amountMinor,
          currency: p.currency,
        },
      });
      return json(
        `/callbacks/${gateway}`,
        body,
        signStandardWebhook({ secrets: k.secret!, msgId: p.eventId, timestamp: seconds, payload: body }),
      );
    }
  }
}

/** A completed-refund callback, signed now (or at `at`). */
export function refundCallback(
  gateway: string,
  keys: GatewayKeys,
  r: RefundSpec,
  at: Date = new Date(),
): CallbackRequestSpec {
  const seconds = Math.floor(at.getTime() / 1000);
  const k = keys[gateway];
  if (!k) throw new Error(`no keys for gateway ${gateway} in endpoints.json`);
  switch (gateway) {
    case 'stripe': {
      const body = JSON.stringify({
        id: r.eventId,
        object: 'event',
        type: 'refund.updated',
        created: seconds,
        data: {
          object: {
            id: r.refundTransactionId,
            object: 'refund',
            amount: r.amountMinor,
            currency: r.currency.toLowerCase(),
            payment_intent: r.paymentTransactionId,
            status: 'succeeded',
            metadata: r.refundId ? { refund_id: r.refundId } : {},
          },
        },
      });
      return json('/callbacks/stripe', body, {
        'stripe-signature': signStripe({ payload: body, secrets: k.webhookSecret!, timestamp: seconds }),
      });
    }
    case 'paypal': {
      const body = JSON.stringify({
        id: r.eventId,
        event_type: 'PAYMENT.CAPTURE.REFUNDED',
        resource_type: 'refund',
        create_time: at.toISOString(),
        resource: {
          id: r.refundTransactionId,
          status: 'COMPLETED',
          amount: { currency_code: r.currency, value: formatMajor(r.amountMinor, r.currency) },
          ...(r.refundId ? { custom_id: r.refundId } : {}),
          links: [
            {
              rel: 'up',
              method: 'GET',
              href: `https://api.paypal.com/v2/payments/captures/${r.paymentTransactionId}`,
            },
          ],
        },
      });
      return json('/callbacks/paypal', body, paypalHeaders(k, body, at));
    }
    case 'alipay': {
      const body = signAlipay({
        privateKeyPem: k.alipayPrivateKeyPem!,
        params: {
          notify_id: r.eventId,
          notify_time: alipayTime(at),
          notify_type: 'trade_status_sync',
          app_id: k.appId!,
          seller_id: k.sellerId!,
          charset: 'utf-8',
          version: '1.0',
          trade_no: r.paymentTransactionId,
          out_trade_no: r.orderId,
          out_biz_no: r.refundId ?? r.refundTransactionId,
          trade_status: 'TRADE_SUCCESS',
          refund_fee: formatMajor(r.cumulativeMinor ?? r.amountMinor, r.currency),
          ...(r.currency === 'CNY' ? {} : { trans_currency: r.currency }),
          gmt_refund: alipayTime(at),
        },
      });
      return {
        path: '/callbacks/alipay',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: Buffer.from(body, 'utf8'),
      };
    }
    case 'wechatpay': {
      const { headers, rawBody } = signWechatpay({
        platformPrivateKeyPem: k.platformPrivateKeyPem!,
        platformSerial: k.platformSerial!,
        apiV3Key: k.apiV3Key!,
        timestamp: seconds,
        notification: { id: r.eventId, event_type: 'REFUND.SUCCESS' },
        resource: {
          mchid: k.mchid,
          out_trade_no: r.orderId,
          transaction_id: r.paymentTransactionId,
          out_refund_no: r.refundId ?? r.refundTransactionId,
          refund_id: r.refundTransactionId,
          refund_status: 'SUCCESS',
          success_time: at.toISOString(),
          amount: { total: r.amountMinor, refund: r.amountMinor, currency: r.currency },
        },
      });
      return {
        path: '/callbacks/wechatpay',
        headers: { 'content-type': 'application/json', ...headers },
        body: rawBody,
      };
    }
    default: {
      const body = JSON.stringify({
        type: 'refund.succeeded',
        timestamp: at.toISOString(),
        data: {
          transaction_id: r.refundTransactionId,
          order_id: r.orderId,
          amount_minor: r.amountMinor,
          currency: r.currency,
          refunded_transaction_id: r.paymentTransactionId,
          ...(r.refundId ? { refund_id: r.refundId } : {}),
        },
      });
      return json(
        `/callbacks/${gateway}`,
        body,
        signStandardWebhook({ secrets: k.secret!, msgId: r.eventId, timestamp: seconds, payload: body }),
      );
    }
  }
}

function json(path: string, body: string, headers: Record<string, string>): CallbackRequestSpec {
  return {
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body, 'utf8'),
  };
}

function paypalHeaders(k: Record<string, string>, body: string, at: Date): Record<string, string> {
  return signPaypal({
    privateKeyPem: k.privateKeyPem!,
    webhookId: k.webhookId!,
    transmissionId: randomUUID(),
    time: at.toISOString(),
    rawBody: body,
    certUrl: k.certUrl!,
  });
}

/** Alipay's notify_time format, Beijing time: `2026-11-25 14:03:05`. */
function alipayTime(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);
}

/** Sends a callback to a base URL; returns status and the parsed body (text for Alipay). */
export async function sendCallback(
  baseUrl: string,
  spec: CallbackRequestSpec,
): Promise<{ status: number; body: string; outcome: string }> {
  const res = await fetch(`${baseUrl}${spec.path}`, {
    method: 'POST',
    headers: spec.headers,
    body: spec.body,
  });
  const body = await res.text();
  let outcome = String(res.status);
  try {
    const parsed = JSON.parse(body) as { status?: string; error?: string };
    outcome = parsed.status ?? parsed.error ?? outcome;
  } catch {
    if (body === 'success') outcome = 'acknowledged';
  }
  if (res.status === 204) outcome = 'acknowledged';
  return { status: res.status, body, outcome };
}
