/** Shared fixtures for the gateway unit tests: keys are generated per run, never committed. */
import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'vitest';
import type { GatewayError } from '../../../functions/core/gateways/errors.ts';
import type { CallbackRequest, Gateway, VerifyResult } from '../../../functions/core/gateways/types.ts';

export interface RsaPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** A fresh 2048-bit RSA key pair as PEM strings (what the gateways' consoles hand out). */
export function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

/** A callback request with lower-cased header names, as the handler builds it. */
export function request(body: string | Buffer, headers: Record<string, string | undefined>): CallbackRequest {
  return {
    rawBody: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

/** Asserts that verification fails with the given error class and HTTP status. */
export async function expectRejects(
  promise: Promise<VerifyResult>,
  errorClass: abstract new (...args: never[]) => GatewayError,
  statusCode: number,
): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(errorClass);
  expect((error as GatewayError).statusCode).toBe(statusCode);
  return error as GatewayError;
}

/** Verifies and returns the normalised event, failing the test on `ignored`. */
export async function expectEvent(gateway: Gateway, req: CallbackRequest, now: Date) {
  const result = await gateway.verify(req, now);
  if (result.type !== 'event') throw new Error(`expected an event, got ignored ${result.eventType}`);
  return result.event;
}

export const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
