/**
 * The orders table (pk orderId; sk "order" and "refund#{refundId}") and the payments table's byOrder GSI,
 * behind the core's OrdersRepository and OrderPaymentsReader ports. SDK exceptions become domain outcomes here.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Currency } from '../core/money.ts';
import { ORDER_SK, type OrderRecord, type RefundRecord } from '../core/order-model.ts';
import type {
  BufferEntry,
  OrderPayment,
  OrderPaymentsReader,
  OrdersRepository,
  RefundOrderExpectation,
  RefundOrderUpdate,
} from '../core/orders.ts';

const REFUND_PREFIX = 'refund#';
const BUFFER_INDEX = 'byBufferCurrency';
const PAYMENTS_BY_ORDER = 'byOrder';

export class DynamoOrdersRepository implements OrdersRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putOrder(order: OrderRecord): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: order,
        // Ids carry 80 random bits: a collision would be a bug, and overwriting an order would lose money.
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getOrder(orderId: string): Promise<OrderRecord | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: orderId, sk: ORDER_SK }, ConsistentRead: true }),
    );
    return Item as OrderRecord | undefined;
  }

  async listRefunds(orderId: string): Promise<RefundRecord[]> {
    const refunds: RefundRecord[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': orderId, ':prefix': REFUND_PREFIX },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) refunds.push(...((page.Items ?? []) as RefundRecord[]));
    return refunds;
  }

  async createRefund(
    refund: RefundRecord,
    update: RefundOrderUpdate,
    expected: RefundOrderExpectation,
  ): Promise<'created' | 'order_changed'> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: refund,
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: refund.orderId, sk: ORDER_SK },
                UpdateExpression:
                  'SET refundBaseCumulativeMinor = :cum, refundPayCumulativeMinor = :payCum, pendingRefundPayMinor = :pending, refundedQuantities = :qty, updatedAt = :at',
                // The totals read are still the totals: no refund was created or completed since we decided.
                ConditionExpression: [
                  '#status IN (:paid, :partially)',
                  unchanged('refundBaseCumulativeMinor', ':prevCum', expected.refundBaseCumulativeMinor),
                  unchanged('pendingRefundPayMinor', ':prevPending', expected.pendingRefundPayMinor),
                  unchanged('refundedPayMinor', ':prevRefunded', expected.refundedPayMinor),
                ].join(' AND '),
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: {
                  ':cum': update.refundBaseCumulativeMinor,
                  ':payCum': update.refundPayCumulativeMinor,
                  ':pending': update.pendingRefundPayMinor,
                  ':qty': update.refundedQuantities,
                  ':at': update.updatedAt,
                  ':paid': 'paid',
                  ':partially': 'partially_refunded',
                  ':prevCum': expected.refundBaseCumulativeMinor,
                  ':prevPending': expected.pendingRefundPayMinor,
                  ':prevRefunded': expected.refundedPayMinor,
                },
              },
            },
          ],
        }),
      );
      return 'created';
    } catch (error) {
      // ConditionalCheckFailed: the order changed since we read it. TransactionConflict: another transaction
      // (a refund completion, say) is touching it right now. Both mean: read again and decide again.
      if (
        error instanceof TransactionCanceledException &&
        (error.CancellationReasons ?? []).some(
          (r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict',
        )
      ) {
        return 'order_changed';
      }
      throw error;
    }
  }

  async *bufferEntries(currency: Currency): AsyncIterable<BufferEntry> {
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        IndexName: BUFFER_INDEX,
        KeyConditionExpression: 'bufferCurrency = :c',
        ExpressionAttributeValues: { ':c': currency },
        ProjectionExpression: 'pk, sk, baseAmountMinor, fxDifferenceMinor',
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const orderId = String(item.pk);
        const sk = String(item.sk);
        if (sk === ORDER_SK)
          yield { kind: 'order', orderId, baseAmountMinor: Number(item.baseAmountMinor ?? 0) };
        else if (sk.startsWith(REFUND_PREFIX)) {
          yield {
            kind: 'refund',
            orderId,
            refundSk: sk,
            fxDifferenceMinor: Number(item.fxDifferenceMinor ?? 0),
          };
        }
      }
    }
  }
}

/** `attr = :value`; a missing attribute (an order written before the field existed) counts as 0. */
function unchanged(attribute: string, placeholder: string, value: number): string {
  return value === 0
    ? `(${attribute} = ${placeholder} OR attribute_not_exists(${attribute}))`
    : `${attribute} = ${placeholder}`;
}

export class DynamoOrderPaymentsReader implements OrderPaymentsReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async listPayments(orderId: string): Promise<OrderPayment[]> {
    const payments: OrderPayment[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        IndexName: PAYMENTS_BY_ORDER,
        KeyConditionExpression: 'orderId = :o',
        ExpressionAttributeValues: { ':o': orderId },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        payments.push({
          gateway: String(item.gateway),
          transactionId: String(item.transactionId),
          kind: String(item.kind),
          amountMinor: Number(item.amountMinor),
          currency: String(item.currency),
          classification: String(item.classification),
          receivedAt: String(item.receivedAt),
        });
      }
    }
    return payments;
  }
}
