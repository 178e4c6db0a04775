/**
 * The port every payment gateway implements. A gateway turns one raw HTTP callback into either a
 * verified, normalised event or "ignored"; it never touches storage. The callback handler stays
 * gateway-agnostic: it checks the body size, calls `verify`, runs the use case, and answers with
 * `acknowledge` (see acknowledgement.ts) whatever the outcome.
 */
import type { GatewayKind } from '../../../lib/topology.ts';
import type { NormalizedEvent } from '../events.ts';
import type { AckBody, Acknowledgement } from './acknowledgement.ts';

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
