/**
 * Sign callbacks as each gateway would: for the webhook simulator, the sandbox and tests. Never used on
 * the verification path. Pure node:crypto (plus `standardwebhooks`' own `sign`), no network.
 */
import {
  createCipheriv,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  randomBytes,
} from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { alipaySignedContent } from './alipay.ts';
import { paypalSignedString } from './paypal.ts';
import { stripeSignature } from './stripe.ts';

/** Header name → value, lower-cased names, ready for `fetch` or a `CallbackRequest`. */
export type SignedHeaders = Record<string, string>;

const bytes = (payload: string | Buffer): Buffer =>
  typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;

/**
 * The `Stripe-Signature` header value `t=…,v1=…`, one `v1` per secret (as Stripe does while a secret
 * is rolled). `timestamp` is Unix seconds.
 */
export function signStripe(opts: {
  payload: string | Buffer;
  secrets: readonly string[] | string;
  timestamp: number;
}): string {
  const t = String(Math.floor(opts.timestamp));
  const secrets = typeof opts.secrets === 'string' ? [opts.secrets] : opts.secrets;
  return [`t=${t}`, ...secrets.map((s) => `v1=${stripeSignature(s, t, bytes(opts.payload))}`)].join(',');
}

/** Standard Webhooks headers, signed with every given secret (space-separated `v1,…`). */
export function signStandardWebhook(opts: {
  secrets: readonly string[] | string;
  msgId: string;
  /** Unix seconds. */
  timestamp: number;
  payload: string | Buffer;
}): SignedHeaders {
  const secrets = typeof opts.secrets === 'string' ? [opts.secrets] : opts.secrets;
  const at = new Date(Math.floor(opts.timestamp) * 1000);
  return {
    'webhook-id': opts.msgId,
    'webhook-timestamp': String(Math.floor(opts.timestamp)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(opts.msgId, at, opts.payload)).join(' '),
  };
}

/** PayPal's `PAYPAL-*` headers for a body, signed with the certificate's private key. */
export function signPaypal(opts: {
  privateKeyPem: string;
  webhookId: string;
  transmissionId: string;
  /** `PAYPAL-TRANSMISSION-TIME`, ISO 8601 as PayPal sends it; signed verbatim. */
  time: string;
  rawBody: string | Buffer;
  certUrl: string;
}): SignedHeaders {
  const signed = paypalSignedString(opts.transmissionId, opts.time, opts.webhookId, bytes(opts.rawBody));
  const sig = cryptoSign('sha256', Buffer.from(signed, 'utf8'), opts.privateKeyPem).toString('base64');
  return {
    'paypal-transmission-id': opts.transmissionId,
    'paypal-transmission-time': opts.time,
    'paypal-transmission-sig': sig,
    'paypal-cert-url': opts.certUrl,
    'paypal-auth-algo': 'SHA256withRSA',
  };
}

/**
 * An Alipay notification body: adds `sign_type=RSA2` and `sign` (RSA-SHA256 with Alipay's private key)
 * and form-encodes everything as UTF-8. Returns the body; send it as `application/x-www-form-urlencoded`.
 */
