/**
 * The generic settlement CSV any other gateway can produce:
 * `transaction_id,type,order_id,gross,fee,net,currency,settled_at`, major units, refunds negative,
 * fees positive; `type` charge|refund|fee|adjustment|payout (the last three are no transaction).
 */
import { field, resolveColumns, splitFields } from '../csv.ts';
import { SettlementRowError } from '../errors.ts';
import type { ParsedItem, RowKind, SettlementRow } from '../types.ts';
import { currencyOf, idList, isoUtcOf, minorOf, opt, ownValue } from '../values.ts';
import { checkConservation, type FormatParser, type FormatTrailer, rejected } from './format.ts';

const COLUMNS = {
  transactionId: ['transaction_id'],
  type: ['type'],
  orderId: ['order_id'],
  gross: ['gross'],
  fee: ['fee'],
  net: ['net'],
  currency: ['currency'],
  settledAt: ['settled_at'],
  refundOf: ['refund_of', 'original_transaction_id'],
} as const;
type Key = keyof typeof COLUMNS;
const REQUIRED: Key[] = ['transactionId', 'type', 'orderId', 'gross', 'fee', 'net', 'currency', 'settledAt'];

const KINDS: Record<string, RowKind> = {
  charge: 'payment',
  refund: 'refund',
  fee: 'ignored',
  adjustment: 'ignored',
  payout: 'ignored',
};

export class GenericParser implements FormatParser {
  readonly format = 'generic' as const;
  readonly dayOffsetMinutes = 0;
  private cols: Record<Key, number> | undefined;

  record(text: string, line: number): ParsedItem | undefined {
    const fields = splitFields(text);
    if (!this.cols) {
      this.cols = resolveColumns(fields, COLUMNS, REQUIRED, 'generic settlement file', line);
      return undefined;
    }
    const transactionId = field(fields, this.cols.transactionId);
    try {
      return this.row(fields, this.cols, line, transactionId);
    } catch (err) {
      return rejected(line, err, opt(transactionId));
    }
  }

  private row(fields: string[], c: Record<Key, number>, line: number, transactionId: string): SettlementRow {
    const type = field(fields, c.type).toLowerCase();
    const kind = ownValue(KINDS, type);
    if (!kind)
      throw new SettlementRowError(
        `type: ${JSON.stringify(type)} is none of charge|refund|fee|adjustment|payout`,
      );
    const currency = currencyOf(field(fields, c.currency), 'currency');
    const grossMinor = minorOf(field(fields, c.gross), currency, 'gross');
    const feeMinor = minorOf(field(fields, c.fee), currency, 'fee', { emptyAsZero: true });
    const netMinor = minorOf(field(fields, c.net), currency, 'net');
    checkConservation(grossMinor, feeMinor, netMinor);
    const settledAt = isoUtcOf(field(fields, c.settledAt), 0, 'settled_at');
    const orderId = opt(field(fields, c.orderId));
    const refundOf = kind === 'refund' ? opt(field(fields, c.refundOf)) : undefined;
    return {
      line,
      kind,
      references: idList(transactionId, refundOf, orderId),
      transactionId: opt(transactionId),
      orderId,
      refundOf,
      currency,
      grossMinor,
      feeMinor,
      netMinor,
      settledAt,
      sourceType: type,
    };
  }

  finish(): FormatTrailer {
    return { reasons: [], notes: [] };
  }
}
