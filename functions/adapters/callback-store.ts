/**
 * DynamoDB implementation of the callback store. A decision is ONE TransactWriteItems: the ledger entry
 * (condition: its key does not exist — the permanent unique index) plus the order update (condition: the
 * state the decision assumed). Cancellation reasons become domain results; conflicts and throttling
 * become TransientStoreError (500 retry_later, nothing half-written).
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  type CallbackStore,
  type CommitResult,
  type OrderChange,
  type OrderView,
  type PendingRefundView,
  type Plan,
  TransientStoreError,
} from '../core/callbacks.ts';
import type { LedgerEntry } from '../core/ledger.ts';
import { ORDER_SK, type OrderRecord, type RefundRecord, refundSk } from '../core/order-model.ts';
import { createDocumentClient } from './aws-clients.ts';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface CallbackStoreTables {
  readonly payments: string;
  readonly orders: string;
}

export class DynamoCallbackStore implements CallbackStore {
  private readonly doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tables: CallbackStoreTables,
    doc?: DynamoDBDocumentClient,
  ) {
    this.doc = doc ?? createDocumentClient(client);
  }

  async commit(plan: Plan): Promise<CommitResult> {
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tables.payments,
          Item: plan.entry,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      ...(plan.orderChange ? this.orderUpdates(plan.orderChange, plan.entry) : []),
    ];
    try {
      if (items.length === 1) {
        // A lone ledger write needs no transaction (half the write units).
        await this.doc.send(
          new PutCommand({ ...items[0]!.Put!, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        );
      } else {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      }
      return { type: 'committed' };
    } catch (error) {
      return this.explain(error);
    }
  }

  private orderUpdates(change: OrderChange, entry: LedgerEntry): TransactItem[] {
    const Key = { pk: change.orderId, sk: ORDER_SK };
    const now = entry.receivedAt;
    const history = (status: string, reason: string) => [{ status, at: now, reason }];
    switch (change.type) {
      case 'pay':
        return [
          {
            Update: {
              TableName: this.tables.orders,
              Key,
              UpdateExpression:
                'SET #status = :paid, paidBy = :key, paidAt = :now, updatedAt = :now, bufferCurrency = baseCurrency, statusHistory = list_append(statusHistory, :history)',
              // The state machine and the locked price, checked in the same transaction as the ledger entry.
              ConditionExpression:
                'attribute_exists(pk) AND #status = :pending AND payAmountMinor = :amount AND payCurrency = :currency',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':paid': 'paid',
                ':pending': 'pending_payment',
                ':key': entry.pk,
                ':now': now,
                ':amount': change.amountMinor,
                ':currency': change.currency,
                ':history': history('paid', entry.pk),
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ];
      case 'review':
        return [
          {
            Update: {
              TableName: this.tables.orders,
              Key,
              UpdateExpression:
                'SET #status = :review, updatedAt = :now, statusHistory = list_append(statusHistory, :history)',
              ConditionExpression: 'attribute_exists(pk) AND #status = :pending',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':review': 'payment_review',
                ':pending': 'pending_payment',
                ':now': now,
                ':history': history('payment_review', `amount_mismatch ${entry.pk}`),
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ];
      case 'flag':
        return [
          {
            Update: {
              TableName: this.tables.orders,
              Key,
              UpdateExpression: 'SET flags = list_append(flags, :flags), updatedAt = :now',
              ConditionExpression: 'attribute_exists(pk) AND NOT contains(flags, :flag)',
              ExpressionAttributeValues: { ':flags': [change.flag], ':flag': change.flag, ':now': now },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ];
      case 'refund': {
        const statusChanges = change.nextStatus !== change.seenStatus;
        const items: TransactItem[] = [
          {
            Update: {
              TableName: this.tables.orders,
              Key,
              UpdateExpression: [
                'SET refundedPayMinor = refundedPayMinor + :amount, #status = :next, updatedAt = :now',
                change.refundId ? 'pendingRefundPayMinor = pendingRefundPayMinor - :amount' : '',
                statusChanges ? 'statusHistory = list_append(statusHistory, :history)' : '',
              ]
                .filter(Boolean)
                .join(', '),
              // Optimistic: the refunded total and status we decided on, so two refunds cannot overshoot.
              ConditionExpression:
                'attribute_exists(pk) AND refundedPayMinor = :seen AND #status = :seenStatus',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':amount': change.amountMinor,
                ':next': change.nextStatus,
                ':now': now,
                ':seen': change.seenRefundedPayMinor,
                ':seenStatus': change.seenStatus,
                ...(statusChanges ? { ':history': history(change.nextStatus, entry.pk) } : {}),
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ];
        if (change.refundId) {
          items.push({
            Update: {
              TableName: this.tables.orders,
              Key: { pk: change.orderId, sk: refundSk(change.refundId) },
              UpdateExpression: 'SET #status = :completed, completedAt = :now, completedBy = :key',
              ConditionExpression: '#status = :pending',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':completed': 'completed',
                ':pending': 'pending',
                ':now': now,
                ':key': entry.pk,
              },
            },
          });
        }
        return items;
      }
    }
  }

  private explain(error: unknown): CommitResult {
    if (error instanceof ConditionalCheckFailedException) {
      // Only the lone ledger Put runs outside a transaction.
      const item = error.Item ? (unmarshall(error.Item) as LedgerEntry) : undefined;
      if (!item) throw new TransientStoreError('ledger entry exists but was not returned', { cause: error });
      return { type: 'entry_exists', existing: item };
    }
    if (error instanceof TransactionCanceledException) {
      const reasons = error.CancellationReasons ?? [];
      if (reasons.some((r) => r.Code && r.Code !== 'None' && r.Code !== 'ConditionalCheckFailed')) {
        // TransactionConflict, ThrottlingError, ProvisionedThroughputExceeded…: retry later, nothing written.
        throw new TransientStoreError(
          `transaction cancelled: ${reasons.map((r) => r.Code ?? 'None').join(',')}`,
          { cause: error },
        );
      }
      const [ledger, order] = reasons;
      if (ledger?.Code === 'ConditionalCheckFailed') {
        return { type: 'entry_exists', existing: unmarshall(ledger.Item ?? {}) as LedgerEntry };
      }
      if (order?.Code === 'ConditionalCheckFailed') {
        return {
          type: 'order_changed',
          order: order.Item ? toView(unmarshall(order.Item) as OrderRecord) : undefined,
        };
      }
      // The refund item moved (completed by a concurrent delivery): decide again from a fresh read.
      return { type: 'order_changed', order: undefined };
    }
    throw new TransientStoreError('ledger write failed', { cause: error });
  }

  async putQuarantine(entry: LedgerEntry): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tables.payments,
          Item: entry,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw new TransientStoreError('quarantine write failed', { cause: error });
    }
  }

  async getEntry(key: string): Promise<LedgerEntry | undefined> {
    try {
      const { Item } = await this.doc.send(
        new GetCommand({ TableName: this.tables.payments, Key: { pk: key }, ConsistentRead: true }),
      );
      return Item as LedgerEntry | undefined;
    } catch (error) {
      throw new TransientStoreError('ledger read failed', { cause: error });
    }
  }

  async getOrder(
    orderId: string,
  ): Promise<{ order: OrderView; pendingRefunds: PendingRefundView[] } | undefined> {
    try {
      // One query returns the order and its refunds (same partition).
      const items: Record<string, unknown>[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.tables.orders,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': orderId },
            ConsistentRead: true,
            ExclusiveStartKey,
          }),
        );
        items.push(...(page.Items ?? []));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      const order = items.find((i) => i.sk === ORDER_SK) as OrderRecord | undefined;
      if (!order) return undefined;
      const pendingRefunds = items
        .filter((i): i is RefundRecord & Record<string, unknown> => String(i.sk).startsWith('refund#'))
        .filter((r) => r.status === 'pending')
        .map((r) => ({ refundId: r.refundId, payAmountMinor: r.payAmountMinor, createdAt: r.createdAt }));
      return { order: toView(order), pendingRefunds };
    } catch (error) {
      throw new TransientStoreError('order read failed', { cause: error });
    }
  }

  async listEntriesOfOrder(orderId: string): Promise<LedgerEntry[]> {
    try {
      const out: LedgerEntry[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.tables.payments,
            IndexName: 'byOrder',
            KeyConditionExpression: 'orderId = :o',
            ExpressionAttributeValues: { ':o': orderId },
            ExclusiveStartKey,
          }),
        );
        out.push(...((page.Items ?? []) as LedgerEntry[]));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      return out;
    } catch (error) {
      throw new TransientStoreError('ledger query failed', { cause: error });
    }
  }
}

function toView(order: OrderRecord): OrderView {
  return {
    orderId: order.orderId,
    status: order.status,
    payAmountMinor: order.payAmountMinor,
    payCurrency: order.payCurrency,
    flags: order.flags ?? [],
    ...(order.paidBy ? { paidBy: order.paidBy } : {}),
    refundedPayMinor: order.refundedPayMinor ?? 0,
    pendingRefundPayMinor: order.pendingRefundPayMinor ?? 0,
  };
}
