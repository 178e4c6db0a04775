/**
 * The gateway layer's one error hierarchy. Each error knows the HTTP status and the CONTRACT §3 error
 * code it stands for, so the callback handler maps errors to responses in exactly one place without
 * knowing any gateway. Messages name what was wrong, never a secret, key or signature value.
 */

/** CONTRACT §3 error codes a gateway error can turn into. */
export type GatewayErrorCode =
  | 'unsupported_media_type'
  | 'invalid_signature'
  | 'malformed_event'
  | 'retry_later';

export interface GatewayErrorOptions {
  readonly cause?: unknown;
  /** The gateway name (`stripe`, `localpay`, …) for logs. */
  readonly gateway?: string;
}

/** Base class: never thrown itself. */
export abstract class GatewayError extends Error {
  abstract readonly statusCode: number;
  abstract readonly errorCode: GatewayErrorCode;
  readonly gateway: string | undefined;
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.gateway = options.gateway;
  }
}

/** Content type other than the gateway's: 415 `unsupported_media_type`. */
export class UnsupportedMediaTypeError extends GatewayError {
  readonly statusCode = 415;
  readonly errorCode = 'unsupported_media_type';
  constructor(message: string, options?: GatewayErrorOptions) {
    super(message, options);
    this.name = 'UnsupportedMediaTypeError';
  }
}

/**
 * Bad or missing signature, a signed timestamp outside ±300 s, an unknown key serial, a certificate we
 * may not trust, or a signed identity (Alipay app/seller, WeChat mchid) that is not ours: 401.
 */
export class InvalidSignatureError extends GatewayError {
  readonly statusCode = 401;
  readonly errorCode = 'invalid_signature';
  constructor(message: string, options?: GatewayErrorOptions) {
    super(message, options);
    this.name = 'InvalidSignatureError';
  }
}

/** Signed, but not an event we can read (bad JSON, amounts, currency, missing references): 400. */
export class MalformedEventError extends GatewayError {
  readonly statusCode = 400;
  readonly errorCode = 'malformed_event';
  constructor(message: string, options?: GatewayErrorOptions) {
    super(message, options);
    this.name = 'MalformedEventError';
  }
}

/**
 * We could not verify right now for a reason on our side or the gateway's (PayPal certificate download
 * failed): 500 `retry_later`, so the gateway redelivers instead of us rejecting a possibly genuine event.
 */
export class GatewayUnavailableError extends GatewayError {
  readonly statusCode = 500;
  readonly errorCode = 'retry_later';
  constructor(message: string, options?: GatewayErrorOptions) {
    super(message, options);
    this.name = 'GatewayUnavailableError';
  }
}

/** The gateway's secret JSON or options do not validate. Thrown at start (cold start), never per request. */
export class GatewayConfigError extends Error {
  readonly gateway: string | undefined;
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'GatewayConfigError';
    this.gateway = options.gateway;
  }
}
