/**
 * The port every payment gateway implements. A gateway turns one raw HTTP callback into either a
 * verified, normalised event or "ignored"; it never touches storage. The callback handler stays
 * gateway-agnostic: it checks the body size, calls `verify`, runs the use case, and answers with
 * `acknowledge` (see acknowledgement.ts) whatever the outcome.
 */
import type { GatewayKind } from '../../../lib/settings.ts';
import type { NormalizedEvent } from '../events.ts';
import type { Currency } from '../money.ts';
import type { AckBody, Acknowledgement } from './acknowledgement.ts';
import type { FetchCert } from './paypal.ts';

export type { GatewayKind };

/** One callback as the handler received it. */
export interface CallbackRequest {
  /** Header names lower-cased (API Gateway payload 2.0 already does; the sandbox must too). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as sent (after base64 decoding): signatures are over these bytes. */
  readonly rawBody: Buffer;
}

/** What a verified callback means to us. */
export type VerifyResult =
  | { readonly type: 'event'; readonly event: NormalizedEvent }
  /** Signed and well-formed, but nothing we act on: answer 200 `{"status":"ignored"}`. */
  | { readonly type: 'ignored'; readonly eventType: string; readonly eventId?: string };

/** The body format a gateway posts. */
export type ContentKind = 'json' | 'form';

export interface Gateway {
  /** The configured name (`stripe`, `localpay`, …): the ledger's `{gateway}` key part. */
  readonly name: string;
  readonly kind: GatewayKind;
  readonly contentType: ContentKind;
  /**
   * Checks, in CONTRACT order, content type (415), signature (401), shape (400), and normalises.
   * `now` is the receive time that signed timestamps and certificate validity are checked against.
   * @throws UnsupportedMediaTypeError | InvalidSignatureError | MalformedEventError | GatewayUnavailableError
   */
  verify(req: CallbackRequest, now: Date): Promise<VerifyResult>;
  /** The HTTP answer in this gateway's own acknowledgement format (same as `acknowledgement(kind, …)`). */
  acknowledge(statusCode: number, body: AckBody, headers?: Readonly<Record<string, string>>): Acknowledgement;
}

/** Non-secret settings and injected dependencies. */
export interface GatewayOptions {
  /** PayPal: certificate download. @default httpFetchCert (fetch, 3 s timeout, no redirects) */
  readonly fetchCert?: FetchCert;
  /** PayPal: cert URL host patterns (`PAYPAL_CERT_URL_HOSTS`). @default ['*.paypal.com'] */
  readonly certHostAllowlist?: readonly string[];
  /** PayPal: the only roots to trust (`PAYPAL_TRUST_ROOTS_PEM`). @default Node's bundled root CAs */
  readonly trustRootsPem?: string;
  /** PayPal: leaf subject CN pattern (`PAYPAL_CERT_CN`). @default 'messageverificationcerts*.paypal.com' */
  readonly certCommonName?: string;
  /** Alipay / WeChat Pay: currency when the notification names none. Overrides the secret's. @default 'CNY' */
  readonly defaultCurrency?: Currency;
}

/**
 * Builds one kind of gateway, named `name`, from its secret (validated: GatewayConfigError names the bad
 * fields). Call once per Lambda instance and keep the result: PayPal caches certificates in it.
 */
export type GatewayFromSecret = (name: string, secret: unknown, options?: GatewayOptions) => Gateway;
