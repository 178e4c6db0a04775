import { describe, expect, it } from 'vitest';
import {
  GatewayUnavailableError,
  InvalidSignatureError,
  MalformedEventError,
  UnsupportedMediaTypeError,
} from '../../../functions/core/gateways/errors.ts';
import {
  createPaypalGateway,
  isAllowedCertUrl,
  paypalSignedString,
} from '../../../functions/core/gateways/paypal.ts';
import { signPaypal } from '../../../functions/core/gateways/signers.ts';
import { createPaypalPki } from '../../support/paypal-pki.ts';
import { expectEvent, expectRejects, request, rsaPair } from './helpers.ts';

const NOW = new Date('2026-11-23T10:00:00Z');
const WEBHOOK_ID = '8PT597110X687430LKGECATA';
const CERT_URL = 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-test';
const KEY = rsaPair();
const OTHER_KEY = rsaPair();
// PayPal serves the signing certificate followed by its intermediate; the chain ends at a root we trust
// (here the test root, given as PAYPAL_TRUST_ROOTS_PEM would be). Chain rules: paypal-cert.test.ts.
const PKI = createPaypalPki(NOW);
const certFor = (
  privateKeyPem: string,
  notBefore = new Date('2026-01-01'),
  notAfter = new Date('2027-01-01'),
) => PKI.chainFor(privateKeyPem, { notBefore, notAfter });
const CERT = certFor(KEY.privateKeyPem);

/** A gateway whose cert downloads are counted and served from `certs`. */
function setup(certs: Record<string, string> = { [CERT_URL]: CERT }, allowlist = ['*.paypal.com']) {
  const fetched: string[] = [];
  const gateway = createPaypalGateway({
    name: 'paypal',
    webhookId: WEBHOOK_ID,
    certHostAllowlist: allowlist,
    trustRootsPem: PKI.root.pem,
    fetchCert: async (url) => {
      fetched.push(url);
      const pem = certs[url];
      if (pem === undefined) throw new Error('404');
      return pem;
    },
  });
  return { gateway, fetched };
}

const capture = {
  id: 'WH-2WR32451HC0233532-67976317FL4543714',
  event_version: '1.0',
  create_time: '2026-11-23T09:59:50.000Z',
  resource_type: 'capture',
  event_type: 'PAYMENT.CAPTURE.COMPLETED',
  resource: {
    id: '42311647XV020574X',
    status: 'COMPLETED',
    amount: { currency_code: 'USD', value: '19.99' },
    custom_id: 'ord-1',
    invoice_id: 'INV-1',
    supplementary_data: { related_ids: { order_id: '5O190127TN364715T' } },
    update_time: '2026-11-23T09:59:49Z',
    links: [
      { href: 'https://api.paypal.com/v2/checkout/orders/5O190127TN364715T', rel: 'up', method: 'GET' },
    ],
  },
};

function signed(
  body: unknown,
  opts: {
    privateKeyPem?: string;
    webhookId?: string;
    certUrl?: string;
    headers?: Record<string, string | undefined>;
  } = {},
) {
  const rawBody = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = signPaypal({
    privateKeyPem: opts.privateKeyPem ?? KEY.privateKeyPem,
    webhookId: opts.webhookId ?? WEBHOOK_ID,
    transmissionId: '69cd13f0-d67a-11e5-baa3-778b53f4ae55',
    time: '2026-11-23T09:59:59Z',
    rawBody,
    certUrl: opts.certUrl ?? CERT_URL,
  });
  return request(rawBody, { 'content-type': 'application/json', ...headers, ...opts.headers });
}

