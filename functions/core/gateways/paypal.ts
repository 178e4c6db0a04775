/**
 * PayPal webhooks, verified offline ("self-verification"): no call to PayPal's verify-webhook-signature
 * API, which would add a round trip and an OAuth token to every callback. What is checked:
 * - the signing certificate: from an allowlisted URL, chained to a trusted root, PayPal's subject CN,
 *   valid at `now` (paypal-cert.ts, as PayPal's Java SDK does it);
 * - RSA-SHA256 over `transmissionId|transmissionTime|webhookId|crc32(rawBody)`, the CRC32 as an unsigned
 *   decimal, with the webhook id from our configuration (so a genuine event for another webhook fails).
 * The CONTRACT asks for no transmission-time window for PayPal, so none is enforced: the ledger's unique
 * key is what makes a replay harmless.
 */
import { verify as cryptoVerify } from 'node:crypto';
import { crc32 } from 'node:zlib';
import * as z from 'zod/mini';
import { acknowledgement } from './acknowledgement.ts';
import { assertContentType } from './content-type.ts';
import { requireGatewayMajor } from './currencies.ts';
import {
  GatewayConfigError,
  GatewayUnavailableError,
  InvalidSignatureError,
  MalformedEventError,
} from './errors.ts';
import {
  finish,
  header,
  isRecord,
  obj,
  optionalStr,
  parseJsonObject,
  refs,
  requireCurrency,
  requireStr,
  str,
} from './internal.ts';
import {
  bundledTrustStore,
  CertificateError,
  commonNameMatcher,
  createMissLimiter,
  DEFAULT_CERT_COMMON_NAME,
  DEFAULT_CERT_HOST_ALLOWLIST,
  type FetchCert,
  httpFetchCert,
  isAllowedCertUrl,
  parsePemChain,
  type TrustStore,
  trustStoreFromPem,
  type VerifiedCertificate,
  verifyCertificateChain,
} from './paypal-cert.ts';
import { nonEmpty, parseSecret } from './secrets.ts';
import type { CallbackRequest, Gateway, GatewayFromSecret, VerifyResult } from './types.ts';

export {
  DEFAULT_CERT_COMMON_NAME,
  DEFAULT_CERT_HOST_ALLOWLIST,
  type FetchCert,
  httpFetchCert,
  isAllowedCertUrl,
} from './paypal-cert.ts';

export interface PaypalGatewayConfig {
  readonly name: string;
  /** The id of our webhook registration: part of the signed string. */
  readonly webhookId: string;
  /** `host[:port]` patterns a cert URL may name (`PAYPAL_CERT_URL_HOSTS`); see isAllowedCertUrl. */
  readonly certHostAllowlist: readonly string[];
  readonly fetchCert: FetchCert;
  /**
   * PEM of the only roots to trust (`PAYPAL_TRUST_ROOTS_PEM`: the sandbox's CA).
   * @default Node's bundled root CAs
   */
  readonly trustRootsPem?: string;
  /** `*` pattern the leaf's subject CN must match (`PAYPAL_CERT_CN`). @default 'messageverificationcerts*.paypal.com' */
  readonly certCommonName?: string;
  /** Certificate downloads (cache misses) allowed per gateway instance. @default { burst: 10, perMinute: 10 } */
  readonly certMissLimit?: { readonly burst: number; readonly perMinute: number };
}

