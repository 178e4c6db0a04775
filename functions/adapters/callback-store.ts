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
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  type CallbackStore,
  type CommitResult,
  type OrderChange,
  type OrderView,
  type Plan,
  type RefundView,
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
      plan.attach ? this.attachUpdate(plan.entry) : this.putNew(plan.entry),
      ...(plan.extraEntries ?? []).map((entry) => this.putNew(entry)),
      ...(plan.orderChange ? this.orderUpdates(plan.orderChange, plan.entry) : []),
    ];
    const extras = plan.extraEntries?.length ?? 0;
    try {
      if (items.length === 1) {
        // A lone ledger write needs no transaction (half the write units).
        const only = items[0]!;
        if (only.Put) await this.doc.send(new PutCommand(only.Put));
        else await this.doc.send(new UpdateCommand(only.Update!));
      } else {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      }
      return { type: 'committed' };
    } catch (error) {
      return this.explain(error, extras);
    }
  }

  private putNew(entry: LedgerEntry): TransactItem {
    return {
      Put: {
        TableName: this.tables.payments,
        Item: entry,
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /** Late order reference: the one existing entry gets the order id, only while it has none. */
  private attachUpdate(entry: LedgerEntry): TransactItem {
    return {
      Update: {
        TableName: this.tables.payments,
        Key: { pk: entry.pk },
        UpdateExpression: 'SET orderId = :order, classification = :c, #refs = :refs',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(orderId)',
        ExpressionAttributeNames: { '#refs': 'references' },
        ExpressionAttributeValues: {
          ':order': entry.orderId,
          ':c': entry.classification,
          ':refs': entry.references,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  async mergeReferences(key: string, references: Readonly<Record<string, string>>): Promise<void> {
    const names: Record<string, string> = { '#refs': 'references' };
    const values: Record<string, string> = {};
    const sets = Object.entries(references).map(([k, v], i) => {
      names[`#r${i}`] = k;
      values[`:r${i}`] = v;
      // if_not_exists: a reference the entry already holds is never overwritten.
      return `#refs.#r${i} = if_not_exists(#refs.#r${i}, :r${i})`;
    });
    if (sets.length === 0) return;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.payments,
          Key: { pk: key },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      // The answer is `duplicate` either way; a lost merge is retried by the gateway's next delivery.
      if (error instanceof ConditionalCheckFailedException) return;
      throw new TransientStoreError('reference merge failed', { cause: error });
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
        const reserved = change.refundId ? (change.reservedPayMinor ?? change.amountMinor) : 0;
        const items: TransactItem[] = [
          {
            Update: {
              TableName: this.tables.orders,
              Key,
              UpdateExpression: [
                'SET refundedPayMinor = refundedPayMinor + :amount, #status = :next, updatedAt = :now',
                'refundSeq = if_not_exists(refundSeq, :zero) + :one',
                reserved ? 'pendingRefundPayMinor = pendingRefundPayMinor - :reserved' : '',
                statusChanges ? 'statusHistory = list_append(statusHistory, :history)' : '',
              ]
                .filter(Boolean)
                .join(', '),
              // Optimistic: the refunded total and status we decided on, so two refunds cannot overshoot.
              ConditionExpression: [
                'attribute_exists(pk) AND refundedPayMinor = :seen AND #status = :seenStatus',
                change.seenRefundSeq === 0
                  ? '(refundSeq = :seq OR attribute_not_exists(refundSeq))'
                  : 'refundSeq = :seq',
              ].join(' AND '),
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':seq': change.seenRefundSeq,
                ':zero': 0,
                ':one': 1,
                ':amount': change.amountMinor,
                ':next': change.nextStatus,
                ':now': now,
                ':seen': change.seenRefundedPayMinor,
                ':seenStatus': change.seenStatus,
                ...(reserved ? { ':reserved': reserved } : {}),
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
              ConditionExpression: '#status = :from',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':completed': 'completed',
                ':from': change.refundFromStatus ?? 'pending',
                ':now': now,
                ':key': entry.pk,
              },
            },
          });
        }
        return items;
      }
      case 'refund_failure':
        return this.refundFailure(change, entry, history);
      case 'refund_abnormal':
        return [
          {
            Update: {
              TableName: this.tables.orders,
              Key: { pk: change.orderId, sk: refundSk(change.refundId) },
              UpdateExpression: 'SET #status = :abnormal, abnormalAt = :now',
              ConditionExpression: '#status = :pending',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':abnormal': 'abnormal', ':pending': 'pending', ':now': now },
            },
          },
        ];
    }
  }

  /**
   * A failed refund gives back, in one transaction with its ledger entry: the order's refunded total
   * (when it had been applied; status recomputed), and for our refund its reservation, its share of the
   * cumulative base and pay amounts (so the next refund's cumulative rounding stays exact), its
   * refunded quantities, and its refund-buffer charge (the refund leaves the buffer's index).
   */
  private refundFailure(
    change: Extract<OrderChange, { type: 'refund_failure' }>,
    entry: LedgerEntry,
    history: (status: string, reason: string) => { status: string; at: string; reason: string }[],
  ): TransactItem[] {
    const now = entry.receivedAt;
    const sets = ['updatedAt = :now', 'refundSeq = if_not_exists(refundSeq, :zero) + :one'];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': now, ':zero': 0, ':one': 1 };
    const conditions = ['attribute_exists(pk)'];
    const { refund, unapply } = change;
    if (unapply) {
      sets.push('refundedPayMinor = refundedPayMinor - :unapplied');
      values[':unapplied'] = unapply.amountMinor;
      conditions.push('refundedPayMinor = :seen', '#status = :seenStatus');
      names['#status'] = 'status';
      values[':seen'] = unapply.seenRefundedPayMinor;
      values[':seenStatus'] = unapply.seenStatus;
      if (unapply.nextStatus !== unapply.seenStatus) {
        // The one exception to "status only moves forward" (CONTRACT §3 Refund lifecycle).
        sets.push('#status = :next', 'statusHistory = list_append(statusHistory, :history)');
        values[':next'] = unapply.nextStatus;
        values[':history'] = history(unapply.nextStatus, `refund_failed ${entry.pk}`);
      }
    }
    if (refund) {
      sets.push(
        'refundBaseCumulativeMinor = refundBaseCumulativeMinor - :base',
        'refundPayCumulativeMinor = if_not_exists(refundPayCumulativeMinor, :zero) - :pay',
      );
      values[':base'] = refund.baseAmountMinor;
      values[':pay'] = refund.payAmountMinor;
      if (refund.reserved) sets.push('pendingRefundPayMinor = pendingRefundPayMinor - :pay');
      (refund.items ?? []).forEach((item, i) => {
        names['#q'] = 'refundedQuantities';
        names[`#sku${i}`] = item.sku;
        values[`:q${i}`] = item.quantity;
        sets.push(`#q.#sku${i} = #q.#sku${i} - :q${i}`);
      });
    }
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.tables.orders,
          Key: { pk: change.orderId, sk: ORDER_SK },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ];
    if (refund) {
      items.push({
        Update: {
          TableName: this.tables.orders,
          Key: { pk: change.orderId, sk: refundSk(refund.refundId) },
          UpdateExpression: 'SET #status = :failed, failedAt = :now, failedBy = :key REMOVE bufferCurrency',
          ConditionExpression: '#status = :from',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':failed': 'failed',
            ':from': refund.fromStatus,
            ':now': now,
            ':key': entry.pk,
          },
        },
      });
    }
    return items;
  }

  /** Item order: the entry, `extras` extra entries, then the order's updates. */
  private explain(error: unknown, extras: number): CommitResult {
    if (error instanceof ConditionalCheckFailedException) {
      // Only a lone ledger write runs outside a transaction.
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
      const failed = (i: number) => reasons[i]?.Code === 'ConditionalCheckFailed';
      if (failed(0)) {
        return { type: 'entry_exists', existing: unmarshall(reasons[0]!.Item ?? {}) as LedgerEntry };
      }
      const order = reasons[1 + extras];
      if (order?.Code === 'ConditionalCheckFailed' && order.Item) {
        const item = unmarshall(order.Item) as OrderRecord;
        if (item.sk === ORDER_SK) return { type: 'order_changed', order: toView(item) };
      }
      if (order?.Code === 'ConditionalCheckFailed' && !order.Item) {
        return { type: 'order_changed', order: undefined };
      }
      // An extra entry or the refund item moved (a concurrent delivery): decide again from a fresh read.
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

  async getOrder(orderId: string): Promise<{ order: OrderView; refunds: RefundView[] } | undefined> {
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
      const refunds = items
        .filter((i): i is RefundRecord & Record<string, unknown> => String(i.sk).startsWith('refund#'))
        .map((r) => ({
          refundId: r.refundId,
          status: r.status,
          baseAmountMinor: r.baseAmountMinor,
          payAmountMinor: r.payAmountMinor,
          createdAt: r.createdAt,
          ...(r.items ? { items: r.items } : {}),
        }));
      return { order: toView(order), refunds };
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
    refundSeq: order.refundSeq ?? 0,
  };
}
