/**
 * A minimal self-signed X.509 certificate (RSA, SHA-256) in DER/PEM, built by hand so the sandbox can act
 * as PayPal's certificate host with nothing but Node.js (no openssl, no certificate library).
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, value: Buffer) => Buffer.concat([Buffer.from([tag]), length(value.length), value]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const int = (value: Buffer) => tlv(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const nul = () => Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [a * 40 + b];
  for (const n of rest) {
    const chunk: number[] = [];
    let v = n;
    do {
      chunk.unshift(v & 0x7f);
      v >>= 7;
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function generalizedTime(d: Date): Buffer {
  const s = `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  return tlv(0x18, Buffer.from(s, 'ascii'));
}

/** Returns a PEM certificate for `privateKeyPem`, valid from `notBefore` for `days` days. */
export function selfSignedCertificate(
  privateKeyPem: string,
  options: { commonName: string; serial: Buffer; notBefore?: Date; days?: number },
): string {
  const key = createPrivateKey(privateKeyPem);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), nul());
  const name = seq(set(seq(oid('2.5.4.3'), utf8(options.commonName))));
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (options.days ?? 3650) * 86_400_000);
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(options.serial),
    sha256WithRsa,
    name,
    seq(generalizedTime(notBefore), generalizedTime(notAfter)),
    name,
    spki,
  );
  const signature = sign('sha256', tbs, key);
  const der = seq(tbs, sha256WithRsa, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trim()}\n-----END CERTIFICATE-----\n`;
}
