/**
 * The sandbox plays every gateway: it generates their secrets and keys once, keeps them in
 * `$SANDBOX_DIR/gateways.json` (so persisted data and keys stay consistent between runs), publishes the
 * signing halves in endpoints.json, and hands each callback function the verifying halves.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createCertificate } from '../functions/core/gateways/signers.ts';

export interface SandboxGatewayKeys {
  stripe: { webhookSecret: string };
  paypal: {
    webhookId: string;
    /** The signing certificate's key: simulators sign callbacks with it. */
    privateKeyPem: string;
    /** What the cert URL serves: the signing (leaf) certificate, then the intermediate CA. */
    certificatePem: string;
    /** The sandbox's own PayPal root CA: the callback function's only trust anchor. */
    rootCaPem: string;
  };
  localpay: { secret: string };
  alipay: { appId: string; sellerId: string; alipayPrivateKeyPem: string; alipayPublicKeyPem: string };
  wechatpay: {
    mchid: string;
    apiV3Key: string;
    platformSerial: string;
    platformPrivateKeyPem: string;
    platformPublicKeyPem: string;
  };
}

function rsa(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const alnum = (n: number) =>
  Array.from(randomBytes(n), (b) => 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'[b % 57]).join(
    '',
  );

const DAY_MS = 86_400_000;

/**
 * PayPal's certificate hierarchy in miniature: a root CA, an intermediate CA, and a signing certificate
 * whose CN fits PayPal's (`messageverificationcerts.sandbox.paypal.com`, as PayPal's sandbox names its
 * own), so the callback function checks the sandbox exactly as it checks PayPal, with only the trust
 * anchor swapped (PAYPAL_TRUST_ROOTS_PEM). The CA keys are thrown away once the certificates are issued:
 * nothing can issue another certificate the sandbox trusts.
 */
export function generatePaypalCertificates(signingKeyPem: string, now = new Date()) {
  const rootKey = rsa().privateKeyPem;
  const intermediateKey = rsa().privateKeyPem;
  const organization = 'Daigou Sandbox';
  const root = { commonName: 'Daigou Sandbox PayPal Root CA', organization, privateKeyPem: rootKey };
  const intermediate = {
    commonName: 'Daigou Sandbox PayPal Intermediate CA',
    organization,
    privateKeyPem: intermediateKey,
  };
  const notBefore = new Date(now.getTime() - DAY_MS);
  const rootCaPem = createCertificate({
    ...root,
    ca: true,
    notBefore,
    notAfter: new Date(now.getTime() + 20 * 365 * DAY_MS),
  });
  const intermediatePem = createCertificate({
    ...intermediate,
    ca: true,
    notBefore,
    notAfter: new Date(now.getTime() + 15 * 365 * DAY_MS),
    issuer: root,
  });
  const leafPem = createCertificate({
    privateKeyPem: signingKeyPem,
    commonName: 'messageverificationcerts.sandbox.paypal.com',
    organization,
    ca: false,
    notBefore,
    notAfter: new Date(now.getTime() + 10 * 365 * DAY_MS),
    issuer: intermediate,
  });
  return { certificatePem: leafPem + intermediatePem, rootCaPem };
}

export function generateGatewayKeys(): SandboxGatewayKeys {
  const paypal = rsa();
  const alipay = rsa();
  const wechat = rsa();
  return {
    stripe: { webhookSecret: `whsec_${randomBytes(24).toString('base64url')}` },
    paypal: {
      webhookId: `WH-SANDBOX-${alnum(12)}`,
      privateKeyPem: paypal.privateKeyPem,
      ...generatePaypalCertificates(paypal.privateKeyPem),
    },
    localpay: { secret: `whsec_${randomBytes(24).toString('base64')}` },
    alipay: {
      appId: `2021${String(randomBytes(4).readUInt32BE()).padStart(12, '0')}`,
      sellerId: `2088${String(randomBytes(4).readUInt32BE()).padStart(12, '0')}`,
      alipayPrivateKeyPem: alipay.privateKeyPem,
      alipayPublicKeyPem: alipay.publicKeyPem,
    },
    wechatpay: {
      mchid: String(1_900_000_000 + (randomBytes(3).readUIntBE(0, 3) % 99_999_999)),
      apiV3Key: alnum(32),
      platformSerial: randomBytes(20).toString('hex').toUpperCase(),
      platformPrivateKeyPem: wechat.privateKeyPem,
      platformPublicKeyPem: wechat.publicKeyPem,
    },
  };
}

export function loadOrCreateGatewayKeys(file: string | undefined): SandboxGatewayKeys {
  if (file && existsSync(file)) {
    const keys = JSON.parse(readFileSync(file, 'utf8')) as SandboxGatewayKeys;
    // Keys written before the sandbox had its own PayPal CA held a self-signed certificate, which the
    // callback function now refuses: issue the chain for the same signing key, once.
    if (!keys.paypal.rootCaPem) {
      keys.paypal = { ...keys.paypal, ...generatePaypalCertificates(keys.paypal.privateKeyPem) };
      writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
    }
    return keys;
  }
  const keys = generateGatewayKeys();
  if (file) writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}
