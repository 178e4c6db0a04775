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

/** Events beyond a plain payment and refund, as each gateway sends them (CONTRACT §3 per-gateway rules). */
export type LifecycleEvent =
  /** A payment naming no order: Stripe `payment_intent.succeeded` of a Payment Link, PayPal capture without custom_id. */
  | 'payment_without_order'
  /** Stripe `checkout.session.completed` (paid): the payment keyed on its intent, order in client_reference_id. */
  | 'checkout_session_completed'
  /** Alipay `TRADE_FINISHED` after `TRADE_SUCCESS`: the same payment again. */
  | 'trade_finished'
  /** Stripe `refund.failed`; WeChat Pay `REFUND.CLOSED`. */
  | 'refund_failed'
  /** WeChat Pay `REFUND.ABNORMAL`. */
  | 'refund_abnormal'
  /** Stripe `charge.dispute.funds_withdrawn`; PayPal `PAYMENT.CAPTURE.REVERSED`. */
  | 'dispute_lost'
  /** Stripe `charge.dispute.funds_reinstated`. */
  | 'dispute_won';

/** Which gateways send which lifecycle event. */
export const LIFECYCLE_EVENTS: Readonly<Record<LifecycleEvent, readonly string[]>> = {
  payment_without_order: ['stripe', 'paypal'],
  checkout_session_completed: ['stripe'],
  trade_finished: ['alipay'],
  refund_failed: ['stripe', 'wechatpay'],
  refund_abnormal: ['wechatpay'],
  dispute_lost: ['stripe', 'paypal'],
  dispute_won: ['stripe'],
};

/**
 * A signed lifecycle callback. Payment events read `p`; refund events read `r` (`refundTransactionId` is
 * the gateway's refund id, `refundId` ours); dispute events use `r.refundTransactionId` as the dispute id.
 * @throws Error when the gateway does not send that event
 */
