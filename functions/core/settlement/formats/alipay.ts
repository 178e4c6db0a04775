/**
 * Alipay open-platform trade bill, 业务明细 (`alipay.data.dataservice.bill.downloadurl.query`, bill type
 * `trade`): `#` comment lines, a header, one row per trade or refund, then `#` summary lines
 * (`#交易合计：3笔，商家实收：￥300.00元` / `#退款合计：…`) that are the file's control totals.
 * Times are China time (UTC+8). GBK or UTF-8 (decoded before this parser).
 *
 * Amount convention (written down because Alipay documents it loosely): gross is 商家实收 (what the
 * merchant received, the figure the summary lines total), signed by 业务类型: 交易 positive, 退款
 * negative; fee is 服务费, positive for a payment, negative (returned) for a refund; net = gross − fee.
 */
import { field, normaliseHeader, resolveColumns, splitFields } from '../csv.ts';
import { SettlementRowError } from '../errors.ts';
import type { ParsedItem, RowKind, SettlementRow } from '../types.ts';
import {
  currencyOf,
  formatScaled,
  idList,
  isoOf,
  minorOf,
  opt,
  ownValue,
  parseInstant,
  scaledOf,
} from '../values.ts';
import { type FormatParser, type FormatTrailer, rejected } from './format.ts';

const COLUMNS = {
  tradeNo: ['支付宝交易号'],
  outTradeNo: ['商户订单号'],
  businessType: ['业务类型'],
  createdAt: ['创建时间'],
  completedAt: ['完成时间'],
  orderAmount: ['订单金额（元）', '订单金额'],
  received: ['商家实收（元）', '商家实收'],
  fee: ['服务费（元）', '服务费'],
  outBizNo: ['退款批次号/请求号', '退款批次号'],
  currency: ['币种'],
} as const;
type Key = keyof typeof COLUMNS;
const REQUIRED: Key[] = [
  'tradeNo',
  'outTradeNo',
  'businessType',
  'createdAt',
  'completedAt',
  'orderAmount',
  'received',
  'fee',
  'outBizNo',
];

const KINDS: Record<string, RowKind> = { 交易: 'payment', 退款: 'refund' };
const CHINA_OFFSET = 480;

/** `#交易合计：3笔，商家实收：￥300.00元` after NFKC and whitespace removal. */
const SUMMARY = /(交易|退款)合计:(\d+)笔,商家实收:¥?([+-]?\d+(?:\.\d+)?)元/;

interface Control {
  count: number;
  received: bigint;
}

export class AlipayParser implements FormatParser {
  readonly format = 'alipay' as const;
  readonly dayOffsetMinutes = CHINA_OFFSET;
  private cols: Record<Key, number> | undefined;
  private inTrailer = false;
  private readonly actual: Record<'交易' | '退款', Control> = {
    交易: { count: 0, received: 0n },
    退款: { count: 0, received: 0n },
  };
  private readonly declared: Partial<Record<'交易' | '退款', Control>> = {};

  record(text: string, line: number): ParsedItem | undefined {
    const trimmed = text.replace(/^\uFEFF/, '').trim();
    if (trimmed.startsWith('#')) {
      if (this.cols) {
        this.inTrailer = true;
        this.summaryLine(trimmed);
      }
      return undefined;
    }
    const fields = splitFields(text);
    if (!this.cols) {
      this.cols = resolveColumns(fields, COLUMNS, REQUIRED, 'Alipay trade bill (业务明细)', line);
      return undefined;
    }
    const c = this.cols;
    const type = field(fields, c.businessType);
    if (type === '交易' || type === '退款') {
      // Control totals see the row as written, whether or not it parses.
      const control = this.actual[type];
      control.count++;
      control.received += scaledOf(field(fields, c.received), 2) ?? 0n;
    }
    const tradeNo = field(fields, c.tradeNo);
    try {
      if (this.inTrailer) throw new SettlementRowError('data row after the summary lines');
      return this.row(fields, c, line, type, tradeNo);
    } catch (err) {
      return rejected(line, err, opt(tradeNo));
    }
  }

  private row(
    fields: string[],
    c: Record<Key, number>,
    line: number,
    type: string,
    tradeNo: string,
  ): SettlementRow {
    if (type === '') throw new SettlementRowError('业务类型 is empty');
    const kind = ownValue(KINDS, type) ?? 'ignored';
    const currency = currencyOf(field(fields, c.currency) || 'CNY', '币种');
    const received = Math.abs(minorOf(field(fields, c.received), currency, '商家实收（元）'));
    const fee = Math.abs(minorOf(field(fields, c.fee), currency, '服务费（元）', { emptyAsZero: true }));
    const grossMinor = kind === 'refund' ? -received : received;
    const feeMinor = kind === 'refund' ? -fee : fee;
    const when = field(fields, c.completedAt) || field(fields, c.createdAt);
    const settledAt = isoOf(parseInstant(when, CHINA_OFFSET, '完成时间').ms);
    const outTradeNo = opt(field(fields, c.outTradeNo));
    const outBizNo = opt(field(fields, c.outBizNo));
    if (kind === 'payment' && !tradeNo) throw new SettlementRowError('支付宝交易号 is empty');
    // The ledger keys an Alipay refund by out_biz_no (CONTRACT §3), a payment by trade_no.
    const transactionId = kind === 'refund' ? outBizNo : opt(tradeNo);
    const refundOf = kind === 'refund' ? opt(tradeNo) : undefined;
    return {
      line,
      kind,
      references: idList(transactionId, opt(tradeNo), outBizNo, outTradeNo),
      ...(transactionId ? { transactionId } : {}),
      ...(outTradeNo ? { orderId: outTradeNo } : {}),
      ...(refundOf ? { refundOf } : {}),
      currency,
      grossMinor,
      feeMinor,
      netMinor: grossMinor - feeMinor,
      settledAt,
      sourceType: type,
    };
  }

  private summaryLine(text: string): void {
    const m = SUMMARY.exec(normaliseHeader(text));
    if (!m) return;
    const type = m[1] as '交易' | '退款';
    this.declared[type] = { count: Number(m[2]), received: scaledOf(m[3]!, 2) ?? -1n };
  }

  finish(): FormatTrailer {
    const reasons: string[] = [];
    for (const type of ['交易', '退款'] as const) {
      const declared = this.declared[type];
      const actual = this.actual[type];
      if (!declared) {
        if (type === '交易' || actual.count > 0) {
          reasons.push(`no #${type}合计 summary line: the file is truncated or not a complete bill`);
        }
        continue;
      }
      if (declared.count !== actual.count) {
        reasons.push(`#${type}合计 says ${declared.count} rows, the file has ${actual.count}`);
      }
      if (declared.received !== actual.received) {
        reasons.push(
          `#${type}合计 says 商家实收 ${formatScaled(declared.received, 2)}, the rows add up to ${formatScaled(actual.received, 2)}`,
        );
      }
    }
    const rows = this.actual.交易.count + this.actual.退款.count;
    return { reasons, notes: [], emptyConfirmed: rows === 0 && reasons.length === 0 };
  }
}
