/**
 * Trust in a PayPal signing certificate, as PayPal's own SDKs establish it (CONTRACT §3 "paypal"). The
 * PayPal Java SDK (`com.paypal.base.SSLUtil.validateCertificateChain`, called from
 * `Event.validateReceivedEvent`) downloads the PEM named by `PAYPAL-CERT-URL`, checks the chain against
 * its trust anchors, `checkValidity()` on every certificate, and that the subject CN starts with
 * `messageverificationcerts` and ends with `.paypal.com`. Without the chain check anyone can serve a
 * self-signed certificate with the right name from an allowlisted host's open redirect or upload path,
 * and sign with a key of their own. What we add around it:
 * - the URL: https on an allowlisted host, PayPal's certificate path
 *   (`/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270`, as in the SDKs' samples), no query;
 * - the download: 64 KB at most, no redirects, 3 s; a 4xx, a redirect or a body that is no certificate
 *   is final (401), a network error, timeout, 5xx or 429 is PayPal's to retry (500);
 * - the trust anchors: Node's bundled Mozilla roots (`tls.rootCertificates`; PayPal's certificates chain
 *   to DigiCert roots), or only the roots given in `PAYPAL_TRUST_ROOTS_PEM` (the sandbox's own CA).
 * Pure apart from `httpFetchCert`, which the gateway takes injected.
 */
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';

/** The most a certificate download may weigh: PayPal's leaf + intermediates are ~5 KB of PEM. */
export const PAYPAL_CERT_MAX_BYTES = 65_536;

/** How long a download may take before it counts as PayPal being unavailable. */
export const PAYPAL_CERT_TIMEOUT_MS = 3_000;

/** The subject CN rule of PayPal's Java SDK, as a `*` pattern. */
export const DEFAULT_CERT_COMMON_NAME = 'messageverificationcerts*.paypal.com';

/** PayPal's production and sandbox API hosts (`api.paypal.com`, `api.sandbox.paypal.com`, `api-m.…`). */
export const DEFAULT_CERT_HOST_ALLOWLIST: readonly string[] = ['*.paypal.com'];

/** `PAYPAL-CERT-URL` paths as PayPal issues them: `/v1/notifications/certs/CERT-<hex groups>`. */
const PAYPAL_CERT_PATH = /^\/v1\/notifications\/certs\/CERT-[0-9A-Za-z-]{1,100}$/;

/**
 * Where the local sandbox serves its certificate (CONTRACT §2 `endpoints.json`): accepted on loopback
 * hosts only, which no AWS allowlist names.
 */
export const SANDBOX_CERT_PATH = '/_sandbox/paypal/cert.pem';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A chain longer than this is no PayPal chain (theirs is leaf + one intermediate). */
const MAX_CHAIN = 5;

/**
 * A certificate that cannot be used. `permanent`: it will not get better by retrying (a 4xx, not a
 * certificate, not trusted: 401); otherwise the download failed for now (500, PayPal redelivers).
 */
export class CertificateError extends Error {
  readonly permanent: boolean;
  constructor(message: string, options: { permanent: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'CertificateError';
    this.permanent = options.permanent;
  }
}

const rejected = (message: string, cause?: unknown) =>
  new CertificateError(message, { permanent: true, cause });

/**
 * True when `url` may be fetched as a PayPal signing certificate: https (or http on a loopback host, for
 * the sandbox), no credentials, query or fragment, a host matching the allowlist, and PayPal's
 * certificate path (or the sandbox's, on loopback). Host patterns are matched against `URL.host`, so a
 * non-default port must be spelled out: `*.paypal.com` (any depth of subdomain, not `paypal.com` itself
 * nor `evilpaypal.com`) or an exact `host[:port]` like `127.0.0.1:3000`.
 */
export function isAllowedCertUrl(url: string, allowlist: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) return false;
  const loopback = LOOPBACK.has(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) return false;
  if (!PAYPAL_CERT_PATH.test(parsed.pathname) && !(loopback && parsed.pathname === SANDBOX_CERT_PATH))
    return false;
  const host = parsed.host.toLowerCase();
  return allowlist.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p;
  });
}

/**
 * Parses `PAYPAL_CERT_URL_HOSTS`: comma-separated `host[:port]` patterns, `*.` prefix allowed.
 * @throws Error naming the bad entry
 */
export function parseHostAllowlist(value: string): string[] {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!entries.length) throw new Error('no host pattern');
  for (const entry of entries) {
    if (
      !/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$/.test(entry) &&
      !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(entry)
    )
      throw new Error(`not a host[:port] pattern: ${JSON.stringify(entry)}`);
  }
  return entries;
}

/** Every `-----BEGIN CERTIFICATE-----` block of a PEM document, parsed; anything else is an error. */
export function parsePemChain(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw rejected('not a PEM certificate');
  if (blocks.length > MAX_CHAIN) throw rejected(`more than ${MAX_CHAIN} certificates`);
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (cause) {
    throw rejected('not a PEM certificate', cause);
  }
}

/** The certificates a chain may end at. */
export interface TrustStore {
  /** Anchors whose subject is `cert`'s issuer name (candidates; the signature is checked by the caller). */
  candidatesFor(cert: X509Certificate): readonly X509Certificate[];
  /** True when `cert` is itself an anchor (same DER). */
  contains(cert: X509Certificate): boolean;
}

/**
 * The trust store of a PEM document of root certificates (`PAYPAL_TRUST_ROOTS_PEM`).
 * @throws Error when it holds no certificate or one that does not parse
 */
export function trustStoreFromPem(pem: string): TrustStore {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new Error('no PEM certificate');
  return createTrustStore(blocks);
}

