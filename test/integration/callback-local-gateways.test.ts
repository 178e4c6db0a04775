/**
 * Alipay and WeChat Pay through the real callback handler on DynamoDB Local: signed, tampered, expired
 * and replayed notifications; concurrent duplicates; a resource that will not decrypt; Alipay's
 * cumulative refund_fee. "Nothing stored" is checked on the ledger and the idempotency table.
 */
import { createCipheriv } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../functions/callback/app.ts';
import type { LedgerEntry } from '../../functions/core/ledger.ts';
import {
  type CallbackRequestSpec,
  type GatewayKeys,
  newEventId,
  newTransactionId,
  paymentCallback,
  refundCallback,
} from '../../sandbox/gateway-events.ts';
import { generateGatewayKeys } from '../../sandbox/gateway-keys.ts';
import { gatewaySecretFor } from '../../sandbox/gateway-secrets.ts';
import { context, httpEvent } from '../support/http-events.ts';
import { putOrder } from '../support/orders.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';

let r: TestResources;
const raw = generateGatewayKeys();
const keys: GatewayKeys = {
  alipay: {
    appId: raw.alipay.appId,
    sellerId: raw.alipay.sellerId,
    alipayPrivateKeyPem: raw.alipay.alipayPrivateKeyPem,
  },
  wechatpay: {
    mchid: raw.wechatpay.mchid,
    apiV3Key: raw.wechatpay.apiV3Key,
    platformSerial: raw.wechatpay.platformSerial,
    platformPrivateKeyPem: raw.wechatpay.platformPrivateKeyPem,
  },
};
const handlers: Record<string, ReturnType<typeof createHandler>> = {};

beforeAll(async () => {
  r = await createTestResources();
  for (const gateway of ['alipay', 'wechatpay']) {
    const id = gateway === 'alipay' ? 'callbackAlipay' : 'callbackWechatpay';
    handlers[gateway] = createHandler(
      r.envFor(id, { GATEWAY_SECRET_JSON: JSON.stringify(gatewaySecretFor(gateway, raw, 3000)) }),
    );
  }
});

async function send(gateway: string, spec: CallbackRequestSpec) {
  const event = httpEvent({ path: spec.path, headers: spec.headers, body: spec.body.toString('utf8') });
  const res = await handlers[gateway]!(event, context());
  return { status: res.statusCode, body: res.body };
}

async function scan(table: string): Promise<Record<string, unknown>[]> {
  return (await r.doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
}

async function ledgerFor(orderId: string): Promise<LedgerEntry[]> {
  return ((await scan(r.tables.payments)) as unknown as LedgerEntry[]).filter((e) => e.orderId === orderId);
}

function payment(gateway: string, orderId: string, amountMinor: number) {
  return {
    orderId,
    amountMinor,
    currency: 'CNY' as const,
    transactionId: newTransactionId(gateway, 'payment'),
    eventId: newEventId(gateway),
  };
}

const OK = { alipay: { status: 200, body: 'success' }, wechatpay: { status: 204, body: '' } } as const;

describe.each(['alipay', 'wechatpay'] as const)('%s notifications', (gateway) => {
  it('a signed payment pays the order; replays are acknowledged and change nothing', async () => {
    const o = await putOrder(r, { payCurrency: 'CNY', payAmountMinor: 11800 });
    const p = payment(gateway, o.orderId, 11800);
    expect(await send(gateway, paymentCallback(gateway, keys, p))).toEqual(OK[gateway]);
    // Replayed: the identical bytes again, and a fresh signature of the same transaction.
    const spec = paymentCallback(gateway, keys, p);
    expect(await send(gateway, spec)).toEqual(OK[gateway]);
    expect(await send(gateway, spec)).toEqual(OK[gateway]);
    const entries = await ledgerFor(o.orderId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ gateway, kind: 'payment', amountMinor: 11800, currency: 'CNY' });
  });

  it('concurrent duplicates → one effect', async () => {
    const o = await putOrder(r, { payCurrency: 'CNY', payAmountMinor: 5900 });
    const p = payment(gateway, o.orderId, 5900);
    const results = await Promise.all(
      Array.from({ length: 30 }, () => send(gateway, paymentCallback(gateway, keys, p))),
    );
    for (const res of results) expect([OK[gateway].status, 409]).toContain(res.status);
    expect(await ledgerFor(o.orderId)).toHaveLength(1);
  });

  it('tampered and wrongly keyed notifications → 401 and nothing stored', async () => {
    const o = await putOrder(r, { payCurrency: 'CNY', payAmountMinor: 700 });
    const before = {
      ledger: (await scan(r.tables.payments)).length,
      idem: (await scan(r.tables.idempotency)).length,
    };
    const good = paymentCallback(gateway, keys, payment(gateway, o.orderId, 700));
    const tampered: CallbackRequestSpec = {
      ...good,
      // Alipay: the amount; WeChat Pay: the envelope (the amount is inside the encrypted resource).
      body: Buffer.from(
        gateway === 'alipay'
          ? good.body.toString('utf8').replace('total_amount=7.00', 'total_amount=0.07')
          : good.body.toString('utf8').replace('"summary":"notification"', '"summary":"Notification"'),
        'utf8',
      ),
    };
    expect(tampered.body.equals(good.body)).toBe(false);
    const other = generateGatewayKeys();
    const wrongKey = paymentCallback(
      gateway,
      {
        alipay: { ...keys.alipay!, alipayPrivateKeyPem: other.alipay.alipayPrivateKeyPem },
        wechatpay: { ...keys.wechatpay!, platformPrivateKeyPem: other.wechatpay.platformPrivateKeyPem },
      },
      payment(gateway, o.orderId, 700),
    );
    for (const spec of [tampered, wrongKey]) {
      const res = await send(gateway, spec);
      expect(res.status).toBe(401);
    }
    expect((await scan(r.tables.payments)).length).toBe(before.ledger);
    expect((await scan(r.tables.idempotency)).length).toBe(before.idem);
  });
});

