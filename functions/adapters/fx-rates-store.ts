/**
 * The fxRates table: pk `pair`, sk "current" (the last good rate) and "history#{fetchedAt}" (one record per
 * fetch and pair, accepted or not, so a rejected answer can be audited later).
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { FxHistoryRecord, FxRateStore, StoredRate } from '../core/fx.ts';

const CURRENT = 'current';

export class DynamoFxRateStore implements FxRateStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getCurrent(pair: string): Promise<StoredRate | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { pair, sk: CURRENT }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      pair,
      rate: String(Item.rate),
      asOf: String(Item.asOf),
      source: String(Item.source),
      updatedAt: String(Item.updatedAt),
      ...(typeof Item.dayFirstDay === 'string' && typeof Item.dayFirstRate === 'string'
        ? { dayFirst: { day: Item.dayFirstDay, rate: Item.dayFirstRate } }
        : {}),
    };
  }

  async putCurrent(rate: StoredRate, expected?: { rate: string; asOf: string }): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: currentItem(rate),
          ...(expected
            ? {
                ConditionExpression: '#rate = :expectedRate AND asOf = :expectedAsOf',
                ExpressionAttributeNames: { '#rate': 'rate' },
                ExpressionAttributeValues: { ':expectedRate': expected.rate, ':expectedAsOf': expected.asOf },
              }
            : {
                // ISO 8601 UTC strings compare in time order.
                ConditionExpression: 'attribute_not_exists(pair) OR asOf <= :asOf',
                ExpressionAttributeValues: { ':asOf': rate.asOf },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async putAll(rates: readonly StoredRate[]): Promise<boolean> {
    if (rates.length === 0) return true;
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: rates.map((rate) => ({
            Put: {
              TableName: this.tableName,
              Item: currentItem(rate),
              ConditionExpression: 'attribute_not_exists(pair) OR asOf <= :asOf',
              ExpressionAttributeValues: { ':asOf': rate.asOf },
            },
          })),
        }),
      );
      return true;
    } catch (error) {
      // Cancelled for a condition: a newer rate is stored for some pair. Anything else (conflict, throttling)
      // is transient and thrown, so the schedule's retry takes it.
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed') &&
        error.CancellationReasons.every((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'None')
      ) {
        return false;
      }
      throw error;
    }
  }

  async putHistory(records: readonly FxHistoryRecord[]): Promise<void> {
    const only = records.length === 1 ? records[0] : undefined;
    if (only) {
      // The orders function (live check) may PutItem but not BatchWriteItem on this table (lib/topology.ts).
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: historyItem(only) }));
      return;
    }
    for (let i = 0; i < records.length; i += 25) {
      let pending = records.slice(i, i + 25).map((r) => ({
        PutRequest: { Item: historyItem(r) },
      }));
      // BatchWrite may leave items unprocessed under throttling; retry those a few times with backoff.
      for (let attempt = 0; pending.length && attempt < 5; attempt++) {
        if (attempt) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
        const out = await this.doc.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
        );
        pending = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
      }
      if (pending.length) throw new Error(`${pending.length} FX history records left unprocessed`);
    }
  }
}

function currentItem(rate: StoredRate): Record<string, unknown> {
  return {
    pair: rate.pair,
    sk: CURRENT,
    rate: rate.rate,
    asOf: rate.asOf,
    source: rate.source,
    updatedAt: rate.updatedAt,
    ...(rate.dayFirst ? { dayFirstDay: rate.dayFirst.day, dayFirstRate: rate.dayFirst.rate } : {}),
  };
}

function historyItem(record: FxHistoryRecord): Record<string, unknown> {
  return { ...record, sk: `history#${record.fetchedAt}` };
}
