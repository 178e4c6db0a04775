/**
 * The conformance harness: the real callback handlers (one per gateway, configured as the stack
 * configures them) and the real orders handler, on DynamoDB Local, with helpers to read back the
 * ledger, orders, refunds and alerts. Not a test file itself.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { localAlerts } from '../../../functions/adapters/alerts.ts';
import { createHandler as createCallbackHandler } from '../../../functions/callback/app.ts';
import { createGateway } from '../../../functions/core/gateways/index.ts';
import type { LedgerEntry } from '../../../functions/core/ledger.ts';
import type { OrderRecord, RefundRecord } from '../../../functions/core/order-model.ts';
import { createHandler as createOrdersHandler } from '../../../functions/orders/app.ts';
import type { HttpEvent } from '../../../functions/shared/http.ts';
import { functions } from '../../../lib/topology.ts';
import { generateGatewayKeys } from '../../../sandbox/gateway-keys.ts';
import { gatewaySecretFor } from '../../../sandbox/gateway-secrets.ts';
import { lambdaContext } from '../../../sandbox/lambda.ts';
import { type FxProviderStub, startFxProviderStub } from '../../integration/fx-provider-stub.ts';
import { context, httpEvent } from '../../support/http-events.ts';
import { putOrder } from '../../support/orders.ts';
import { createTestResources, type TestResources } from '../../support/resources.ts';

export const RATE = '7.123400';
export const PAYPAL_CERT_URL =
  'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-931d3e82';
export const SUB_MCHID = '1900000109';

export interface Harness {
  readonly r: TestResources;
  readonly keys: ReturnType<typeof generateGatewayKeys>;
  readonly fx: FxProviderStub;
  /** POSTs a callback to a gateway's handler; `body` is JSON text for Alipay form text. */
  send(
    gateway: 'stripe' | 'paypal' | 'alipay' | 'wechatpay' | 'wechatpay-partner',
    headers: Record<string, string>,
    body: string | Buffer,
  ): Promise<{ status: number; body: string; outcome: string }>;
  /** A paid-to-be order in the stored shape (pending payment). */
  order(o: {
    payAmountMinor: number;
    payCurrency: 'USD' | 'CNY' | 'EUR';
    baseAmountMinor?: number;
  }): Promise<OrderRecord>;
  /** POST /orders/{id}/refunds through the orders handler. */
  createRefund(orderId: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  /** GET /orders/{id} through the orders handler. */
  getOrder(orderId: string): Promise<Record<string, unknown>>;
  storedOrder(orderId: string): Promise<OrderRecord>;
  refundItem(orderId: string, refundId: string): Promise<RefundRecord>;
  entry(pk: string): Promise<LedgerEntry | undefined>;
  entries(orderId: string): Promise<LedgerEntry[]>;
  alertsSince(mark: number): string[];
  alertMark(): number;
}