describe('wechatpay specifics', () => {
  it('an expired or future timestamp → 401', async () => {
    const o = await putOrder(r, { payCurrency: 'CNY', payAmountMinor: 100 });
    for (const offset of [-301_000, 301_000]) {
      const spec = paymentCallback(
        'wechatpay',
        keys,
        payment('wechatpay', o.orderId, 100),
        new Date(Date.now() + offset),
      );
      expect((await send('wechatpay', spec)).status).toBe(401);
    }
    expect(await ledgerFor(o.orderId)).toHaveLength(0);
  });

  it('a resource encrypted with another key or with a broken tag → 400 and nothing stored', async () => {
    const o = await putOrder(r, { payCurrency: 'CNY', payAmountMinor: 100 });
    const before = (await scan(r.tables.idempotency)).length;
    const wrongApiKey = paymentCallback(
      'wechatpay',
      { wechatpay: { ...keys.wechatpay!, apiV3Key: 'x'.repeat(32) } },
      payment('wechatpay', o.orderId, 100),
    );
    expect((await send('wechatpay', wrongApiKey)).status).toBe(400);

    // Same plaintext and key, tag bytes flipped, re-signed so only the decryption can fail.
    const { signWechatpay } = await import('../../functions/core/gateways/signers.ts');
    const k = keys.wechatpay!;
    const signed = signWechatpay({
      platformPrivateKeyPem: k.platformPrivateKeyPem!,
      platformSerial: k.platformSerial!,
      apiV3Key: k.apiV3Key!,
      timestamp: Math.floor(Date.now() / 1000),
      notification: { id: 'evt-broken-tag', event_type: 'TRANSACTION.SUCCESS' },
      resource: { mchid: k.mchid },
    });
    const envelope = JSON.parse(signed.rawBody.toString('utf8'));
    const nonce = envelope.resource.nonce as string;
    const cipher = createCipheriv(
      'aes-256-gcm',
      Buffer.from(k.apiV3Key!, 'utf8'),
      Buffer.from(nonce, 'utf8'),
    );
    cipher.setAAD(Buffer.from(envelope.resource.associated_data, 'utf8'));
    const ct = Buffer.concat([cipher.update(JSON.stringify({ mchid: k.mchid })), cipher.final()]);
    const tag = cipher.getAuthTag();
    tag[0]! ^= 0xff;
    envelope.resource.ciphertext = Buffer.concat([ct, tag]).toString('base64');
    const body = JSON.stringify(envelope);
    const { sign } = await import('node:crypto');
    const headers = { ...signed.headers };
    const message = `${headers['wechatpay-timestamp']}\n${headers['wechatpay-nonce']}\n${body}\n`;
    headers['wechatpay-signature'] = sign('sha256', Buffer.from(message), k.platformPrivateKeyPem!).toString(
      'base64',
    );
    const res = await send('wechatpay', {
      path: '/callbacks/wechatpay',
      headers: { 'content-type': 'application/json', ...headers },
      body: Buffer.from(body),
    });
    expect(res.status).toBe(400);
    expect((await scan(r.tables.idempotency)).length).toBe(before);
    expect(await ledgerFor(o.orderId)).toHaveLength(0);
  });
});

describe('alipay cumulative refunds', () => {
  it('refund_fee is cumulative for the trade: each refund applies its increment', async () => {
    const o = await putOrder(r, { payCurrency: 'CNY', payAmountMinor: 10000 });
    const p = payment('alipay', o.orderId, 10000);
    await send('alipay', paymentCallback('alipay', keys, p));
    const refund = (bizNo: string, cumulativeMinor: number) =>
      refundCallback('alipay', keys, {
        orderId: o.orderId,
        paymentTransactionId: p.transactionId,
        refundTransactionId: bizNo,
        refundId: bizNo,
        amountMinor: cumulativeMinor,
        cumulativeMinor,
        currency: 'CNY',
        eventId: newEventId('alipay'),
      });
    expect(await send('alipay', refund('RF-A', 3000))).toEqual(OK.alipay);
    expect(await send('alipay', refund('RF-B', 7000))).toEqual(OK.alipay);
    // A replay of the first notification after the second: still the same 30.00.
    expect(await send('alipay', refund('RF-A', 3000))).toEqual(OK.alipay);
    const refunds = (await ledgerFor(o.orderId)).filter((e) => e.kind === 'refund');
    // Keyed {trade_no}:{out_biz_no}: out_biz_no is unique only within a trade.
    expect(refunds.map((e) => [e.transactionId, e.amountMinor]).sort()).toEqual([
      [`${p.transactionId}:RF-A`, 3000],
      [`${p.transactionId}:RF-B`, 4000],
    ]);
  });
});
