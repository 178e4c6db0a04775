/**
 * PayPal certificate trust through the real callback handler (DynamoDB Local) and a real HTTP server
 * serving the certificates, as `PAYPAL-CERT-URL` points at them. Only a signing certificate that chains
 * to a trusted root (here a test root given as PAYPAL_TRUST_ROOTS_PEM, as the sandbox does), carries
 * PayPal's CN and is valid now lets an event through (PayPal Java SDK, `SSLUtil.validateCertificateChain`);
 * a refused certificate is 401 with nothing written, a download PayPal could not serve is 500 so that
 * PayPal redelivers.
 *
 * Event shape: the PAYMENT.CAPTURE.COMPLETED sample of developer.paypal.com/api/rest/webhooks/event-names/
 * (capture `27M47624FP291604U`, amount `{"currency_code":"USD","value":"2.51"}`, `links` with rel `up`),
 * with `custom_id` set as Orders v2 `purchase_units[].custom_id` carries it. Headers as PayPal sends
 * them (PAYPAL-TRANSMISSION-ID/-TIME/-SIG, PAYPAL-CERT-URL `/v1/notifications/certs/CERT-…`,
 * PAYPAL-AUTH-ALGO SHA256withRSA), per the Java SDK's `ValidateCert` sample.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHandler } from '../../../functions/callback/app.ts';
import { createCertificate, signPaypal } from '../../../functions/core/gateways/signers.ts';
import { context, httpEvent } from '../../support/http-events.ts';
import { putOrder } from '../../support/orders.ts';
import { createPaypalPki, createSigningCert, createTestCa, rsaKeyPem } from '../../support/paypal-pki.ts';
import { createTestResources, type TestResources } from '../../support/resources.ts';

const WEBHOOK_ID = '8PT597110X687430LKGECATA';
const DAY_MS = 86_400_000;
const pki = createPaypalPki();
const signingKey = rsaKeyPem();
const forgerKey = rsaKeyPem();

/** Path → how the certificate server answers it. */
const routes: Record<string, (res: import('node:http').ServerResponse) => void> = {};
const pem = (body: string) => (res: import('node:http').ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/x-pem-file' });
  res.end(body);
};

let r: TestResources;
let server: Server;
let origin: string;
const hung: import('node:http').ServerResponse[] = [];

