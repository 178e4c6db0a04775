import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { ComparisonOperator, GraphWidget, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { Alerting } from './constructs/alerting.ts';
import { PaymentsApi } from './constructs/payments-api.ts';
import { PaymentsFunction } from './constructs/payments-function.ts';
import { PaymentsTable } from './constructs/payments-table.ts';
import { SettlementsBucket } from './constructs/settlements-bucket.ts';
import { grantsOf } from './permissions.ts';
import {
  alertSource,
  bucket as bucketDef,
  callbackFunctionId,
  customMetrics,
  type DynamoAction,
  defaultSettings,
  defaultThrottle,
  type FunctionDef,
  functions,
  fxProviderSettings,
  gateways,
  routes,
  s3Triggers,
  schedules,
  serviceName,
  type TableName,
  tables,
} from './topology.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export type PaymentsStackProps = StackProps;

/**
 * Everything in lib/topology.ts, in AWS: tables, the settlements bucket, one function per topology
 * function with exactly the access it lists, the HTTP API, the S3 trigger, the FX schedule, and the
 * alerting (topic, alarms, dashboard).
 *
 * CDK context: `fxProvider` (`pairs` | `base-rates` | `ecb`, default `pairs`), `fxProviderUrl` (default the
 * provider's documented URL; for `pairs` a placeholder that never resolves) and `fxMaxAgeSeconds` (default
 * the provider's, lib/topology.ts fxProviderDefaults; the FX rate-age alarm uses the same number),
 * `fxProviderKeyIn` (how the API key is sent, `FX_PROVIDER_KEY_IN`; Fixer: `query:access_key`).
 */
export class PaymentsStack extends Stack {
  readonly tables: Record<TableName, PaymentsTable>;
  readonly functions: Record<string, PaymentsFunction>;
  readonly settlements: SettlementsBucket;
  readonly api: PaymentsApi;
  readonly alerting: Alerting;
  /** Secrets Manager secret per gateway, by gateway name. */
  readonly gatewaySecrets: Record<string, Secret> = {};
  /** On-failure destination per asynchronous function, by function id. */
  readonly deadLetterQueues: Record<string, Queue> = {};
  /** The FX provider's API key (`{"apiKey":"…"}`), created for `fxProvider=base-rates` only. */
  readonly fxProviderSecret: Secret | undefined;
  private readonly fxMaxAgeSeconds: string;

  constructor(scope: Construct, id: string, props: PaymentsStackProps = {}) {
    super(scope, id, props);

    const missing = [...new Set(Object.values(functions).map((f) => f.entry))].filter(
      (entry) => !existsSync(join(repoRoot, entry)),
    );
    if (missing.length > 0) {
      throw new Error(`Lambda entry files missing (create them before synth): ${missing.join(', ')}`);
    }

    const fx = fxProviderSettings(this.node.tryGetContext('fxProvider') ?? defaultSettings.FX_PROVIDER, {
      url: this.node.tryGetContext('fxProviderUrl'),
      maxAgeSeconds: this.node.tryGetContext('fxMaxAgeSeconds')?.toString(),
    });
    // The functions refuse anything else at start; failing the synth says so before a deployment.
    if (!fx.FX_PROVIDER_URL.startsWith('https://')) throw new Error('fxProviderUrl must be an https URL');
    if (!/^\d+$/.test(fx.FX_MAX_AGE_SECONDS)) throw new Error('fxMaxAgeSeconds must be a whole number');
    const settings: Record<string, string> = { ...defaultSettings, ...fx };
    const keyIn: unknown = this.node.tryGetContext('fxProviderKeyIn');
    if (keyIn !== undefined) {
      if (typeof keyIn !== 'string' || !/^(header|header:[A-Za-z0-9-]+|query:[A-Za-z0-9_.-]+)$/.test(keyIn)) {
        throw new Error('fxProviderKeyIn must be "header", "header:<Name>" or "query:<name>"');
      }
      settings.FX_PROVIDER_KEY_IN = keyIn;
    }
    this.fxMaxAgeSeconds = fx.FX_MAX_AGE_SECONDS;
    this.fxProviderSecret = fx.FX_PROVIDER === 'base-rates' ? this.createFxProviderSecret() : undefined;

    this.alerting = new Alerting(this, 'alerting', {
      dashboardName: `${this.stackName}-overview`,
      alertSource,
    });

    this.tables = Object.fromEntries(
      (Object.keys(tables) as TableName[]).map((name) => [
        name,
        new PaymentsTable(this, `${kebab(name)}-table`, { def: tables[name] }),
      ]),
    ) as Record<TableName, PaymentsTable>;

    this.settlements = new SettlementsBucket(this, 'settlements');

    const gatewayOfFunction = new Map(gateways.map((g) => [callbackFunctionId(g.name), g.name]));

    this.functions = {};
    for (const [fnId, def] of Object.entries(functions)) {
      this.functions[fnId] = this.createFunction(fnId, def, settings, gatewayOfFunction.get(fnId));
    }

    this.api = new PaymentsApi(this, 'http-api', { defaultThrottle });
    for (const route of routes) {
      const isCallback = gatewayOfFunction.has(route.function);
      const httpRoute = this.api.addRoute(route, this.fn(route.function).fn, { detailedMetrics: isCallback });
      if (route.auth === 'none') {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'Callback routes are called by payment gateways, which cannot sign with SigV4; each request is authenticated by the gateway signature in the handler. /health is a public liveness probe returning no data.',
        });
      }
      if (isCallback) {
        this.alerting.alarm(
          `${route.function}-5xx-rate`,
          this.alerting.routeErrorRate(
            this.api.api.apiId,
            this.api.stage.stageName,
            route.method,
            route.path,
          ),
          {
            description: `${route.method} ${route.path}: more than 5% 5xx over 10 minutes (gateways retry, but a sustained rate means callbacks are not being applied)`,
            threshold: 5,
            comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 2,
          },
        );
      }
    }

    for (const trigger of s3Triggers) {
      this.settlements.bucket.addEventNotification(
        EventType.OBJECT_CREATED,
        new LambdaDestination(this.fn(trigger.function).fn),
        { prefix: trigger.prefix },
      );
    }
    this.acknowledgeBucketNotificationsHandler();

    for (const schedule of schedules) {
      // `runAtStart` is a sandbox concern: in AWS the first run follows within `everyMinutes` of the
      // deploy, and order creation answers 503 fx_rate_unavailable until then.
      new Rule(this, `${kebab(schedule.function)}-schedule`, {
        description: `Runs ${schedule.function} every ${schedule.everyMinutes} minutes`,
        schedule: Schedule.rate(Duration.minutes(schedule.everyMinutes)),
        targets: [new LambdaFunction(this.fn(schedule.function).fn, { retryAttempts: 2 })],
      });
    }

    this.defineCustomMetricAlarms();

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'HTTP API base URL' });
    new CfnOutput(this, 'BucketName', {
      value: this.settlements.bucket.bucketName,
      description: `Settlements bucket (upload to ${bucketDef.incomingPrefix}{gateway}/)`,
    });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alerting.topic.topicArn, description: 'Alert topic' });
    for (const [name, table] of Object.entries(this.tables)) {
      new CfnOutput(this, `${pascal(name)}TableName`, { value: table.table.tableName });
    }
  }

  private fn(id: string): PaymentsFunction {
    const fn = this.functions[id];
    if (!fn) throw new Error(`topology refers to unknown function "${id}"`);
    return fn;
  }

  private createFunction(
    fnId: string,
    def: FunctionDef,
    settings: Record<string, string>,
    gateway: string | undefined,
  ): PaymentsFunction {
    const fn = new PaymentsFunction(this, kebab(fnId), {
      entry: join(repoRoot, def.entry),
      description: def.description,
      memoryMb: def.memoryMb,
      timeoutSeconds: def.timeoutSeconds,
      serviceName: serviceName(def),
      metricsNamespace: customMetrics.namespace,
      environment: { ...settings, ...def.environment },
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x on purpose: the bundles, tests and benchmarks target Node 22 (esbuild target node22); move to the next LTS runtime deliberately, with a re-measured cold start.',
    });

    // Exactly the grants the sandbox enforces call by call (lib/permissions.ts reads both from the topology).
    const grants = grantsOf(def);
    const used = new Set([...Object.keys(def.tables), ...Object.keys(def.indexes ?? {})] as TableName[]);
    for (const name of used) {
      const own = grants.flatMap((g) => (g.service === 'dynamodb' && g.table === name ? [g] : []));
      const actions: readonly DynamoAction[] = own.find((g) => g.index === undefined)?.actions ?? [];
      const indexes = own.flatMap((g) => (g.index ? [g.index] : []));
      fn.bindTable(this.tables[name].table, tables[name].envVar, actions, indexes);
    }
    if (def.bucket) {
      const bucketGrants = grants.flatMap((g) => (g.service === 's3' ? [g] : []));
      fn.bindBucket(this.settlements.bucket, bucketDef.envVar, bucketGrants);
    }

    if (def.secret) {
      if (!gateway) throw new Error(`function "${fnId}" has secret: true but no gateway`);
      const secret = new Secret(this, `${gateway}-gateway-secret`, {
        secretName: `daigou/gateways/${gateway}`,
        description: `Webhook verification material for ${gateway}; the placeholder must be replaced before go-live`,
        // Created with a generated placeholder, so no real secret ever sits in the template; the handler
        // fails at start (config validation) until an operator stores the gateway's values.
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ gateway }),
          generateStringKey: 'placeholder',
          excludePunctuation: true,
        },
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Webhook secrets and platform keys are issued by the payment gateway and rotated in its dashboard; a rotation Lambda cannot create them.',
      });
      fn.bindGatewaySecret(secret);
      this.gatewaySecrets[gateway] = secret;
    }

    if (def.fxProvider && this.fxProviderSecret) {
      fn.addEnvironment('FX_PROVIDER_SECRET_ID', this.fxProviderSecret.secretArn);
      fn.role.addToPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.fxProviderSecret.secretArn],
        }),
      );
    }

    if (def.alerts) fn.bindAlerts(this.alerting.bus);

    if (def.async) {
      const dlq = new Queue(this, `${kebab(fnId)}-dlq`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(dlq).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: `This queue is itself the on-failure destination (dead-letter queue) of ${fnId}.`,
      });
      fn.sendFailuresTo(dlq, 2);
      this.deadLetterQueues[fnId] = dlq;
      this.alerting.watchDeadLetterQueue(`${fnId}-dlq`, dlq);
    }

    this.alerting.watchFunction(fnId, fn.fn, def.timeoutSeconds);
    return fn;
  }

  /**
   * Custom metrics handlers emit (CloudWatch embedded metric format, dimension `service` only). Alarms
   * exist before the handlers emit: until then they sit in INSUFFICIENT_DATA/OK (missing = not breaching).
   */
  private defineCustomMetricAlarms(): void {
    const callbackService = serviceName(this.functionDef(callbackFunctionId(gateways[0]!.name)));
    const metric = (name: string, service: string, statistic: string) =>
      new Metric({
        namespace: customMetrics.namespace,
        metricName: name,
        dimensionsMap: { [customMetrics.dimension]: service },
        period: Duration.minutes(5),
        statistic,
      });
    const m = customMetrics.names;
    const signatureFailures = metric(m.signatureFailures, callbackService, 'Sum');
    const quarantined = metric(m.callbacksQuarantined, callbackService, 'Sum');
    const doublePayments = metric(m.doublePayments, callbackService, 'Sum');
    const drift = metric(m.reconciliationDrift, serviceName(this.functionDef('reconcile')), 'Maximum');
    const fxAge = metric(m.fxRateAgeSeconds, serviceName(this.functionDef('fxRefresh')), 'Maximum');

    this.alerting.alarm('signature-failures', signatureFailures, {
      description: 'Callbacks with bad signatures: forged traffic or a rotated gateway secret not yet stored',
      threshold: 10,
    });
    this.alerting.alarm('callbacks-quarantined', quarantined, {
      description: 'A callback reused a recorded key with another amount/currency/order and was quarantined',
      threshold: 1,
    });
    this.alerting.alarm('double-payments', doublePayments, {
      description: 'An order was paid twice: refund the second payment',
      threshold: 1,
    });
    this.alerting.alarm('reconciliation-drift', drift, {
      description: `Settlement vs ledger drift by value above RECON_ALERT_THRESHOLD (${defaultSettings.RECON_ALERT_THRESHOLD})`,
      threshold: Number(defaultSettings.RECON_ALERT_THRESHOLD),
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.alerting.alarm('fx-rate-age', fxAge, {
      description: `Cached FX rate older than FX_MAX_AGE_SECONDS (${this.fxMaxAgeSeconds} s): orders are refused as fx_rate_stale`,
      threshold: Number(this.fxMaxAgeSeconds),
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });

    this.alerting.dashboard.addWidgets(
      new GraphWidget({
        title: 'Callbacks: signature failures, quarantined, double payments',
        left: [signatureFailures, quarantined, doublePayments],
        width: 12,
      }),
      new GraphWidget({ title: 'Reconciliation drift (by value)', left: [drift], width: 6 }),
      new GraphWidget({ title: 'FX rate age (s)', left: [fxAge], width: 6 }),
    );
  }

  /**
   * Created with a generated placeholder, like the gateway secrets, so no key ever sits in the template; the
   * provider refuses requests (alerted as "FX Provider Rejected") until an operator stores the key.
   */
  private createFxProviderSecret(): Secret {
    const secret = new Secret(this, 'fx-provider-secret', {
      secretName: 'daigou/fx-provider',
      description:
        'API key of the FX provider as {"apiKey":"…"}; the placeholder must be replaced before go-live',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ provider: 'base-rates' }),
        generateStringKey: 'placeholder',
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "The FX provider's API key is issued in the provider's dashboard; a rotation Lambda cannot create it.",
    });
    return secret;
  }

  private functionDef(id: string): FunctionDef {
    const def = functions[id];
    if (!def) throw new Error(`topology has no function "${id}"`);
    return def;
  }

  /**
   * S3 notifications are configured through CDK's singleton custom resource (a plain
   * AWS::S3::Bucket NotificationConfiguration would form a dependency cycle with the Lambda permission).
   */
  private acknowledgeBucketNotificationsHandler(): void {
    const handler = this.node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
    if (!handler) return;
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's bucket-notifications custom resource handler (runs only during deployments); CDK does not let its role be replaced.",
    });
  }
}

function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function pascal(camel: string): string {
  return camel[0]!.toUpperCase() + camel.slice(1);
}