/** An independent, table-driven CRC-32 (IEEE), to check zlib.crc32 and the unsigned rendering. */
function crc32Reference(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('paypal signature', () => {
  it('accepts a correctly signed delivery and downloads the certificate once', async () => {
    const { gateway, fetched } = setup();
    expect((await gateway.verify(signed(capture), NOW)).type).toBe('event');
    expect((await gateway.verify(signed(capture), NOW)).type).toBe('event');
    expect(fetched).toEqual([CERT_URL]);
  });

  it('shares one download between concurrent deliveries', async () => {
    const { gateway, fetched } = setup();
    const results = await Promise.all([1, 2, 3].map(() => gateway.verify(signed(capture), NOW)));
    expect(results.map((r) => r.type)).toEqual(['event', 'event', 'event']);
    expect(fetched).toHaveLength(1);
  });

  it('signs CRC32 as an unsigned decimal of the raw bytes', () => {
    // This body's CRC has the top bit set, so a signed rendering would be negative.
    const body = Buffer.from('{"id":"WH-1","n":3}');
    const crc = crc32Reference(body);
    const highBit = [...Array(50).keys()]
      .map((i) => Buffer.from(`{"n":${i}}`))
      .find((b) => crc32Reference(b) > 2 ** 31)!;
    expect(paypalSignedString('tid', 'time', 'wh', body)).toBe(`tid|time|wh|${crc}`);
    expect(paypalSignedString('a', 'b', 'c', highBit)).toBe(`a|b|c|${crc32Reference(highBit)}`);
    expect(crc32Reference(Buffer.from('hello'))).toBe(907060870);
  });

  it('rejects a tampered body, another key, another webhook id', async () => {
    const { gateway } = setup();
    const good = signed(capture);
    const tampered = request(good.rawBody.toString().replace('19.99', '1.99'), good.headers);
    await expectRejects(gateway.verify(tampered, NOW), InvalidSignatureError, 401);
    await expectRejects(
      gateway.verify(signed(capture, { privateKeyPem: OTHER_KEY.privateKeyPem }), NOW),
      InvalidSignatureError,
      401,
    );
    await expectRejects(
      gateway.verify(signed(capture, { webhookId: 'OTHERWEBHOOK' }), NOW),
      InvalidSignatureError,
      401,
    );
    await expectRejects(
      gateway.verify(signed(capture, { headers: { 'paypal-transmission-sig': 'not base64!' } }), NOW),
      InvalidSignatureError,
      401,
    );
  });

  it('accepts a new certificate at a new URL (PayPal rotating its signing certificate)', async () => {
    const newUrl = 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-new';
    const { gateway } = setup({ [CERT_URL]: CERT, [newUrl]: certFor(OTHER_KEY.privateKeyPem) });
    expect((await gateway.verify(signed(capture), NOW)).type).toBe('event');
    const rotated = signed(capture, { privateKeyPem: OTHER_KEY.privateKeyPem, certUrl: newUrl });
    expect((await gateway.verify(rotated, NOW)).type).toBe('event');
  });

  it.each([
    'paypal-transmission-id',
    'paypal-transmission-time',
    'paypal-transmission-sig',
    'paypal-cert-url',
    'paypal-auth-algo',
  ])('rejects a delivery without %s', async (name) => {
    const { gateway, fetched } = setup();
    await expectRejects(
      gateway.verify(signed(capture, { headers: { [name]: undefined } }), NOW),
      InvalidSignatureError,
      401,
    );
    expect(fetched).toEqual([]);
  });

  it('accepts only SHA256withRSA', async () => {
    const { gateway } = setup();
    await expectRejects(
      gateway.verify(signed(capture, { headers: { 'paypal-auth-algo': 'SHA1withRSA' } }), NOW),
      InvalidSignatureError,
      401,
    );
  });

  it('never downloads a certificate from a host outside the allowlist', async () => {
    const evil = 'https://evil.example/v1/notifications/certs/CERT-1';
    const { gateway, fetched } = setup({ [evil]: certFor(OTHER_KEY.privateKeyPem) });
    const forged = signed(capture, { privateKeyPem: OTHER_KEY.privateKeyPem, certUrl: evil });
    await expectRejects(gateway.verify(forged, NOW), InvalidSignatureError, 401);
    expect(fetched).toEqual([]);
  });

  it.each([
    ['https://api.paypal.com/v1/notifications/certs/CERT-1', true],
    ['https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1', true],
    ['https://API.PAYPAL.COM/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270', true],
    ['http://api.paypal.com/v1/notifications/certs/CERT-1', false],
    ['https://paypal.com/v1/notifications/certs/CERT-1', false],
    ['https://evilpaypal.com/v1/notifications/certs/CERT-1', false],
    ['https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1', false],
    ['https://user:pw@api.paypal.com/v1/notifications/certs/CERT-1', false],
    ['https://api.paypal.com:8443/v1/notifications/certs/CERT-1', false],
    // The path is pinned: an allowlisted host's other pages (redirects, uploads) are never fetched.
    ['https://api.paypal.com/x', false],
    ['https://www.paypal.com/signin?returnUri=https://evil.example', false],
    ['https://api.paypal.com/v1/notifications/certs/CERT-1?x=1', false],
    ['https://api.paypal.com/v1/notifications/certs/../../../x', false],
    ['https://api.paypal.com/v1/notifications/certs/CERT-1/../x', false],
    ['https://api.paypal.com/_sandbox/paypal/cert.pem', false],
    ['not a url', false],
    ['http://127.0.0.1:3000/_sandbox/paypal/cert.pem', true],
    ['http://127.0.0.1:3001/_sandbox/paypal/cert.pem', false],
    ['http://10.0.0.1:3000/cert.pem', false],
    ['http://127.0.0.1:3000/other.pem', false],
    ['http://127.0.0.1:3000/v1/notifications/certs/CERT-local', true],
  ])('isAllowedCertUrl(%s) = %s', (url, allowed) => {
    expect(isAllowedCertUrl(url, ['*.paypal.com', '127.0.0.1:3000'])).toBe(allowed);
  });

  it('fetches from the sandbox loopback URL over http when it is allowlisted', async () => {
    const url = 'http://127.0.0.1:3000/_sandbox/paypal/cert.pem';
    const { gateway } = setup({ [url]: CERT }, ['127.0.0.1:3000']);
    expect((await gateway.verify(signed(capture, { certUrl: url }), NOW)).type).toBe('event');
    await expectRejects(gateway.verify(signed(capture), NOW), InvalidSignatureError, 401);
  });

  it('rejects a certificate outside its validity period at `now`', async () => {
    const { gateway } = setup();
    await expectRejects(
      gateway.verify(signed(capture), new Date('2027-01-01T00:00:01Z')),
      InvalidSignatureError,
      401,
    );
    await expectRejects(
      gateway.verify(signed(capture), new Date('2025-12-31T23:59:59Z')),
      InvalidSignatureError,
      401,
    );
  });

  it('answers retry_later when the certificate cannot be downloaded, and does not cache the failure', async () => {
    const certs: Record<string, string> = {};
    const { gateway, fetched } = setup(certs);
    await expectRejects(gateway.verify(signed(capture), NOW), GatewayUnavailableError, 500);
    certs[CERT_URL] = CERT;
    expect((await gateway.verify(signed(capture), NOW)).type).toBe('event');
    expect(fetched).toEqual([CERT_URL, CERT_URL]);
  });

  it('rejects a download that is not a certificate', async () => {
    const { gateway } = setup({ [CERT_URL]: KEY.publicKeyPem });
    await expectRejects(gateway.verify(signed(capture), NOW), InvalidSignatureError, 401);
  });

  it('answers 415 for a form-encoded body', async () => {
    const { gateway } = setup();
    const req = signed(capture);
    await expectRejects(
      gateway.verify(
        request(req.rawBody, { ...req.headers, 'content-type': 'application/x-www-form-urlencoded' }),
        NOW,
      ),
      UnsupportedMediaTypeError,
      415,
    );
  });
});

describe('paypal normalisation', () => {
  const { gateway } = setup();
  const verify = (body: unknown) => gateway.verify(signed(body), NOW);
  const withResource = (event_type: string, resource: Record<string, unknown>) => ({
    ...capture,
    event_type,
    resource,
  });

  it('PAYMENT.CAPTURE.COMPLETED → payment in major units with every reference', async () => {
    expect(await verify(capture)).toEqual({
      type: 'event',
      event: {
        gateway: 'paypal',
        eventId: capture.id,
        eventType: 'PAYMENT.CAPTURE.COMPLETED',
        kind: 'payment',
        transactionId: '42311647XV020574X',
        orderId: 'ord-1',
        amountMinor: 1999,
        currency: 'USD',
        occurredAt: '2026-11-23T09:59:49Z',
        references: { capture: '42311647XV020574X', paypalOrder: '5O190127TN364715T', invoice: 'INV-1' },
      },
    });
  });

  it('reads JPY values without decimals', async () => {
    const e = await expectEvent(
      gateway,
      signed(
        withResource('PAYMENT.CAPTURE.COMPLETED', {
          ...capture.resource,
          amount: { currency_code: 'JPY', value: '1999' },
        }),
      ),
      NOW,
    );
    expect([e.amountMinor, e.currency]).toEqual([1999, 'JPY']);
  });

  const refund = {
    id: '1JU08902781691411',
    status: 'COMPLETED',
    amount: { currency_code: 'USD', value: '5.00' },
    custom_id: 'rf-1',
    invoice_id: 'INV-1',
    links: [
      { href: 'https://api.paypal.com/v2/payments/refunds/1JU08902781691411', rel: 'self', method: 'GET' },
      { href: 'https://api.paypal.com/v2/payments/captures/42311647XV020574X', rel: 'up', method: 'GET' },
    ],
  };

  it('PAYMENT.CAPTURE.REFUNDED → refund of the capture named by the up link', async () => {
    expect(await verify(withResource('PAYMENT.CAPTURE.REFUNDED', refund))).toMatchObject({
      type: 'event',
      event: {
        kind: 'refund',
        transactionId: '1JU08902781691411',
        refundOf: '42311647XV020574X',
        refundId: 'rf-1',
        amountMinor: 500,
        currency: 'USD',
        references: { refund: '1JU08902781691411', capture: '42311647XV020574X' },
      },
    });
  });

  it('takes invoice_id as our refund id when custom_id is absent', async () => {
    const e = await expectEvent(
      gateway,
      signed(withResource('PAYMENT.CAPTURE.REFUNDED', { ...refund, custom_id: undefined })),
      NOW,
    );
    expect(e.refundId).toBe('INV-1');
  });

  it('ignores a refund that has not completed', async () => {
    expect(await verify(withResource('PAYMENT.CAPTURE.REFUNDED', { ...refund, status: 'PENDING' }))).toEqual({
      type: 'ignored',
      eventType: 'PAYMENT.CAPTURE.REFUNDED',
      eventId: capture.id,
    });
  });

  it('PAYMENT.CAPTURE.REVERSED → reversal of the capture', async () => {
    expect(
      await verify(withResource('PAYMENT.CAPTURE.REVERSED', { ...refund, custom_id: undefined })),
    ).toMatchObject({
      type: 'event',
      event: {
        kind: 'reversal',
        transactionId: '1JU08902781691411',
        refundOf: '42311647XV020574X',
        amountMinor: 500,
      },
    });
  });

  it.each(['PAYMENT.CAPTURE.DENIED', 'PAYMENT.CAPTURE.DECLINED'])('%s → attempt', async (type) => {
    expect(await verify(withResource(type, { ...capture.resource, status: 'DECLINED' }))).toMatchObject({
      type: 'event',
      event: { kind: 'attempt', eventType: type, transactionId: '42311647XV020574X', amountMinor: 1999 },
    });
  });

  it.each(['PAYMENT.CAPTURE.PENDING', 'CHECKOUT.ORDER.APPROVED', 'PAYMENT.AUTHORIZATION.CREATED'])(
    '%s is ignored',
    async (type) => {
      expect(await verify({ ...capture, event_type: type })).toEqual({
        type: 'ignored',
        eventType: type,
        eventId: capture.id,
      });
    },
  );

  const amount = (value: string, currency_code = 'USD') =>
    withResource('PAYMENT.CAPTURE.COMPLETED', { ...capture.resource, amount: { currency_code, value } });
  it.each([
    ['not JSON', '{"id":'],
    [
      'order reference of the wrong type',
      withResource('PAYMENT.CAPTURE.COMPLETED', { ...capture.resource, custom_id: 42 }),
    ],
    ['zero amount', amount('0.00')],
    ['negative amount', amount('-19.99')],
    ['more decimals than the currency', amount('19.999')],
    ['decimals on JPY', amount('19.5', 'JPY')],
    [
      'numeric value',
      withResource('PAYMENT.CAPTURE.COMPLETED', {
        ...capture.resource,
        amount: { currency_code: 'USD', value: 19.99 },
      }),
    ],
    ['unknown currency', amount('19.99', 'XXX')],
    ['refund without an up link', withResource('PAYMENT.CAPTURE.REFUNDED', { ...refund, links: [] })],
    ['no event id', { ...capture, id: undefined }],
  ])('signed but malformed: %s → MalformedEventError', async (_name, body) => {
    await expectRejects(verify(body), MalformedEventError, 400);
  });
});
