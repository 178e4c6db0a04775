import { randomBytes, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  acknowledgement,
  assertContentType,
  createGateway,
  GatewayConfigError,
  InvalidSignatureError,
  MalformedEventError,
  parseGatewaySecrets,
  UnsupportedMediaTypeError,
} from '../../../functions/core/gateways/index.ts';
import {
  createSelfSignedCertificate,
  signAlipay,
  signPaypal,
  signStandardWebhook,
  signStripe,
  signWechatpay,
} from '../../../functions/core/gateways/signers.ts';
import { gateways as topologyGateways } from '../../../lib/topology.ts';
import { createPaypalPki } from '../../support/paypal-pki.ts';
import { request, rsaPair, seconds } from './helpers.ts';

const NOW = new Date('2026-11-23T10:00:00Z');
const T = seconds(NOW);
const KEY = rsaPair();

describe('acknowledgement', () => {
  it('renders the CONTRACT JSON bodies for stripe, paypal and standard webhooks', () => {
    for (const kind of ['stripe', 'paypal', 'standard-webhooks'] as const) {
      expect(acknowledgement(kind, 200, { status: 'processed' })).toEqual({
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"status":"processed"}',
      });
      expect(acknowledgement(kind, 401, { error: 'invalid_signature' }).body).toBe(
        '{"error":"invalid_signature"}',
      );
    }
  });

  it('answers Alipay with plain-text success on 200 and fail otherwise', () => {
    expect(acknowledgement('alipay', 200, { status: 'duplicate' })).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'success',
    });
    expect(acknowledgement('alipay', 500, { error: 'retry_later' })).toMatchObject({
      statusCode: 500,
      body: 'fail',
    });
    expect(acknowledgement('alipay', 401, { error: 'invalid_signature' })).toMatchObject({
      statusCode: 401,
      body: 'fail',
    });
  });

  it('answers WeChat Pay with an empty 204 on success and code FAIL on errors', () => {
    expect(acknowledgement('wechatpay', 200, { status: 'processed' })).toEqual({
      statusCode: 204,
      headers: {},
      body: '',
    });
    expect(acknowledgement('wechatpay', 400, { error: 'malformed_event' })).toEqual({
      statusCode: 400,
      headers: { 'content-type': 'application/json' },
      body: '{"code":"FAIL","message":"malformed_event"}',
    });
  });

  it('keeps extra headers such as Retry-After on a 409', () => {
    for (const kind of ['stripe', 'alipay', 'wechatpay'] as const) {
      const ack = acknowledgement(kind, 409, { status: 'in_progress' }, { 'Retry-After': '2' });
      expect([ack.statusCode, ack.headers['Retry-After']]).toEqual([409, '2']);
    }
    expect(acknowledgement('wechatpay', 409, { status: 'in_progress' }).body).toBe(
      '{"code":"FAIL","message":"in_progress"}',
    );
  });
});

describe('assertContentType', () => {
  it.each([
    ['json', 'application/json', undefined],
    ['json', 'application/json; charset=utf-8', 'utf-8'],
    ['json', 'APPLICATION/JSON;charset="UTF-8"', 'utf-8'],
    ['form', 'application/x-www-form-urlencoded; charset=utf-8', 'utf-8'],
    ['form', 'application/x-www-form-urlencoded; charset=GBK', 'gbk'],
  ] as const)('%s accepts %s', (kind, header, charset) => {
    expect(assertContentType(kind, header)).toBe(charset);
  });

  it.each([
    ['json', undefined],
    ['json', ''],
    ['json', 'application/jsonp'],
    ['json', 'text/json'],
    ['json', 'application/json; charset=iso-8859-1'],
    ['json', 'application/x-www-form-urlencoded'],
    ['form', 'application/json'],
    ['form', 'multipart/form-data; boundary=x'],
  ] as const)('%s refuses %s', (kind, header) => {
    expect(() => assertContentType(kind, header)).toThrow(UnsupportedMediaTypeError);
  });
});

