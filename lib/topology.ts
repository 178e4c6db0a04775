/**
 * THE one definition of what runs where: tables, the settlements bucket, functions, HTTP routes,
 * the S3 trigger and the FX schedule. The CDK stack (lib/payments-stack.ts) and the local sandbox
 * (sandbox/) are both built from this file, so adding a route or a table means editing it here only.
 *
 * This module is plain data: no CDK or AWS SDK imports, so the sandbox can load it cheaply.
 */

import { bucket, type FxProviderName, fxProviderDefaults, gateways } from './settings.ts';

// The constants functions read at run time are defined there, and are part of the topology too.
export * from './settings.ts';

export type AttributeType = 'S' | 'N';

export interface KeyDef {
  readonly name: string;
  readonly type: AttributeType;
}

export interface GsiDef {
  readonly indexName: string;
  readonly partitionKey: KeyDef;
  readonly sortKey?: KeyDef;
  /** Attributes projected besides the keys; omitted means ALL. */
  readonly include?: readonly string[];
}

export interface TableDef {
  /** Physical name in the sandbox; CDK lets CloudFormation name the table in AWS. */
  readonly sandboxName: string;
  /** Environment variable through which functions learn the table's name. */
  readonly envVar: string;
  readonly partitionKey: KeyDef;
  readonly sortKey?: KeyDef;
  readonly gsis?: readonly GsiDef[];
  readonly ttlAttribute?: string;
  readonly description: string;
}

