/**
 * The ledger as reconciliation reads it, on DynamoDB: BatchGetItem by primary key and a Query of the
 * `byGatewayDay` GSI per UTC day, streaming pages. Never a Scan.
 */
import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerEntry } from '../core/ledger.ts';
import { gatewayDaysBetween, type LedgerLookup } from '../core/settlement/match.ts';

export class DynamoLedgerLookup implements LedgerLookup {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async getByKeys(keys: readonly string[]): Promise<readonly LedgerEntry[]> {
    const out: LedgerEntry[] = [];
    let pending: Record<string, unknown>[] = [...new Set(keys)].map((pk) => ({ pk }));
    for (let attempt = 0; pending.length; attempt++) {
      const res = await this.doc.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
      );
      out.push(...((res.Responses?.[this.table] ?? []) as LedgerEntry[]));
      pending = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      if (pending.length) {
        // Throttled: DynamoDB hands back what it did not read; back off and ask again.
        if (attempt >= 8) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed`);
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
    return out;
  }

  async *listReceived(gateway: string, fromIso: string, toIso: string): AsyncIterable<LedgerEntry> {
    for (const day of gatewayDaysBetween(gateway, fromIso, toIso)) {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: 'byGatewayDay',
            KeyConditionExpression: 'gatewayDay = :d AND receivedAt BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':d': day, ':from': fromIso, ':to': toIso },
            ExclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) yield item as LedgerEntry;
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }
  }
}
