/**
 * IAM parity, both ways, for every function and every DynamoDB/S3 request it could make: the
 * synthesised role policy (evaluated as IAM does: action match, resource ARN wildcards) allows a request
 * exactly when the sandbox's authoriser allows it. So a call the topology does not declare fails in the
 * sandbox, and the template grants nothing the topology does not declare. The sandbox's authoriser is
 * checked against the real servers in test/integration/iam-enforcement.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bucket, functions, type TableDef, type TableName, tables } from '../../lib/topology.ts';
import { type AccessRequest, SANDBOX_ACCOUNT, SandboxIam } from '../../sandbox/iam.ts';
import { sandboxTableNames } from '../../sandbox/resources.ts';
import { type Built, buildStack, logicalId } from './build-stack.ts';
import { type Statement, statementsOfRole } from './iam.ts';

const region = 'us-east-1';
const names = sandboxTableNames();
const iam = new SandboxIam({ region, tables: names, bucket: bucket.sandboxName });

let built: Built;
/** Logical id → the ARN the resource has in the sandbox. */
let arnOf: Record<string, string>;
beforeAll(() => {
  built = buildStack();
  arnOf = { [logicalId(built.stack.settlements.bucket)]: `arn:aws:s3:::${bucket.sandboxName}` };
  for (const t of Object.keys(tables) as TableName[]) {
    arnOf[logicalId(built.stack.tables[t].table)] =
      `arn:aws:dynamodb:${region}:${SANDBOX_ACCOUNT}:table/${names[t]}`;
  }
}, 120_000);

/** A CloudFormation ARN expression with the sandbox's ARNs for our tables and bucket. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::GetAtt'])) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    return attr === 'Arn' && arnOf[id] ? arnOf[id] : `<${id}.${attr}>`;
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  if (typeof v.Ref === 'string') return v.Ref === 'AWS::Partition' ? 'aws' : `<${v.Ref}>`;
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** IAM's ARN matching: `*` any run of characters, `?` one character, everything else literal. */
function arnMatches(pattern: string, arn: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(arn);
}

const toArray = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

function templateAllows(statements: Statement[], action: string, arn: string): boolean {
  return statements.some(
    (s) =>
      s.Effect === 'Allow' &&
      toArray(s.Action).some((a) => arnMatches(a, action)) &&
      toArray(s.Resource).some((r) => arnMatches(render(r), arn)),
  );
}

/** Every DynamoDB action IAM knows for item access, on every table and every index; S3 on every prefix. */
function requestGrid(): AccessRequest[] {
  const dynamoActions = [
    'GetItem',
    'BatchGetItem',
    'Query',
    'Scan',
    'PutItem',
    'UpdateItem',
    'DeleteItem',
    'ConditionCheckItem',
    'BatchWriteItem',
    'DescribeTable',
  ];
  const out: AccessRequest[] = [];
  for (const t of Object.keys(tables) as TableName[]) {
    const def: TableDef = tables[t];
    for (const action of dynamoActions) out.push({ service: 'dynamodb', action, table: names[t] });
    for (const gsi of def.gsis ?? []) {
      for (const action of ['Query', 'Scan']) {
        out.push({ service: 'dynamodb', action, table: names[t], index: gsi.indexName });
      }
    }
  }
  const keys = [
    `${bucket.incomingPrefix}stripe/2026-01-01.csv`,
    `${bucket.reportsPrefix}stripe/2026-01-01.csv/summary.json`,
    `${bucket.reportsPrefix}open-items.csv`,
    'incoming',
    'other/x.csv',
    'reports-elsewhere/x',
  ];
  for (const key of keys) {
    for (const action of [
      'GetObject',
      'GetObjectVersion',
      'PutObject',
      'AbortMultipartUpload',
      'DeleteObject',
    ]) {
      out.push({ service: 's3', action, bucket: bucket.sandboxName, key });
    }
  }
  out.push({ service: 's3', action: 'ListBucket', bucket: bucket.sandboxName });
  return out;
}

describe('IAM parity: the template allows exactly what the sandbox allows', () => {
  it.each(Object.keys(functions))('%s', (fnId) => {
    const statements = statementsOfRole(built.json, logicalId(built.stack.functions[fnId]!.role));
    const disagreements: string[] = [];
    let allowed = 0;
    for (const request of requestGrid()) {
      const arn = iam.resourceArn(request);
      const action = `${request.service}:${request.action}`;
      const inTemplate = templateAllows(statements, action, arn);
      const inSandbox = iam.check(fnId, request) === undefined;
      if (inSandbox) allowed++;
      if (inTemplate !== inSandbox) {
        disagreements.push(`${action} ${arn}: template ${inTemplate}, sandbox ${inSandbox}`);
      }
    }
    expect(disagreements).toEqual([]);
    // The grid reaches every grant the function declares (else parity would hold vacuously).
    const def = functions[fnId]!;
    const declared =
      Object.values(def.tables).reduce((n, actions) => n + (actions?.length ?? 0), 0) +
      Object.values(def.indexes ?? {}).reduce((n, indexes) => n + (indexes?.length ?? 0), 0) +
      (def.bucket ?? []).reduce((n, g) => n + g.actions.length, 0);
    expect(allowed).toBeGreaterThanOrEqual(declared);
  });

  it('finds a grant the topology does not declare (the check is live)', () => {
    const statements = statementsOfRole(built.json, logicalId(built.stack.functions.health!.role));
    const extra: Statement = {
      Effect: 'Allow',
      Action: 'dynamodb:Query',
      Resource: {
        'Fn::Join': [
          '',
          [{ 'Fn::GetAtt': [logicalId(built.stack.tables.payments.table), 'Arn'] }, '/index/*'],
        ],
      },
    };
    const request: AccessRequest = {
      service: 'dynamodb',
      action: 'Query',
      table: names.payments,
      index: 'byOrder',
    };
    expect(templateAllows([...statements, extra], 'dynamodb:Query', iam.resourceArn(request))).toBe(true);
    expect(iam.check('health', request)?.message).toContain('is not authorized to perform: dynamodb:Query');
  });
});
