/**
 * HTTP edge helpers for API Gateway HTTP API (payload 2.0) handlers. Errors become HTTP in exactly one
 * place (`toErrorResponse`): only 4xx details are exposed; a 5xx body is generic.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
};

export class HttpError extends Error {
  readonly statusCode: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
  constructor(
    statusCode: number,
    body: Record<string, unknown>,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(`${statusCode} ${String(body.error ?? body.status ?? '')}`, options);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.body = body;
    this.headers = options?.headers ?? {};
  }
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** Maps any thrown value to a response; 5xx never exposes the error. */
export function toErrorResponse(error: unknown): HttpResult {
  if (error instanceof HttpError) {
    if (error.statusCode < 500) return json(error.statusCode, error.body, error.headers);
    return json(error.statusCode, pickPublic5xx(error.body), error.headers);
  }
  return json(500, { error: 'internal_error' });
}

function pickPublic5xx(body: Record<string, unknown>): Record<string, unknown> {
  // 5xx bodies are fixed strings chosen by our own code (e.g. retry_later, fx_rate_stale), never error text.
  return typeof body.error === 'string' ? { error: body.error } : { error: 'internal_error' };
}

/** The raw body bytes exactly as the client sent them. */
export function rawBody(event: HttpEvent): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** Header lookup, case-insensitive (API Gateway lower-cases HTTP API headers already). */
export function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export function lowerCaseHeaders(event: HttpEvent): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}
