import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  alertSource,
  customMetrics,
  defaultThrottle,
  functions,
  routes,
  schedules,
  serviceName,
} from '../../lib/topology.ts';
import { type Built, buildStack, logicalId, resourcesOfType } from './build-stack.ts';

let built: Built;
beforeAll(() => {
  built = buildStack();
}, 120_000);

const routeResource = (routeKey: string) => {
  const found = resourcesOfType(built.json, 'AWS::ApiGatewayV2::Route').filter(
    ([, r]) => r.Properties!.RouteKey === routeKey,
  );
  expect(found).toHaveLength(1);
  return found[0]![1];
};

/** The function an integration invokes, by logical id. */
const integrationTarget = (integrationRef: unknown): string => {
  const target = (integrationRef as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1][1] as { Ref: string };
  const integration = built.json.Resources[target.Ref]!;
  return (integration.Properties!.IntegrationUri as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
};

describe('HTTP API', () => {
  it('has exactly the topology routes', () => {
    const keys = resourcesOfType(built.json, 'AWS::ApiGatewayV2::Route').map(
      ([, r]) => r.Properties!.RouteKey,
    );
    expect(keys.sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it.each(routes.map((r) => [`${r.method} ${r.path}`, r] as const))(
    '%s → its function, auth as listed',
    (key, r) => {
      const route = routeResource(key);
      expect(route.Properties!.AuthorizationType).toBe(r.auth === 'iam' ? 'AWS_IAM' : 'NONE');
      expect(integrationTarget(route.Properties!.Target)).toBe(
        logicalId(built.stack.functions[r.function]!.fn),
      );
    },
  );

  it('order routes need IAM; callbacks are public (signature-verified in the handler)', () => {
    for (const r of routes.filter((x) => x.path.startsWith('/orders') || x.path === '/refund-buffer')) {
      expect(routeResource(`${r.method} ${r.path}`).Properties!.AuthorizationType).toBe('AWS_IAM');
    }
    const callbacks = routes.filter((x) => x.path.startsWith('/callbacks/'));
    expect(callbacks).toHaveLength(5);
    for (const r of callbacks) {
      expect(routeResource(`${r.method} ${r.path}`).Properties!.AuthorizationType).toBe('NONE');
    }
  });

  it('payload format 2.0 Lambda proxy integrations, one per function', () => {
    const integrations = resourcesOfType(built.json, 'AWS::ApiGatewayV2::Integration');
    expect(integrations).toHaveLength(new Set(routes.map((r) => r.function)).size);
    for (const [, i] of integrations) {
      expect(i.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
    }
  });

  it('no CORS configuration', () => {
    const [[, api]] = resourcesOfType(built.json, 'AWS::ApiGatewayV2::Api') as unknown as [
      [string, { Properties: object }],
    ];
    expect(api.Properties).toMatchObject({ ProtocolType: 'HTTP' });
    expect(api.Properties).not.toHaveProperty('CorsConfiguration');
  });

  it('$default stage: stage throttling, per-route throttling, JSON access logs', () => {
    const stages = resourcesOfType(built.json, 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0]![1];
    const expectedRouteSettings = Object.fromEntries(
      routes
        .filter((r) => r.throttle)
        .map((r) => [
          `${r.method} ${r.path}`,
          {
            ThrottlingRateLimit: r.throttle!.rateLimit,
            ThrottlingBurstLimit: r.throttle!.burstLimit,
            DetailedMetricsEnabled: true,
          },
        ]),
    );
    expect(Object.keys(expectedRouteSettings)).toHaveLength(5);
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: defaultThrottle.rateLimit,
        ThrottlingBurstLimit: defaultThrottle.burstLimit,
      },
      RouteSettings: expectedRouteSettings,
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalId(built.stack.api.accessLogs), 'Arn'] },
      },
    });
    const format = JSON.parse((stage.Properties!.AccessLogSettings as { Format: string }).Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    // Never request headers or bodies: callbacks carry signatures, orders carry customer data.
    expect(JSON.stringify(format)).not.toMatch(/header|body/i);
    // Route settings name routes that must exist first.
    for (const r of routes.filter((x) => x.throttle)) {
      const [id] = resourcesOfType(built.json, 'AWS::ApiGatewayV2::Route').find(
        ([, x]) => x.Properties!.RouteKey === `${r.method} ${r.path}`,
      )!;
      expect(stage.DependsOn).toContain(id);
    }
  });

  it('access log group has retention', () => {
    expect(built.json.Resources[logicalId(built.stack.api.accessLogs)]!.Properties).toMatchObject({
      RetentionInDays: 90,
    });
  });
});

describe('schedules', () => {
  it('rate(5 minutes) → fxRefresh, rate(1 day) → openItemsDaily', () => {
    expect(schedules.map((s) => [s.function, s.everyMinutes])).toEqual([
      ['fxRefresh', 5],
      ['openItemsDaily', 24 * 60],
    ]);
    // The other rule is alerting's fan-out (an event pattern, no schedule).
    expect(
      resourcesOfType(built.json, 'AWS::Events::Rule').filter(([, r]) => r.Properties!.ScheduleExpression),
    ).toHaveLength(2);
    for (const [fn, expression] of [
      ['fxRefresh', 'rate(5 minutes)'],
      ['openItemsDaily', 'rate(1 day)'],
    ] as const) {
      built.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: expression,
        State: 'ENABLED',
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [logicalId(built.stack.functions[fn]!.fn), 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: 2 },
          }),
        ],
      });
      built.template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [logicalId(built.stack.functions[fn]!.fn), 'Arn'] },
      });
    }
  });
});

