import { createSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAlipayGateway } from '../../../functions/core/gateways/alipay.ts';
import {
  InvalidSignatureError,
  MalformedEventError,
  UnsupportedMediaTypeError,
} from '../../../functions/core/gateways/errors.ts';
import { signAlipay } from '../../../functions/core/gateways/signers.ts';
import { expectEvent, expectRejects, request, rsaPair } from './helpers.ts';

const NOW = new Date('2026-11-23T10:00:00Z');
const ALIPAY = rsaPair();
const OTHER = rsaPair();
const config = { name: 'alipay', appId: '2021000000000001', sellerId: '2088000000000001' };
const gateway = createAlipayGateway({ ...config, alipayPublicKeyPem: ALIPAY.publicKeyPem });
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';

const paid: Record<string, string> = {
  notify_time: '2026-11-23 17:59:59',
  notify_type: 'trade_status_sync',
  notify_id: 'ac05099524730693a8b330c5ecf72da9786',
  charset: 'utf-8',
  version: '1.0',
  app_id: config.appId,
  seller_id: config.sellerId,
  trade_no: '2026112322001419980500000001',
  out_trade_no: 'ord-1',
  trade_status: 'TRADE_SUCCESS',
  total_amount: '118.00',
  receipt_amount: '118.00',
  subject: '茶具 Tea set & cups',
  gmt_payment: '2026-11-23 17:59:58',
  buyer_logon_id: '',
};

/**
 * An independent signer written from the Alipay docs, sharing no code with the gateway: string
 * concatenation of the decoded values, Node's Sign API, URLSearchParams form encoding (`+` for spaces).
 */
function independentBody(params: Record<string, string>, privateKeyPem = ALIPAY.privateKeyPem): string {
  const all = { ...params, sign_type: 'RSA2' };
  const content = Object.keys(all)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && all[k as keyof typeof all] !== '')
    .sort()
    .map((k) => `${k}=${all[k as keyof typeof all]}`)
    .join('&');
  const sign = createSign('RSA-SHA256').update(content, 'utf8').sign(privateKeyPem, 'base64');
  return new URLSearchParams({ ...all, sign }).toString();
}

const verify = (body: string | Buffer, contentType = FORM, g = gateway) =>
  g.verify(request(body, { 'content-type': contentType }), NOW);

describe('alipay signature', () => {
  it('accepts a notification signed by an independent implementation (URLSearchParams encoding)', async () => {
    const e = await expectEvent(gateway, request(independentBody(paid), { 'content-type': FORM }), NOW);
    expect(e.transactionId).toBe(paid.trade_no);
  });

  it('accepts what signAlipay produces (encodeURIComponent encoding)', async () => {
    const body = signAlipay({ privateKeyPem: ALIPAY.privateKeyPem, params: paid });
    expect(body).toContain('%20'); // not `+`: both encodings must verify
    expect((await verify(body)).type).toBe('event');
  });

  it('accepts the bare base64 key the Alipay console shows', async () => {
    const bare = ALIPAY.publicKeyPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const g = createAlipayGateway({ ...config, alipayPublicKeyPem: bare });
    expect((await verify(independentBody(paid), FORM, g)).type).toBe('event');
  });

  it('verifies a GBK notification over its bytes and decodes it', async () => {
    // 测试 in GBK is B2 E2 CA D4; Node cannot encode GBK, so the bytes are spelled out.
    const subject = Buffer.from([0xb2, 0xe2, 0xca, 0xd4]);
    const params = { ...paid, charset: 'gbk', subject: 'x' };
    const keys = Object.keys({ ...params, sign_type: '' })
      .filter((k) => k !== 'sign_type' && k !== 'buyer_logon_id')
      .sort();
    const content = Buffer.concat(
      keys.flatMap((k, i) => [
        Buffer.from(`${i ? '&' : ''}${k}=`),
        k === 'subject' ? subject : Buffer.from(params[k as keyof typeof params]),
      ]),
    );
    const sign = createSign('RSA-SHA256').update(content).sign(ALIPAY.privateKeyPem, 'base64');
    const body = `${new URLSearchParams({ ...params, sign, sign_type: 'RSA2' }).toString().replace('subject=x', 'subject=%B2%E2%CA%D4')}`;
    const e = await expectEvent(
      gateway,
      request(body, { 'content-type': 'application/x-www-form-urlencoded; charset=GBK' }),
      NOW,
    );
    // Had the bytes been decoded as UTF-8 (fatal), B2 E2 CA D4 would have made this a 400.
    expect(e.orderId).toBe('ord-1');
  });

  it('rejects a tampered amount, another key, a missing sign, RSA1', async () => {
    const body = independentBody(paid);
    await expectRejects(
      verify(body.replace('total_amount=118.00', 'total_amount=1.00')),
      InvalidSignatureError,
      401,
    );
    await expectRejects(verify(independentBody(paid, OTHER.privateKeyPem)), InvalidSignatureError, 401);
    await expectRejects(verify(body.replace(/&sign=[^&]*/, '')), InvalidSignatureError, 401);
    await expectRejects(verify(body.replace('sign_type=RSA2', 'sign_type=RSA')), InvalidSignatureError, 401);
  });

  it('ignores empty parameters and sign_type in the signed content', async () => {
    // buyer_logon_id is empty above; adding another empty parameter must not break the signature.
    expect((await verify(`${independentBody(paid)}&extra_empty=`)).type).toBe('event');
  });

  it('rejects repeated parameters and broken escapes', async () => {
    const body = independentBody(paid);
    await expectRejects(verify(`${body}&total_amount=1.00`), InvalidSignatureError, 401);
    await expectRejects(verify(`${body}&x=%zz`), InvalidSignatureError, 401);
  });

  it.each([
    ['another app_id', { app_id: '2021999999999999' }],
    ['another seller_id', { seller_id: '2088999999999999' }],
    ['no app_id', { app_id: '' }],
  ])('rejects a genuine notification with %s as 401', async (_name, change) => {
    await expectRejects(verify(independentBody({ ...paid, ...change })), InvalidSignatureError, 401);
  });

  it("accepts a notification without seller_id (optional in Alipay's parameter table)", async () => {
    expect((await verify(independentBody({ ...paid, seller_id: '' }))).type).toBe('event');
  });

  it.each(['application/json', 'text/plain', undefined])('answers 415 for content type %s', async (type) => {
    await expectRejects(
      gateway.verify(request(independentBody(paid), { 'content-type': type }), NOW),
      UnsupportedMediaTypeError,
      415,
    );
  });
});

