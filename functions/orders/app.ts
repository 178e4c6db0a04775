/**
 * The orders function: `POST /orders`, `GET /orders/{orderId}`, `POST /orders/{orderId}/refunds`,
 * `GET /refund-buffer` (CONTRACT §3), routed by the API Gateway route key. Each route parses its input,
 * calls one use case in functions/core and maps the outcome; domain errors become HTTP in `toHttp` only.
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { createAlerts } from '../adapters/alerts.ts';
import { createDocumentClient, createDynamoClient } from '../adapters/aws-clients.ts';
import { httpFxProviderFromConfig } from '../adapters/fx-http-provider.ts';
import { CachedFxProvider } from '../adapters/fx-live-cache.ts';
import { createFxMetrics, type FlushableFxMetrics } from '../adapters/fx-metrics.ts';
import { DynamoFxRateStore } from '../adapters/fx-rates-store.ts';
import { DynamoOrderPaymentsReader, DynamoOrdersRepository } from '../adapters/orders-repository.ts';
import type { Alerts } from '../core/alerts.ts';
import {
  type FxProvider,
  FxRateMovedError,
  FxRateStaleError,
  type FxRateStore,
  FxRateUnavailableError,
  payCurrencies,
} from '../core/fx.ts';
import { type Currency, isCurrency } from '../core/money.ts';
import {
  createOrder,
  getOrderDetail,
  OrderNotFoundError,
  type OrderPaymentsReader,
  type OrdersRepository,
  OrderValidationError,
  orderView,
} from '../core/orders.ts';
import {
  createRefund,
  OrderNotPaidError,
  RefundConflictError,
  RefundExceedsPaidError,
  type RefundRequest,
  refundBuffer,
} from '../core/refunds.ts';
import type { Env } from '../shared/config.ts';
import {
  HttpError,
  type HttpEvent,
  type HttpResult,
  header,
  json,
  rawBody,
  toErrorResponse,
} from '../shared/http.ts';
import { readOrdersConfig } from './config.ts';
import { callerPrincipal, createIdempotentRunner } from './idempotency.ts';
import { CreateOrderBody, CreateRefundBody, describeIssues } from './schemas.ts';

/** Everything the handler talks to; tests may replace any of it. */
export interface OrdersDeps {
  readonly orders: OrdersRepository;
  readonly payments: OrderPaymentsReader;
  readonly fxRates: FxRateStore;
  readonly provider: FxProvider;
  readonly alerts: Alerts;
  readonly metrics: FlushableFxMetrics;
  readonly idempotencyStore: BasePersistenceLayer;
  readonly now: () => Date;
}

/** Seconds a client should wait before retrying an FX 503: about a refresh period's share of the stale window. */
const FX_RETRY_AFTER = '60';

