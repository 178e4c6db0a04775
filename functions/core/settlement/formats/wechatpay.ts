/**
 * WeChat Pay trade bill (交易账单, bill_type ALL): every field prefixed with a backtick (so Excel keeps
 * long ids as text), CRLF, one row per payment or refund, then a summary title row (总交易单数, …) and
 * a summary value row: the file's control totals. Fees carry 5 decimals and are rounded half-up,
 * explicitly (CONTRACT). Times are China time (UTC+8). Possibly gzip (handled before this parser).
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
  tradeTime: ['交易时间'],
  transactionId: ['微信订单号'],
  outTradeNo: ['商户订单号'],
  status: ['交易状态'],
  currency: ['货币种类'],
  settlementAmount: ['应结订单金额'],
  refundId: ['微信退款单号'],
  outRefundNo: ['商户退款单号'],
  refundAmount: ['退款金额'],
  rechargeRefund: ['充值券退款金额'],
  fee: ['手续费'],
  orderAmount: ['订单金额'],
  requestedRefund: ['申请退款金额'],
  payCurrency: ['用户支付币种', '支付币种', '支付货币', '用户支付货币'],
  settlementCurrency: ['结算币种', '结算货币'],
  rate: ['汇率'],
} as const;
type Key = keyof typeof COLUMNS;
const REQUIRED: Key[] = [
  'tradeTime',
  'transactionId',
  'outTradeNo',
  'status',
  'currency',
  'settlementAmount',
  'refundId',
  'outRefundNo',
  'refundAmount',
  'fee',
];

const KINDS: Record<string, RowKind> = { SUCCESS: 'payment', REFUND: 'refund' };
const CHINA_OFFSET = 480;
/** Control sums are kept at 6 decimals: enough for 5-decimal fees, exact with bigint. */
const SCALE = 6;

/** Summary title → the column it totals (undefined: the row count). */
const SUMMARY_COLUMNS: Record<string, Key | 'count'> = {
  总交易单数: 'count',
  应结订单总金额: 'settlementAmount',
  退款总金额: 'refundAmount',
  充值券退款总金额: 'rechargeRefund',
  手续费总金额: 'fee',
  订单总金额: 'orderAmount',
  申请退款总金额: 'requestedRefund',
};

const CURRENCY_NAMES: Record<string, string> = { 人民币: 'CNY', '': 'CNY' };

/** 6-decimal control sum for messages, trailing zeros dropped but at least 2 decimals ("263.00", "0.60000"→"0.60"). */
function trimScaled(value: bigint): string {
  return formatScaled(value, SCALE).replace(/(\.\d\d\d*?)0+$/, '$1');
}

function unTick(fields: string[]): string[] {
  return fields.map((f) => (f.charCodeAt(0) === 96 ? f.slice(1) : f).trim());
}

export class WechatpayParser implements FormatParser {
  readonly format = 'wechatpay' as const;
  readonly dayOffsetMinutes = CHINA_OFFSET;
  private cols: Record<Key, number> | undefined;
  private state: 'header' | 'data' | 'summaryValues' | 'done' = 'header';
  private summaryTitles: string[] = [];
  private rows = 0;
  private readonly sums = new Map<Key, bigint>();
  private readonly reasons: string[] = [];

  record(text: string, line: number): ParsedItem | undefined {
    const fields = unTick(splitFields(text));
    switch (this.state) {
      case 'header':
        this.cols = resolveColumns(fields, COLUMNS, REQUIRED, 'WeChat Pay trade bill', line);
        this.state = 'data';
        return undefined;
      case 'data':
        if (normaliseHeader(fields[0] ?? '') === '总交易单数') {
          this.summaryTitles = fields.map(normaliseHeader);
          this.state = 'summaryValues';
          return undefined;
        }
        return this.data(fields, line);
      case 'summaryValues':
        this.checkSummary(fields);
        this.state = 'done';
        return undefined;
      default:
        return { kind: 'rejected', line, reason: 'row after the summary rows' };
    }
  }

