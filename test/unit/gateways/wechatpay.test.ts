import { createCipheriv, createSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GatewayConfigError,
  InvalidSignatureError,
  MalformedEventError,
  UnsupportedMediaTypeError,
} from '../../../functions/core/gateways/errors.ts';
import { createSelfSignedCertificate, signWechatpay } from '../../../functions/core/gateways/signers.ts';
import { createWechatpayGateway } from '../../../functions/core/gateways/wechatpay.ts';
import { expectRejects, request, rsaPair, seconds } from './helpers.ts';

const NOW = new Date('2026-11-23T10:00:00Z');
const T = seconds(NOW);
const PLATFORM = rsaPair();
const NEXT_PLATFORM = rsaPair();
const SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const NEXT_SERIAL = 'PUB_KEY_ID_0114232134912410000000000000000000';
const API_V3_KEY = 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6';
const MCHID = '1900000001';
const config = {
  name: 'wechatpay',
  mchid: MCHID,
  apiV3Key: API_V3_KEY,
  platformCertificates: { [SERIAL]: PLATFORM.publicKeyPem },
};
const gateway = createWechatpayGateway(config);

const transaction = {
  mchid: MCHID,
  appid: 'wxd678efh567hg6787',
  out_trade_no: 'ord-1',
  transaction_id: '4200000000202611230000000001',
  trade_type: 'NATIVE',
  trade_state: 'SUCCESS',
  success_time: '2026-11-23T17:59:58+08:00',
  amount: { total: 11800, payer_total: 11800, currency: 'CNY', payer_currency: 'CNY' },
};
const refund = {
  mchid: MCHID,
  out_trade_no: 'ord-1',
  transaction_id: transaction.transaction_id,
  out_refund_no: 'rf-1',
  refund_id: '50000000382019052709732678859',
  refund_status: 'SUCCESS',
  success_time: '2026-11-24T10:00:00+08:00',
  amount: { total: 11800, refund: 5000, payer_total: 11800, payer_refund: 5000 },
};

function notification(
  eventType: string,
  resource: Record<string, unknown>,
  opts: { timestamp?: number; privateKeyPem?: string; serial?: string; apiV3Key?: string } = {},
) {
  const { headers, rawBody } = signWechatpay({
    platformPrivateKeyPem: opts.privateKeyPem ?? PLATFORM.privateKeyPem,
    platformSerial: opts.serial ?? SERIAL,
    apiV3Key: opts.apiV3Key ?? API_V3_KEY,
    timestamp: opts.timestamp ?? T,
    notification: { id: 'EV-2018022511223320873', event_type: eventType },
    resource,
  });
  return request(rawBody, { 'content-type': 'application/json', ...headers });
}

/** Re-signs a modified body with the platform key, so only the resource's own checks can fail. */
function resigned(body: string, privateKeyPem = PLATFORM.privateKeyPem) {
  const nonce = 'fdasflkja484w';
  const signature = createSign('RSA-SHA256')
    .update(`${T}\n${nonce}\n${body}\n`)
    .sign(privateKeyPem, 'base64');
  return request(body, {
    'content-type': 'application/json',
    'wechatpay-timestamp': String(T),
    'wechatpay-nonce': nonce,
    'wechatpay-signature': signature,
    'wechatpay-serial': SERIAL,
  });
}