export function createHandler(env: Env, overrides: Partial<OrdersDeps> = {}) {
  const config = readOrdersConfig(env);
  const base = config.BASE_CURRENCY;
  const allowedPay = payCurrencies(config.pairs, base);
  // One DynamoDB client for the repositories and the idempotency store (a second one cost ~1 ms at init).
  const lazyDynamo = memo(() => createDynamoClient(env));
  const lazyDoc = memo(() => createDocumentClient(lazyDynamo()));
  const deps: OrdersDeps = {
    orders: overrides.orders ?? new DynamoOrdersRepository(lazyDoc(), config.ORDERS_TABLE),
    payments: overrides.payments ?? new DynamoOrderPaymentsReader(lazyDoc(), config.PAYMENTS_TABLE),
    fxRates: overrides.fxRates ?? new DynamoFxRateStore(lazyDoc(), config.FX_RATES_TABLE),
    provider: new CachedFxProvider(
      overrides.provider ??
        httpFxProviderFromConfig(config, env, {
          backoffMs: 0,
          ...(overrides.now ? { now: overrides.now } : {}),
        }),
      config.FX_LIVE_CACHE_SECONDS * 1000,
      overrides.now,
    ),
    alerts: overrides.alerts ?? createAlerts(env),
    metrics: overrides.metrics ?? createFxMetrics(env),
    idempotencyStore:
      overrides.idempotencyStore ??
      new DynamoDBPersistenceLayer({
        tableName: config.IDEMPOTENCY_TABLE,
        awsSdkV3Client: lazyDynamo(),
      }),
    now: overrides.now ?? (() => new Date()),
  };
  const logger = new Logger({
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'daigou-orders',
    logLevel: (env.POWERTOOLS_LOG_LEVEL ?? 'INFO') as 'INFO',
  });
  const idempotent = createIdempotentRunner({
    persistenceStore: deps.idempotencyStore,
    expiresAfterSeconds: config.IDEMPOTENCY_EXPIRY_SECONDS,
  });
  const fxSettings = {
    baseCurrency: base,
    maxAgeSeconds: config.FX_MAX_AGE_SECONDS,
    liveTimeoutMs: config.FX_LIVE_TIMEOUT_MS,
    maxDeviation: config.FX_MAX_DEVIATION,
    maxJump: config.FX_MAX_JUMP,
    maxDailyDrift: config.FX_MAX_DAILY_DRIFT,
  };
  const refundSettings = { refundBufferRate: config.REFUND_BUFFER_RATE };

  /** Runs `work` under the request's Idempotency-Key when it has one. */
  const withKey = (event: HttpEvent, context: Context, work: () => Promise<HttpResult>) => {
    const key = header(event, 'Idempotency-Key');
    if (key === undefined) return work();
    return idempotent(
      {
        principal: callerPrincipal(event),
        routeKey: event.routeKey,
        idempotencyKey: key,
        path: event.rawPath,
        body: rawBody(event),
      },
      context,
      async () => {
        try {
          return await work();
        } catch (error) {
          // Mapped here so that a 4xx/5xx travels through Powertools as "not stored", not as a crash.
          return toHttp(error, logger);
        }
      },
    );
  };

  const routes: Record<string, (event: HttpEvent, context: Context) => Promise<HttpResult>> = {
    'POST /orders': (event, context) => {
      const body = parseBody(event, CreateOrderBody);
      if (!(allowedPay as string[]).includes(body.payCurrency) || !isCurrency(body.payCurrency)) {
        throw validationError([{ path: 'payCurrency', message: `must be one of ${allowedPay.join(', ')}` }]);
      }
      const payCurrency = body.payCurrency;
      return withKey(event, context, async () => {
        const order = await createOrder(
          { ...deps, store: deps.fxRates, settings: fxSettings, chargeGateways: config.chargeGateways },
          { customerId: body.customerId, payCurrency, items: body.items },
          deps.now(),
        );
        return json(201, orderView(order), { Location: `/orders/${order.orderId}` });
      });
    },

    'GET /orders/{orderId}': async (event) => {
      const detail = await getOrderDetail(deps, orderIdOf(event));
      return json(200, detail);
    },

    'POST /orders/{orderId}/refunds': (event, context) => {
      const orderId = orderIdOf(event);
      const body = parseBody(event, CreateRefundBody);
      const request: RefundRequest = body.items
        ? { items: body.items }
        : { baseAmountMinor: body.baseAmountMinor! };
      return withKey(event, context, async () => {
        const refund = await createRefund(
          { ...deps, settings: refundSettings },
          orderId,
          request,
          deps.now(),
        );
        return json(201, {
          refundId: refund.refundId,
          status: refund.status,
          baseAmountMinor: refund.baseAmountMinor,
          payAmountMinor: refund.payAmountMinor,
          rate: refund.rate,
          fxDifferenceMinor: refund.fxDifferenceMinor,
          fxDifferenceCurrency: refund.fxDifferenceCurrency,
        });
      });
    },

    'GET /refund-buffer': async (event) => {
      const currency = event.queryStringParameters?.currency ?? base;
      if (!isCurrency(currency)) {
        throw validationError([{ path: 'currency', message: 'must be a supported ISO 4217 currency code' }]);
      }
      return json(200, await refundBuffer({ ...deps, settings: refundSettings }, currency as Currency));
    },
  };

  return async (event: HttpEvent, context: Context): Promise<HttpResult> => {
    try {
      const route = routes[event.routeKey];
      if (!route) return json(404, { error: 'route_not_found' });
      return await route(event, context);
    } catch (error) {
      return toHttp(error, logger);
    } finally {
      deps.metrics.flush();
    }
  };
}

/** The one place errors become HTTP responses. */
function toHttp(error: unknown, logger: Logger): HttpResult {
  const retryFx = { headers: { 'Retry-After': FX_RETRY_AFTER } };
  let mapped: unknown = error;
  if (error instanceof OrderValidationError) {
    mapped = validationError(error.details.map((message) => ({ path: '', message })));
  } else if (error instanceof OrderNotFoundError) {
    mapped = new HttpError(404, { error: 'order_not_found' });
  } else if (error instanceof OrderNotPaidError) {
    mapped = new HttpError(409, { error: 'order_not_paid' });
  } else if (error instanceof RefundExceedsPaidError) {
    mapped = new HttpError(409, { error: 'refund_exceeds_paid' });
  } else if (error instanceof RefundConflictError) {
    mapped = new HttpError(503, { error: 'retry_later' }, { headers: { 'Retry-After': '1' } });
  } else if (error instanceof FxRateMovedError) {
    mapped = new HttpError(409, {
      error: 'fx_rate_moved',
      cachedRate: error.cachedRate,
      liveRate: error.liveRate,
    });
  } else if (error instanceof FxRateStaleError) {
    mapped = new HttpError(503, { error: 'fx_rate_stale' }, retryFx);
  } else if (error instanceof FxRateUnavailableError) {
    mapped = new HttpError(503, { error: 'fx_rate_unavailable' }, retryFx);
  } else if (!(error instanceof HttpError)) {
    logger.error('orders request failed', { error: error as Error });
    mapped = new HttpError(500, { error: 'internal_error' });
  }
  return toErrorResponse(mapped);
}

function validationError(details: readonly { path: string; message: string }[]): HttpError {
  return new HttpError(400, { error: 'validation_error', details });
}

function parseBody<T>(event: HttpEvent, schema: { safeParse(input: unknown): ZodResult<T> }): T {
  let input: unknown;
  try {
    input = JSON.parse(rawBody(event).toString('utf8'));
  } catch {
    throw validationError([{ path: '', message: 'body must be valid JSON' }]);
  }
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(describeIssues(result.error.issues));
  return result.data;
}

type ZodResult<T> =
  | { success: true; data: T }
  | { success: false; error: { issues: Parameters<typeof describeIssues>[0] } };

function orderIdOf(event: HttpEvent): string {
  const id = event.pathParameters?.orderId;
  // Ids are ours (`ord_…`); anything unlike one cannot exist, and must not reach a key expression.
  if (!id || id.length > 64) throw new HttpError(404, { error: 'order_not_found' });
  return id;
}

function memo<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}