describe('errors', () => {
  it('carry name, status, CONTRACT code, gateway and cause', () => {
    const cause = new Error('inner');
    const e = new InvalidSignatureError('bad', { cause, gateway: 'stripe' });
    expect([e.name, e.statusCode, e.errorCode, e.gateway, e.cause]).toEqual([
      'InvalidSignatureError',
      401,
      'invalid_signature',
      'stripe',
      cause,
    ]);
    const m = new MalformedEventError('x');
    expect([m.name, m.statusCode, m.errorCode]).toEqual(['MalformedEventError', 400, 'malformed_event']);
    const u = new UnsupportedMediaTypeError('x');
    expect([u.name, u.statusCode, u.errorCode]).toEqual([
      'UnsupportedMediaTypeError',
      415,
      'unsupported_media_type',
    ]);
  });
});

describe('createGateway and secrets', () => {
  const sw = `whsec_${randomBytes(24).toString('base64')}`;
  const secrets = {
    stripe: { webhookSecrets: ['whsec_a'] },
    'standard-webhooks': { secrets: [sw] },
    paypal: { webhookId: 'WH1' },
    alipay: { appId: 'app', sellerId: 'seller', alipayPublicKeyPem: KEY.publicKeyPem },
    wechatpay: {
      mchid: '1900000001',
      apiV3Key: 'k'.repeat(32),
      platformCertificates: { S1: KEY.publicKeyPem },
    },
  } as const;

  it('builds every gateway kind of the topology from its secret JSON', () => {
    for (const def of topologyGateways) {
      const g = createGateway(def.kind, def.name, JSON.stringify(secrets[def.kind]));
      expect([g.name, g.kind, g.contentType]).toEqual([
        def.name,
        def.kind,
        def.kind === 'alipay' ? 'form' : 'json',
      ]);
    }
  });

  it('builds gateways that verify what the signers produce', async () => {
    const json = { 'content-type': 'application/json' };
    const stripeBody = JSON.stringify({ id: 'evt_1', type: 'ping', data: { object: {} } });
    const stripe = createGateway('stripe', 'stripe', secrets.stripe);
    const stripeHeader = signStripe({ payload: stripeBody, secrets: 'whsec_a', timestamp: T });
    expect(
      await stripe.verify(request(stripeBody, { ...json, 'stripe-signature': stripeHeader }), NOW),
    ).toMatchObject({ type: 'ignored' });

    const lp = createGateway('standard-webhooks', 'localpay', secrets['standard-webhooks']);
    const lpHeaders = signStandardWebhook({
      secrets: sw,
      msgId: 'm1',
      timestamp: T,
      payload: '{"type":"ping"}',
    });
    expect(await lp.verify(request('{"type":"ping"}', { ...json, ...lpHeaders }), NOW)).toEqual({
      type: 'ignored',
      eventType: 'ping',
      eventId: 'm1',
    });

    const pki = createPaypalPki(NOW);
    const cert = pki.chainFor(KEY.privateKeyPem);
    const certUrl = 'http://127.0.0.1:3000/_sandbox/paypal/cert.pem';
    const paypal = createGateway('paypal', 'paypal', secrets.paypal, {
      certHostAllowlist: ['127.0.0.1:3000'],
      trustRootsPem: pki.root.pem,
      fetchCert: async () => cert,
    });
    const ppBody = '{"id":"WH-1","event_type":"PING"}';
    const ppHeaders = signPaypal({
      privateKeyPem: KEY.privateKeyPem,
      webhookId: 'WH1',
      transmissionId: 't1',
      time: NOW.toISOString(),
      rawBody: ppBody,
      certUrl,
    });
    expect(await paypal.verify(request(ppBody, { ...json, ...ppHeaders }), NOW)).toMatchObject({
      type: 'ignored',
    });

    const alipay = createGateway('alipay', 'alipay', secrets.alipay, { defaultCurrency: 'USD' });
    const form = signAlipay({
      privateKeyPem: KEY.privateKeyPem,
      params: {
        app_id: 'app',
        seller_id: 'seller',
        notify_id: 'n1',
        trade_status: 'TRADE_SUCCESS',
        trade_no: 't',
        out_trade_no: 'o',
        total_amount: '1.00',
      },
    });
    expect(
      await alipay.verify(request(form, { 'content-type': 'application/x-www-form-urlencoded' }), NOW),
    ).toMatchObject({
      event: { currency: 'USD', amountMinor: 100 },
    });

    const wechat = createGateway('wechatpay', 'wechatpay', secrets.wechatpay);
    const signed = signWechatpay({
      platformPrivateKeyPem: KEY.privateKeyPem,
      platformSerial: 'S1',
      apiV3Key: 'k'.repeat(32),
      timestamp: T,
      notification: { id: 'EV1', event_type: 'TRANSACTION.SUCCESS' },
      resource: { mchid: '1900000001', transaction_id: 'w1', out_trade_no: 'o', amount: { total: 5 } },
    });
    expect(await wechat.verify(request(signed.rawBody, { ...json, ...signed.headers }), NOW)).toMatchObject({
      event: { currency: 'CNY', amountMinor: 5, transactionId: 'w1' },
    });
  });

  it('refuses invalid secrets naming the field but never its value', () => {
    const leaky = 'super-secret-value-123';
    const cases: Array<[Parameters<typeof parseGatewaySecrets>[0], unknown]> = [
      ['stripe', { webhookSecrets: [] }],
      ['stripe', { webhookSecret: leaky }],
      ['standard-webhooks', { secrets: leaky }],
      ['paypal', { webhookId: 'x', certHostAllowList: [leaky] }],
      ['alipay', { appId: 'a', sellerId: 's' }],
      ['wechatpay', { mchid: 'm', apiV3Key: leaky, platformCertificates: { S: 'pem' } }],
      ['wechatpay', { mchid: 'm', apiV3Key: 'k'.repeat(32), platformCertificates: {} }],
      ['stripe', `{"webhookSecrets":["${leaky}"`],
    ];
    for (const [kind, value] of cases) {
      let error: unknown;
      try {
        createGateway(kind, 'gw', value);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GatewayConfigError);
      expect(String((error as Error).message)).not.toContain(leaky);
      expect((error as Error).cause).toBeUndefined();
    }
    expect(() => parseGatewaySecrets('stripe', { webhookSecret: 'x' })).toThrow(/webhookSecrets/);
  });

  it('rejects a key that is no key at start, not per request', () => {
    expect(() =>
      createGateway('alipay', 'alipay', { ...secrets.alipay, alipayPublicKeyPem: 'not a key' }),
    ).toThrow(GatewayConfigError);
  });
});

describe('createSelfSignedCertificate', () => {
  it.each([
    [new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z')],
    [new Date('2020-06-15T12:34:56Z'), new Date('2060-01-01T00:00:00Z')], // GeneralizedTime after 2049
  ])(
    'produces a certificate Node parses and that verifies with its own key (%s – %s)',
    (notBefore, notAfter) => {
      const pem = createSelfSignedCertificate({
        privateKeyPem: KEY.privateKeyPem,
        commonName: 'sandbox.paypal.test',
        notBefore,
        notAfter,
      });
      const cert = new X509Certificate(pem);
      expect(cert.subject).toBe('CN=sandbox.paypal.test');
      expect(cert.verify(cert.publicKey)).toBe(true);
      expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(KEY.publicKeyPem);
      expect(Date.parse(cert.validFrom)).toBe(notBefore.getTime());
      expect(Date.parse(cert.validTo)).toBe(notAfter.getTime());
    },
  );
});