export function lifecycleCallback(
  gateway: string,
  keys: GatewayKeys,
  event: LifecycleEvent,
  spec: { p?: PaymentSpec; r?: RefundSpec },
  at: Date = new Date(),
): CallbackRequestSpec {
  if (!LIFECYCLE_EVENTS[event].includes(gateway)) throw new Error(`${gateway} sends no ${event} event`);
  const k = keys[gateway];
  if (!k) throw new Error(`no keys for gateway ${gateway} in endpoints.json`);
  const seconds = Math.floor(at.getTime() / 1000);
  const p = spec.p;
  const r = spec.r;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${event} needs ${what}`);
    return v;
  };
  const stripe = (type: string, object: Record<string, unknown>, eventId: string) => {
    const body = JSON.stringify({ id: eventId, object: 'event', type, created: seconds, data: { object } });
    return json('/callbacks/stripe', body, {
      'stripe-signature': signStripe({ payload: body, secrets: k.webhookSecret!, timestamp: seconds }),
    });
  };
  if (gateway === 'stripe') {
    switch (event) {
      case 'payment_without_order': {
        const pay = need(p, 'a payment');
        return stripe(
          'payment_intent.succeeded',
          {
            id: pay.transactionId,
            object: 'payment_intent',
            amount: pay.amountMinor,
            amount_received: pay.amountMinor,
            currency: pay.currency.toLowerCase(),
            latest_charge: `ch_${pay.transactionId.slice(3)}`,
            metadata: {},
            status: 'succeeded',
          },
          pay.eventId,
        );
      }
      case 'checkout_session_completed': {
        const pay = need(p, 'a payment');
        return stripe(
          'checkout.session.completed',
          {
            id: `cs_test_${hex(24)}`,
            object: 'checkout.session',
            mode: 'payment',
            amount_total: pay.amountMinor,
            currency: pay.currency.toLowerCase(),
            client_reference_id: pay.orderId,
            payment_intent: pay.transactionId,
            payment_status: 'paid',
            status: 'complete',
            metadata: {},
          },
          newEventId('stripe'),
        );
      }
      case 'refund_failed': {
        const refund = need(r, 'a refund');
        return stripe(
          'refund.failed',
          {
            id: refund.refundTransactionId,
            object: 'refund',
            amount: refund.amountMinor,
            currency: refund.currency.toLowerCase(),
            payment_intent: refund.paymentTransactionId,
            status: 'failed',
            failure_reason: 'expired_or_canceled_card',
            metadata: refund.refundId ? { refund_id: refund.refundId } : {},
          },
          refund.eventId,
        );
      }
      default: {
        const dispute = need(r, 'a dispute (refund spec)');
        return stripe(
          event === 'dispute_lost' ? 'charge.dispute.funds_withdrawn' : 'charge.dispute.funds_reinstated',
          {
            id: dispute.refundTransactionId,
            object: 'dispute',
            amount: dispute.amountMinor,
            currency: dispute.currency.toLowerCase(),
            payment_intent: dispute.paymentTransactionId,
            status: event === 'dispute_lost' ? 'needs_response' : 'won',
          },
          dispute.eventId,
        );
      }
    }
  }
  if (gateway === 'paypal') {
    if (event === 'payment_without_order') {
      const pay = need(p, 'a payment');
      const body = JSON.stringify({
        id: pay.eventId,
        event_type: 'PAYMENT.CAPTURE.COMPLETED',
        resource_type: 'capture',
        create_time: at.toISOString(),
        resource: {
          id: pay.transactionId,
          status: 'COMPLETED',
          amount: { currency_code: pay.currency, value: formatMajor(pay.amountMinor, pay.currency) },
        },
      });
      return json('/callbacks/paypal', body, paypalHeaders(k, body, at));
    }
    const reversal = need(r, 'a reversal (refund spec)');
    const body = JSON.stringify({
      id: reversal.eventId,
      event_type: 'PAYMENT.CAPTURE.REVERSED',
      resource_type: 'refund',
      create_time: at.toISOString(),
      resource: {
        id: reversal.refundTransactionId,
        status: 'COMPLETED',
        amount: {
          currency_code: reversal.currency,
          value: formatMajor(reversal.amountMinor, reversal.currency),
        },
        links: [
          {
            rel: 'up',
            method: 'GET',
            href: `https://api.paypal.com/v2/payments/captures/${reversal.paymentTransactionId}`,
          },
        ],
      },
    });
    return json('/callbacks/paypal', body, paypalHeaders(k, body, at));
  }
  if (gateway === 'alipay') {
    const pay = need(p, 'a payment');
    const body = signAlipay({
      privateKeyPem: k.alipayPrivateKeyPem!,
      params: {
        notify_id: newEventId('alipay'),
        notify_time: alipayTime(at),
        notify_type: 'trade_status_sync',
        app_id: k.appId!,
        seller_id: k.sellerId!,
        charset: 'utf-8',
        version: '1.0',
        trade_no: pay.transactionId,
        out_trade_no: pay.orderId,
        trade_status: 'TRADE_FINISHED',
        total_amount: formatMajor(pay.amountMinor, pay.currency),
        ...(pay.currency === 'CNY' ? {} : { trans_currency: pay.currency }),
        gmt_payment: alipayTime(at),
        gmt_close: alipayTime(at),
      },
    });
    return {
      path: '/callbacks/alipay',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: Buffer.from(body, 'utf8'),
    };
  }
  // wechatpay: REFUND.CLOSED / REFUND.ABNORMAL
  const refund = need(r, 'a refund');
  const status = event === 'refund_failed' ? 'CLOSED' : 'ABNORMAL';
  const { headers, rawBody } = signWechatpay({
    platformPrivateKeyPem: k.platformPrivateKeyPem!,
    platformSerial: k.platformSerial!,
    apiV3Key: k.apiV3Key!,
    timestamp: seconds,
    notification: { id: refund.eventId, event_type: `REFUND.${status}` },
    resource: {
      mchid: k.mchid,
      out_trade_no: refund.orderId,
      transaction_id: refund.paymentTransactionId,
      out_refund_no: refund.refundId ?? refund.refundTransactionId,
      refund_id: refund.refundTransactionId,
      refund_status: status,
      user_received_account: '招商银行信用卡0403',
      amount: { total: refund.amountMinor, refund: refund.amountMinor },
    },
  });
  return {
    path: '/callbacks/wechatpay',
    headers: { 'content-type': 'application/json', ...headers },
    body: rawBody,
  };
}
