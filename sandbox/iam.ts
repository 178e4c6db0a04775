/**
 * The sandbox's IAM: each topology function is a principal (its own access key, as each Lambda gets its
 * role's credentials in `AWS_ACCESS_KEY_ID`), allowed exactly the grants lib/permissions.ts reads from its
 * topology entry — the same list CDK turns into the function's role policy. Everything else is refused
 * with the message AWS gives, naming the action and the resource ARN, so a missing declaration shows up
 * in the sandbox and the tests exactly as it would in AWS.
 *
 * Requests arrive here already parsed into (action, resource) pairs by sandbox/iam-proxy.ts.
 */
import { type Grant, grantsOf } from '../lib/permissions.ts';
import { type FunctionDef, type TableName, functions as topologyFunctions } from '../lib/topology.ts';

/** The account id the sandbox's ARNs carry (AWS uses twelve zeros in its own examples of local ARNs). */
export const SANDBOX_ACCOUNT = '000000000000';

/** Physical names of one deployment's resources (the sandbox's, or one test file's suffixed copies). */
export interface Deployment {
  readonly region: string;
  readonly tables: Readonly<Record<TableName, string>>;
  readonly bucket: string;
}

/** One IAM authorisation: an action (`dynamodb:Query`) on one resource. */
export type AccessRequest =
  | {
      readonly service: 'dynamodb';
      readonly action: string;
      readonly table?: string;
      readonly index?: string;
    }
  | { readonly service: 's3'; readonly action: string; readonly bucket: string; readonly key?: string };

export interface Denial {
  readonly action: string;
  readonly resource: string;
  /** AWS's wording: `User: <assumed-role ARN> is not authorized to perform: <action> on resource: <ARN> …`. */
  readonly message: string;
}

/** DynamoDB Local (2.x) accepts only letters and digits in an access key id. */
const ACCESS_KEY_PREFIX = 'SANDBOXFN';

export class SandboxIam {
  private readonly byKey = new Map<string, string>();
  private readonly grants = new Map<string, Grant[]>();

  constructor(
    readonly deployment: Deployment,
    fns: Readonly<Record<string, FunctionDef>> = topologyFunctions,
  ) {
    for (const [id, def] of Object.entries(fns)) {
      const key = SandboxIam.accessKeyIdOf(id);
      if (this.byKey.has(key)) throw new Error(`two functions map to the access key ${key}`);
      this.byKey.set(key, id);
      this.grants.set(id, grantsOf(def));
    }
  }

  static accessKeyIdOf(functionId: string): string {
    return `${ACCESS_KEY_PREFIX}${functionId.replace(/[^A-Za-z0-9]/g, '')}`;
  }

  /** What the sandbox puts into a function's environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`). */
  credentialsOf(functionId: string): { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string } {
    if (!this.grants.has(functionId)) throw new Error(`no function ${functionId} in the topology`);
    return { AWS_ACCESS_KEY_ID: SandboxIam.accessKeyIdOf(functionId), AWS_SECRET_ACCESS_KEY: 'sandbox' };
  }

  functionOf(accessKeyId: string): string | undefined {
    return this.byKey.get(accessKeyId);
  }

  roleArnOf(functionId: string): string {
    return `arn:aws:sts::${SANDBOX_ACCOUNT}:assumed-role/${functionId}-role/${functionId}`;
  }

  resourceArn(request: AccessRequest): string {
    const { region } = this.deployment;
    if (request.service === 's3') {
      return request.key === undefined
        ? `arn:aws:s3:::${request.bucket}`
        : `arn:aws:s3:::${request.bucket}/${request.key}`;
    }
    if (request.table === undefined) return '*';
    const table = `arn:aws:dynamodb:${region}:${SANDBOX_ACCOUNT}:table/${request.table}`;
    return request.index === undefined ? table : `${table}/index/${request.index}`;
  }

  /** `undefined` when the function's grants allow the request, else the denial AWS would answer. */
  check(functionId: string, request: AccessRequest): Denial | undefined {
    const grants = this.grants.get(functionId) ?? [];
    if (grants.some((g) => this.allows(g, request))) return undefined;
    const action = `${request.service}:${request.action}`;
    const resource = this.resourceArn(request);
    // Wording of IAM's implicit deny (identity-based policies only, same account), as AWS returns it.
    const shown = request.service === 's3' ? `"${resource}"` : resource;
    return {
      action,
      resource,
      message: `User: ${this.roleArnOf(functionId)} is not authorized to perform: ${action} on resource: ${shown} because no identity-based policy allows the ${action} action`,
    };
  }

  private allows(grant: Grant, request: AccessRequest): boolean {
    if (grant.service === 'dynamodb') {
      return (
        request.service === 'dynamodb' &&
        request.table !== undefined &&
        request.table === this.deployment.tables[grant.table] &&
        request.index === grant.index &&
        (grant.actions as readonly string[]).includes(request.action)
      );
    }
    return (
      request.service === 's3' &&
      request.bucket === this.deployment.bucket &&
      request.key?.startsWith(grant.prefix) === true &&
      (grant.actions as readonly string[]).includes(request.action)
    );
  }
}
