/**
 * `POST /callbacks/{gateway}`: one thin adapter for every gateway. Checks in CONTRACT order (body size,
 * content type, signature, shape), then applies the event once: the Powertools idempotency record is the
 * in-flight lock and the fast answer for re-deliveries; the ledger's unique key is what makes "once"
 * permanent (see functions/core/callbacks.ts).
 */
import { createHash } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { customMetrics } from '../../lib/settings.ts';
import { createAlerts } from '../adapters/alerts.ts';
import { createDynamoClient } from '../adapters/aws-clients.ts';
import { DynamoCallbackStore } from '../adapters/callback-store.ts';
import { loadGatewaySecret } from '../adapters/gateway-secret.ts';
import type { Alerts } from '../core/alerts.ts';
import {
  type ApplyDeps,
  applyEvent,
  applyToRecorded,
  type CallbackOutcome,
  type CallbackStore,
  claimOf,
  eventKey,
} from '../core/callbacks.ts';
import type { NormalizedEvent } from '../core/events.ts';
import { acknowledgement } from '../core/gateways/acknowledgement.ts';
import { GatewayError } from '../core/gateways/errors.ts';
import type { Gateway, GatewayFromSecret, GatewayKind, GatewayOptions } from '../core/gateways/types.ts';
import { ConfigError, type Env, readConfig, required } from '../shared/config.ts';
import { type HttpEvent, lowerCaseHeaders, rawBody } from '../shared/http.ts';
import { createObservability } from '../shared/observability.ts';

/** HTTP APIs cannot cap the body before the function runs: this is the very first check. */
export const MAX_BODY_BYTES = 262_144;

/**
 * How long a completed delivery answers `duplicate` from the idempotency record alone (1 request).
 * After that the ledger's unique key still answers `duplicate`: gateways retry for up to 3 days.
 */
const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

const ConfigSchema = z.object({
  GATEWAY: required(),
  GATEWAY_KIND: z.enum(['stripe', 'paypal', 'standard-webhooks', 'alipay', 'wechatpay']),
  PAYMENTS_TABLE: required(),
  ORDERS_TABLE: required(),
  IDEMPOTENCY_TABLE: required(),
});

/**
 * What a callback function knows of its gateway kind: how to build it from its secret, and the
 * settings it reads from the function's environment (checked at cold start).
 */
export interface CallbackGateway {
  readonly fromSecret: GatewayFromSecret;
  /** @throws ConfigError naming the variable */
  readonly settings?: (env: Env) => GatewayOptions;
}

/** The gateway kinds a function is built with: one in AWS (a bundle per gateway), all in the sandbox. */
export type CallbackGateways = Partial<Record<GatewayKind, CallbackGateway>>;

export interface CallbackDeps {
  readonly dynamo: DynamoDBClient;
  readonly store: CallbackStore;
  readonly alerts: Alerts;
  readonly gateway: Gateway;
  readonly now: () => Date;
}

interface ApplyInput {
  readonly key: string;
  /**
   * What payload validation compares (amount, currency, order id, references): a delivery that claims
   * anything else goes to the ledger entry, which quarantines a conflict, attaches a late order
   * reference or merges new references (functions/core/callbacks.ts `applyToRecorded`).
   */
  readonly claim: readonly [number, string, string, string];
  readonly event: NormalizedEvent;
}

interface ApplyOutput {
  readonly outcome: CallbackOutcome;
  /** Set by the response hook when the answer came from the idempotency record. */
  readonly replayed?: boolean;
}

const OUTCOME_METRIC: Record<CallbackOutcome | 'in_progress', string> = {
  processed: 'CallbacksProcessed',
  duplicate: 'DuplicateDeliveries',
  double_payment: customMetrics.names.doublePayments,
  amount_mismatch: 'CallbacksAmountMismatch',
  unmatched: 'CallbacksUnmatched',
  quarantined: customMetrics.names.callbacksQuarantined,
  refund_exceeds_paid: 'CallbacksRefundExceedsPaid',
  in_progress: 'CallbacksInProgress',
};

/**
 * How a callback applies an event once: Powertools' lock on the idempotency table, keyed on
 * {@link ApplyInput.key}, with the delivery's claim validated against the first one. The bench wraps
 * its baseline in the same options.
 */
export function idempotencyOptions(tableName: string, dynamo: DynamoDBClient, gateway: string) {
  return {
    persistenceStore: new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: dynamo }),
    config: new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      payloadValidationJmesPath: 'claim',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
      responseHook: (response) => ({ ...(response as object), replayed: true }) as never,
    }),
    keyPrefix: `callback-${gateway}`,
  };
}

