import type { PaymentsStack } from '../../lib/payments-stack.ts';
import { callbackFunctionId, type FunctionDef, gateways, type TableName } from '../../lib/topology.ts';
import { type CfnTemplate, logicalId, resourcesOfType } from './build-stack.ts';

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
  readonly NotAction?: unknown;
  readonly NotResource?: unknown;
}

/** Readable names for the stack's resources, so IAM resources print as `table:orders.arn/index/…`. */
export function resourceLabels(stack: PaymentsStack): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [name, t] of Object.entries(stack.tables)) labels[logicalId(t.table)] = `table:${name}`;
  for (const [id, f] of Object.entries(stack.functions)) labels[logicalId(f.logGroup)] = `logs:${id}`;
  for (const [gw, s] of Object.entries(stack.gatewaySecrets)) labels[logicalId(s)] = `secret:${gw}`;
  for (const [id, q] of Object.entries(stack.deadLetterQueues)) labels[logicalId(q)] = `dlq:${id}`;
  labels[logicalId(stack.settlements.bucket)] = 'bucket';
  labels[logicalId(stack.alerting.topic)] = 'topic';
  labels[logicalId(stack.alerting.topicKey)] = 'topic-key';
  return labels;
}

/** Renders a CloudFormation value (Ref, GetAtt, Join) as a string using `labels`; other Refs print as `<Ref>`. */
export function render(value: unknown, labels: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return labels[v.Ref] ?? `<${v.Ref}>`;
  if (Array.isArray(v['Fn::GetAtt'])) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    return `${labels[id] ?? id}.${attr.toLowerCase()}`;
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => render(p, labels)).join(sep);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** Every statement attached to a role: its inline policies and the AWS::IAM::Policy resources naming it. */
export function statementsOfRole(json: CfnTemplate, roleId: string): Statement[] {
  const role = json.Resources[roleId];
  const inline = (
    (role?.Properties?.Policies as { PolicyDocument: { Statement: Statement[] } }[]) ?? []
  ).flatMap((p) => p.PolicyDocument.Statement);
  const attached = resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement);
  return [...inline, ...attached];
}

const toArray = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/** `{ resource: sorted actions }` of a set of statements (Allow only; anything else throws). */
export function accessMap(statements: Statement[], labels: Record<string, string>): Record<string, string[]> {
  const map: Record<string, Set<string>> = {};
  for (const s of statements) {
    if (s.Effect !== 'Allow' || s.NotAction || s.NotResource || s.Condition) {
      throw new Error(`unexpected statement shape: ${JSON.stringify(s)}`);
    }
    for (const resource of toArray(s.Resource)) {
      const key = render(resource, labels);
      map[key] ??= new Set();
      for (const action of toArray(s.Action)) map[key].add(action);
    }
  }
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, [...v].sort()]));
}

const DEFAULT_BUS = 'arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default';

/** What a function may do, derived from its topology definition alone. */
export function expectedAccess(fnId: string, def: FunctionDef): Record<string, string[]> {
  const map: Record<string, Set<string>> = {};
  const add = (resource: string, ...actions: string[]) => {
    map[resource] ??= new Set();
    for (const a of actions) map[resource].add(a);
  };
  add(`logs:${fnId}.arn`, 'logs:CreateLogStream', 'logs:PutLogEvents');
  // X-Ray has no resource-level permissions: `*` is what AWS requires (Tracing.ACTIVE).
  add('*', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords');
  for (const [name, actions] of Object.entries(def.tables) as [TableName, readonly string[]][]) {
    if (actions.length) add(`table:${name}.arn`, ...actions.map((a) => `dynamodb:${a}`));
  }
  // Only the indexes the function declares: Query on a table grants none of its indexes.
  for (const [name, indexes] of Object.entries(def.indexes ?? {}) as [TableName, readonly string[]][]) {
    for (const index of indexes) add(`table:${name}.arn/index/${index}`, 'dynamodb:Query');
  }
  for (const grant of def.bucket ?? []) {
    add(`bucket.arn/${grant.prefix}*`, ...grant.actions.map((a) => `s3:${a}`));
  }
  if (def.secret) {
    const gateway = gateways.find((g) => callbackFunctionId(g.name) === fnId)!.name;
    add(`secret:${gateway}`, 'secretsmanager:GetSecretValue');
  }
  // Alerts are one PutEvents on the default bus; the alerting rule, not the function, publishes to SNS.
  if (def.alerts) add(DEFAULT_BUS, 'events:PutEvents');
  if (def.async) add(`dlq:${fnId}.arn`, 'sqs:SendMessage');
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, [...v].sort()]));
}
