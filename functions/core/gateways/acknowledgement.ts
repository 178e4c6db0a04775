/**
 * How each gateway wants to be answered. CONTRACT §3 defines one status table with JSON bodies;
 * Alipay and WeChat Pay read the answer their own way, so the handler decides status + body once and
 * this module renders it per gateway.
 */
import type { GatewayKind } from '../../../lib/settings.ts';

/** A CONTRACT §3 body: `{"status":"processed"}`, `{"error":"invalid_signature"}`, … */
export type AckBody = { readonly status: string } | { readonly error: string };

/** An HTTP response, shaped so it drops straight into an API Gateway payload 2.0 result. */
export interface Acknowledgement {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/**
 * Renders the answer to a callback for one kind of gateway.
 * - alipay: plain-text `success` for 2xx (Alipay retries until it reads exactly that), `fail` otherwise.
 * - wechatpay: an empty 204 for 2xx; `{"code":"FAIL","message":"<error or status>"}` for 4xx/5xx,
 *   the shape WeChat Pay's API v3 documents for notification answers.
 * - stripe, paypal, standard-webhooks: the CONTRACT table's JSON body as is.
 * `headers` (e.g. `Retry-After` with a 409) are kept for every format.
 */
export function acknowledgement(
  kind: GatewayKind,
  statusCode: number,
  body: AckBody,
  headers: Readonly<Record<string, string>> = {},
): Acknowledgement {
  const ok = statusCode >= 200 && statusCode < 300;
  switch (kind) {
    case 'alipay':
      return {
        statusCode,
        headers: { ...headers, 'content-type': TEXT_TYPE },
        body: ok ? 'success' : 'fail',
      };
    case 'wechatpay':
      if (ok) return { statusCode: 204, headers: { ...headers }, body: '' };
      return {
        statusCode,
        headers: { ...headers, 'content-type': JSON_TYPE },
        body: JSON.stringify({ code: 'FAIL', message: 'error' in body ? body.error : body.status }),
      };
    default:
      return { statusCode, headers: { ...headers, 'content-type': JSON_TYPE }, body: JSON.stringify(body) };
  }
}