export function createCallbackHandler(
  env: Env,
  gateways: CallbackGateways,
  overrides: Partial<CallbackDeps> = {},
) {
  const config = readConfig(ConfigSchema, env);
  const kind = gateways[config.GATEWAY_KIND];
  if (!kind) {
    throw new ConfigError(
      `invalid configuration: GATEWAY_KIND: ${config.GATEWAY_KIND} is not built into this function (${Object.keys(gateways).join(', ')})`,
      ['GATEWAY_KIND'],
    );
  }
  const gatewayOptions = kind.settings?.(env) ?? {};
  const { logger, metrics } = createObservability(env, 'daigou-callback');
  const dynamo = overrides.dynamo ?? createDynamoClient(env);
  const store =
    overrides.store ??
    new DynamoCallbackStore(dynamo, { payments: config.PAYMENTS_TABLE, orders: config.ORDERS_TABLE });
  const alerts = overrides.alerts ?? createAlerts(env);
  const now = overrides.now ?? (() => new Date());

  const applyDeps: ApplyDeps = {
    store,
    now,
    hash: (s) => createHash('sha256').update(s).digest('hex'),
    raise: async (alert) => {
      // An alert that cannot be sent must not turn an applied payment into a 500 and a retry.
      try {
        await alerts.raise(alert.type, { gateway: config.GATEWAY, ...alert.detail });
      } catch (error) {
        logger.error('alert failed', { alertType: alert.type, error });
      }
    },
  };

  const idempotency = idempotencyOptions(config.IDEMPOTENCY_TABLE, dynamo, config.GATEWAY);
  const idempotencyConfig = idempotency.config;
  const applyOnce = makeIdempotent(
    async (input: ApplyInput): Promise<ApplyOutput> => ({
      outcome: await applyEvent(input.event, applyDeps),
    }),
    idempotency,
  );

  let gatewayPromise: Promise<{ gateway: Gateway; secret: string; loadedAt: number }> | undefined;
  const gatewayFor = async (): Promise<Gateway> => {
    if (overrides.gateway) return overrides.gateway;
    // The secret is read again every 5 minutes, so a rotated secret is picked up without a deployment.
    const cached = await gatewayPromise;
    if (cached && Date.now() - cached.loadedAt < 300_000) return cached.gateway;
    gatewayPromise = loadGatewaySecret(env, config.GATEWAY).then((value) => {
      const secret = JSON.stringify(value);
      // An unchanged secret keeps its gateway, and with it PayPal's verified certificates.
      const gateway =
        cached?.secret === secret ? cached.gateway : kind.fromSecret(config.GATEWAY, value, gatewayOptions);
      return { gateway, secret, loadedAt: Date.now() };
    });
    gatewayPromise.catch(() => {
      gatewayPromise = undefined;
    });
    return (await gatewayPromise).gateway;
  };

  const ack = (statusCode: number, body: { status: string } | { error: string }, headers = {}) =>
    acknowledgement(config.GATEWAY_KIND, statusCode, body, headers);

  const lambda = async (event: HttpEvent, context: Context) => {
    idempotencyConfig.registerLambdaContext(context);
    const answer = await handle(event);
    metrics.publishStoredMetrics();
    return answer;
  };
  // Traced by Lambda's active tracing (the function's segment, no X-Ray SDK in the bundle); every log
  // line carries the trace id, gateway and outcome. No middleware wrapper: Lambda itself ends an
  // invocation at its timeout, and the idempotency lock expires with it.
  return lambda;

  /** Transient: the gateway retries; the 5xx alarm counts these. */
  function retryLater() {
    metrics.addMetric('CallbacksRetryLater', MetricUnit.Count, 1);
    return ack(500, { error: 'retry_later' });
  }

  async function handle(event: HttpEvent) {
    const body = rawBody(event);
    if (body.length > MAX_BODY_BYTES) {
      metrics.addMetric('CallbacksRejected413', MetricUnit.Count, 1);
      return ack(413, { error: 'payload_too_large' });
    }

    let gateway: Gateway;
    let verified: Awaited<ReturnType<Gateway['verify']>>;
    try {
      gateway = await gatewayFor();
      verified = await gateway.verify({ headers: lowerCaseHeaders(event), rawBody: body }, now());
    } catch (error) {
      if (error instanceof GatewayError) {
        if (error.statusCode === 401)
          metrics.addMetric(customMetrics.names.signatureFailures, MetricUnit.Count, 1);
        // The reason goes to the log (no secrets in it); the caller learns only the CONTRACT code.
        metrics.addMetric(`CallbacksRejected${error.statusCode}`, MetricUnit.Count, 1);
        logger.warn('callback rejected', {
          gateway: config.GATEWAY,
          status: error.statusCode,
          reason: error.message,
        });
        return ack(error.statusCode, { error: error.errorCode });
      }
      logger.error('callback verification failed', { gateway: config.GATEWAY, error });
      return retryLater();
    }
    if (verified.type === 'ignored') {
      metrics.addMetric('CallbacksIgnored', MetricUnit.Count, 1);
      logger.info('callback ignored', { gateway: config.GATEWAY, eventType: verified.eventType });
      return ack(200, { status: 'ignored' });
    }

    const e = verified.event;
    const key = eventKey(e);
    let outcome: CallbackOutcome;
    try {
      const result = await applyOnce({ key, claim: claimOf(e), event: e });
      outcome = result.replayed ? 'duplicate' : result.outcome;
    } catch (error) {
      if (error instanceof IdempotencyAlreadyInProgressError) {
        metrics.addMetric(OUTCOME_METRIC.in_progress, MetricUnit.Count, 1);
        logger.info('callback in progress', { gateway: config.GATEWAY, key });
        return ack(409, { status: 'in_progress' }, { 'Retry-After': '2' });
      }
      if (error instanceof IdempotencyValidationError) {
        // Bypasses the stored answer: the ledger entry decides (quarantine, late order reference, merge).
        try {
          outcome = await applyToRecorded(e, applyDeps);
        } catch (inner) {
          logger.error('recorded key failed', { gateway: config.GATEWAY, key, error: inner });
          return retryLater();
        }
      } else {
        logger.error('callback failed', { gateway: config.GATEWAY, key, error });
        return retryLater();
      }
    }
    metrics.addMetric(OUTCOME_METRIC[outcome], MetricUnit.Count, 1);
    logger.info('callback', { gateway: config.GATEWAY, key, eventId: e.eventId, outcome });
    return ack(200, { status: outcome });
  }
}
