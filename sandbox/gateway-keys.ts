/**
 * The sandbox plays every gateway: it generates their secrets and keys once, keeps them in
 * `$SANDBOX_DIR/gateways.json` (so persisted data and keys stay consistent between runs), publishes the
 * signing halves in endpoints.json, and hands each callback function the verifying halves.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createSelfSignedCertificate } from '../functions/core/gateways/signers.ts';

export interface SandboxGatewayKeys {
  stripe: { webhookSecret: string };
  paypal: { webhookId: string; privateKeyPem: string; certificatePem: string };
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

export function generateGatewayKeys(): SandboxGatewayKeys {
  const paypal = rsa();
  const alipay = rsa();
  const wechat = rsa();
  return {
    stripe: { webhookSecret: `whsec_${randomBytes(24).toString('base64url')}` },
    paypal: {
      webhookId: `WH-SANDBOX-${alnum(12)}`,
      privateKeyPem: paypal.privateKeyPem,
      certificatePem: createSelfSignedCertificate({
        privateKeyPem: paypal.privateKeyPem,
        commonName: 'messageverificationcerts.sandbox.local',
        notBefore: new Date(Date.now() - 86_400_000),
        notAfter: new Date(Date.now() + 3650 * 86_400_000),
      }),
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
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SandboxGatewayKeys;
  const keys = generateGatewayKeys();
  if (file) writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}
