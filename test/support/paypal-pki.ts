/**
 * A PayPal-shaped certificate hierarchy for tests: root CA → intermediate CA → signing certificate
 * (CN `messageverificationcerts.paypal.com`, as PayPal's Java SDK expects), plus the forgeries a chain
 * check must refuse. Keys are generated per run, never committed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createCertificate } from '../../functions/core/gateways/signers.ts';

const DAY_MS = 86_400_000;

export interface TestCa {
  readonly commonName: string;
  readonly organization: string;
  readonly privateKeyPem: string;
  readonly pem: string;
}

export function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/** A CA certificate, self-signed (a root) or issued by `issuer`, valid for a year around `at`. */
export function createTestCa(commonName: string, opts: { issuer?: TestCa; at?: Date } = {}): TestCa {
  const at = opts.at ?? new Date();
  const privateKeyPem = rsaKeyPem();
  const organization = 'Test PKI';
  const pem = createCertificate({
    privateKeyPem,
    commonName,
    organization,
    ca: true,
    notBefore: new Date(at.getTime() - 365 * DAY_MS),
    notAfter: new Date(at.getTime() + 365 * DAY_MS),
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
  });
  return { commonName, organization, privateKeyPem, pem };
}

/** A signing certificate for `privateKeyPem` issued by `issuer`. */
export function createSigningCert(
  privateKeyPem: string,
  issuer: TestCa,
  opts: { commonName?: string; notBefore?: Date; notAfter?: Date; at?: Date } = {},
): string {
  const at = opts.at ?? new Date();
  return createCertificate({
    privateKeyPem,
    commonName: opts.commonName ?? 'messageverificationcerts.paypal.com',
    organization: 'PayPal, Inc.',
    ca: false,
    notBefore: opts.notBefore ?? new Date(at.getTime() - 30 * DAY_MS),
    notAfter: opts.notAfter ?? new Date(at.getTime() + 30 * DAY_MS),
    issuer,
  });
}

/** Root, intermediate, and a way to issue PayPal-like PEM downloads (leaf + intermediate). */
export function createPaypalPki(at = new Date()) {
  const root = createTestCa('Test Root CA', { at });
  const intermediate = createTestCa('Test Intermediate CA', { issuer: root, at });
  return {
    root,
    intermediate,
    /** The PEM PayPal serves: the signing certificate, then its intermediate. */
    chainFor(
      privateKeyPem: string,
      opts: { commonName?: string; notBefore?: Date; notAfter?: Date } = {},
    ): string {
      return createSigningCert(privateKeyPem, intermediate, { at, ...opts }) + intermediate.pem;
    },
  };
}
