/**
 * PayPal webhooks, verified offline ("self-verification"): no call to PayPal's verify-webhook-signature
 * API, which would add a round trip and an OAuth token to every callback. What is checked:
 * - the signing certificate comes from an allowlisted host, over https (loopback may use http, for the
 *   sandbox), and is valid at `now`;
 * - RSA-SHA256 over `transmissionId|transmissionTime|webhookId|crc32(rawBody)`, the CRC32 as an unsigned
 *   decimal, with the webhook id from our configuration (so a genuine event for another webhook fails).
 * The CONTRACT asks for no transmission-time window for PayPal, so none is enforced: the ledger's unique
 * key is what makes a replay harmless.
 */
import { verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { acknowledgement } from './acknowledgement.ts';
import { assertContentType } from './content-type.ts';
import { GatewayUnavailableError, InvalidSignatureError, MalformedEventError } from './errors.ts';
import {
  finish,
  header,
  isRecord,
  obj,
  optionalStr,
  parseJsonObject,
  refs,
  requireCurrency,
  requireMajor,
  requireStr,
  str,
} from './internal.ts';
import type { CallbackRequest, Gateway, VerifyResult } from './types.ts';

/** Downloads a PEM certificate. Injected so tests and the sandbox need no network. */
export type FetchCert = (url: string) => Promise<string>;

export interface PaypalGatewayConfig {
  readonly name: string;
  /** The id of our webhook registration: part of the signed string. */
  readonly webhookId: string;
  /**
   * Hosts a cert URL may point at: `*.paypal.com` (any depth of subdomain, so `api.sandbox.paypal.com`
   * too, but not `paypal.com` itself or `evilpaypal.com`) or an exact `host[:port]` like `127.0.0.1:3000`.
   */
  readonly certHostAllowlist: readonly string[];
  readonly fetchCert: FetchCert;
}

/** PayPal's production and sandbox cert hosts are subdomains of paypal.com. */
export const DEFAULT_CERT_HOST_ALLOWLIST: readonly string[] = ['*.paypal.com'];

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Bounded so forged requests naming many allowlisted URLs cannot grow memory without limit. */
const CERT_CACHE_MAX = 32;

/**
 * True when `url` may be fetched as a signing certificate: https (or http on a loopback host), no
 * credentials, and a host matching the allowlist. Host patterns are matched against `URL.host`, so a
 * non-default port must be spelled out in the pattern.
 */
export function isAllowedCertUrl(url: string, allowlist: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  const loopback = LOOPBACK.has(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) return false;
  const host = parsed.host.toLowerCase();
  return allowlist.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p;
  });
}

/**
 * The default `fetchCert`: Node's fetch with a timeout, refusing redirects (a redirect could leave the
 * allowlisted host) and answers that are not 200.
 */
export async function httpFetchCert(url: string): Promise<string> {
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(3000) });
  if (res.status !== 200) throw new Error(`certificate download answered ${res.status}`);
  return res.text();
}

/** The string PayPal signs. CRC32 of the raw bytes, unsigned decimal (zlib.crc32: Node ≥ 20.15). */
export function paypalSignedString(
  transmissionId: string,
  transmissionTime: string,
  webhookId: string,
  rawBody: Buffer,
): string {
  return `${transmissionId}|${transmissionTime}|${webhookId}|${crc32(rawBody) >>> 0}`;
}

/** Builds the PayPal gateway. The certificate cache lives as long as the gateway (one per Lambda instance). */
export function createPaypalGateway(config: PaypalGatewayConfig): Gateway {
  const { name } = config;
  // Promises, so concurrent callbacks naming one URL share one download.
  const certs = new Map<string, Promise<X509Certificate>>();

  async function certificate(url: string): Promise<X509Certificate> {
    let pending = certs.get(url);
    if (!pending) {
      if (certs.size >= CERT_CACHE_MAX) certs.delete(certs.keys().next().value as string);
      pending = loadCertificate(url);
      certs.set(url, pending);
      // A failed download or a bad PEM is not cached: the next delivery tries again.
      pending.catch(() => certs.delete(url));
    }
    return pending;
  }

  async function loadCertificate(url: string): Promise<X509Certificate> {
    let pem: string;
    try {
      pem = await config.fetchCert(url);
    } catch (cause) {
      // Transient (PayPal or network): 500 so PayPal redelivers, rather than 401 on a genuine event.
      throw new GatewayUnavailableError('signing certificate could not be downloaded', {
        gateway: name,
        cause,
      });
    }
    try {
      return new X509Certificate(pem);
    } catch (cause) {
      throw new InvalidSignatureError('signing certificate is not a PEM certificate', {
        gateway: name,
        cause,
      });
    }
  }

  return {
    name,
    kind: 'paypal',
    contentType: 'json',
    async verify(req: CallbackRequest, now: Date): Promise<VerifyResult> {
      assertContentType('json', header(req, 'content-type'), name);
      const transmissionId = header(req, 'paypal-transmission-id');
      const transmissionTime = header(req, 'paypal-transmission-time');
      const signature = header(req, 'paypal-transmission-sig');
      const certUrl = header(req, 'paypal-cert-url');
      const algo = header(req, 'paypal-auth-algo');
      if (!transmissionId || !transmissionTime || !signature || !certUrl || !algo) {
        throw new InvalidSignatureError('missing PAYPAL-* signature headers', { gateway: name });
      }
      if (algo !== 'SHA256withRSA')
        throw new InvalidSignatureError('unsupported PAYPAL-AUTH-ALGO', { gateway: name });
      if (!isAllowedCertUrl(certUrl, config.certHostAllowlist)) {
        throw new InvalidSignatureError('PAYPAL-CERT-URL host is not allowlisted', { gateway: name });
      }
      const cert = await certificate(certUrl);
      // Node 20's X509Certificate has no validFromDate; its validFrom/validTo strings
      // ("Nov 26 01:02:23 2026 GMT") parse with Date.parse.
      const t = now.getTime();
      if (!(Date.parse(cert.validFrom) <= t && t <= Date.parse(cert.validTo))) {
        throw new InvalidSignatureError('signing certificate is not valid now', { gateway: name });
      }
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) {
        throw new InvalidSignatureError('PAYPAL-TRANSMISSION-SIG is not base64', { gateway: name });
      }
      const signed = paypalSignedString(transmissionId, transmissionTime, config.webhookId, req.rawBody);
      const ok = cryptoVerify(
        'sha256',
        Buffer.from(signed, 'utf8'),
        cert.publicKey,
        Buffer.from(signature, 'base64'),
      );
      if (!ok) throw new InvalidSignatureError('signature does not verify', { gateway: name });
      return normalisePaypalEvent(parseJsonObject(req.rawBody, name), name);
    },
    acknowledge: (statusCode, body, headers) => acknowledgement('paypal', statusCode, body, headers),
  };
}

