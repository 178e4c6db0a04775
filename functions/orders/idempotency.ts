/**
 * `Idempotency-Key` for the two POST routes (CONTRACT §3), on Powertools `makeIdempotent` around a plain
 * function (the middy middleware can delete a lock it never held under concurrency: STYLE "Known traps").
 *
 * - key: route + Idempotency-Key; payload validation on a hash of the path and raw body, so the same key with
 *   another body (or for another order) is 422 `idempotency_key_reused`;
 * - only 2xx responses are stored: a non-2xx result is thrown through Powertools, which deletes the in-progress
 *   record, and handed back to the caller, so the client can retry with the same key;
 * - a replay is told apart by a per-invocation nonce stored in the result.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Context } from 'aws-lambda';
import { HttpError, type HttpResult } from '../shared/http.ts';

interface IdempotentInput {
  /** `{principal} {routeKey} {Idempotency-Key}`: the record's key. */
  readonly key: string;
  /** sha256 of path and raw body: Powertools compares it to the stored one. */
  readonly payloadHash: string;
  readonly nonce: string;
}

type StoredResult = HttpResult & { readonly nonce: string };

/** Carries a non-2xx response through Powertools so that it deletes the record instead of storing it. */
class UnstoredResponseError extends Error {
  readonly response: HttpResult;
  constructor(response: HttpResult) {
    super(`not stored: HTTP ${response.statusCode}`);
    this.name = 'UnstoredResponseError';
    this.response = response;
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyOptions {
  readonly persistenceStore: BasePersistenceLayer;
  readonly expiresAfterSeconds: number;
}

/**
 * Who is calling, as API Gateway's AWS_IAM authorisation reports it: the caller's ARN (a role session's
 * ARN names the session), else its caller id. A key is scoped to it, so one client's key never answers
 * (or blocks, or reveals) another client's request (Stripe scopes keys to the account the same way).
 * The sandbox's orders routes carry one fixed caller. An event without one (a direct invocation: every
 * orders route is IAM-authorised, an infra test holds that) shares the scope `-`.
 */
export function callerPrincipal(event: { requestContext?: object }): string | undefined {
  // APIGatewayProxyEventV2WithIAMAuthorizer's shape; the plain V2 event type does not declare it.
  const context = event.requestContext as
    | { authorizer?: { iam?: { userArn?: string | null; callerId?: string | null } } }
    | undefined;
  const iam = context?.authorizer?.iam;
  return iam?.userArn || iam?.callerId || undefined;
}

export type IdempotentRunner = (
  request: {
    principal: string | undefined;
    routeKey: string;
    idempotencyKey: string;
    path: string;
    body: Buffer;
  },
  context: Context,
  work: () => Promise<HttpResult>,
) => Promise<HttpResult>;

export function createIdempotentRunner(options: IdempotencyOptions): IdempotentRunner {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    payloadValidationJmesPath: 'payloadHash',
    expiresAfterSeconds: options.expiresAfterSeconds,
    throwOnNoIdempotencyKey: true,
  });
  const run = makeIdempotent(
    async (input: IdempotentInput, work: () => Promise<HttpResult>): Promise<StoredResult> => {
      const response = await work();
      if (response.statusCode < 200 || response.statusCode > 299) throw new UnstoredResponseError(response);
      return { ...response, nonce: input.nonce };
    },
    { persistenceStore: options.persistenceStore, config, dataIndexArgument: 0 },
  );

  return async (request, context, work) => {
    if (!KEY_PATTERN.test(request.idempotencyKey)) {
      throw new HttpError(400, {
        error: 'validation_error',
        details: [{ path: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' }],
      });
    }
    // Without it Powertools writes no in-progress expiry, and a crash would block the key until it expires.
    config.registerLambdaContext(context);
    const nonce = randomUUID();
    const payloadHash = createHash('sha256')
      .update(request.path)
      .update('\n')
      .update(request.body)
      .digest('hex');
    try {
      const { nonce: storedNonce, ...response } = (await run(
        {
          key: `${request.principal ?? '-'} ${request.routeKey} ${request.idempotencyKey}`,
          payloadHash,
          nonce,
        },
        work,
      )) as StoredResult;
      if (storedNonce === nonce) return response;
      return { ...response, headers: { ...response.headers, 'Idempotent-Replayed': 'true' } };
    } catch (error) {
      if (error instanceof UnstoredResponseError) return error.response;
      if (error instanceof IdempotencyValidationError) {
        throw new HttpError(422, { error: 'idempotency_key_reused' }, { cause: error });
      }
      if (error instanceof IdempotencyAlreadyInProgressError) {
        throw new HttpError(409, { error: 'in_progress' }, { cause: error, headers: { 'Retry-After': '1' } });
      }
      throw error;
    }
  };
}