export async function createHarness(): Promise<Harness> {
  const r = await createTestResources();
  const keys = generateGatewayKeys();
  const fx = await startFxProviderStub({ 'USD/CNY': RATE, 'EUR/CNY': '7.700000' });
  const now = new Date().toISOString();
  for (const pair of ['USD/CNY', 'EUR/CNY']) {
    await r.doc.send(
      new PutCommand({
        TableName: r.tables.fxRates,
        Item: {
          pair,
          sk: 'current',
          rate: pair === 'USD/CNY' ? RATE : '7.700000',
          asOf: now,
          source: 'seed',
          updatedAt: now,
        },
      }),
    );
  }
  const callbackEnv = (fn: string, secret: unknown) =>
    r.envFor(fn, { GATEWAY_SECRET_JSON: JSON.stringify(secret) });
  // PayPal: the certificate chain is served by an injected download (no network in tests) at PayPal's
  // own cert host and URL path; it chains to the sandbox's root CA, trusted as PAYPAL_TRUST_ROOTS_PEM.
  const paypal = createGateway(
    'paypal',
    'paypal',
    { webhookId: keys.paypal.webhookId },
    { fetchCert: async () => keys.paypal.certificatePem, trustRootsPem: keys.paypal.rootCaPem },
  );
  const handlers = {
    stripe: createCallbackHandler(callbackEnv('callbackStripe', gatewaySecretFor('stripe', keys, 3000))),
    paypal: createCallbackHandler(callbackEnv('callbackPaypal', gatewaySecretFor('paypal', keys, 3000)), {
      gateway: paypal,
    }),
    alipay: createCallbackHandler(callbackEnv('callbackAlipay', gatewaySecretFor('alipay', keys, 3000))),
    wechatpay: createCallbackHandler(
      callbackEnv('callbackWechatpay', gatewaySecretFor('wechatpay', keys, 3000)),
    ),
    'wechatpay-partner': createCallbackHandler(
      callbackEnv('callbackWechatpay', {
        ...(gatewaySecretFor('wechatpay', keys, 3000) as object),
        subMchid: SUB_MCHID,
      }),
    ),
  };
  const orders = createOrdersHandler(r.envFor('orders', { FX_PROVIDER_URL: fx.url }));
  const ordersCall = async (routeKey: string, path: string, orderId: string, body?: unknown) => {
    const event = {
      version: '2.0',
      routeKey,
      rawPath: path,
      rawQueryString: '',
      headers: { 'content-type': 'application/json' },
      pathParameters: { orderId },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      isBase64Encoded: false,
    } as unknown as HttpEvent;
    const res = await orders(event, lambdaContext('orders', functions.orders!));
    return {
      status: res.statusCode as number,
      json: JSON.parse(res.body as string) as Record<string, unknown>,
    };
  };

  const ledgerOf = async (orderId: string) => {
    const out = await r.doc.send(
      new QueryCommand({
        TableName: r.tables.payments,
        IndexName: 'byOrder',
        KeyConditionExpression: 'orderId = :o',
        ExpressionAttributeValues: { ':o': orderId },
      }),
    );
    return (out.Items ?? []) as LedgerEntry[];
  };

  return {
    r,
    keys,
    fx,
    async send(gateway, headers, body) {
      const path = `/callbacks/${gateway === 'wechatpay-partner' ? 'wechatpay' : gateway}`;
      const res = await handlers[gateway](
        httpEvent({ path, headers, body: typeof body === 'string' ? body : body.toString('utf8') }),
        context(),
      );
      let outcome = String(res.statusCode);
      try {
        const parsed = JSON.parse(res.body || '{}') as { status?: string; error?: string };
        outcome = parsed.status ?? parsed.error ?? outcome;
      } catch {
        if (res.body === 'success') outcome = 'acknowledged';
      }
      if (res.statusCode === 204) outcome = 'acknowledged';
      return { status: res.statusCode, body: res.body ?? '', outcome };
    },
    order: (o) =>
      putOrder(r, {
        payAmountMinor: o.payAmountMinor,
        payCurrency: o.payCurrency,
        ...(o.payCurrency === 'CNY'
          ? { exchangeRate: { pair: 'CNY/CNY', rate: '1.000000', asOf: now, source: 'test' } }
          : {}),
        ...(o.baseAmountMinor
          ? {
              baseAmountMinor: o.baseAmountMinor,
              items: [
                { sku: 'tb-6618', title: 'Tea set', quantity: 2, unitPriceMinor: o.baseAmountMinor / 2 },
              ],
            }
          : o.payCurrency === 'CNY'
            ? {
                baseAmountMinor: o.payAmountMinor,
                items: [
                  { sku: 'tb-6618', title: 'Tea set', quantity: 2, unitPriceMinor: o.payAmountMinor / 2 },
                ],
              }
            : {}),
        refundPayCumulativeMinor: 0,
        refundedQuantities: {},
      }),
    createRefund: (orderId, body) =>
      ordersCall('POST /orders/{orderId}/refunds', `/orders/${orderId}/refunds`, orderId, body),
    getOrder: async (orderId) =>
      (await ordersCall('GET /orders/{orderId}', `/orders/${orderId}`, orderId)).json,
    async storedOrder(orderId) {
      const out = await r.doc.send(
        new GetCommand({
          TableName: r.tables.orders,
          Key: { pk: orderId, sk: 'order' },
          ConsistentRead: true,
        }),
      );
      return out.Item as OrderRecord;
    },
    async refundItem(orderId, refundId) {
      const out = await r.doc.send(
        new GetCommand({
          TableName: r.tables.orders,
          Key: { pk: orderId, sk: `refund#${refundId}` },
          ConsistentRead: true,
        }),
      );
      return out.Item as RefundRecord;
    },
    async entry(pk) {
      const out = await r.doc.send(
        new GetCommand({ TableName: r.tables.payments, Key: { pk }, ConsistentRead: true }),
      );
      return out.Item as LedgerEntry | undefined;
    },
    entries: ledgerOf,
    alertMark: () => localAlerts.length,
    alertsSince: (mark) => localAlerts.slice(mark).map((a) => a.detailType),
  };
}

export const hex = (n: number) => randomBytes(n).toString('hex');