/** Verified certificates kept per instance; least recently used goes first. */
const CERT_CACHE_MAX = 32;
/** URLs whose certificate was refused are not downloaded again for this long (they answer 401 at once). */
const REFUSED_TTL_MS = 5 * 60_000;
const REFUSED_MAX = 256;

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
  let configuredTrust: TrustStore | undefined;
  if (config.trustRootsPem !== undefined) {
    try {
      configuredTrust = trustStoreFromPem(config.trustRootsPem);
    } catch (cause) {
      throw new GatewayConfigError('PAYPAL_TRUST_ROOTS_PEM holds no usable certificate', {
        gateway: name,
        cause,
      });
    }
  }
  const trust = (): TrustStore => configuredTrust ?? bundledTrustStore();
  const cnMatches = commonNameMatcher(config.certCommonName ?? DEFAULT_CERT_COMMON_NAME);
  const misses = createMissLimiter(config.certMissLimit ?? { burst: 10, perMinute: 10 });
  // Promises, so concurrent callbacks naming one URL share one download. Only verified chains stay.
  const certs = new Map<string, Promise<VerifiedCertificate>>();
  const refused = new Map<string, number>();

  const invalid = (message: string, cause?: unknown) =>
    new InvalidSignatureError(message, { gateway: name, cause });

  async function certificate(url: string, now: Date): Promise<VerifiedCertificate> {
    const cached = certs.get(url);
    if (cached) {
      // Re-inserted: the Map's order is the LRU order.
      certs.delete(url);
      certs.set(url, cached);
      return cached;
    }
    const refusedUntil = refused.get(url);
    if (refusedUntil !== undefined && refusedUntil > now.getTime())
      throw invalid('signing certificate was refused recently');
    if (!misses.take(now.getTime())) {
      // Too many different URLs lately: PayPal redelivers a genuine event later; a forger gets nothing.
      throw new GatewayUnavailableError('certificate downloads are rate-limited', { gateway: name });
    }
    const pending = loadCertificate(url, now);
    certs.set(url, pending);
    if (certs.size > CERT_CACHE_MAX) certs.delete(certs.keys().next().value as string);
    pending.catch((error: unknown) => {
      if (certs.get(url) === pending) certs.delete(url);
      if (error instanceof InvalidSignatureError) {
        refused.delete(url);
        refused.set(url, now.getTime() + REFUSED_TTL_MS);
        if (refused.size > REFUSED_MAX) refused.delete(refused.keys().next().value as string);
      }
    });
    return pending;
  }

  async function loadCertificate(url: string, now: Date): Promise<VerifiedCertificate> {
    try {
      const pem = await config.fetchCert(url);
      return verifyCertificateChain(parsePemChain(pem), trust(), cnMatches, now);
    } catch (cause) {
      // Permanent (4xx, not a certificate, not trusted): 401. Anything else is transient (PayPal or the
      // network): 500 so PayPal redelivers, rather than a 401 on a genuine event.
      if (cause instanceof CertificateError && cause.permanent)
        throw invalid(`signing certificate refused: ${cause.message}`, cause);
      throw new GatewayUnavailableError('signing certificate could not be downloaded', {
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
        throw invalid('missing PAYPAL-* signature headers');
      }
      if (algo !== 'SHA256withRSA') throw invalid('unsupported PAYPAL-AUTH-ALGO');
      // Cheap checks before anything that could cost a download.
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) throw invalid('PAYPAL-TRANSMISSION-SIG is not base64');
      if (!isAllowedCertUrl(certUrl, config.certHostAllowlist)) {
        throw invalid('PAYPAL-CERT-URL is not an allowlisted PayPal certificate URL');
      }
      const cert = await certificate(certUrl, now);
      // A cached chain may have expired since it was verified.
      const t = now.getTime();
      if (!(cert.notBefore <= t && t <= cert.notAfter)) {
        throw invalid('signing certificate is not valid now');
      }
      const signed = paypalSignedString(transmissionId, transmissionTime, config.webhookId, req.rawBody);
      const ok = cryptoVerify(
        'sha256',
        Buffer.from(signed, 'utf8'),
        cert.leaf.publicKey,
        Buffer.from(signature, 'base64'),
      );
      if (!ok) throw invalid('signature does not verify');
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
    // PayPal amounts are major-unit strings ("19.99", "1999" for JPY, whole units for HUF/TWD: see
    // currencies.ts): exact, never floats.
    return {
      currency,
      amountMinor: requireGatewayMajor('paypal', amount.value, currency, 'resource.amount.value', gateway),
    };
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

/** PayPal's secret JSON: the id of our webhook registration. */
export const paypalSecretSchema = z.strictObject({ webhookId: nonEmpty });

export const paypalGatewayFromSecret: GatewayFromSecret = (name, secret, options = {}) =>
  createPaypalGateway({
    name,
    webhookId: parseSecret(paypalSecretSchema, 'paypal', secret, name).webhookId,
    certHostAllowlist: options.certHostAllowlist ?? DEFAULT_CERT_HOST_ALLOWLIST,
    fetchCert: options.fetchCert ?? ((url) => httpFetchCert(url)),
    ...(options.trustRootsPem === undefined ? {} : { trustRootsPem: options.trustRootsPem }),
    ...(options.certCommonName === undefined ? {} : { certCommonName: options.certCommonName }),
  });
