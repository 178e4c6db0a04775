import { Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { functions, routes, type TableName, tables } from '../../lib/topology.ts';
import { type Built, buildStack, logicalId, resourcesOfType } from './build-stack.ts';
import { accessMap, resourceLabels, statementsOfRole } from './iam.ts';

let built: Built;
beforeAll(() => {
  built = buildStack();
}, 120_000);

interface Acknowledgment {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every `Validations.of(x).acknowledge(...)` in the tree, with the construct it sits on. */
function acknowledgments(root: IConstruct): Acknowledgment[] {
  const found: Acknowledgment[] = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

describe('cdk-nag AwsSolutions', () => {
  it('synthesizes with the pack registered and reports zero unacknowledged errors or warnings', () => {
    const report = built.nag();
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledgments are specific: each sits on the resource it excuses, with a reason', () => {
    const acks = acknowledgments(built.app);
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(40);
    // No stack- or app-wide acknowledgments.
    expect(acks.filter((a) => !a.path.includes('/'))).toEqual([]);
    const summary = [
      ...new Set(acks.map((a) => `${a.id} @ ${a.path.replace(/^DaigouPayments\//, '')}`)),
    ].sort();
    expect(summary).toMatchSnapshot();
  });

  it('every acknowledgment excuses a real finding (none is stale)', () => {
    const strict = new AwsSolutionsChecks(built.app);
    // Turn acknowledgments off to see everything the pack would report.
    (strict as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const findings = new Set(
      strict
        .validateScope(built.app)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}|${r.constructPath}`)),
    );
    for (const ack of acknowledgments(built.app)) {
      const covered = [...findings].some((f) => {
        const [rule, path] = f.split('|') as [string, string];
        return rule === ack.id && (path === ack.path || path.startsWith(`${ack.path}/`));
      });
      expect(covered, `${ack.id} on ${ack.path}`).toBe(true);
    }
  });

  it('the pack is live: an unencrypted, non-TLS queue added to the stack is reported', () => {
    const probe = buildStack();
    new Queue(probe.stack, 'probe-queue', { encryption: QueueEncryption.UNENCRYPTED });
    const rules = probe.nag().violations.map((v) => v.ruleName);
    expect(rules).toEqual(
      expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']),
    );
  });
});

describe('security-relevant properties (snapshot)', () => {
  it('matches', () => {
    const { json, stack } = built;
    const labels = resourceLabels(stack);
    const res = (c: IConstruct) => json.Resources[logicalId(c)]!;
    const props = (c: IConstruct) => res(c).Properties!;

    const tableSummary = Object.fromEntries(
      (Object.keys(tables) as TableName[]).map((name) => {
        const t = stack.tables[name].table;
        const p = props(t);
        return [
          name,
          {
            deletionPolicy: res(t).DeletionPolicy,
            billing: p.BillingMode,
            pitr: p.PointInTimeRecoverySpecification,
            sse: p.SSESpecification,
            deletionProtection: p.DeletionProtectionEnabled,
            ttl: p.TimeToLiveSpecification ?? null,
          },
        ];
      }),
    );

    const bucketSummary = (b: IConstruct) => ({
      deletionPolicy: res(b).DeletionPolicy,
      publicAccessBlock: props(b).PublicAccessBlockConfiguration,
      encryption: props(b).BucketEncryption,
      versioning: props(b).VersioningConfiguration ?? null,
      ownership: props(b).OwnershipControls,
      logging: props(b).LoggingConfiguration ? 'to access-logs bucket' : null,
    });

    const functionSummary = Object.fromEntries(
      Object.keys(functions).map((id) => {
        const f = stack.functions[id]!;
        const p = props(f.fn);
        return [
          id,
          {
            runtime: p.Runtime,
            architectures: p.Architectures,
            tracing: p.TracingConfig,
            logRetentionDays: props(f.logGroup).RetentionInDays,
            access: accessMap(statementsOfRole(json, logicalId(f.role)), labels),
          },
        ];
      }),
    );

    const [[, stage]] = resourcesOfType(json, 'AWS::ApiGatewayV2::Stage') as unknown as [
      [string, { Properties: object }],
    ];
    const stageProps = stage.Properties as Record<string, unknown>;
    const routeAuth = Object.fromEntries(
      resourcesOfType(json, 'AWS::ApiGatewayV2::Route')
        .map(([, r]) => [r.Properties!.RouteKey as string, r.Properties!.AuthorizationType])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );

    const summary = {
      tables: tableSummary,
      settlementsBucket: bucketSummary(stack.settlements.bucket),
      accessLogsBucket: bucketSummary(stack.settlements.logsBucket),
      functions: functionSummary,
      api: {
        routes: routeAuth,
        defaultThrottle: stageProps.DefaultRouteSettings,
        routeSettings: stageProps.RouteSettings,
        accessLogging: Boolean(stageProps.AccessLogSettings),
      },
      alertTopic: {
        kms: props(stack.alerting.topic).KmsMasterKeyId ? 'customer-managed key' : null,
        keyRotation: props(stack.alerting.topicKey).EnableKeyRotation,
      },
      deadLetterQueues: Object.fromEntries(
        Object.entries(stack.deadLetterQueues).map(([id, q]) => [
          id,
          { sqsManagedSse: props(q).SqsManagedSseEnabled },
        ]),
      ),
      secrets: Object.values(stack.gatewaySecrets)
        .map((s) => props(s).Name)
        .sort(),
    };
    expect(routes.length).toBe(Object.keys(routeAuth).length);
    expect(summary).toMatchSnapshot();
  });
});
