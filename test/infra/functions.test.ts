import { beforeAll, describe, expect, it } from 'vitest';
import {
  callbackFunctionId,
  customMetrics,
  defaultSettings,
  functions,
  gateways,
  resourceEnvVars,
  serviceName,
  tables,
} from '../../lib/topology.ts';
import { type Built, buildStack, logicalId, resourcesOfType } from './build-stack.ts';
import { accessMap, expectedAccess, resourceLabels, type Statement, statementsOfRole } from './iam.ts';

let built: Built;
let labels: Record<string, string>;
beforeAll(() => {
  built = buildStack({ fxProviderUrl: 'https://fx.example.com/rates' });
  labels = resourceLabels(built.stack);
}, 120_000);

const fnIds = Object.keys(functions);
const fnProps = (id: string) => built.json.Resources[logicalId(built.stack.functions[id]!.fn)]!.Properties!;

describe('every function', () => {
  it('one Lambda function per topology function (plus CDK’s bucket-notifications handler)', () => {
    const ours = resourcesOfType(built.json, 'AWS::Lambda::Function').filter(
      ([id]) => !id.startsWith('BucketNotificationsHandler'),
    );
    expect(ours.map(([id]) => id).sort()).toEqual(
      fnIds.map((id) => logicalId(built.stack.functions[id]!.fn)).sort(),
    );
  });

  it.each(fnIds)(
    '%s: nodejs22.x on arm64, X-Ray active, ESM handler, size and timeout from topology',
    (id) => {
      const def = functions[id]!;
      expect(fnProps(id)).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        MemorySize: def.memoryMb,
        Timeout: def.timeoutSeconds,
        Role: { 'Fn::GetAtt': [logicalId(built.stack.functions[id]!.role), 'Arn'] },
        LoggingConfig: { LogGroup: { Ref: logicalId(built.stack.functions[id]!.logGroup) } },
      });
    },
  );

  it.each(fnIds)('%s: its own log group, kept 90 days and retained', (id) => {
    const logGroup = built.json.Resources[logicalId(built.stack.functions[id]!.logGroup)]!;
    expect(logGroup.Properties).toMatchObject({ RetentionInDays: 90 });
    expect(logGroup.DeletionPolicy).toBe('Retain');
  });

  it.each(fnIds)('%s: environment = settings + topology env + exactly its tables/bucket + wiring', (id) => {
    const def = functions[id]!;
    const env = (fnProps(id).Environment as { Variables: Record<string, unknown> }).Variables;
    const stack = built.stack;
    const expected: Record<string, unknown> = {
      ...defaultSettings,
      FX_PROVIDER_URL: 'https://fx.example.com/rates',
      FX_MAX_AGE_SECONDS: '1200',
      ...def.environment,
      POWERTOOLS_SERVICE_NAME: serviceName(def),
      POWERTOOLS_METRICS_NAMESPACE: customMetrics.namespace,
      NODE_OPTIONS: '--enable-source-maps',
      ...resourceEnvVars(def, {
        table: (t) => ({ Ref: logicalId(stack.tables[t].table) }) as unknown as string,
        bucket: { Ref: logicalId(stack.settlements.bucket) } as unknown as string,
      }),
    };
    if (def.secret) {
      const gateway = gateways.find((g) => callbackFunctionId(g.name) === id)!.name;
      expected.GATEWAY_SECRET_ID = { Ref: logicalId(stack.gatewaySecrets[gateway]!) };
    }
    if (def.alerts) {
      expected.ALERT_SINK = 'aws';
      expected.ALERT_EVENT_BUS = 'default';
    }
    expect(env).toEqual(expected);
  });

  it('FX_PROVIDER_URL defaults to the placeholder without the fxProviderUrl context', () => {
    const plain = buildStack();
    const env = (
      plain.json.Resources[logicalId(plain.stack.functions.fxRefresh!.fn)]!.Properties!.Environment as {
        Variables: Record<string, string>;
      }
    ).Variables;
    expect(env.FX_PROVIDER_URL).toBe(defaultSettings.FX_PROVIDER_URL);
    expect(env).toMatchObject({
      BASE_CURRENCY: 'CNY',
      FX_PAIRS: 'USD/CNY,EUR/CNY,GBP/CNY,JPY/CNY,HKD/CNY',
      SETTLEMENT_LAG_DAYS: '2',
      RECON_ALERT_THRESHOLD: '0.005',
      REFUND_BUFFER_RATE: '0.006',
    });
  });
});

