/**
 * The local sandbox: the same handlers as AWS, against real protocol servers on 127.0.0.1, all built
 * from lib/topology.ts. `startSandbox()` is used by `npm start`, the e2e tests, the demo and the bench.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2, S3Event } from 'aws-lambda';
import { localAlerts } from '../functions/adapters/alerts.ts';
import { createDynamoClient, createS3Client } from '../functions/adapters/aws-clients.ts';
import {
  bucket,
  defaultSettings,
  type FunctionDef,
  functions,
  resourceEnvVars,
  routes,
  s3Triggers,
  schedules,
  serviceName,
  type TableName,
} from '../lib/topology.ts';
import { type Invoke, type LocalRoute, routesFromTopology, startApiServer } from './api-gateway.ts';
import { DeadLetters, invokeAsync } from './dead-letters.ts';
import { startDynamoDbLocal } from './dynamodb.ts';
import { FakeFxProvider, sandboxFxEnv } from './fx-provider.ts';
import { loadOrCreateGatewayKeys, type SandboxGatewayKeys } from './gateway-keys.ts';
import { gatewaySecretFor, sandboxCallbackEnv } from './gateway-secrets.ts';
import { SandboxIam } from './iam.ts';
import { startIamProxy } from './iam-proxy.ts';
import { loadFunction } from './lambda.ts';
import { assertPortFree } from './ports.ts';
import { ensureBucket, ensureTables, sandboxTableNames } from './resources.ts';
import { startS3Local } from './s3.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface SandboxOptions {
  port?: number;
  dynamodbPort?: number;
  s3Port?: number;
  dynamodbEndpoint?: string;
  s3Endpoint?: string;
  dir?: string;
  inMemory?: boolean;
  /** Run the FX refresh schedule (default true; tests may drive it by hand). */
  schedules?: boolean;
  /** Pause between the retries of a failed asynchronous invocation (default 1000 ms). */
  asyncRetryBackoffMs?: number;
  /** Extra environment for every function (tests set e.g. a fee schedule). */
  functionEnv?: Record<string, string>;
  log?: (line: string) => void;
}

export interface Endpoints {
  api: string;
  dynamodb: string;
  s3: string;
  region: string;
  bucket: string;
  tables: Record<TableName, string>;
  gateways: Record<string, Record<string, string>>;
}