export function signAlipay(opts: {
  privateKeyPem: string;
  params: Readonly<Record<string, string>>;
}): string {
  const params = { ...opts.params, sign_type: 'RSA2' };
  const content = alipaySignedContent(
    new Map(Object.entries(params).map(([k, v]) => [k, Buffer.from(v, 'utf8')])),
  );
  const sign = cryptoSign('sha256', content, opts.privateKeyPem).toString('base64');
  return Object.entries({ ...params, sign })
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** AEAD_AES_256_GCM as WeChat Pay encrypts a resource: base64(ciphertext ‖ 16-byte tag). */
export function encryptWechatpayResource(
  apiV3Key: string,
  plaintext: string,
  opts: { nonce: string; associatedData: string },
): string {
  const cipher = createCipheriv(
    'aes-256-gcm',
    Buffer.from(apiV3Key, 'utf8'),
    Buffer.from(opts.nonce, 'utf8'),
  );
  cipher.setAAD(Buffer.from(opts.associatedData, 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([data, cipher.getAuthTag()]).toString('base64');
}

/** A random string of WeChat Pay's nonce alphabet. */
function nonce(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** A complete WeChat Pay API v3 notification: encrypted resource, JSON envelope and signed headers. */
export function signWechatpay(opts: {
  platformPrivateKeyPem: string;
  platformSerial: string;
  apiV3Key: string;
  /** Unix seconds. */
  timestamp: number;
  /** The envelope: `id`, `event_type`, and optionally `create_time`, `resource_type`, `summary`. */
  notification: {
    id: string;
    event_type: string;
    create_time?: string;
    resource_type?: string;
    summary?: string;
  };
  /** The plaintext resource (transaction or refund object). */
  resource: Readonly<Record<string, unknown>>;
  /** Defaults: random 12-char resource nonce, associated data `transaction` / `refund`, random header nonce. */
  resourceNonce?: string;
  associatedData?: string;
  headerNonce?: string;
}): { headers: SignedHeaders; rawBody: Buffer } {
  const resourceNonce = opts.resourceNonce ?? nonce(12);
  const associatedData =
    opts.associatedData ?? (opts.notification.event_type.startsWith('REFUND') ? 'refund' : 'transaction');
  const envelope = {
    create_time: opts.notification.create_time ?? new Date(opts.timestamp * 1000).toISOString(),
    resource_type: opts.notification.resource_type ?? 'encrypt-resource',
    summary: opts.notification.summary ?? 'notification',
    ...opts.notification,
    resource: {
      original_type: associatedData,
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: encryptWechatpayResource(opts.apiV3Key, JSON.stringify(opts.resource), {
        nonce: resourceNonce,
        associatedData,
      }),
      associated_data: associatedData,
      nonce: resourceNonce,
    },
  };
  const rawBody = Buffer.from(JSON.stringify(envelope), 'utf8');
  const headerNonce = opts.headerNonce ?? nonce(32);
  const timestamp = String(Math.floor(opts.timestamp));
  const signed = Buffer.concat([Buffer.from(`${timestamp}\n${headerNonce}\n`), rawBody, Buffer.from('\n')]);
  return {
    rawBody,
    headers: {
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': headerNonce,
      'wechatpay-signature': cryptoSign('sha256', signed, opts.platformPrivateKeyPem).toString('base64'),
      'wechatpay-serial': opts.platformSerial,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    },
  };
}

// --- A minimal self-signed X.509 certificate, for the sandbox's PayPal cert URL and for tests. ---
// Node can parse certificates (X509Certificate) but not create them, and the CONTRACT allows no
// dependency beyond Node and Java (so no openssl CLI). A v1 certificate needs only a handful of DER
// structures, built here by hand.

function der(tag: number, content: Buffer): Buffer {
  const len = content.length;
  let head: Buffer;
  if (len < 0x80) head = Buffer.from([tag, len]);
  else {
    const lenBytes: number[] = [];
    for (let n = len; n > 0; n >>= 8) lenBytes.unshift(n & 0xff);
    head = Buffer.from([tag, 0x80 | lenBytes.length, ...lenBytes]);
  }
  return Buffer.concat([head, content]);
}
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const oid = (dotted: string): Buffer => {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
};
const derInteger = (value: Buffer): Buffer =>
  der(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
/**
 * A random positive serial whose DER INTEGER is minimal: first byte 0x01–0x7f. A first byte of zero
 * followed by one below 0x80 is a non-minimal INTEGER, which OpenSSL refuses ("illegal padding"): one
 * certificate in 256 before this (first byte 0x00 or 0x80, then a second byte below 0x80).
 */
const positiveSerial = (bytes: number): Buffer => {
  const serial = randomBytes(bytes);
  serial[0] = serial[0]! & 0x7f || 0x01;
  return serial;
};
const derTime = (d: Date): Buffer => {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const y = d.getUTCFullYear();
  return y < 2050 && y >= 1950
    ? der(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : der(0x18, Buffer.from(`${iso}Z`));
};
const name = (commonName: string) =>
  seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName, 'utf8')))));

/**
 * A self-signed X.509 (v1) certificate, SHA256withRSA, as PEM. TEST AND SANDBOX USE ONLY: it exists so
 * the sandbox can serve a PayPal-style signing certificate without openssl.
 */
export function createSelfSignedCertificate(opts: {
  privateKeyPem: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
}): string {
  const privateKey = createPrivateKey(opts.privateKeyPem);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), der(0x05, Buffer.alloc(0)));
  const serial = positiveSerial(8);
  const tbs = seq(
    derInteger(serial),
    sha256WithRsa,
    name(opts.commonName),
    seq(derTime(opts.notBefore), derTime(opts.notAfter)),
    name(opts.commonName),
    spki,
  );
  const signature = cryptoSign('sha256', tbs, privateKey);
  const cert = seq(tbs, sha256WithRsa, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = cert.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

/** `name` with optional extra RDNs first (O=…), CN last, as public CAs write subjects. */
const distinguishedName = (commonName: string, organization?: string) =>
  seq(
    ...(organization ? [der(0x31, seq(oid('2.5.4.10'), der(0x0c, Buffer.from(organization, 'utf8'))))] : []),
    der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName, 'utf8')))),
  );