/** The id at the end of the `links` entry with the given rel (`…/v2/payments/captures/{id}`). */
function linkedId(links: unknown, rel: string, gateway: string): string | undefined {
  if (!Array.isArray(links)) return undefined;
  const link = links.find((l) => isRecord(l) && l.rel === rel);
  const href = isRecord(link) ? str(link.href) : undefined;
  if (href === undefined) return undefined;
  try {
    return new URL(href).pathname.split('/').filter(Boolean).pop();
  } catch (cause) {
    throw new MalformedEventError(`links[rel=${rel}] is not a URL`, { gateway, cause });
  }
}

/**
 * Maps a verified PayPal event (CONTRACT §3 "paypal") to a NormalizedEvent.
 * @throws MalformedEventError
 */
export function normalisePaypalEvent(event: Record<string, unknown>, gateway = 'paypal'): VerifyResult {
  const eventType = requireStr(event.event_type, 'event_type', gateway);
  const eventId = requireStr(event.id, 'id', gateway);
  const r = obj(event.resource);
  const base = { gateway, eventId, eventType, occurredAt: str(r.update_time) ?? str(event.create_time) };

  const money = () => {
    const amount = obj(r.amount);
    const currency = requireCurrency(amount.currency_code, 'resource.amount.currency_code', gateway);
    // PayPal amounts are major-unit strings ("19.99", "1999" for JPY): exact, never floats.
    return { currency, amountMinor: requireMajor(amount.value, currency, 'resource.amount.value', gateway) };
  };

  switch (eventType) {
    case 'PAYMENT.CAPTURE.COMPLETED':
    case 'PAYMENT.CAPTURE.DENIED':
    case 'PAYMENT.CAPTURE.DECLINED': {
      const completed = eventType === 'PAYMENT.CAPTURE.COMPLETED';
      const id = requireStr(r.id, 'resource.id', gateway);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: completed ? 'payment' : 'attempt',
          transactionId: id,
          ...money(),
          // custom_id, else invoice_id (CONTRACT); neither → recorded `unmatched`, never refused.
          orderId:
            optionalStr(r.custom_id, 'resource.custom_id', gateway) ??
            optionalStr(r.invoice_id, 'resource.invoice_id', gateway),
          references: refs({
            capture: id,
            paypalOrder: obj(obj(r.supplementary_data).related_ids).order_id,
            invoice: r.invoice_id,
          }),
        }),
      };
    }
    case 'PAYMENT.CAPTURE.REFUNDED':
    case 'PAYMENT.CAPTURE.REVERSED': {
      const refund = eventType === 'PAYMENT.CAPTURE.REFUNDED';
      // A PENDING (e.g. eCheck) or FAILED refund has moved no money yet.
      if (refund && r.status !== undefined && r.status !== 'COMPLETED')
        return { type: 'ignored', eventType, eventId };
      const id = requireStr(r.id, 'resource.id', gateway);
      // The resource is a refund whose `up` link names the capture. Should a reversal ever carry the
      // capture itself (status REVERSED, no `up` link to a capture), the capture is its own reference.
      const capture =
        linkedId(r.links, 'up', gateway) ?? (!refund && r.status === 'REVERSED' ? id : undefined);
      return {
        type: 'event',
        event: finish({
          ...base,
          kind: refund ? 'refund' : 'reversal',
          transactionId: id,
          ...money(),
          refundOf: requireStr(capture, 'resource.links[rel=up]', gateway),
          refundId: refund ? (str(r.custom_id) ?? str(r.invoice_id)) : undefined,
          references: refs({
            [refund ? 'refund' : 'reversal']: id,
            capture,
            invoice: r.invoice_id,
            customId: r.custom_id,
          }),
        }),
      };
    }
    default:
      return { type: 'ignored', eventType, eventId };
  }
}
