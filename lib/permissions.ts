/**
 * A function's DynamoDB and S3 permissions, read from its topology entry: the one list that CDK turns
 * into IAM statements (lib/constructs/payments-function.ts) and the sandbox enforces on every call
 * (sandbox/iam.ts). Plain data, no CDK or SDK imports.
 */
import {
  type DynamoAction,
  type FunctionDef,
  type S3Action,
  type TableDef,
  type TableName,
  tables,
} from './topology.ts';

/** Allowed actions on one resource: a table, one of its indexes, or the bucket's keys under a prefix. */
export type Grant =
  | {
      readonly service: 'dynamodb';
      readonly table: TableName;
      /** Set for an index grant (its only action is Query); unset for the table itself. */
      readonly index?: string;
      readonly actions: readonly DynamoAction[];
    }
  | { readonly service: 's3'; readonly prefix: string; readonly actions: readonly S3Action[] };

export function grantsOf(def: FunctionDef): Grant[] {
  const out: Grant[] = [];
  for (const [table, actions] of Object.entries(def.tables) as [TableName, readonly DynamoAction[]][]) {
    if (actions.length > 0) out.push({ service: 'dynamodb', table, actions });
  }
  for (const [table, indexes] of Object.entries(def.indexes ?? {}) as [TableName, readonly string[]][]) {
    const def: TableDef = tables[table];
    const known = new Set<string>((def.gsis ?? []).map((g) => g.indexName));
    for (const index of indexes) {
      if (!known.has(index)) throw new Error(`table ${table} has no index ${index}`);
      out.push({ service: 'dynamodb', table, index, actions: ['Query'] });
    }
  }
  for (const grant of def.bucket ?? []) {
    if (grant.actions.length > 0) out.push({ service: 's3', prefix: grant.prefix, actions: grant.actions });
  }
  return out;
}