const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [der(0x01, Buffer.from([0xff]))] : []), der(0x04, value));

/**
 * An X.509 v3 certificate, SHA256withRSA, as PEM: a CA (basicConstraints CA:TRUE, keyUsage keyCertSign
 * and cRLSign) or an end-entity signing certificate (CA:FALSE, digitalSignature). Issued by `issuer`, or
 * self-signed without one. TEST AND SANDBOX USE ONLY: the sandbox's own PayPal root CA, intermediate and
 * signing certificate, and the conformance suite's forged ones, without openssl or a dependency (the
 * DER writer above is all it takes).
 */
export function createCertificate(opts: {
  /** The subject's key pair (its public half goes into the certificate). */
  privateKeyPem: string;
  commonName: string;
  organization?: string;
  ca: boolean;
  notBefore: Date;
  notAfter: Date;
  /** The issuing CA: its subject name and private key. Omitted: self-signed. */
  issuer?: { commonName: string; organization?: string; privateKeyPem: string };
}): string {
  const subjectKey = createPrivateKey(opts.privateKeyPem);
  const spki = createPublicKey(subjectKey).export({ type: 'spki', format: 'der' });
  const signingKey = opts.issuer ? createPrivateKey(opts.issuer.privateKeyPem) : subjectKey;
  const issuerName = opts.issuer
    ? distinguishedName(opts.issuer.commonName, opts.issuer.organization)
    : distinguishedName(opts.commonName, opts.organization);
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), der(0x05, Buffer.alloc(0)));
  const serial = positiveSerial(12);
  const basicConstraints = opts.ca ? seq(der(0x01, Buffer.from([0xff]))) : seq();
  // BIT STRING, first byte = unused bits: keyCertSign(5)+cRLSign(6) = 0x06, digitalSignature(0) = 0x80.
  const keyUsage = opts.ca ? der(0x03, Buffer.from([0x01, 0x06])) : der(0x03, Buffer.from([0x07, 0x80]));
  const tbs = seq(
    der(0xa0, derInteger(Buffer.from([2]))), // v3
    derInteger(serial),
    sha256WithRsa,
    issuerName,
    seq(derTime(opts.notBefore), derTime(opts.notAfter)),
    distinguishedName(opts.commonName, opts.organization),
    spki,
    der(0xa3, seq(extension('2.5.29.19', true, basicConstraints), extension('2.5.29.15', true, keyUsage))),
  );
  const signature = cryptoSign('sha256', tbs, signingKey);
  const cert = seq(tbs, sha256WithRsa, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = cert.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}