export const tables = {
  orders: {
    sandboxName: 'daigou-orders',
    envVar: 'ORDERS_TABLE',
    description: 'Orders (pk orderId, sk "order") and their refunds (same pk, sk "refund#{refundId}").',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    gsis: [
      {
        // Refund buffer: paid orders and refunds carry `bufferCurrency`; the buffer is derived from them,
        // so no single counter item sits in every payment's transaction.
        indexName: 'byBufferCurrency',
        partitionKey: { name: 'bufferCurrency', type: 'S' },
        sortKey: { name: 'pk', type: 'S' },
        include: ['sk', 'baseAmountMinor', 'fxDifferenceMinor', 'status'],
      },
    ],
  },
  payments: {
    sandboxName: 'daigou-payments',
    envVar: 'PAYMENTS_TABLE',
    description:
      'The ledger. pk "{gateway}#{transactionId}#{kind}" is the permanent unique index of applied effects.',
    partitionKey: { name: 'pk', type: 'S' },
    gsis: [
      {
        // Reconciliation lists one gateway's entries for one (UTC) day without a Scan.
        indexName: 'byGatewayDay',
        partitionKey: { name: 'gatewayDay', type: 'S' },
        sortKey: { name: 'receivedAt', type: 'S' },
      },
      {
        indexName: 'byOrder',
        partitionKey: { name: 'orderId', type: 'S' },
        sortKey: { name: 'receivedAt', type: 'S' },
      },
    ],
  },
  idempotency: {
    sandboxName: 'daigou-idempotency',
    envVar: 'IDEMPOTENCY_TABLE',
    description: 'Powertools idempotency records (the in-flight lock); expire via TTL.',
    partitionKey: { name: 'id', type: 'S' },
    ttlAttribute: 'expiration',
  },
  fxRates: {
    sandboxName: 'daigou-fx-rates',
    envVar: 'FX_RATES_TABLE',
    description: 'Current rate per pair (sk "current") and one history record per fetch (sk "history#{at}").',
    partitionKey: { name: 'pair', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
  },
  reconciliations: {
    sandboxName: 'daigou-reconciliations',
    envVar: 'RECONCILIATIONS_TABLE',
    description: 'One summary per settlement object content: pk "{bucket}/{key}", sk sha256.',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
  },
  openItems: {
    sandboxName: 'daigou-open-items',
    envVar: 'OPEN_ITEMS_TABLE',
    description:
      'Reconciliation exceptions kept across files (pk "item#{id}") and the aliases that find them by every reference (pk "alias#{gateway}#{ref}#{kind}").',
    partitionKey: { name: 'pk', type: 'S' },
    gsis: [
      {
        // The list and the daily run: every item in one state, oldest first. Open items are few
        // (hundreds), so one partition per state is no hot key; settled and resolved ones are read rarely.
        indexName: 'byState',
        partitionKey: { name: 'state', type: 'S' },
        sortKey: { name: 'firstSeenAt', type: 'S' },
      },
      {
        // A reconciliation of one gateway settles that gateway's open items; the list filters by gateway.
        indexName: 'byGatewayState',
        partitionKey: { name: 'gatewayState', type: 'S' },
        sortKey: { name: 'firstSeenAt', type: 'S' },
      },
    ],
  },
} as const satisfies Record<string, TableDef>;

export type TableName = keyof typeof tables;

/** DynamoDB actions a function may use on a table. Never Scan. */
export type DynamoAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem'
  | 'BatchWriteItem';

/** `PutObject` also covers the multipart calls (create, upload part, complete); abort is its own action. */
export type S3Action = 'GetObject' | 'GetObjectVersion' | 'PutObject' | 'AbortMultipartUpload';

/** The names of a table's secondary indexes, from its definition above (a typo does not compile). */
export type IndexName<T extends TableName> = (typeof tables)[T] extends {
  readonly gsis: readonly { readonly indexName: infer N }[];
}
  ? N
  : never;

/** Object actions on the settlements bucket under one key prefix: IAM resource `{bucket}/{prefix}*`. */
export interface BucketGrant {
  readonly prefix: string;
  readonly actions: readonly S3Action[];
}

export interface FunctionDef {
  /** Source of the Lambda entry point, relative to the repository root. */
  readonly entry: string;
  /** Factory module the sandbox loads (the entry's `handler` is `create…(process.env)`). */
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /**
   * What the function may do to each table itself (IAM resource: the table's ARN); also decides which
   * table env vars it receives. CDK grants exactly this and the sandbox refuses the rest
   * (`AccessDeniedException`), so a function's permissions are declared here and nowhere else.
   */
  readonly tables: Partial<Record<TableName, readonly DynamoAction[]>>;
  /**
   * Secondary indexes the function queries: `dynamodb:Query` on exactly these index ARNs (never
   * `index/*`). A table listed only here still gives the function its env var.
   */
  readonly indexes?: { readonly [T in TableName]?: readonly IndexName<T>[] };
  /** Object access to the settlements bucket, by key prefix. */
  readonly bucket?: readonly BucketGrant[];
  /** Publishes alerts (SNS topic + EventBridge). */
  readonly alerts?: boolean;
  /** Reads a gateway secret from Secrets Manager. */
  readonly secret?: boolean;
  /** Calls the FX provider (gets its API key secret when the provider takes one). */
  readonly fxProvider?: boolean;
  /** Static environment (non-secret). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Runs asynchronously (S3, schedule): gets a dead-letter queue and retry settings. */
  readonly async?: boolean;
}

// Each action is one the function's code performs (the sandbox refuses any other, as IAM does):
// the ledger entry is read and put (alone or in the decision's transaction), the order read with its
// refunds (Query on its partition) and updated in that transaction; Powertools needs all four on its table.
const callbackTables = {
  // UpdateItem: a late order reference is set on its `unmatched` entry, and references a re-delivery
  // carries that the entry lacks are merged into it (CONTRACT §3, "Late order reference").
  payments: ['GetItem', 'PutItem', 'UpdateItem'],
  orders: ['UpdateItem', 'Query'],
  idempotency: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
} as const satisfies FunctionDef['tables'];

/** Open items are read-modify-written with a version condition; aliases are batch-read and put. */
const openItemsWriter = [
  'GetItem',
  'BatchGetItem',
  'Query',
  'PutItem',
  'BatchWriteItem',
] as const satisfies readonly DynamoAction[];

/** Function ids are camelCase; CDK construct ids are derived from them. */
export const functions: Record<string, FunctionDef> = {
  ...Object.fromEntries(
    gateways.map((g) => [
      callbackFunctionId(g.name),
      {
        // One bundle per gateway kind: each function carries only its own gateway's verification code.
        entry: `functions/callback/handler-${g.kind}.ts`,
        description: `Verifies and applies ${g.name} payment callbacks exactly once`,
        memoryMb: 512,
        timeoutSeconds: 10,
        tables: callbackTables,
        // Refunds find their order's ledger entries (Alipay's cumulative refund_fee needs them all).
        indexes: { payments: ['byOrder'] },
        alerts: true,
        secret: true,
        environment: {
          GATEWAY: g.name,
          GATEWAY_KIND: g.kind,
          // PayPal certificate trust (CONTRACT §3 "paypal"). PAYPAL_TRUST_ROOTS_PEM is deliberately
          // absent: in AWS the chain must end at one of Node's bundled roots; only the sandbox sets it.
          ...(g.kind === 'paypal'
            ? {
                PAYPAL_CERT_URL_HOSTS: '*.paypal.com',
                PAYPAL_CERT_CN: 'messageverificationcerts*.paypal.com',
              }
            : {}),
        },
      } satisfies FunctionDef,
    ]),
  ),
  orders: {
    entry: 'functions/orders/handler.ts',
    description:
      'Creates orders with a locked FX rate, reads them, creates refunds, reports the refund buffer',
    memoryMb: 512,
    timeoutSeconds: 10,
    tables: {
      orders: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
      fxRates: ['GetItem', 'PutItem'],
      idempotency: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    },
    // The refund buffer is summed from its index; an order's payments come from the ledger's byOrder.
    indexes: { orders: ['byBufferCurrency'], payments: ['byOrder'] },
    alerts: true,
    fxProvider: true,
    // Every kind of gateway with a callback route may take the payment: the pay amount is rounded to
    // what all of them can charge (functions/core/gateways/currencies.ts).
    environment: { PAYMENT_GATEWAY_KINDS: [...new Set(gateways.map((g) => g.kind))].join(',') },
  },
  health: {
    entry: 'functions/health/handler.ts',
    description: 'Liveness probe',
    memoryMb: 128,
    timeoutSeconds: 3,
    tables: {},
  },
  fxRefresh: {
    entry: 'functions/fx-refresh/handler.ts',
    description: 'Fetches FX rates, validates them and keeps the last good rate',
    memoryMb: 256,
    timeoutSeconds: 30,
    tables: { fxRates: ['GetItem', 'PutItem', 'BatchWriteItem'] },
    alerts: true,
    fxProvider: true,
    async: true,
  },
  reconcile: {
    entry: 'functions/reconcile/handler.ts',
    description: 'Streams a settlement file, diffs it against the ledger and writes finance reports',
    memoryMb: 1024,
    timeoutSeconds: 900,
    tables: {
      payments: ['BatchGetItem'],
      reconciliations: ['PutItem', 'UpdateItem'],
      openItems: openItemsWriter,
    },
    // One gateway's ledger entries per day; settlement rows are looked up by key (BatchGetItem).
    // Open items are listed per gateway and state.
    indexes: { payments: ['byGatewayDay'], openItems: ['byGatewayState', 'byState'] },
    // Reads the uploaded settlement files, writes the reports: nothing else in the bucket.
    bucket: [
      { prefix: bucket.incomingPrefix, actions: ['GetObject', 'GetObjectVersion'] },
      // exceptions.csv is streamed as a multipart upload, aborted when the run may not report.
      { prefix: bucket.reportsPrefix, actions: ['PutObject', 'AbortMultipartUpload'] },
    ],
    alerts: true,
    async: true,
  },
  openItems: {
    entry: 'functions/open-items/handler.ts',
    description: 'Lists open reconciliation items and records their resolution by a person',
    memoryMb: 256,
    timeoutSeconds: 30,
    tables: { openItems: ['GetItem', 'Query', 'PutItem'] },
    indexes: { openItems: ['byGatewayState', 'byState'] },
    // Regenerates reports/open-items.{csv,html} after a resolution, and writes nothing else.
    bucket: [{ prefix: `${bucket.reportsPrefix}open-items.`, actions: ['PutObject'] }],
  },
  openItemsDaily: {
    entry: 'functions/open-items/open-items-daily/handler.ts',
    description:
      'Daily: settles open items whose ledger entry has since been written, ages pending ones, alerts on old ones',
    memoryMb: 256,
    timeoutSeconds: 300,
    tables: { openItems: openItemsWriter, payments: ['BatchGetItem'] },
    indexes: { openItems: ['byGatewayState', 'byState'] },
    bucket: [{ prefix: `${bucket.reportsPrefix}open-items.`, actions: ['PutObject'] }],
    alerts: true,
    async: true,
  },
};

export function callbackFunctionId(gateway: string): string {
  return `callback${gateway[0]!.toUpperCase()}${gateway.slice(1)}`;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT';

export interface RouteDef {
  readonly method: HttpMethod;
  /** API Gateway route path, `{param}` for path parameters. */
  readonly path: string;
  readonly function: string;
  /** Public routes are authenticated by the gateway's signature; the rest need IAM in AWS. */
  readonly auth: 'none' | 'iam';
  /** Per-route throttling where it differs from the stage default. */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
}

export const routes: readonly RouteDef[] = [
  { method: 'GET', path: '/health', function: 'health', auth: 'none' },
  ...gateways.map(
    (g): RouteDef => ({
      method: 'POST',
      path: `/callbacks/${g.name}`,
      function: callbackFunctionId(g.name),
      auth: 'none',
      // Gateways retry; a flood of forged callbacks must not starve the order routes.
      throttle: { rateLimit: 200, burstLimit: 400 },
    }),
  ),
  { method: 'POST', path: '/orders', function: 'orders', auth: 'iam' },
  { method: 'GET', path: '/orders/{orderId}', function: 'orders', auth: 'iam' },
  { method: 'POST', path: '/orders/{orderId}/refunds', function: 'orders', auth: 'iam' },
  { method: 'GET', path: '/refund-buffer', function: 'orders', auth: 'iam' },
  { method: 'GET', path: '/reconciliation/open-items', function: 'openItems', auth: 'iam' },
  {
    method: 'POST',
    path: '/reconciliation/open-items/{id}/resolve',
    function: 'openItems',
    auth: 'iam',
  },
];

/** Stage-wide default throttling. */
export const defaultThrottle = { rateLimit: 100, burstLimit: 200 } as const;

export const s3Triggers = [{ prefix: bucket.incomingPrefix, function: 'reconcile' }] as const;

/**
 * Timers. `sandboxRoute` names the sandbox-only `POST /_sandbox/schedules/{name}` that runs one now
 * (its optional `{"now":"…"}` becomes the scheduled event's `time`, the clock the handler reads).
 */
export const schedules = [
  { function: 'fxRefresh', everyMinutes: 5, runAtStart: true },
  { function: 'openItemsDaily', everyMinutes: 24 * 60, runAtStart: false, sandboxRoute: 'open-items-daily' },
] as const;

/** The environment variables a function receives for the tables and bucket it uses. */
export function resourceEnvVars(
  def: FunctionDef,
  names: { table: (t: TableName) => string; bucket: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  const used = new Set([...Object.keys(def.tables), ...Object.keys(def.indexes ?? {})] as TableName[]);
  for (const t of used) env[tables[t].envVar] = names.table(t);
  if (def.bucket) env[bucket.envVar] = names.bucket;
  return env;
}

/**
 * The FX settings of a deployment (CDK context) or a sandbox run (environment): the provider's defaults,
 * overridden by an explicit URL or maximum age. Throws on an unknown provider name.
 */
export function fxProviderSettings(
  provider: string,
  overrides: { url?: string | undefined; maxAgeSeconds?: string | undefined } = {},
): { FX_PROVIDER: FxProviderName; FX_PROVIDER_URL: string; FX_MAX_AGE_SECONDS: string } {
  if (!Object.hasOwn(fxProviderDefaults, provider)) {
    throw new Error(
      `FX provider ${JSON.stringify(provider)} is not one of ${Object.keys(fxProviderDefaults).join(', ')}`,
    );
  }
  const defaults = fxProviderDefaults[provider as FxProviderName];
  return {
    FX_PROVIDER: provider as FxProviderName,
    FX_PROVIDER_URL: overrides.url || defaults.FX_PROVIDER_URL,
    FX_MAX_AGE_SECONDS: overrides.maxAgeSeconds || defaults.FX_MAX_AGE_SECONDS,
  };
}

/**
 * `POWERTOOLS_SERVICE_NAME` of a function: `daigou-` plus its entry directory, so all callback functions
 * share one service (`daigou-callback`) and one alarm covers every gateway.
 */
export function serviceName(def: FunctionDef): string {
  const dir = def.entry.split('/').at(-2) ?? 'unknown';
  return `daigou-${dir}`;
}
