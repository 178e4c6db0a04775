import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { EventBus, EventField, type IEventBus, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface AlertingProps {
  /** Dashboard name. */
  readonly dashboardName: string;
  /** EventBridge `source` of the functions' alerts, fanned out to the topic. */
  readonly alertSource: string;
}

export interface AlarmOptions {
  readonly description: string;
  readonly threshold: number;
  /** @default ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD */
  readonly comparison?: ComparisonOperator;
  /** @default 1 */
  readonly evaluationPeriods?: number;
  /**
   * No data means nothing happened (no errors, no callbacks), not a failure.
   * @default TreatMissingData.NOT_BREACHING
   */
  readonly treatMissingData?: TreatMissingData;
}

/**
 * The alert topic (SNS, encrypted with a customer-managed key, TLS only), CloudWatch alarms that notify
 * it, the rule that forwards the functions' alerts from EventBridge to it, and the service dashboard.
 *
 * Functions raise an alert with one `PutEvents` on the default bus (`bus`); the rule matching
 * `source: alertSource` publishes it to the topic. So automation (any rule on that source) and people
 * (the topic) see the same alerts, and no function carries an SNS client (see functions/adapters/alerts.ts).
 *
 * The topic needs a customer-managed key: the AWS-managed `alias/aws/sns` key's policy cannot be changed,
 * so neither CloudWatch alarms nor EventBridge could publish to a topic encrypted with it.
 */
export class Alerting extends Construct {
  readonly topic: Topic;
  readonly topicKey: Key;
  /** The bus functions publish alerts to (the account's default bus). */
  readonly bus: IEventBus;
  readonly alertRule: Rule;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);
    this.topicKey = new Key(this, 'topic-key', {
      description: 'Encrypts the daigou payments alert topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to the encrypted topic (the documented key policy for alarm actions to
    // an SSE topic; no source condition, which CloudWatch does not reliably send to KMS).
    this.topicKey.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, `*` means this key
      }),
    );

    this.topic = new Topic(this, 'topic', {
      displayName: 'Daigou payments alerts',
      masterKey: this.topicKey,
      enforceSSL: true,
    });

    this.bus = EventBus.fromEventBusName(this, 'default-bus', 'default');
    this.alertRule = new Rule(this, 'alerts-to-topic', {
      description: `Forwards ${props.alertSource} alerts to the alert topic`,
      eventBus: this.bus,
      eventPattern: { source: [props.alertSource] },
    });
    // The SnsTopic target adds the topic policy statement for events.amazonaws.com (scoped to this rule).
    this.alertRule.addTarget(
      new SnsTopic(this.topic, {
        // What a person reads: the alert's type, its detail and when and where it was raised.
        message: RuleTargetInput.fromObject({
          detailType: EventField.detailType,
          detail: EventField.fromPath('$.detail'),
          at: EventField.time,
          account: EventField.account,
          region: EventField.region,
        }),
      }),
    );
    // EventBridge publishes to the encrypted topic: the key must let it (SNS's documented key policy for
    // AWS event sources publishing to an SSE topic; no source condition, as for CloudWatch above).
    this.topicKey.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, `*` means this key
      }),
    );

    this.dashboard = new Dashboard(this, 'dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# Daigou payments\nCallbacks, orders, FX refresh and reconciliation. Alarms notify the alert topic.',
        width: 24,
        height: 2,
      }),
    );
  }

  /** An alarm on `metric` that notifies the alert topic. */
  alarm(id: string, metric: IMetric, options: AlarmOptions): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      alarmDescription: options.description,
      threshold: options.threshold,
      comparisonOperator: options.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }

  /** Errors, throttles and p99 duration (against 80% of the timeout) of one function. */
  watchFunction(id: string, fn: IFunction, timeoutSeconds: number): void {
    const period = Duration.minutes(5);
    this.alarm(`${id}-errors`, fn.metricErrors({ period, statistic: 'Sum' }), {
      description: `${id}: invocations failed (uncaught errors or timeouts)`,
      threshold: 1,
    });
    this.alarm(`${id}-throttles`, fn.metricThrottles({ period, statistic: 'Sum' }), {
      description: `${id}: invocations throttled (account or reserved concurrency exhausted)`,
      threshold: 1,
    });
    this.alarm(`${id}-p99-duration`, fn.metricDuration({ period, statistic: 'p99' }), {
      description: `${id}: p99 duration above 80% of the ${timeoutSeconds} s timeout`,
      threshold: Math.round(timeoutSeconds * 1000 * 0.8),
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
    });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: `${id}: invocations, errors, throttles`,
        left: [
          fn.metricInvocations({ period, statistic: 'Sum' }),
          fn.metricErrors({ period, statistic: 'Sum' }),
          fn.metricThrottles({ period, statistic: 'Sum' }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: `${id}: duration`,
        left: [
          fn.metricDuration({ period, statistic: 'p50' }),
          fn.metricDuration({ period, statistic: 'p99' }),
        ],
        width: 12,
      }),
    );
  }

  /** Any message in a dead-letter queue is an event that was never processed. */
  watchDeadLetterQueue(id: string, queue: IQueue): void {
    const depth = queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: 'Maximum',
    });
    this.alarm(`${id}-depth`, depth, {
      description: `${id}: asynchronous invocations failed after retries; inspect and redrive`,
      threshold: 1,
    });
    this.dashboard.addWidgets(new GraphWidget({ title: `${id}: messages`, left: [depth], width: 12 }));
  }

  /**
   * 5xx rate (percent) of one API route over 5-minute periods, 0 below 10 requests so a single
   * transient `retry_later` at night does not page anyone. Needs detailed metrics on the route.
   */
  routeErrorRate(apiId: string, stage: string, method: string, path: string): MathExpression {
    const dimensionsMap = { ApiId: apiId, Stage: stage, Method: method, Resource: path };
    const period = Duration.minutes(5);
    return new MathExpression({
      label: `${method} ${path} 5xx %`,
      expression: 'IF(requests >= 10, 100 * errors / requests, 0)',
      usingMetrics: {
        errors: new Metric({
          namespace: 'AWS/ApiGateway',
          metricName: '5xx',
          dimensionsMap,
          period,
          statistic: 'Sum',
        }),
        requests: new Metric({
          namespace: 'AWS/ApiGateway',
          metricName: 'Count',
          dimensionsMap,
          period,
          statistic: 'Sum',
        }),
      },
      period,
    });
  }
}