describe('wechatpay signature and decryption', () => {
  it('accepts a notification built independently from the API v3 docs', async () => {
    // Encrypt and sign with node:crypto directly, not with signers.ts.
    const nonce = 'fdasfjihihihlkja';
    const iv = '0123456789ab';
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(API_V3_KEY), Buffer.from(iv));
    cipher.setAAD(Buffer.from('transaction'));
    const ciphertext = Buffer.concat([
      cipher.update(JSON.stringify(transaction)),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    const body = JSON.stringify({
      id: 'EV-1',
      create_time: '2026-11-23T17:59:59+08:00',
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: {
        original_type: 'transaction',
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: ciphertext.toString('base64'),
        associated_data: 'transaction',
        nonce: iv,
      },
    });
    const signature = createSign('RSA-SHA256')
      .update(`${T}\n${nonce}\n${body}\n`)
      .sign(PLATFORM.privateKeyPem, 'base64');
    const req = request(body, {
      'content-type': 'application/json',
      'wechatpay-timestamp': String(T),
      'wechatpay-nonce': nonce,
      'wechatpay-signature': signature,
      'wechatpay-serial': SERIAL,
    });
    expect(await gateway.verify(req, NOW)).toMatchObject({
      type: 'event',
      event: { eventId: 'EV-1', amountMinor: 11800 },
    });
  });

  it('rejects a tampered body, another key under our serial, an unknown serial', async () => {
    const good = notification('TRANSACTION.SUCCESS', transaction);
    const tampered = request(good.rawBody.toString().replace('EV-', 'EW-'), good.headers);
    await expectRejects(gateway.verify(tampered, NOW), InvalidSignatureError, 401);
    const otherKey = notification('TRANSACTION.SUCCESS', transaction, {
      privateKeyPem: NEXT_PLATFORM.privateKeyPem,
    });
    await expectRejects(gateway.verify(otherKey, NOW), InvalidSignatureError, 401);
    const unknown = notification('TRANSACTION.SUCCESS', transaction, { serial: 'UNKNOWN' });
    await expectRejects(gateway.verify(unknown, NOW), InvalidSignatureError, 401);
  });

  it('rejects WeChat Pay signature probes', async () => {
    const good = notification('TRANSACTION.SUCCESS', transaction);
    const probe = request(good.rawBody, {
      ...good.headers,
      'wechatpay-signature': 'WECHATPAY/SIGNTEST/abcdefg',
    });
    await expectRejects(gateway.verify(probe, NOW), InvalidSignatureError, 401);
  });

  it('chooses the key by serial: two active platform keys (rotation), certificate PEM accepted', async () => {
    const cert = createSelfSignedCertificate({
      privateKeyPem: NEXT_PLATFORM.privateKeyPem,
      commonName: 'Tenpay.com Root CA test',
      notBefore: new Date('2026-01-01'),
      notAfter: new Date('2031-01-01'),
    });
    const rotating = createWechatpayGateway({
      ...config,
      platformCertificates: { [SERIAL]: PLATFORM.publicKeyPem, [NEXT_SERIAL]: cert },
    });
    const next = notification('TRANSACTION.SUCCESS', transaction, {
      privateKeyPem: NEXT_PLATFORM.privateKeyPem,
      serial: NEXT_SERIAL,
    });
    await expectRejects(gateway.verify(next, NOW), InvalidSignatureError, 401);
    expect((await rotating.verify(next, NOW)).type).toBe('event');
    expect((await rotating.verify(notification('TRANSACTION.SUCCESS', transaction), NOW)).type).toBe('event');
  });

  it('rejects timestamps outside ±300 s of now', async () => {
    for (const [offset, ok] of [
      [-301, false],
      [-300, true],
      [300, true],
      [301, false],
    ] as const) {
      const req = notification('TRANSACTION.SUCCESS', transaction, { timestamp: T + offset });
      if (ok) expect((await gateway.verify(req, NOW)).type).toBe('event');
      else await expectRejects(gateway.verify(req, NOW), InvalidSignatureError, 401);
    }
  });

  it.each(['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial'])(
    'rejects a notification without %s',
    async (name) => {
      const good = notification('TRANSACTION.SUCCESS', transaction);
      await expectRejects(
        gateway.verify(request(good.rawBody, { ...good.headers, [name]: undefined }), NOW),
        InvalidSignatureError,
        401,
      );
    },
  );

  it('rejects another signature type', async () => {
    const good = notification('TRANSACTION.SUCCESS', transaction);
    const req = request(good.rawBody, {
      ...good.headers,
      'wechatpay-signature-type': 'WECHATPAY2-SM2-WITH-SM3',
    });
    await expectRejects(gateway.verify(req, NOW), InvalidSignatureError, 401);
  });

  it('answers 400 when the resource does not decrypt (other API v3 key, tampered ciphertext, other AAD, algorithm)', async () => {
    const otherKey = notification('TRANSACTION.SUCCESS', transaction, { apiV3Key: 'Z'.repeat(32) });
    await expectRejects(gateway.verify(otherKey, NOW), MalformedEventError, 400);

    const body = JSON.parse(notification('TRANSACTION.SUCCESS', transaction).rawBody.toString());
    const flip = (s: string) => {
      const b = Buffer.from(s, 'base64');
      b[0] = b[0]! ^ 1;
      return b.toString('base64');
    };
    for (const resource of [
      { ...body.resource, ciphertext: flip(body.resource.ciphertext) },
      { ...body.resource, associated_data: 'refund' },
      { ...body.resource, nonce: 'AAAAAAAAAAAA' },
      { ...body.resource, algorithm: 'AEAD_SM4_GCM' },
      { ...body.resource, ciphertext: 'c2hvcnQ=' },
      undefined,
    ]) {
      await expectRejects(
        gateway.verify(resigned(JSON.stringify({ ...body, resource })), NOW),
        MalformedEventError,
        400,
      );
    }
  });

  it('answers 401 for a resource about another merchant', async () => {
    await expectRejects(
      gateway.verify(notification('TRANSACTION.SUCCESS', { ...transaction, mchid: '1900000002' }), NOW),
      InvalidSignatureError,
      401,
    );
  });

  it('refuses an API v3 key that is not 32 bytes, and a bad platform key, at construction', () => {
    expect(() => createWechatpayGateway({ ...config, apiV3Key: 'short' })).toThrow(GatewayConfigError);
    expect(() => createWechatpayGateway({ ...config, platformCertificates: { [SERIAL]: 'nope' } })).toThrow(
      GatewayConfigError,
    );
  });

  it('answers 415 for a form body', async () => {
    const good = notification('TRANSACTION.SUCCESS', transaction);
    await expectRejects(
      gateway.verify(
        request(good.rawBody, { ...good.headers, 'content-type': 'application/x-www-form-urlencoded' }),
        NOW,
      ),
      UnsupportedMediaTypeError,
      415,
    );
  });
});

describe('wechatpay normalisation', () => {
  const verify = (eventType: string, resource: Record<string, unknown>) =>
    gateway.verify(notification(eventType, resource), NOW);

  it('TRANSACTION.SUCCESS → payment of amount.total minor units', async () => {
    expect(await verify('TRANSACTION.SUCCESS', transaction)).toEqual({
      type: 'event',
      event: {
        gateway: 'wechatpay',
        eventId: 'EV-2018022511223320873',
        eventType: 'TRANSACTION.SUCCESS',
        kind: 'payment',
        transactionId: transaction.transaction_id,
        orderId: 'ord-1',
        amountMinor: 11800,
        currency: 'CNY',
        occurredAt: '2026-11-23T17:59:58+08:00',
        references: { transactionId: transaction.transaction_id, outTradeNo: 'ord-1' },
      },
    });
  });

  it('REFUND.SUCCESS → refund (currency defaults to CNY when the resource names none)', async () => {
    expect(await verify('REFUND.SUCCESS', refund)).toEqual({
      type: 'event',
      event: {
        gateway: 'wechatpay',
        eventId: 'EV-2018022511223320873',
        eventType: 'REFUND.SUCCESS',
        kind: 'refund',
        transactionId: refund.refund_id,
        orderId: 'ord-1',
        amountMinor: 5000,
        currency: 'CNY',
        refundOf: transaction.transaction_id,
        refundId: 'rf-1',
        occurredAt: '2026-11-24T10:00:00+08:00',
        references: {
          refundId: refund.refund_id,
          outRefundNo: 'rf-1',
          transactionId: transaction.transaction_id,
          outTradeNo: 'ord-1',
        },
      },
    });
    expect(
      await verify('REFUND.SUCCESS', { ...refund, amount: { ...refund.amount, currency: 'HKD' } }),
    ).toMatchObject({
      event: { currency: 'HKD' },
    });
  });

  it('TRANSACTION.CLOSED is ignored without decrypting', async () => {
    const type = 'TRANSACTION.CLOSED';
    expect(await verify(type, { not: 'decryptable' })).toEqual({
      type: 'ignored',
      eventType: type,
      eventId: 'EV-2018022511223320873',
    });
    const body = JSON.parse(notification(type, {}).rawBody.toString());
    expect(
      (await gateway.verify(resigned(JSON.stringify({ ...body, resource: { bogus: true } })), NOW)).type,
    ).toBe('ignored');
  });

  it.each([
    ['REFUND.CLOSED', 'CLOSED', 'closed'],
    ['REFUND.ABNORMAL', 'ABNORMAL', 'abnormal'],
  ])('%s → an attempt naming our refund (%s → %s)', async (type, status, outcome) => {
    expect(await verify(type, { ...refund, refund_status: status })).toMatchObject({
      type: 'event',
      event: {
        kind: 'attempt',
        transactionId: refund.refund_id,
        refundId: 'rf-1',
        refundOf: transaction.transaction_id,
        refundOutcome: outcome,
        amountMinor: 5000,
        currency: 'CNY',
      },
    });
  });

  it('reads WeChat Pay Global payments (`id`, no transaction_id) and partner-mode merchants', async () => {
    const { transaction_id, mchid, ...global } = transaction;
    expect(await verify('TRANSACTION.SUCCESS', { ...global, id: transaction_id, mchid })).toMatchObject({
      event: { transactionId: transaction_id },
    });
    const partner = createWechatpayGateway({ ...config, subMchid: '1900000109' });
    const { mchid: _m, ...rest } = transaction;
    const asPartner = (sub: string) =>
      partner.verify(notification('TRANSACTION.SUCCESS', { ...rest, sp_mchid: MCHID, sub_mchid: sub }), NOW);
    expect(await asPartner('1900000109')).toMatchObject({ event: { kind: 'payment' } });
    await expectRejects(asPartner('1900000999'), InvalidSignatureError, 401);
  });

  it.each([
    ['missing order reference', 'TRANSACTION.SUCCESS', { ...transaction, out_trade_no: undefined }],
    ['zero amount', 'TRANSACTION.SUCCESS', { ...transaction, amount: { total: 0, currency: 'CNY' } }],
    ['negative amount', 'TRANSACTION.SUCCESS', { ...transaction, amount: { total: -1, currency: 'CNY' } }],
    [
      'fractional amount',
      'TRANSACTION.SUCCESS',
      { ...transaction, amount: { total: 118.5, currency: 'CNY' } },
    ],
    [
      'major-unit string amount',
      'TRANSACTION.SUCCESS',
      { ...transaction, amount: { total: '118.00', currency: 'CNY' } },
    ],
    ['unknown currency', 'TRANSACTION.SUCCESS', { ...transaction, amount: { total: 1, currency: 'XXX' } }],
    ['trade_state not SUCCESS', 'TRANSACTION.SUCCESS', { ...transaction, trade_state: 'NOTPAY' }],
    ['refund without transaction_id', 'REFUND.SUCCESS', { ...refund, transaction_id: undefined }],
    ['refund without amount', 'REFUND.SUCCESS', { ...refund, amount: {} }],
  ])('signed but malformed: %s → MalformedEventError', async (_name, type, resource) => {
    await expectRejects(verify(type, resource), MalformedEventError, 400);
  });

  it('signed but not JSON → MalformedEventError', async () => {
    await expectRejects(gateway.verify(resigned('{"id":'), NOW), MalformedEventError, 400);
  });
});