describe('alerting', () => {
  const topicId = () => logicalId(built.stack.alerting.topic);

  it('topic encrypted with a rotating customer-managed key; TLS-only topic policy', () => {
    const keyId = logicalId(built.stack.alerting.topicKey);
    expect(built.json.Resources[topicId()]!.Properties).toMatchObject({
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    expect(built.json.Resources[keyId]!.Properties).toMatchObject({ EnableKeyRotation: true });
    built.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId() }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('the key lets CloudWatch alarms publish to the encrypted topic', () => {
    const key = built.json.Resources[logicalId(built.stack.alerting.topicKey)]!;
    expect((key.Properties!.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
  });

  it('alerts raised on EventBridge reach the topic: one rule on the default bus, allowed by topic and key', () => {
    const rules = resourcesOfType(built.json, 'AWS::Events::Rule').filter(
      ([, r]) => JSON.stringify(r.Properties!.EventPattern) === JSON.stringify({ source: [alertSource] }),
    );
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    expect(rule.Properties!.EventBusName).toBe('default');
    expect(rule.Properties!.State).toBe('ENABLED');
    expect(rule.Properties!.Targets).toEqual([
      expect.objectContaining({ Arn: { Ref: topicId() }, InputTransformer: expect.any(Object) }),
    ]);
    built.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId() }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'events.amazonaws.com' },
          }),
        ]),
      },
    });
    const key = built.json.Resources[logicalId(built.stack.alerting.topicKey)]!;
    expect((key.Properties!.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
  });

  it('no function may publish to the topic itself: alerts leave a function only through EventBridge', () => {
    for (const [id, fn] of Object.entries(built.stack.functions)) {
      const policies = resourcesOfType(built.json, 'AWS::IAM::Policy').filter(([, p]) =>
        JSON.stringify(p.Properties!.Roles).includes(logicalId(fn.role)),
      );
      expect(JSON.stringify(policies), id).not.toContain('sns:Publish');
    }
  });

  it('every alarm notifies the alert topic', () => {
    const alarms = resourcesOfType(built.json, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    for (const [, a] of alarms) expect(a.Properties!.AlarmActions).toEqual([{ Ref: topicId() }]);
  });

  it.each(Object.keys(functions))('%s: errors, throttles and p99 duration alarms', (id) => {
    const fnRef = { Ref: logicalId(built.stack.functions[id]!.fn) };
    const dims = [{ Name: 'FunctionName', Value: fnRef }];
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: dims,
      Threshold: 1,
    });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: dims,
    });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      ExtendedStatistic: 'p99',
      Dimensions: dims,
      Threshold: functions[id]!.timeoutSeconds * 800,
    });
  });

  it.each(routes.filter((r) => r.path.startsWith('/callbacks/')).map((r) => r.path))(
    '%s: 5xx rate alarm on route-level metrics',
    (path) => {
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'IF(requests >= 10, 100 * errors / requests, 0)' }),
          Match.objectLike({
            Id: 'errors',
            MetricStat: Match.objectLike({
              Metric: Match.objectLike({
                Namespace: 'AWS/ApiGateway',
                MetricName: '5xx',
                Dimensions: Match.arrayWith([
                  { Name: 'Method', Value: 'POST' },
                  { Name: 'Resource', Value: path },
                ]),
              }),
            }),
          }),
        ]),
        Threshold: 5,
      });
    },
  );

  it.each([
    ['SignatureFailures', 'callbackStripe', 10],
    ['CallbacksQuarantined', 'callbackStripe', 1],
    ['DoublePayments', 'callbackStripe', 1],
    ['ReconciliationDrift', 'reconcile', 0.005],
    ['FxRateAgeSeconds', 'fxRefresh', 1200],
  ] as const)('custom metric %s (service of %s) alarms above %s', (metricName, fnId, threshold) => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: customMetrics.namespace,
      MetricName: metricName,
      Dimensions: [{ Name: 'service', Value: serviceName(functions[fnId]!) }],
      Threshold: threshold,
      TreatMissingData: 'notBreaching',
    });
  });

  it('all callback functions share one service name, so one alarm covers every gateway', () => {
    const services = new Set(
      Object.entries(functions)
        .filter(([id]) => id.startsWith('callback'))
        .map(([, def]) => serviceName(def)),
    );
    expect([...services]).toEqual(['daigou-callback']);
  });

  it('has a dashboard', () => {
    built.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('outputs', () => {
  it('ApiUrl, BucketName, AlertTopicArn and every table name', () => {
    expect(Object.keys(built.json.Outputs ?? {}).sort()).toEqual(
      [
        'AlertTopicArn',
        'ApiUrl',
        'BucketName',
        'FxRatesTableName',
        'IdempotencyTableName',
        'OpenItemsTableName',
        'OrdersTableName',
        'PaymentsTableName',
        'ReconciliationsTableName',
      ].sort(),
    );
  });
});
