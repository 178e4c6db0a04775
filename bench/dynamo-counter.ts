/**
 * A DynamoDB client that counts requests and the capacity DynamoDB reports, for the benches.
 *
 * Write units are kept twice: as DynamoDB Local reports them, and as DynamoDB bills them. The two
 * differ in one place. Inside a `TransactWriteItems`, DynamoDB doubles the table arm of each item (the
 * prepare and the commit write) but not its index arms: a transaction's changes reach the global
 * secondary indexes after it completes ("Amazon DynamoDB Transactions: How it works", developer guide),
 * and an index write costs what the same write costs outside a transaction (captured against DynamoDB
 * itself by the Dynoxide emulator: its docs/compatibility-summary.md, pull request #188). DynamoDB Local
 * doubles the index arms as well. `test/integration/dynamodb-local.test.ts` pins that divergence, so
 * the correction below stops being applied silently if DynamoDB Local ever changes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Write units per table and per index, named as the bench prints them (`orders`, `payments/byOrder`). */
export type WriteUnitSplit = Record<string, number>;

/** `orders 2, payments/byOrder 1`: a split or a count by operation, as the benches print them. */
export const formatCounts = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** What DynamoDB Local charges an index arm inside a transaction, relative to DynamoDB. */
export const DYNAMODB_LOCAL_TRANSACT_INDEX_FACTOR = 2;

interface Units {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

interface Capacity extends Units {
  TableName?: string;
  Table?: Units;
  GlobalSecondaryIndexes?: Record<string, Units>;
}

/** Write units of one capacity figure: DynamoDB Local reports `CapacityUnits` (reads and writes in one). */
const writeOf = (c: Units) =>
  c.WriteCapacityUnits ?? Math.max(0, (c.CapacityUnits ?? 0) - (c.ReadCapacityUnits ?? 0));

export interface DynamoCounters {
  requests: number;
  /** Write units as DynamoDB bills them (see the module comment). */
  writeUnits: number;
  /** Write units as DynamoDB Local reports them. */
  localWriteUnits: number;
  readUnits: number;
  /** `writeUnits` by table and index. */
  split: WriteUnitSplit;
  /** `localWriteUnits` by table and index. */
  localSplit: WriteUnitSplit;
  /** Requests by operation and table (`BatchGetItem payments`). */
  byOperation: Record<string, number>;
}

/**
 * Counts requests and asks for consumed capacity per table and index (`INDEXES`: the same total as
 * `TOTAL`, split). Reads issued only to check (GetItem, Query) report read units, so they add nothing
 * to the write units.
 */
export function countingClient(endpoint: string, tableLabel: (name: string) => string = (n) => n) {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  const counters: DynamoCounters = {
    requests: 0,
    writeUnits: 0,
    localWriteUnits: 0,
    readUnits: 0,
    split: {},
    localSplit: {},
    byOperation: {},
  };
  const add = (split: WriteUnitSplit, label: string, units: number) => {
    if (units > 0) split[label] = (split[label] ?? 0) + units;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counters.requests++;
      const command = context.commandName?.replace(/Command$/, '') ?? '';
      // DynamoDB Local reports `CapacityUnits` alone; the operation says whether they were read or written.
      const reads = /^(Get|BatchGet|Query|Scan|TransactGet)/.test(command);
      const transaction = command === 'TransactWriteItems';
      const input = args.input as Record<string, unknown>;
      const transactTables = ((input.TransactItems ?? []) as Record<string, { TableName?: string }>[]).map(
        (item) => Object.values(item)[0]?.TableName ?? '?',
      );
      const table =
        (input.TableName as string | undefined) ??
        [...new Set([...Object.keys((input.RequestItems ?? {}) as object), ...transactTables])]
          .map(tableLabel)
          .join('+');
      const op = `${command} ${input.TableName ? tableLabel(table) : table}`.trim();
      counters.byOperation[op] = (counters.byOperation[op] ?? 0) + 1;
      input.ReturnConsumedCapacity ??= 'INDEXES';
      const result = await next(args);
      const out = result.output as { ConsumedCapacity?: Capacity | Capacity[] };
      const consumed = Array.isArray(out.ConsumedCapacity) ? out.ConsumedCapacity : [out.ConsumedCapacity];
      for (const c of consumed) {
        if (!c) continue;
        if (reads) {
          counters.readUnits += c.ReadCapacityUnits ?? c.CapacityUnits ?? 0;
          continue;
        }
        const label = tableLabel(c.TableName ?? '?');
        const indexes = Object.entries(c.GlobalSecondaryIndexes ?? {});
        const tableUnits = c.Table
          ? writeOf(c.Table)
          : indexes.reduce((rest, [, gsi]) => rest - writeOf(gsi), writeOf(c));
        let localTotal = tableUnits;
        let billedTotal = tableUnits;
        add(counters.localSplit, label, tableUnits);
        add(counters.split, label, tableUnits);
        for (const [index, gsi] of indexes) {
          const local = writeOf(gsi);
          const billed = transaction ? local / DYNAMODB_LOCAL_TRANSACT_INDEX_FACTOR : local;
          localTotal += local;
          billedTotal += billed;
          add(counters.localSplit, `${label}/${index}`, local);
          add(counters.split, `${label}/${index}`, billed);
        }
        counters.localWriteUnits += localTotal;
        counters.writeUnits += billedTotal;
      }
      return result;
    },
    { step: 'initialize', name: 'benchCounter' },
  );
  return { client, counters };
}