describe('PayPal certificate trust and currency settings', () => {
  const allEnvs = () =>
    resourcesOfType(built.json, 'AWS::Lambda::Function').map(
      ([, r]) =>
        (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
    );

  it('never sets PAYPAL_TRUST_ROOTS_PEM: in AWS the chain must end at one of Node’s bundled roots', () => {
    expect(allEnvs().length).toBeGreaterThan(0);
    for (const env of allEnvs()) expect(env).not.toHaveProperty('PAYPAL_TRUST_ROOTS_PEM');
    expect(JSON.stringify(built.json)).not.toContain('PAYPAL_TRUST_ROOTS_PEM');
    expect(JSON.stringify(built.json)).not.toContain('BEGIN CERTIFICATE');
  });

  it('the PayPal callback allows only PayPal cert hosts and PayPal’s signing CN', () => {
    const env = (fnProps('callbackPaypal').Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env).toMatchObject({
      PAYPAL_CERT_URL_HOSTS: '*.paypal.com',
      PAYPAL_CERT_CN: 'messageverificationcerts*.paypal.com',
    });
    const others = fnIds.filter((id) => id !== 'callbackPaypal');
    for (const id of others) {
      const vars = (fnProps(id).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(vars, id).not.toHaveProperty('PAYPAL_CERT_URL_HOSTS');
    }
  });

  it('the orders function prices for every gateway kind with a callback route', () => {
    const env = (fnProps('orders').Environment as { Variables: Record<string, unknown> }).Variables;
    expect(String(env.PAYMENT_GATEWAY_KINDS).split(',').sort()).toEqual(
      [...new Set(gateways.map((g) => g.kind))].sort(),
    );
  });
});

describe('IAM: exactly what the topology lists', () => {
  it.each(fnIds)('%s: resource → actions', (id) => {
    const statements = statementsOfRole(built.json, logicalId(built.stack.functions[id]!.role));
    expect(accessMap(statements, labels)).toEqual(expectedAccess(id, functions[id]!));
  });

  it.each(fnIds)('%s: role has no managed policies and trusts only Lambda', (id) => {
    const role = built.json.Resources[logicalId(built.stack.functions[id]!.role)]!;
    expect(role.Properties!.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties!.AssumeRolePolicyDocument).toEqual({
      Statement: [
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ],
      Version: '2012-10-17',
    });
  });

  it('spot check: the stripe callback function', () => {
    expect(
      accessMap(statementsOfRole(built.json, logicalId(built.stack.functions.callbackStripe!.role)), labels),
    ).toMatchInlineSnapshot(`
      {
        "*": [
          "xray:PutTelemetryRecords",
          "xray:PutTraceSegments",
        ],
        "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default": [
          "events:PutEvents",
        ],
        "logs:callbackStripe.arn": [
          "logs:CreateLogStream",
          "logs:PutLogEvents",
        ],
        "secret:stripe": [
          "secretsmanager:GetSecretValue",
        ],
        "table:idempotency.arn": [
          "dynamodb:DeleteItem",
          "dynamodb:GetItem",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
        ],
        "table:orders.arn": [
          "dynamodb:Query",
          "dynamodb:UpdateItem",
        ],
        "table:payments.arn": [
          "dynamodb:GetItem",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
        ],
        "table:payments.arn/index/byOrder": [
          "dynamodb:Query",
        ],
      }
    `);
  });

  const allStatements = (): Statement[] => [
    ...resourcesOfType(built.json, 'AWS::IAM::Policy').flatMap(
      ([, p]) => (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement,
    ),
    ...resourcesOfType(built.json, 'AWS::IAM::Role').flatMap(([, r]) =>
      ((r.Properties!.Policies as { PolicyDocument: { Statement: Statement[] } }[]) ?? []).flatMap(
        (p) => p.PolicyDocument.Statement,
      ),
    ),
  ];
  const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
  const resourcesOf = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

  it('no dynamodb:Scan anywhere', () => {
    expect(allStatements().flatMap(actionsOf)).not.toContain('dynamodb:Scan');
    expect(JSON.stringify(built.json)).not.toContain('dynamodb:Scan');
  });

  it('no wildcard actions in any IAM policy', () => {
    expect(
      allStatements()
        .flatMap(actionsOf)
        .filter((a) => a.includes('*')),
    ).toEqual([]);
  });

  it('`*` resources only for X-Ray, which has no resource-level permissions', () => {
    // No cloudwatch:PutMetricData either: Powertools Metrics writes the embedded metric format to the logs.
    const starActions = allStatements()
      .filter((s) => resourcesOf(s).includes('*'))
      .flatMap(actionsOf);
    expect(new Set(starActions)).toEqual(new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']));
  });

  it('DynamoDB actions only on topology tables and their named indexes (no index/*)', () => {
    const dynamoResources = allStatements()
      .filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')))
      .flatMap(resourcesOf)
      .map((r) => JSON.stringify(r));
    expect(dynamoResources.some((r) => r.includes('/index/*'))).toBe(false);
    const tableIds = Object.keys(tables).map((t) =>
      logicalId(built.stack.tables[t as keyof typeof tables].table),
    );
    for (const r of dynamoResources) expect(tableIds.some((id) => r.includes(id))).toBe(true);
  });
});

describe('asynchronous functions', () => {
  const asyncIds = fnIds.filter((id) => functions[id]!.async);

  it('are fxRefresh, reconcile and openItemsDaily', () => {
    expect(asyncIds.sort()).toEqual(['fxRefresh', 'openItemsDaily', 'reconcile']);
  });

  it.each(asyncIds)('%s: 2 retries, then the encrypted dead-letter queue', (id) => {
    const dlq = built.stack.deadLetterQueues[id]!;
    built.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(built.stack.functions[id]!.fn) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(dlq), 'Arn'] } } },
    });
    expect(built.json.Resources[logicalId(dlq)]!.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    const [, queuePolicy] = resourcesOfType(built.json, 'AWS::SQS::QueuePolicy').find(([, p]) =>
      (p.Properties!.Queues as { Ref: string }[]).some((q) => q.Ref === logicalId(dlq)),
    )!;
    expect((queuePolicy.Properties!.PolicyDocument as { Statement: unknown[] }).Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it.each(asyncIds)('%s: an alarm on its dead-letter queue depth notifies the alert topic', (id) => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId(built.stack.deadLetterQueues[id]!), 'QueueName'] },
        },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: logicalId(built.stack.alerting.topic) }],
    });
  });

  it('synchronous functions have no dead-letter queue', () => {
    expect(Object.keys(built.stack.deadLetterQueues).sort()).toEqual(asyncIds.sort());
    built.template.resourceCountIs('AWS::Lambda::EventInvokeConfig', asyncIds.length);
  });
});

describe('gateway secrets', () => {
  it.each(gateways.map((g) => g.name))(
    '%s: daigou/gateways/{name} with a generated placeholder, retained',
    (name) => {
      const secret = built.json.Resources[logicalId(built.stack.gatewaySecrets[name]!)]!;
      expect(secret.DeletionPolicy).toBe('Retain');
      expect(secret.Properties).toMatchObject({
        Name: `daigou/gateways/${name}`,
        GenerateSecretString: { GenerateStringKey: 'placeholder' },
      });
      expect(secret.Properties!.SecretString).toBeUndefined();
    },
  );
});
