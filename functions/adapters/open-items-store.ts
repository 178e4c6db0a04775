/**
 * Open items on DynamoDB (table `openItems`): one record per item (pk `item#{id}`) and one per alias
 * (pk `alias#{gateway}#{ref}#{kind}`, the item id in `itemId`) so a row is found again under any
 * reference it carries. Lists come from the `byState` and `byGatewayState` GSIs (sorted by first
 * sighting), filters on top; never a Scan. Pages are opaque `nextToken`s wrapping the GSI's key.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { OpenItem } from '../core/open-items/model.ts';
import type { OpenItemsQuery, OpenItemsReports, OpenItemsStore } from '../core/open-items/use-cases.ts';
import type { ObjectStore } from './s3-objects.ts';

const ITEM = 'item#';
const ALIAS = 'alias#';
const BATCH_GET = 100;
const BATCH_WRITE = 25;

/** A `nextToken` that is not one of ours. */
export class BadCursorError extends Error {
  constructor() {
    super('nextToken is not one this API gave out');
    this.name = 'BadCursorError';
  }
}

type Record_ = OpenItem & { pk: string; gatewayState: string };

function toRecord(item: OpenItem): Record_ {
  return { ...item, pk: `${ITEM}${item.id}`, gatewayState: `${item.gateway}#${item.state}` };
}

function fromRecord(raw: Record<string, unknown>): OpenItem {
  const { pk: _pk, gatewayState: _gs, ...item } = raw as unknown as Record_;
  return item;
}

const CURSOR_KEYS = new Set(['pk', 'state', 'gatewayState', 'firstSeenAt']);

export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(token: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new BadCursorError();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadCursorError();
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (!entries.length || entries.some(([k, v]) => !CURSOR_KEYS.has(k) || typeof v !== 'string')) {
    throw new BadCursorError();
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

async function backoff(attempt: number, what: string, left: number): Promise<void> {
  // Throttled: DynamoDB hands back what it did not process; back off and send it again.
  if (attempt >= 8) throw new Error(`${what} left ${left} requests unprocessed`);
  await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
}

export class DynamoOpenItemsStore implements OpenItemsStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(id: string): Promise<OpenItem | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: `${ITEM}${id}` }, ConsistentRead: true }),
    );
    return res.Item ? fromRecord(res.Item) : undefined;
  }

  private async batchGet(pks: readonly string[]): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    const unique = [...new Set(pks)];
    for (let i = 0; i < unique.length; i += BATCH_GET) {
      let keys: Record<string, unknown>[] = unique.slice(i, i + BATCH_GET).map((pk) => ({ pk }));
      for (let attempt = 0; keys.length; attempt++) {
        const res = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
        );
        out.push(...(res.Responses?.[this.table] ?? []));
        keys = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
        if (keys.length) await backoff(attempt, 'BatchGetItem', keys.length);
      }
    }
    return out;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, OpenItem>> {
    const items = await this.batchGet(ids.map((id) => `${ITEM}${id}`));
    return new Map(items.map((raw) => [String(raw.pk).slice(ITEM.length), fromRecord(raw)]));
  }

  async findAliases(aliases: readonly string[]): Promise<Map<string, string>> {
    const found = await this.batchGet(aliases.map((a) => `${ALIAS}${a}`));
    return new Map(found.map((raw) => [String(raw.pk).slice(ALIAS.length), String(raw.itemId)]));
  }

  async putAliases(aliases: ReadonlyMap<string, string>): Promise<void> {
    const puts = [...aliases].map(([alias, itemId]) => ({
      PutRequest: { Item: { pk: `${ALIAS}${alias}`, itemId } },
    }));
    for (let i = 0; i < puts.length; i += BATCH_WRITE) {
      let batch: unknown[] = puts.slice(i, i + BATCH_WRITE);
      for (let attempt = 0; batch.length; attempt++) {
        const res = await this.doc.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: batch as never } }),
        );
        batch = res.UnprocessedItems?.[this.table] ?? [];
        if (batch.length) await backoff(attempt, 'BatchWriteItem', batch.length);
      }
    }
  }

  private putInput(item: OpenItem, expected: number | undefined) {
    return {
      TableName: this.table,
      Item: toRecord(item),
      ...(expected === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: '#v = :v',
            ExpressionAttributeNames: { '#v': 'version' },
            ExpressionAttributeValues: { ':v': expected },
          }),
    };
  }

  async put(item: OpenItem, expected: number | undefined): Promise<boolean> {
    try {
      await this.doc.send(new PutCommand(this.putInput(item, expected)));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * One TransactWriteItems (twice the write units of plain puts, one request instead of up to 100).
   * Cancelled (a condition, or a concurrent transaction on one of the items): nothing was written.
   */
  async putAll(writes: readonly { item: OpenItem; expected: number | undefined }[]): Promise<boolean> {
    if (!writes.length) return true;
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: writes.map(({ item, expected }) => ({ Put: this.putInput(item, expected) })),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false;
      throw error;
    }
  }

  private queryInput(query: OpenItemsQuery): QueryCommandInput {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    if (query.gateway) {
      names['#p'] = 'gatewayState';
      values[':p'] = `${query.gateway}#${query.state}`;
    } else {
      names['#p'] = 'state';
      values[':p'] = query.state;
    }
    let key = '#p = :p';
    if (query.firstSeenBefore) {
      key += ' AND #first < :before';
      names['#first'] = 'firstSeenAt';
      values[':before'] = query.firstSeenBefore;
    }
    const filter: string[] = [];
    if (query.category) {
      names['#c'] = 'category';
      values[':c'] = query.category;
      filter.push('#c = :c');
    }
    return {
      TableName: this.table,
      IndexName: query.gateway ? 'byGatewayState' : 'byState',
      KeyConditionExpression: key,
      ...(filter.length ? { FilterExpression: filter.join(' AND ') } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: true,
    };
  }

  async page(
    query: OpenItemsQuery,
    limit: number,
    cursor?: string,
  ): Promise<{ items: OpenItem[]; cursor?: string }> {
    const start = cursor ? decodeCursor(cursor) : undefined;
    const items: OpenItem[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined = start;
    // A filter can leave a DynamoDB page short: read on until the page is full or the index ends.
    do {
      const res = await this.doc.send(
        new QueryCommand({ ...this.queryInput(query), Limit: limit - items.length, ExclusiveStartKey }),
      );
      items.push(...(res.Items ?? []).map(fromRecord));
      ExclusiveStartKey = res.LastEvaluatedKey;
    } while (ExclusiveStartKey && items.length < limit);
    return { items, ...(ExclusiveStartKey ? { cursor: encodeCursor(ExclusiveStartKey) } : {}) };
  }

  async *all(query: OpenItemsQuery): AsyncIterable<OpenItem> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(new QueryCommand({ ...this.queryInput(query), ExclusiveStartKey }));
      for (const raw of res.Items ?? []) yield fromRecord(raw);
      ExclusiveStartKey = res.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
}

/** `reports/open-items.csv` and `reports/open-items.html` in the settlements bucket. */
export class S3OpenItemsReports implements OpenItemsReports {
  constructor(
    private readonly s3: ObjectStore,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  async publish(files: { csv: string; html: string }): Promise<void> {
    const put = (name: string, body: string, contentType: string) =>
      this.s3.putObject({
        Bucket: this.bucket,
        Key: `${this.prefix}${name}`,
        Body: body,
        ContentType: contentType,
      });
    await Promise.all([
      put('open-items.csv', files.csv, 'text/csv; charset=utf-8'),
      put('open-items.html', files.html, 'text/html; charset=utf-8'),
    ]);
  }
}
