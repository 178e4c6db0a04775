/**
 * PayPal certificate trust (CONTRACT §3 "paypal"): the chain, CN and validity rules of PayPal's Java SDK
 * (`SSLUtil.validateCertificateChain`), and what we add around the download (path pin, negative cache,
 * rate-limited misses). The HTTP download itself runs against a real server in the conformance suite
 * (test/conformance/callbacks/paypal-certificate.test.ts).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GatewayConfigError,
  GatewayUnavailableError,
  InvalidSignatureError,
} from '../../../functions/core/gateways/errors.ts';
import { createPaypalGateway } from '../../../functions/core/gateways/paypal.ts';
import {
  bundledTrustStore,
  CertificateError,
  commonNameMatcher,
  createMissLimiter,
  DEFAULT_CERT_COMMON_NAME,
  DEFAULT_CERT_HOST_ALLOWLIST,
  parseHostAllowlist,
  parsePemChain,
  trustStoreFromPem,
  verifyCertificateChain,
} from '../../../functions/core/gateways/paypal-cert.ts';
import { createCertificate, signPaypal } from '../../../functions/core/gateways/signers.ts';
import { functions } from '../../../lib/topology.ts';
import { generateGatewayKeys, loadOrCreateGatewayKeys } from '../../../sandbox/gateway-keys.ts';
import { sandboxCallbackEnv } from '../../../sandbox/gateway-secrets.ts';
import { createPaypalPki, createSigningCert, createTestCa, rsaKeyPem } from '../../support/paypal-pki.ts';
import { expectRejects, request } from './helpers.ts';

const NOW = new Date('2026-11-23T10:00:00Z');
const PKI = createPaypalPki(NOW);
const TRUST = trustStoreFromPem(PKI.root.pem);
const SIGNING_KEY = rsaKeyPem();
const paypalCn = commonNameMatcher(DEFAULT_CERT_COMMON_NAME);

function verify(pem: string, now = NOW) {
  return verifyCertificateChain(parsePemChain(pem), TRUST, paypalCn, now);
}

function refusal(fn: () => unknown): CertificateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CertificateError);
    expect((error as CertificateError).permanent).toBe(true);
    return error as CertificateError;
  }
  throw new Error('expected a CertificateError');
}

describe('certificate chain', () => {
  it('accepts leaf + intermediate ending at a trusted root, in the window all three share', () => {
    const v = verify(PKI.chainFor(SIGNING_KEY));
    expect(v.leaf.subject).toContain('CN=messageverificationcerts.paypal.com');
    expect(v.notAfter).toBeLessThanOrEqual(Date.parse(new X509Certificate(PKI.intermediate.pem).validTo));
  });

  it('refuses a self-signed certificate with the right subject (a forger needs nothing more)', () => {
    const forged = createCertificate({
      privateKeyPem: SIGNING_KEY,
      commonName: 'messageverificationcerts.paypal.com',
      organization: 'PayPal, Inc.',
      ca: false,
      notBefore: new Date('2026-01-01'),
      notAfter: new Date('2027-01-01'),
    });
    expect(refusal(() => verify(forged)).message).toMatch(/does not chain to a trusted root/);
  });

  it('refuses a chain through an intermediate no trusted root issued', () => {
    const rogueRoot = createTestCa('Rogue Root', { at: NOW });
    // Same name as the real intermediate: only the signature tells them apart.
    const rogue = createTestCa(PKI.intermediate.commonName, { issuer: rogueRoot, at: NOW });
    const pem = createSigningCert(SIGNING_KEY, rogue, { at: NOW }) + rogue.pem;
    expect(refusal(() => verify(pem)).message).toMatch(/does not chain/);
    // Even with the rogue root in the PEM: a root is trusted by configuration, never by the download.
    expect(refusal(() => verify(pem + rogueRoot.pem)).message).toMatch(/does not chain/);
  });

  it('refuses a leaf issued by another end-entity certificate (not a CA)', () => {
    const endEntityKey = rsaKeyPem();
    const endEntityPem = createSigningCert(endEntityKey, PKI.intermediate, {
      commonName: 'shop.example',
      at: NOW,
    });
    const endEntity = {
      commonName: 'shop.example',
      organization: 'PayPal, Inc.',
      privateKeyPem: endEntityKey,
    };
    const leaf = createCertificate({
      privateKeyPem: SIGNING_KEY,
      commonName: 'messageverificationcerts.paypal.com',
      ca: false,
      notBefore: new Date('2026-01-01'),
      notAfter: new Date('2027-01-01'),
      issuer: endEntity,
    });
    refusal(() => verify(leaf + endEntityPem + PKI.intermediate.pem));
  });

  it.each([
    ['messageverificationcerts.evil.example', false],
    ['paypal.com', false],
    ['messageverificationcerts.paypal.com.evil.example', false],
    ['messageverificationcerts.sandbox.paypal.com', true],
    ['messageverificationcerts.paypal.com', true],
  ])('leaf CN %s → %s', (commonName, ok) => {
    const pem = PKI.chainFor(SIGNING_KEY, { commonName });
    if (ok) expect(verify(pem).leaf).toBeDefined();
    else expect(refusal(() => verify(pem)).message).toMatch(/does not match the PayPal CN/);
  });

  it('refuses a chain any certificate of which is not valid now', () => {
    const expiredLeaf = PKI.chainFor(SIGNING_KEY, {
      notBefore: new Date('2025-01-01'),
      notAfter: new Date('2026-01-01'),
    });
    expect(refusal(() => verify(expiredLeaf)).message).toMatch(/not valid now/);
    const notYet = PKI.chainFor(SIGNING_KEY, { notBefore: new Date('2026-12-01') });
    refusal(() => verify(notYet));
    // The intermediate expires a year after NOW: a leaf outliving it does not help.
    refusal(() => verify(PKI.chainFor(SIGNING_KEY), new Date(NOW.getTime() + 400 * 86_400_000)));
  });

  it('refuses downloads that are not certificates', () => {
    expect(refusal(() => parsePemChain('<html>Sign in</html>')).message).toMatch(/not a PEM/);
    refusal(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'));
    refusal(() => parsePemChain(PKI.intermediate.pem.repeat(6)));
  });

  it("checks against Node's bundled roots by signature, not by name", () => {
    const store = bundledTrustStore();
    const digicert = rootCertificates
      .map((pem) => new X509Certificate(pem))
      .find((c) => c.subject.includes('CN=DigiCert Global Root G2'));
    expect(digicert).toBeDefined();
    // An intermediate that names DigiCert Global Root G2 as its issuer but was signed by someone else.
    const fakeIssuer = {
      commonName: 'DigiCert Global Root G2',
      organization: 'DigiCert Inc',
      privateKeyPem: rsaKeyPem(),
    };
    const pretender = createCertificate({
      privateKeyPem: rsaKeyPem(),
      commonName: 'DigiCert Global G2 TLS RSA SHA256 2020 CA1',
      ca: true,
      notBefore: new Date('2026-01-01'),
      notAfter: new Date('2027-01-01'),
      issuer: fakeIssuer,
    });
    const pretenderCa = new X509Certificate(pretender);
    expect(store.contains(pretenderCa)).toBe(false);
    expect(() => verifyCertificateChain(parsePemChain(pretender), store, () => true, NOW)).toThrow(
      /does not chain to a trusted root/,
    );
    expect(store.contains(digicert!)).toBe(true);
  });
});

describe('configuration rules', () => {
  it('matches the CN pattern as PayPal’s Java SDK does (startsWith + endsWith)', () => {
    expect(paypalCn('messageverificationcerts.paypal.com')).toBe(true);
    expect(paypalCn('MessageVerificationCerts.PayPal.com')).toBe(true);
    expect(paypalCn('messageverificationcerts.paypal.com.evil')).toBe(false);
    expect(commonNameMatcher('exact.example')('exactXexample')).toBe(false);
  });

  it('the topology deploys exactly these defaults to the PayPal callback', () => {
    expect(functions.callbackPaypal!.environment).toMatchObject({
      PAYPAL_CERT_URL_HOSTS: DEFAULT_CERT_HOST_ALLOWLIST.join(','),
      PAYPAL_CERT_CN: DEFAULT_CERT_COMMON_NAME,
    });
    expect(functions.callbackPaypal!.environment).not.toHaveProperty('PAYPAL_TRUST_ROOTS_PEM');
  });

  it('parses PAYPAL_CERT_URL_HOSTS', () => {
    expect(parseHostAllowlist('*.paypal.com, 127.0.0.1:3000')).toEqual(['*.paypal.com', '127.0.0.1:3000']);
    for (const bad of ['', 'https://api.paypal.com', '*.paypal.com/x', 'a b', '*'])
      expect(() => parseHostAllowlist(bad), bad).toThrow();
  });

  it('fails at start when PAYPAL_TRUST_ROOTS_PEM holds no certificate', () => {
    expect(() =>
      createPaypalGateway({
        name: 'paypal',
        webhookId: 'WH',
        certHostAllowlist: ['*.paypal.com'],
        fetchCert: async () => '',
        trustRootsPem: 'not a pem',
      }),
    ).toThrow(GatewayConfigError);
  });
});

describe('certificate downloads', () => {
  const body = JSON.stringify({ id: 'WH-1', event_type: 'PING' });
  const url = (n: number | string) => `https://api.paypal.com/v1/notifications/certs/CERT-360caa42-${n}`;
  const sign = (certUrl: string, privateKeyPem = SIGNING_KEY) =>
    request(body, {
      'content-type': 'application/json',
      ...signPaypal({
        privateKeyPem,
        webhookId: 'WH',
        transmissionId: 't1',
        time: NOW.toISOString(),
        rawBody: body,
        certUrl,
      }),
    });

  function setup(serve: (url: string) => string, limit = { burst: 3, perMinute: 6 }) {
    const fetched: string[] = [];
    const gateway = createPaypalGateway({
      name: 'paypal',
      webhookId: 'WH',
      certHostAllowlist: ['*.paypal.com'],
      trustRootsPem: PKI.root.pem,
      certMissLimit: limit,
      fetchCert: async (u) => {
        fetched.push(u);
        return serve(u);
      },
    });
    return { gateway, fetched };
  }

  it('rate-limits cache misses: unsigned requests naming many URLs cost a bounded number of downloads', async () => {
    const forged = createCertificate({
      privateKeyPem: SIGNING_KEY,
      commonName: 'messageverificationcerts.paypal.com',
      ca: false,
      notBefore: new Date('2026-01-01'),
      notAfter: new Date('2027-01-01'),
    });
    const { gateway, fetched } = setup(() => forged);
    for (let i = 0; i < 3; i++)
      await expectRejects(gateway.verify(sign(url(i)), NOW), InvalidSignatureError, 401);
    // Budget spent: the next new URL is not fetched; PayPal would redeliver a genuine event later.
    await expectRejects(gateway.verify(sign(url(3)), NOW), GatewayUnavailableError, 500);
    expect(fetched).toHaveLength(3);
    // Refilled at 6 per minute: one more download 10 s later.
    const later = new Date(NOW.getTime() + 10_000);
    await expectRejects(gateway.verify(sign(url(4)), later), InvalidSignatureError, 401);
    await expectRejects(gateway.verify(sign(url(5)), later), GatewayUnavailableError, 500);
    expect(fetched).toHaveLength(4);
  });

  it('remembers a refused URL for a while instead of downloading it again', async () => {
    const { gateway, fetched } = setup(() => '<html>not found</html>');
    for (let i = 0; i < 5; i++)
      await expectRejects(gateway.verify(sign(url('same')), NOW), InvalidSignatureError, 401);
    expect(fetched).toEqual([url('same')]);
  });

  it('keeps a verified certificate however many forged URLs follow', async () => {
    const good = PKI.chainFor(SIGNING_KEY);
    const { gateway, fetched } = setup((u) => (u === url('good') ? good : '<html/>'), {
      burst: 100,
      perMinute: 100,
    });
    expect((await gateway.verify(sign(url('good')), NOW)).type).toBe('ignored');
    for (let i = 0; i < 60; i++)
      await expectRejects(gateway.verify(sign(url(`x${i}`)), NOW), InvalidSignatureError, 401);
    const before = fetched.length;
    expect((await gateway.verify(sign(url('good')), NOW)).type).toBe('ignored');
    expect(fetched).toHaveLength(before);
  });

  it('re-checks validity of a cached chain at every delivery', async () => {
    const short = PKI.chainFor(SIGNING_KEY, { notAfter: new Date(NOW.getTime() + 60_000) });
    const { gateway } = setup(() => short);
    expect((await gateway.verify(sign(url(1)), NOW)).type).toBe('ignored');
    await expectRejects(
      gateway.verify(sign(url(1)), new Date(NOW.getTime() + 120_000)),
      InvalidSignatureError,
      401,
    );
  });

  it('maps download failures: permanent → 401, transient → 500, and caches neither as a certificate', async () => {
    let mode: 'gone' | 'down' | 'ok' = 'down';
    const good = PKI.chainFor(SIGNING_KEY);
    const { gateway, fetched } = setup(
      () => {
        if (mode === 'down') throw new CertificateError('503', { permanent: false });
        if (mode === 'gone') throw new CertificateError('404', { permanent: true });
        return good;
      },
      { burst: 10, perMinute: 10 },
    );
    await expectRejects(gateway.verify(sign(url(1)), NOW), GatewayUnavailableError, 500);
    mode = 'ok';
    expect((await gateway.verify(sign(url(1)), NOW)).type).toBe('ignored');
    mode = 'gone';
    await expectRejects(gateway.verify(sign(url(2)), NOW), InvalidSignatureError, 401);
    expect(fetched).toEqual([url(1), url(1), url(2)]);
  });

  it('checks the signature with the leaf, not another certificate of the chain', async () => {
    const { gateway } = setup(() => PKI.chainFor(SIGNING_KEY));
    await expectRejects(
      gateway.verify(sign(url(1), PKI.intermediate.privateKeyPem), NOW),
      InvalidSignatureError,
      401,
    );
  });
});

describe('createMissLimiter', () => {
  it('allows a burst, then refills at the given rate', () => {
    const limiter = createMissLimiter({ burst: 2, perMinute: 60 });
    expect([limiter.take(0), limiter.take(0), limiter.take(0)]).toEqual([true, true, false]);
    expect(limiter.take(999)).toBe(false);
    expect(limiter.take(1000)).toBe(true);
    expect(limiter.take(1_000_000)).toBe(true);
    expect(limiter.take(1_000_000)).toBe(true);
    expect(limiter.take(1_000_000)).toBe(false);
  });
});

// Key generation (five RSA keys) is slow on a busy machine: one set for the whole block.
describe('the sandbox as PayPal', { timeout: 60_000 }, () => {
  let keys: ReturnType<typeof generateGatewayKeys>;
  beforeAll(() => {
    keys = generateGatewayKeys();
  }, 60_000);

  it('signs with a leaf of its own root CA, which the default CN rule accepts', () => {
    const chain = parsePemChain(keys.paypal.certificatePem);
    expect(chain).toHaveLength(2);
    const v = verifyCertificateChain(chain, trustStoreFromPem(keys.paypal.rootCaPem), paypalCn, new Date());
    expect(v.leaf.checkPrivateKey(createPrivateKey(keys.paypal.privateKeyPem))).toBe(true);
    // Trusted by the sandbox's root only: not by Node's bundled roots, as in AWS.
    expect(() => verifyCertificateChain(chain, bundledTrustStore(), paypalCn, new Date())).toThrow(
      CertificateError,
    );
  });

  it('issues the chain once for keys saved before it had a CA, keeping the signing key', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gateway-keys-'));
    try {
      const file = path.join(dir, 'gateways.json');
      const { rootCaPem: _dropped, ...oldPaypal } = keys.paypal;
      writeFileSync(file, JSON.stringify({ ...keys, paypal: oldPaypal }));
      const loaded = loadOrCreateGatewayKeys(file);
      expect(loaded.paypal.privateKeyPem).toBe(keys.paypal.privateKeyPem);
      expect(loaded.paypal.webhookId).toBe(keys.paypal.webhookId);
      expect(loadOrCreateGatewayKeys(file).paypal.rootCaPem).toBe(loaded.paypal.rootCaPem);
      verifyCertificateChain(
        parsePemChain(loaded.paypal.certificatePem),
        trustStoreFromPem(loaded.paypal.rootCaPem),
        paypalCn,
        new Date(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the PayPal function its root and its own API host, unless PAYPAL_CERT_URL_HOSTS is set', () => {
    expect(sandboxCallbackEnv('paypal', keys, 3000, {})).toEqual({
      PAYPAL_CERT_URL_HOSTS: '127.0.0.1:3000',
      PAYPAL_TRUST_ROOTS_PEM: keys.paypal.rootCaPem,
    });
    expect(
      sandboxCallbackEnv('paypal', keys, 3000, { PAYPAL_CERT_URL_HOSTS: 'localhost:8443' })
        .PAYPAL_CERT_URL_HOSTS,
    ).toBe('localhost:8443');
    expect(sandboxCallbackEnv('stripe', keys, 3000, {})).toEqual({});
  });
});