  private data(fields: string[], line: number): ParsedItem {
    const c = this.cols!;
    this.rows++;
    for (const key of [
      'settlementAmount',
      'refundAmount',
      'rechargeRefund',
      'fee',
      'orderAmount',
      'requestedRefund',
    ] as const) {
      if (c[key] < 0) continue;
      this.sums.set(key, (this.sums.get(key) ?? 0n) + (scaledOf(field(fields, c[key]), SCALE) ?? 0n));
    }
    const transactionId = field(fields, c.transactionId);
    try {
      return this.row(fields, c, line, transactionId);
    } catch (err) {
      return rejected(line, err, opt(transactionId));
    }
  }

  private row(fields: string[], c: Record<Key, number>, line: number, wechatId: string): SettlementRow {
    const status = field(fields, c.status).toUpperCase();
    if (status === '') throw new SettlementRowError('交易状态 is empty');
    const kind = ownValue(KINDS, status) ?? 'ignored';
    const currencyRaw = field(fields, c.currency);
    const currency = currencyOf(ownValue(CURRENCY_NAMES, currencyRaw) ?? currencyRaw, '货币种类');
    const fee = Math.abs(
      minorOf(field(fields, c.fee), currency, '手续费', { halfUp: true, emptyAsZero: true }),
    );
    let grossMinor: number;
    if (kind === 'refund')
      grossMinor = -Math.abs(minorOf(field(fields, c.refundAmount), currency, '退款金额'));
    else
      grossMinor = minorOf(field(fields, c.settlementAmount), currency, '应结订单金额', {
        emptyAsZero: kind === 'ignored',
      });
    const feeMinor = kind === 'refund' ? -fee : fee;
    const settledAt = isoOf(parseInstant(field(fields, c.tradeTime), CHINA_OFFSET, '交易时间').ms);
    const outTradeNo = opt(field(fields, c.outTradeNo));
    const refundId = opt(field(fields, c.refundId));
    const outRefundNo = opt(field(fields, c.outRefundNo));
    if (kind === 'payment' && !wechatId) throw new SettlementRowError('微信订单号 is empty');
    const transactionId = kind === 'refund' ? refundId : opt(wechatId);
    const payCurrency = opt(field(fields, c.payCurrency));
    const settlementCurrency = opt(field(fields, c.settlementCurrency));
    const rate = opt(field(fields, c.rate));
    const fx =
      payCurrency || settlementCurrency || rate
        ? {
            ...(payCurrency ? { payCurrency } : {}),
            ...(settlementCurrency ? { settlementCurrency } : {}),
            ...(rate ? { rate } : {}),
          }
        : undefined;
    return {
      line,
      kind,
      references: idList(transactionId, refundId, outRefundNo, opt(wechatId), outTradeNo),
      ...(transactionId ? { transactionId } : {}),
      ...(outTradeNo ? { orderId: outTradeNo } : {}),
      ...(kind === 'refund' && wechatId ? { refundOf: wechatId } : {}),
      currency,
      grossMinor,
      feeMinor,
      netMinor: grossMinor - feeMinor,
      settledAt,
      ...(fx ? { fx } : {}),
      sourceType: status,
    };
  }

  private checkSummary(values: string[]): void {
    const c = this.cols!;
    this.summaryTitles.forEach((title, i) => {
      const target = ownValue(SUMMARY_COLUMNS, title);
      const raw = values[i] ?? '';
      if (!target) return;
      if (target === 'count') {
        if (raw !== String(this.rows))
          this.reasons.push(`总交易单数 says ${raw || '(blank)'}, the file has ${this.rows} rows`);
        return;
      }
      if (c[target] < 0) return;
      const declared = scaledOf(raw, SCALE);
      const actual = this.sums.get(target) ?? 0n;
      if (declared !== actual) {
        this.reasons.push(`${title} says ${raw || '(blank)'}, the rows add up to ${trimScaled(actual)}`);
      }
    });
  }

  finish(): FormatTrailer {
    const reasons = [...this.reasons];
    if (this.state === 'data' || this.state === 'header') {
      reasons.push('no summary rows (总交易单数, …): the file is truncated or not a complete bill');
    } else if (this.state === 'summaryValues') {
      reasons.push('the summary title row has no value row: the file is truncated');
    }
    return { reasons, notes: [], emptyConfirmed: this.rows === 0 && reasons.length === 0 };
  }
}
