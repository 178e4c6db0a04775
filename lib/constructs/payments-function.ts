import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type IDestination, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { bundlingOptions, esbuildAliasArgs } from '../bundling.ts';
import type { BucketGrant, DynamoAction } from '../topology.ts';

export interface PaymentsFunctionProps {
  /** Absolute path of the TypeScript entry point (exports `handler`). */
  readonly entry: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** `POWERTOOLS_SERVICE_NAME`. */
  readonly serviceName: string;
  /** `POWERTOOLS_METRICS_NAMESPACE`. */
  readonly metricsNamespace: string;
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * Log group removal. Payment logs are evidence in disputes, so they outlive the stack by default.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A Lambda function with this project's defaults: Node.js 22 on arm64, X-Ray active, ESM bundle built
 * offline by the local esbuild (AWS SDK bundled and tree-shaken: measured smaller cold start than the
 * runtime's SDK), external source maps, a log group with retention, and an execution role that starts
 * with nothing but writing to that log group (no AWSLambdaBasicExecutionRole: its `logs:CreateLogGroup`
 * on `*` is not needed when the log group is ours).
 *
 * Permissions are added only through the `bind*` / `allow*` methods, each of which sets the matching
 * environment variable and the exact IAM statement together, so configuration and access cannot drift.
 */
export class PaymentsFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PaymentsFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'logs', {
      retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.role = new Role(this, 'role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.serviceName} (${id})`,
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    // Tracing.ACTIVE adds xray:PutTraceSegments and xray:PutTelemetryRecords on `*` to this role.
    // (No cloudwatch:PutMetricData: Powertools Metrics writes the embedded metric format to the logs.)
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only xray:PutTraceSegments/PutTelemetryRecords use `*`: X-Ray supports no resource-level permissions (infra test asserts no other `*`).',
    });

    this.fn = new NodejsFunction(this, 'function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        // External source maps are only read by Node when asked to.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // The same esbuild settings `npm run bench` measures (lib/bundling.ts).
        format: OutputFormat.ESM,
        target: bundlingOptions.target,
        mainFields: bundlingOptions.mainFields,
        minify: bundlingOptions.minify,
        keepNames: bundlingOptions.keepNames,
        banner: bundlingOptions.banner.js,
        sourceMap: true,
        sourceMapMode: SourceMapMode.EXTERNAL,
        // Credentials from the environment only (see lib/bundling.ts).
        esbuildArgs: esbuildAliasArgs(),
        // Bundle everything, the AWS SDK included: tree-shaken, it cold-starts faster than the runtime copy
        // and pins the SDK version we test against.
        externalModules: [],
        // Offline, no Docker: esbuild from node_modules.
        forceDockerBundling: false,
      },
    });
  }

  /** Adds an environment variable. */
  addEnvironment(name: string, value: string): this {
    this.fn.addEnvironment(name, value);
    return this;
  }

  /**
   * Sets `envVar` to the table's name, allows exactly `actions` on the table itself and `dynamodb:Query`
   * on each of `indexes` (by ARN, never `index/*`: an index is granted only when the topology lists it
   * for this function). Never uses CDK's `grantRead*`, whose action lists include `dynamodb:Scan`.
   */
  bindTable(
    table: ITable,
    envVar: string,
    actions: readonly DynamoAction[],
    indexes: readonly string[] = [],
  ): this {
    this.addEnvironment(envVar, table.tableName);
    if (actions.length > 0) {
      this.role.addToPolicy(
        new PolicyStatement({
          actions: actions.map((a) => `dynamodb:${a}`),
          resources: [table.tableArn],
        }),
      );
    }
    if (indexes.length > 0) {
      this.role.addToPolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: indexes.map((index) => `${table.tableArn}/index/${index}`),
        }),
      );
    }
    return this;
  }

  /**
   * Sets `envVar` to the bucket's name and allows each grant's actions on the keys under its prefix
   * (`{bucket}/{prefix}*`): the function reads settlement files and writes reports only where the
   * topology says.
   */
  bindBucket(bucket: IBucket, envVar: string, grants: readonly BucketGrant[]): this {
    this.addEnvironment(envVar, bucket.bucketName);
    for (const grant of grants) {
      if (grant.actions.length === 0) continue;
      this.role.addToPolicy(
        new PolicyStatement({
          actions: grant.actions.map((a) => `s3:${a}`),
          resources: [bucket.arnForObjects(`${grant.prefix}*`)],
        }),
      );
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(bucket)}.Arn>/${grant.prefix}*]`,
        reason: `S3 object actions need an object ARN; the wildcard is scoped to the ${grant.prefix} prefix, whose keys the function learns from S3 events.`,
      });
    }
    return this;
  }

  /** Sets `GATEWAY_SECRET_ID` and allows `secretsmanager:GetSecretValue` on that secret only. */
  bindGatewaySecret(secret: ISecret): this {
    this.addEnvironment('GATEWAY_SECRET_ID', secret.secretArn);
    this.role.addToPolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
    );
    return this;
  }

  /**
   * Alerts are one `events:PutEvents` on `bus` (the default bus), where the alerting construct's rule
   * fans them out to the SNS topic: the function needs neither `sns:Publish` nor the topic key.
   */
  bindAlerts(bus: IEventBus): this {
    this.addEnvironment('ALERT_SINK', 'aws');
    this.addEnvironment('ALERT_EVENT_BUS', bus.eventBusName);
    this.role.addToPolicy(
      new PolicyStatement({ actions: ['events:PutEvents'], resources: [bus.eventBusArn] }),
    );
    return this;
  }

  /**
   * Asynchronous invocations (S3, EventBridge) that still fail after `retryAttempts` retries land in
   * `dlq` as on-failure destination records (request, response and error, unlike a classic DLQ).
   * Only `sqs:SendMessage` is granted (CDK's SqsDestination grants GetQueueAttributes/GetQueueUrl too).
   */
  sendFailuresTo(dlq: IQueue, retryAttempts = 2): this {
    const destination: IDestination = { bind: () => ({ destination: dlq.queueArn }) };
    this.fn.configureAsyncInvoke({ onFailure: destination, retryAttempts });
    this.role.addToPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['sqs:SendMessage'], resources: [dlq.queueArn] }),
    );
    return this;
  }
}

/** The CloudFormation logical id of a construct's default resource, as cdk-nag prints it in findings. */
export function logicalIdOf(construct: Construct): string {
  const stack = Stack.of(construct);
  const child = construct.node.defaultChild;
  if (!child) throw new Error(`${construct.node.path} has no default CloudFormation resource`);
  return stack.resolve((child as unknown as { logicalId: string }).logicalId) as string;
}