export interface Sandbox {
  readonly endpoints: Endpoints;
  readonly endpointsFile: string;
  /** Invokes a function of the topology directly, as Lambda would. */
  invoke(functionName: string, event: unknown): Promise<unknown>;
  /** Resolves when every S3-triggered invocation started so far has finished. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

function publicGatewayInfo(keys: SandboxGatewayKeys, api: string): Endpoints['gateways'] {
  return {
    stripe: { webhookSecret: keys.stripe.webhookSecret },
    paypal: {
      webhookId: keys.paypal.webhookId,
      certUrl: `${api}/_sandbox/paypal/cert.pem`,
      privateKeyPem: keys.paypal.privateKeyPem,
      rootCaPem: keys.paypal.rootCaPem,
    },
    localpay: { kind: 'standard-webhooks', secret: keys.localpay.secret },
    alipay: {
      appId: keys.alipay.appId,
      sellerId: keys.alipay.sellerId,
      alipayPrivateKeyPem: keys.alipay.alipayPrivateKeyPem,
    },
    wechatpay: {
      mchid: keys.wechatpay.mchid,
      apiV3Key: keys.wechatpay.apiV3Key,
      platformSerial: keys.wechatpay.platformSerial,
      platformPrivateKeyPem: keys.wechatpay.platformPrivateKeyPem,
    },
  };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const log = options.log ?? ((line: string) => console.log(line));
  const port = options.port ?? 3000;
  const dir = path.resolve(options.dir ?? '.sandbox');
  const inMemory = options.inMemory ?? false;
  mkdirSync(dir, { recursive: true });
  const region = 'us-east-1';
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };

  try {
    await assertPortFree(port, 'PORT', 'the HTTP API');
    // DynamoDB Local and s3rver start side by side: Java's start-up dominates.
    const [dynamodbEndpoint, s3] = await Promise.all([
      options.dynamodbEndpoint
        ? Promise.resolve(options.dynamodbEndpoint)
        : startDynamoDbLocal({
            port: options.dynamodbPort ?? 8000,
            ...(inMemory ? {} : { dataDir: path.join(dir, 'dynamodb') }),
          }).then((db) => {
            stops.push(db.stop);
            return db.endpoint;
          }),
      options.s3Endpoint
        ? Promise.resolve(undefined)
        : startS3Local({
            port: options.s3Port ?? 4569,
            bucket: bucket.sandboxName,
            ...(inMemory ? {} : { dataDir: path.join(dir, 's3') }),
          }).then((server) => {
            stops.push(server.stop);
            return server;
          }),
    ]);
    const s3Endpoint = options.s3Endpoint ?? s3!.endpoint;

    const tableNames = sandboxTableNames();
    const dynamo = createDynamoClient({ DYNAMODB_ENDPOINT: dynamodbEndpoint });
    const s3Client = createS3Client({ S3_ENDPOINT: s3Endpoint });
    await Promise.all([ensureTables(dynamo, tableNames), ensureBucket(s3Client, bucket.sandboxName)]);
    dynamo.destroy();
    s3Client.destroy();

    // Functions reach DynamoDB and S3 only through the IAM proxy, each with its own access key, so every
    // call is checked against the function's topology declarations (CONTRACT §2). The endpoints printed
    // in endpoints.json stay the servers themselves: operators and tests act as the account's admin.
    const iam = new SandboxIam({ region, tables: tableNames, bucket: bucket.sandboxName });
    const proxy = await startIamProxy({ iam, dynamodb: dynamodbEndpoint, s3: s3Endpoint, log });
    stops.push(proxy.stop);

    const keys = loadOrCreateGatewayKeys(inMemory ? undefined : path.join(dir, 'gateways.json'));
    const api = `http://127.0.0.1:${port}`;
    const fxProvider = new FakeFxProvider();
    const deadLetterDir = inMemory
      ? mkdtempSync(path.join(tmpdir(), 'daigou-dead-letters-'))
      : path.join(dir, 'dead-letters');
    if (inMemory) stops.push(async () => rmSync(deadLetterDir, { recursive: true, force: true }));
    const deadLetters = new DeadLetters(deadLetterDir);

    const baseEnv: Record<string, string> = {
      AWS_REGION: region,
      DYNAMODB_ENDPOINT: proxy.dynamodbEndpoint,
      S3_ENDPOINT: proxy.s3Endpoint,
      ALERT_SINK: 'local',
      POWERTOOLS_LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_METRICS_NAMESPACE: 'DaigouPayments',
      ...defaultSettings,
      ...sandboxFxEnv(process.env, `${api}/_sandbox/fx/provider`),
      ...options.functionEnv,
    };

    const loaded = new Map<string, Promise<(event: unknown) => Promise<unknown>>>();
    const invoke = (name: string, event: unknown): Promise<unknown> => {
      const def: FunctionDef | undefined = functions[name];
      if (!def) throw new Error(`no function ${name} in the topology`);
      let fn = loaded.get(name);
      if (!fn) {
        const env: Record<string, string | undefined> = {
          ...baseEnv,
          ...def.environment,
          ...sandboxCallbackEnv(def.environment?.GATEWAY_KIND ?? '', keys, port, {
            ...process.env,
            ...options.functionEnv,
          }),
          ...resourceEnvVars(def, { table: (t) => tableNames[t], bucket: bucket.sandboxName }),
          POWERTOOLS_SERVICE_NAME: serviceName(def),
          ...iam.credentialsOf(name),
        };
        if (def.secret && def.environment?.GATEWAY) {
          env.GATEWAY_SECRET_JSON = JSON.stringify(gatewaySecretFor(def.environment.GATEWAY, keys, port));
        }
        fn = loadFunction(ROOT, name, def, env);
        loaded.set(name, fn);
      }
      return fn.then((f) => f(event));
    };

    const sandboxRoutes: LocalRoute[] = [
      {
        method: 'PUT',
        path: '/_sandbox/fx/live',
        invoke: async (event) => fxProvider.handleSetLive(event),
      },
      { method: 'GET', path: '/_sandbox/fx/provider', invoke: async () => fxProvider.handleProvider() },
      {
        method: 'POST',
        path: '/_sandbox/fx/refresh',
        invoke: async () => ({
          statusCode: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(await invoke('fxRefresh', scheduledEvent())),
        }),
      },
      // Runs a schedule now; `{"now":"…"}` stands in for the clock (the event's `time`).
      ...schedules.flatMap((schedule): LocalRoute[] =>
        'sandboxRoute' in schedule
          ? [
              {
                method: 'POST',
                path: `/_sandbox/schedules/${schedule.sandboxRoute}`,
                invoke: async (event) => {
                  const now = scheduleTime(event.body, event.isBase64Encoded);
                  if (now === undefined) {
                    return jsonResult(400, {
                      error: 'validation_error',
                      details: [{ path: 'now', message: 'must be an ISO 8601 date-time' }],
                    });
                  }
                  return jsonResult(200, await invoke(schedule.function, scheduledEvent(now)));
                },
              },
            ]
          : [],
      ),
      {
        method: 'GET',
        path: '/_sandbox/alerts',
        invoke: async () => ({
          statusCode: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ alerts: localAlerts }),
        }),
      },
      {
        method: 'GET',
        path: '/_sandbox/dead-letters',
        invoke: async () => jsonResult(200, { deadLetters: deadLetters.list() }),
      },
      {
        method: 'POST',
        path: '/_sandbox/dead-letters/{id}/replay',
        invoke: async (event) => {
          const letter = deadLetters.get(event.pathParameters?.id ?? '');
          if (!letter) return jsonResult(404, { error: 'dead_letter_not_found' });
          // A dead letter is a file anyone can edit: only a function that has a failure queue (an
          // asynchronous one, as in AWS) is ever invoked from it.
          if (!functions[letter.function]?.async) {
            return jsonResult(400, { error: 'not_an_asynchronous_function', function: letter.function });
          }
          try {
            const result = await invoke(letter.function, letter.event);
            deadLetters.remove(letter.id);
            return jsonResult(200, { replayed: letter.id, result });
          } catch (error) {
            return jsonResult(500, { error: error instanceof Error ? error.message : String(error) });
          }
        },
      },
      {
        method: 'GET',
        path: '/_sandbox/paypal/cert.pem',
        invoke: async () => ({
          statusCode: 200,
          headers: { 'content-type': 'application/x-pem-file' },
          body: keys.paypal.certificatePem,
        }),
      },
    ];

    const server = await startApiServer({
      port,
      routes: [
        ...routesFromTopology(
          routes,
          (name): Invoke =>
            (event: APIGatewayProxyEventV2) =>
              invoke(name, event),
        ),
        ...sandboxRoutes,
      ],
      onError: (error) => log(`handler failed: ${error instanceof Error ? error.stack : String(error)}`),
    });
    stops.push(server.close);

    // S3 ObjectCreated under incoming/ → the function the topology names, asynchronously as in AWS,
    // with Lambda's retries and a dead-letter store behind them.
    const inFlight = new Set<Promise<unknown>>();
    const runAsync = (fn: string, event: unknown) => {
      const run = invokeAsync(fn, event, invoke, deadLetters, {
        backoffMs: options.asyncRetryBackoffMs ?? 1000,
        log,
      }).finally(() => inFlight.delete(run));
      inFlight.add(run);
      return run;
    };
    s3?.onObjectCreated((event: S3Event) => {
      const key = decodeURIComponent(event.Records[0]!.s3.object.key.replace(/\+/g, ' '));
      for (const trigger of s3Triggers) {
        if (key.startsWith(trigger.prefix)) void runAsync(trigger.function, event);
      }
    });

    const timers: NodeJS.Timeout[] = [];
    const runScheduled = (fn: string) => runAsync(fn, scheduledEvent());
    if (options.schedules ?? true) {
      for (const schedule of schedules) {
        if (schedule.runAtStart) await runScheduled(schedule.function);
        const timer = setInterval(() => void runScheduled(schedule.function), schedule.everyMinutes * 60_000);
        timer.unref();
        timers.push(timer);
      }
    }
    stops.push(async () => {
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...inFlight]);
    });

    const endpoints: Endpoints = {
      api,
      dynamodb: dynamodbEndpoint,
      s3: s3Endpoint,
      region,
      bucket: bucket.sandboxName,
      tables: tableNames,
      gateways: publicGatewayInfo(keys, api),
    };
    const endpointsFile = path.join(dir, 'endpoints.json');
    writeFileSync(endpointsFile, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });

    return {
      endpoints,
      endpointsFile,
      invoke,
      idle: async () => {
        while (inFlight.size) await Promise.allSettled([...inFlight]);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function jsonResult(statusCode: number, body: unknown) {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** The optional `{"now":"…"}` of a schedule route; undefined when it is there but no date-time. */
function scheduleTime(body: string | undefined, base64: boolean | undefined): Date | undefined {
  const text = body ? (base64 ? Buffer.from(body, 'base64').toString('utf8') : body) : '';
  if (!text.trim()) return new Date();
  try {
    const parsed = JSON.parse(text) as { now?: unknown };
    if (parsed.now === undefined) return new Date();
    if (typeof parsed.now !== 'string') return undefined;
    const at = new Date(parsed.now);
    return Number.isNaN(at.getTime()) ? undefined : at;
  } catch {
    return undefined;
  }
}

function scheduledEvent(at: Date = new Date()) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: at.toISOString(),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:000000000000:rule/fx-refresh'],
    detail: {},
  };
}