describe('alipay normalisation', () => {
  const notify = (params: Record<string, string>, g = gateway) => verify(independentBody(params), FORM, g);

  it.each(['TRADE_SUCCESS', 'TRADE_FINISHED'])(
    '%s without refund_fee → payment in CNY by default',
    async (status) => {
      expect(await notify({ ...paid, trade_status: status })).toEqual({
        type: 'event',
        event: {
          gateway: 'alipay',
          eventId: paid.notify_id,
          eventType: status,
          kind: 'payment',
          transactionId: paid.trade_no,
          orderId: 'ord-1',
          amountMinor: 11800,
          currency: 'CNY',
          occurredAt: '2026-11-23T17:59:58+08:00',
          references: { tradeNo: paid.trade_no, outTradeNo: 'ord-1' },
        },
      });
    },
  );

  it('takes trans_currency when present, else the configured default', async () => {
    expect(await notify({ ...paid, trans_currency: 'USD', total_amount: '16.57' })).toMatchObject({
      event: { amountMinor: 1657, currency: 'USD' },
    });
    const hk = createAlipayGateway({
      ...config,
      alipayPublicKeyPem: ALIPAY.publicKeyPem,
      defaultCurrency: 'HKD',
    });
    expect(await notify(paid, hk)).toMatchObject({ event: { currency: 'HKD' } });
  });

  it.each(['TRADE_SUCCESS', 'TRADE_CLOSED'])(
    'a %s notification with refund_fee and out_biz_no → cumulative refund',
    async (status) => {
      const refund = {
        ...paid,
        trade_status: status,
        refund_fee: '50.00',
        out_biz_no: 'rf-1',
        gmt_refund: '2026-11-24 10:00:00.123',
      };
      expect(await notify(refund)).toEqual({
        type: 'event',
        event: {
          gateway: 'alipay',
          eventId: paid.notify_id,
          eventType: status,
          kind: 'refund',
          transactionId: `${paid.trade_no}:rf-1`,
          orderId: 'ord-1',
          amountMinor: 5000,
          cumulative: true,
          currency: 'CNY',
          refundOf: paid.trade_no,
          refundId: 'rf-1',
          occurredAt: '2026-11-24T10:00:00.123+08:00',
          references: { tradeNo: paid.trade_no, outTradeNo: 'ord-1', outBizNo: 'rf-1' },
        },
      });
    },
  );

  it('a payment notification with refund_fee=0.00 is still a payment', async () => {
    expect(await notify({ ...paid, refund_fee: '0.00' })).toMatchObject({ event: { kind: 'payment' } });
  });

  it.each(['WAIT_BUYER_PAY', 'TRADE_CLOSED'])('%s without a refund is ignored', async (status) => {
    expect(await notify({ ...paid, trade_status: status })).toEqual({
      type: 'ignored',
      eventType: status,
      eventId: paid.notify_id,
    });
  });

  it.each([
    ['missing order reference', { out_trade_no: '' }],
    ['missing trade_no', { trade_no: '' }],
    ['missing notify_id', { notify_id: '' }],
    ['zero amount', { total_amount: '0.00' }],
    ['negative amount', { total_amount: '-118.00' }],
    ['fractional cents', { total_amount: '118.001' }],
    ['not a number', { total_amount: '118,00' }],
    ['unknown currency', { trans_currency: 'XXX' }],
  ])('signed but malformed: %s → MalformedEventError', async (_name, change) => {
    await expectRejects(notify({ ...paid, ...change }), MalformedEventError, 400);
  });

  it('refund_fee without out_biz_no is no new refund: the payment again, or ignored when closed', async () => {
    expect(await notify({ ...paid, refund_fee: '5.00' })).toMatchObject({ event: { kind: 'payment' } });
    expect(await notify({ ...paid, trade_status: 'TRADE_CLOSED', refund_fee: '118.00' })).toMatchObject({
      type: 'ignored',
    });
    // out_biz_no with a zero refund_fee names no refund either.
    expect(await notify({ ...paid, refund_fee: '0.00', out_biz_no: 'rf-1' })).toMatchObject({
      event: { kind: 'payment' },
    });
  });
});