beforeAll(async () => {
  r = await createTestResources();
  const now = Date.now();
  const rogueRoot = createTestCa('Rogue Root');
  const rogueIntermediate = createTestCa(pki.intermediate.commonName, { issuer: rogueRoot });
  Object.assign(routes, {
    'CERT-360caa42-fca2a594-valid': pem(pki.chainFor(signingKey)),
    'CERT-360caa42-fca2a594-forged': pem(
      createCertificate({
        privateKeyPem: forgerKey,
        commonName: 'messageverificationcerts.paypal.com',
        organization: 'PayPal, Inc.',
        ca: false,
        notBefore: new Date(now - DAY_MS),
        notAfter: new Date(now + 365 * DAY_MS),
      }),
    ),
    'CERT-360caa42-fca2a594-expired': pem(
      pki.chainFor(signingKey, {
        notBefore: new Date(now - 60 * DAY_MS),
        notAfter: new Date(now - DAY_MS),
      }),
    ),
    'CERT-360caa42-fca2a594-wrongcn': pem(
      pki.chainFor(signingKey, { commonName: 'messageverificationcerts.evil.example' }),
    ),
    'CERT-360caa42-fca2a594-rogue': pem(
      createSigningCert(forgerKey, rogueIntermediate) + rogueIntermediate.pem,
    ),
    'CERT-360caa42-fca2a594-html': (res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Sign in to PayPal</body></html>');
    },
    'CERT-360caa42-fca2a594-huge': (res) => {
      // No content-length: the cap must hold while streaming.
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      const chunk = `${pki.chainFor(signingKey)}\n`.repeat(4);
      for (let sent = 0; sent < 100_000; sent += chunk.length) res.write(chunk);
      res.end();
    },
    'CERT-360caa42-fca2a594-redirect': (res) => {
      res.writeHead(302, { location: '/v1/notifications/certs/CERT-360caa42-fca2a594-valid' });
      res.end();
    },
    'CERT-360caa42-fca2a594-gone': (res) => {
      res.writeHead(404);
      res.end();
    },
    'CERT-360caa42-fca2a594-down': (res) => {
      res.writeHead(503);
      res.end();
    },
    'CERT-360caa42-fca2a594-throttled': (res) => {
      res.writeHead(429, { 'retry-after': '1' });
      res.end();
    },
    'CERT-360caa42-fca2a594-hang': (res) => {
      hung.push(res);
    },
  } satisfies typeof routes);
  server = createServer((req, res) => {
    const name = req.url?.replace('/v1/notifications/certs/', '') ?? '';
    const route = routes[name];
    downloads.set(name, (downloads.get(name) ?? 0) + 1);
    if (!route) {
      res.writeHead(404);
      res.end();
      return;
    }
    route(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hung) res.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

/** A fresh handler: its own certificate cache and download budget, as a new Lambda instance has. */
function handler() {
  return createHandler(
    r.envFor('callbackPaypal', {
      GATEWAY_SECRET_JSON: JSON.stringify({ webhookId: WEBHOOK_ID }),
      PAYPAL_CERT_URL_HOSTS: new URL(origin).host,
      PAYPAL_TRUST_ROOTS_PEM: pki.root.pem,
    }),
  );
}

/** Requests per certificate name the server has answered. */
const downloads = new Map<string, number>();

let n = 0;
function captureCompleted(orderId: string) {
  n += 1;
  const captureId = `27M47624FP29${String(Date.now() % 10_000).padStart(4, '0')}${n}U`;
  return {
    captureId,
    body: JSON.stringify({
      id: `WH-58D329510W468432D-8HN65033${n}L201105X`,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type: 'capture',
      resource_version: '2.0',
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      summary: 'Payment completed for $ 16.57 USD',
      resource: {
        amount: { currency_code: 'USD', value: '16.57' },
        seller_protection: {
          status: 'ELIGIBLE',
          dispute_categories: ['ITEM_NOT_RECEIVED', 'UNAUTHORIZED_TRANSACTION'],
        },
        update_time: new Date().toISOString(),
        create_time: new Date().toISOString(),
        final_capture: true,
        seller_receivable_breakdown: {
          gross_amount: { currency_code: 'USD', value: '16.57' },
          paypal_fee: { currency_code: 'USD', value: '0.87' },
          net_amount: { currency_code: 'USD', value: '15.70' },
        },
        custom_id: orderId,
        links: [
          { href: `https://api.paypal.com/v2/payments/captures/${captureId}`, rel: 'self', method: 'GET' },
          {
            href: `https://api.paypal.com/v2/payments/captures/${captureId}/refund`,
            rel: 'refund',
            method: 'POST',
          },
          { href: 'https://api.paypal.com/v2/checkout/orders/5O190127TN364715T', rel: 'up', method: 'GET' },
        ],
        id: captureId,
        status: 'COMPLETED',
      },
      links: [
        {
          href: 'https://api.paypal.com/v1/notifications/webhooks-events/WH-58D329510W468432D-8HN650336L201105X',
          rel: 'self',
          method: 'GET',
        },
      ],
    }),
  };
}

async function deliver(
  h: ReturnType<typeof createHandler>,
  cert: string,
  opts: { privateKeyPem?: string; orderId?: string } = {},
) {
  const order = await putOrder(r, {
    payCurrency: 'USD',
    payAmountMinor: 1657,
    ...(opts.orderId ? { orderId: opts.orderId } : {}),
  });
  const { captureId, body } = captureCompleted(order.orderId);
  const headers = signPaypal({
    privateKeyPem: opts.privateKeyPem ?? signingKey,
    webhookId: WEBHOOK_ID,
    transmissionId: `69cd13f0-d67a-11e5-baa3-${String(n).padStart(12, '0')}`,
    time: new Date().toISOString(),
    rawBody: body,
    certUrl: `${origin}/v1/notifications/certs/${cert}`,
  });
  const started = Date.now();
  const res = await h(
    httpEvent({
      path: '/callbacks/paypal',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    }),
    context(),
  );
  return { res, order, captureId, ms: Date.now() - started };
}

/** Nothing of this delivery reached the ledger, the idempotency table or the order. */
async function expectNothingWritten(orderId: string, captureId: string) {
  const payments =
    (await r.doc.send(new ScanCommand({ TableName: r.tables.payments, ConsistentRead: true }))).Items ?? [];
  expect(payments.filter((e) => e.orderId === orderId || String(e.pk).includes(captureId))).toEqual([]);
  const idem =
    (await r.doc.send(new ScanCommand({ TableName: r.tables.idempotency, ConsistentRead: true }))).Items ??
    [];
  expect(idem.filter((e) => JSON.stringify(e).includes(captureId))).toEqual([]);
  const order = await r.doc.send(
    new GetCommand({ TableName: r.tables.orders, Key: { pk: orderId, sk: 'order' }, ConsistentRead: true }),
  );
  expect(order.Item?.status).toBe('pending_payment');
}

describe('PayPal signing certificate', () => {
  it('a valid chain (leaf + intermediate → trusted root, PayPal CN, valid now) is processed', async () => {
    const { res, order } = await deliver(handler(), 'CERT-360caa42-fca2a594-valid');
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toEqual({ status: 'processed' });
    const stored = await r.doc.send(
      new GetCommand({
        TableName: r.tables.orders,
        Key: { pk: order.orderId, sk: 'order' },
        ConsistentRead: true,
      }),
    );
    expect(stored.Item?.status).toBe('paid');
  });

  it.each([
    ['a forged certificate (self-signed, right subject)', 'CERT-360caa42-fca2a594-forged', forgerKey],
    ['an expired signing certificate', 'CERT-360caa42-fca2a594-expired', signingKey],
    ['a signing certificate with another CN', 'CERT-360caa42-fca2a594-wrongcn', signingKey],
    ['a chain through an untrusted intermediate', 'CERT-360caa42-fca2a594-rogue', forgerKey],
    ['a download that is not a PEM', 'CERT-360caa42-fca2a594-html', signingKey],
    ['a download over 64 KB', 'CERT-360caa42-fca2a594-huge', signingKey],
    ['a redirect (never followed)', 'CERT-360caa42-fca2a594-redirect', signingKey],
    ['a 404', 'CERT-360caa42-fca2a594-gone', signingKey],
  ])('%s → 401 invalid_signature, nothing written', async (_name, cert, privateKeyPem) => {
    const { res, order, captureId } = await deliver(handler(), cert, { privateKeyPem });
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body as string)).toEqual({ error: 'invalid_signature' });
    await expectNothingWritten(order.orderId, captureId);
  });

  it.each([
    ['a 5xx', 'CERT-360caa42-fca2a594-down'],
    ['a 429', 'CERT-360caa42-fca2a594-throttled'],
    ['a host that does not answer (timeout)', 'CERT-360caa42-fca2a594-hang'],
  ])('%s from the certificate URL → 500 retry_later, nothing written', async (_name, cert) => {
    const { res, order, captureId, ms } = await deliver(handler(), cert);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body as string)).toEqual({ error: 'retry_later' });
    await expectNothingWritten(order.orderId, captureId);
    // Well inside the function's 10 s timeout, so PayPal gets an answer.
    expect(ms).toBeLessThan(5_000);
  });

  it('a reloaded but unchanged gateway secret keeps the verified certificate: one download', async () => {
    const h = handler();
    const before = downloads.get('CERT-360caa42-fca2a594-valid') ?? 0;
    expect((await deliver(h, 'CERT-360caa42-fca2a594-valid')).res.statusCode).toBe(200);
    // Six minutes on: the secret is read again (every 5 minutes) and is the same.
    const realNow = Date.now;
    const later = realNow() + 6 * 60_000;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => later);
    try {
      expect((await deliver(h, 'CERT-360caa42-fca2a594-valid')).res.statusCode).toBe(200);
    } finally {
      clock.mockRestore();
    }
    expect((downloads.get('CERT-360caa42-fca2a594-valid') ?? 0) - before).toBe(1);
  });

  it('a certificate URL outside PAYPAL_CERT_URL_HOSTS is never fetched → 401', async () => {
    const h = createHandler(
      r.envFor('callbackPaypal', {
        GATEWAY_SECRET_JSON: JSON.stringify({ webhookId: WEBHOOK_ID }),
        PAYPAL_TRUST_ROOTS_PEM: pki.root.pem,
      }),
    );
    // The topology's AWS allowlist (*.paypal.com) does not name this host.
    const { res, order, captureId } = await deliver(h, 'CERT-360caa42-fca2a594-valid');
    expect(res.statusCode).toBe(401);
    await expectNothingWritten(order.orderId, captureId);
  });

  it("without PAYPAL_TRUST_ROOTS_PEM (as in AWS) only Node's bundled roots count: the test root is refused", async () => {
    const h = createHandler(
      r.envFor('callbackPaypal', {
        GATEWAY_SECRET_JSON: JSON.stringify({ webhookId: WEBHOOK_ID }),
        PAYPAL_CERT_URL_HOSTS: new URL(origin).host,
      }),
    );
    const { res, order, captureId } = await deliver(h, 'CERT-360caa42-fca2a594-valid');
    expect(res.statusCode).toBe(401);
    await expectNothingWritten(order.orderId, captureId);
  });
});