/** A trust store of the given PEM certificates. */
export function createTrustStore(pems: readonly string[]): TrustStore {
  const bySubject = new Map<string, X509Certificate[]>();
  const fingerprints = new Set<string>();
  for (const pem of pems) {
    const cert = new X509Certificate(pem);
    fingerprints.add(cert.fingerprint256);
    bySubject.set(cert.subject, [...(bySubject.get(cert.subject) ?? []), cert]);
  }
  return {
    candidatesFor: (cert) => bySubject.get(cert.issuer) ?? [],
    contains: (cert) => fingerprints.has(cert.fingerprint256),
  };
}

let bundled: TrustStore | undefined;
/**
 * Node's bundled root CAs. Parsed on first use only (a certificate cache miss): 144 roots took 70–170 ms
 * to parse here (2 busy cores), once per Lambda instance, never on the warm path. A chain's own parse and
 * verification then costs ~3.4 ms per miss.
 */
export function bundledTrustStore(): TrustStore {
  bundled ??= createTrustStore(rootCertificates);
  return bundled;
}

/**
 * A `*` pattern over the whole CN, case-insensitive as DNS names are: `messageverificationcerts*.paypal.com`
 * is the Java SDK's startsWith/endsWith pair.
 */
export function commonNameMatcher(pattern: string): (commonName: string) => boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`, 'i');
  return (cn) => re.test(cn);
}

/** The CN values of a certificate's subject (Node prints one RDN per line). */
export function subjectCommonNames(cert: X509Certificate): string[] {
  return cert.subject
    .split('\n')
    .filter((rdn) => rdn.startsWith('CN='))
    .map((rdn) => rdn.slice(3));
}

const validFrom = (c: X509Certificate) => Date.parse(c.validFrom);
const validTo = (c: X509Certificate) => Date.parse(c.validTo);

/** A chain that verified: the leaf's key, and the window in which every certificate of it is valid. */
export interface VerifiedCertificate {
  readonly leaf: X509Certificate;
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * Checks a downloaded chain: the first certificate is the leaf; each certificate is issued and signed by
 * the next one up, taken from the rest of the PEM (CA certificates only) or from the trust store, until a
 * trust anchor; the leaf's CN matches; every certificate on the path is valid at `now`.
 * @throws CertificateError (permanent)
 */
export function verifyCertificateChain(
  chain: readonly X509Certificate[],
  trust: TrustStore,
  commonNameMatches: (cn: string) => boolean,
  now: Date,
): VerifiedCertificate {
  const [leaf, ...rest] = chain;
  if (!leaf) throw rejected('empty certificate chain');
  if (!subjectCommonNames(leaf).some(commonNameMatches))
    throw rejected(`leaf subject ${JSON.stringify(leaf.subject)} does not match the PayPal CN`);

  const path: X509Certificate[] = [leaf];
  const pool = [...rest];
  let current = leaf;
  for (;;) {
    if (trust.contains(current)) break;
    const anchor = trust
      .candidatesFor(current)
      .find((root) => current.checkIssued(root) && current.verify(root.publicKey));
    if (anchor) {
      path.push(anchor);
      break;
    }
    const next = pool.findIndex((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (next < 0 || path.length >= MAX_CHAIN)
      throw rejected(`certificate ${JSON.stringify(current.subject)} does not chain to a trusted root`);
    current = pool.splice(next, 1)[0]!;
    path.push(current);
  }

  const notBefore = Math.max(...path.map(validFrom));
  const notAfter = Math.min(...path.map(validTo));
  const t = now.getTime();
  if (!(notBefore <= t && t <= notAfter)) throw rejected('a certificate of the chain is not valid now');
  return { leaf, notBefore, notAfter };
}

/** Downloads a certificate PEM. Injected so tests and the sandbox need no network. */
export type FetchCert = (url: string) => Promise<string>;

/**
 * The default `FetchCert`: Node's fetch, redirects refused (one could leave the allowlisted host),
 * 3 s for the whole download, at most 64 KB read.
 * @throws CertificateError — permanent for 3xx/4xx (not 429), other non-200 answers and oversized
 *   bodies; transient for network errors, timeouts, 5xx and 429.
 */
export async function httpFetchCert(
  url: string,
  options: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<string> {
  const { timeoutMs = PAYPAL_CERT_TIMEOUT_MS, maxBytes = PAYPAL_CERT_MAX_BYTES } = options;
  const unavailable = (message: string, cause?: unknown) =>
    new CertificateError(message, { permanent: false, cause });
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw unavailable('certificate download failed', cause);
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    if (res.status === 429 || res.status >= 500)
      throw unavailable(`certificate download answered ${res.status}`);
    throw rejected(`certificate download answered ${res.status}`);
  }
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw rejected(`certificate larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    const reader = res.body?.getReader();
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      size += chunk.value.byteLength;
      if (size > maxBytes) {
        await reader?.cancel().catch(() => {});
        throw rejected(`certificate larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk.value);
    }
  } catch (cause) {
    if (cause instanceof CertificateError) throw cause;
    throw unavailable('certificate download failed', cause);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A token bucket for certificate cache misses: at most `burst` downloads at once, refilled at
 * `perMinute`. A forged request can name any number of allowlisted URLs; each costs a download only
 * while tokens last, and nothing unverified enters the cache, so a flood can neither make us fetch
 * pages nor push a verified certificate out.
 */
export function createMissLimiter(limit: { burst: number; perMinute: number }) {
  let tokens = limit.burst;
  let last: number | undefined;
  return {
    take(nowMs: number): boolean {
      if (last !== undefined && nowMs > last)
        tokens = Math.min(limit.burst, tokens + ((nowMs - last) * limit.perMinute) / 60_000);
      last = last === undefined ? nowMs : Math.max(last, nowMs);
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
