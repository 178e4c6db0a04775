/**
 * Alipay open-platform trade bill, 业务明细 (`alipay.data.dataservice.bill.downloadurl.query`, bill type
 * `trade`, opendocs.alipay.com "账单下载"): `#` comment lines, a header, one row per trade or refund,
 * then `#` summary lines that are the file's control totals. Times are China time (UTC+8); amounts
 * are CNY 元. GBK or UTF-8, possibly inside the ZIP Alipay delivers (decoded before this parser), whose
 * `…_业务明细(汇总).csv` companion gives a second set of control totals.
 *
 * Amounts: a payment matches the ledger on 订单金额 (the notification's `total_amount`); a refund row's
 * amount is its negative 订单金额 (the refund's own amount). 服务费 is the fee (positive charged, negative
 * returned on a refund, whatever sign the file writes); net = 商家实收 − fee.
 */
import { field, normaliseHeader, resolveColumns, splitFields } from '../csv.ts';
import { SettlementRowError } from '../errors.ts';
import type { ParsedItem, RowKind, SettlementRow } from '../types.ts';
import { currencyOf, formatScaled, idList, isoOf, minorOf, opt, parseInstant, scaledOf } from '../values.ts';
import { type FormatParser, type FormatTrailer, rejected } from './format.ts';

const COLUMNS = {
  tradeNo: ['支付宝交易号'],
  outTradeNo: ['商户订单号'],
  businessType: ['业务类型'],
  createdAt: ['创建时间'],
  completedAt: ['完成时间'],
  orderAmount: ['订单金额（元）', '订单金额'],
  received: ['商家实收（元）', '商家实收'],
  merchantDiscount: ['商家优惠（元）', '商家优惠'],
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

/** 业务类型 → kind. Anything else (转账, …) is no trade of ours: ignored, noted. */
const KINDS: ReadonlyMap<string, RowKind> = new Map([
  ['交易', 'payment'],
  ['退款', 'refund'],
]);
const CHINA_OFFSET = 480;

type BillType = '交易' | '退款';
interface Control {
  count: number;
  received: bigint;
  discount: bigint;
}

/**
 * Summary-line wording → control totals, read after NFKC and whitespace removal (so `：，￥` are
 * `:,¥`). Each entry names where the wording is from.
 */
const SUMMARY_LINES: readonly { readonly pattern: RegExp; readonly source: string }[] = [
  {
    // `#交易合计：6笔，商家实收共0.06元，商家优惠共0.00元`, `#退款合计：4笔，商家实收退款共-0.04元，商家优惠退款共0.00元`:
    // the trade bill as downloaded today (Alipay open platform, 业务明细 bill, summary lines).
    pattern:
      /^#?(交易|退款)合计:(\d+)笔,商家实收(?:退款)?共([+-]?\d+(?:\.\d+)?)元(?:,商家优惠(?:退款)?共([+-]?\d+(?:\.\d+)?)元)?/,
    source: 'Alipay 业务明细 summary lines',
  },
];

/**
 * 业务明细(汇总) columns (the ZIP's summary file: one row per store, then `合计`). Counts and 商家实收 are
 * checked; its 订单金额 is not, because whether it nets refunds is not documented.
 */
const SUMMARY_FILE_COLUMNS = {
  store: ['门店编号'],
  trades: ['交易订单总笔数'],
  refunds: ['退款订单总笔数'],
  received: ['商家实收（元）', '商家实收'],
} as const;

export class AlipayParser implements FormatParser {
  readonly format = 'alipay' as const;
  readonly dayOffsetMinutes = CHINA_OFFSET;
  private cols: Record<Key, number> | undefined;
  private inTrailer = false;
  private readonly actual: Record<BillType, Control> = {
    交易: { count: 0, received: 0n, discount: 0n },
    退款: { count: 0, received: 0n, discount: 0n },
  };
  private readonly declared: Partial<Record<BillType, Partial<Control>>> = {};
  private readonly companionNotes: string[] = [];
  private summaryFile:
    | { name: string; trades: number; refunds: number; received: bigint | undefined }
    | undefined;

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
      control.discount += scaledOf(field(fields, c.merchantDiscount), 2) ?? 0n;
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
    const kind = KINDS.get(type) ?? 'ignored';
    const currency = currencyOf(field(fields, c.currency) || 'CNY', '币种');
    const sign = kind === 'refund' ? -1 : 1;
    const ordered = Math.abs(minorOf(field(fields, c.orderAmount), currency, '订单金额（元）'));
    const received = Math.abs(minorOf(field(fields, c.received), currency, '商家实收（元）'));
    const fee = Math.abs(minorOf(field(fields, c.fee), currency, '服务费（元）', { emptyAsZero: true }));
    const grossMinor = sign * ordered;
    const feeMinor = sign * fee;
    const when = field(fields, c.completedAt) || field(fields, c.createdAt);
    const settledAt = isoOf(parseInstant(when, CHINA_OFFSET, '完成时间').ms);
    const outTradeNo = opt(field(fields, c.outTradeNo));
    if (!tradeNo && kind !== 'ignored') throw new SettlementRowError('支付宝交易号 is empty');
    // Alipay keeps out_biz_no unique only within a trade, and it defaults to out_trade_no: the ledger
    // keys a refund `{trade_no}:{out_biz_no}` (CONTRACT §3), a payment by trade_no.
    const outBizNo = opt(field(fields, c.outBizNo)) ?? (kind === 'refund' ? outTradeNo : undefined);
    const transactionId =
      kind === 'refund' ? (outBizNo ? `${tradeNo}:${outBizNo}` : undefined) : opt(tradeNo);
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
      netMinor: sign * received - feeMinor,
      settledAt,
      sourceType: type,
      ...(kind === 'ignored' ? { ignoredBecause: `业务类型 ${type} is neither 交易 nor 退款` } : {}),
    };
  }

  private summaryLine(text: string): void {
    const normal = normaliseHeader(text);
    for (const { pattern } of SUMMARY_LINES) {
      const m = pattern.exec(normal);
      if (!m) continue;
      const type = m[1] as BillType;
      this.declared[type] = {
        count: Number(m[2]),
        received: scaledOf(m[3]!, 2) ?? -1n,
        ...(m[4] !== undefined ? { discount: scaledOf(m[4], 2) ?? -1n } : {}),
      };
      return;
    }
  }

  /** The ZIP's 业务明细(汇总): its 合计 row (or the sum of its store rows) as a second control total. */
  companion(name: string, text: string | undefined, problem?: string): void {
    if (text === undefined) {
      this.companionNotes.push(
        `the summary file ${name} could not be read (${problem ?? 'unknown'}): not used`,
      );
      return;
    }
    try {
      this.readSummaryFile(name, text);
    } catch (err) {
      this.companionNotes.push(
        `the summary file ${name} could not be read (${(err as Error).message}): not used`,
      );
    }
  }

  private readSummaryFile(name: string, text: string): void {
    let cols: Record<keyof typeof SUMMARY_FILE_COLUMNS, number> | undefined;
    let total: { trades: number; refunds: number; received: bigint | undefined } | undefined;
    const sum = { trades: 0, refunds: 0, received: 0n as bigint | undefined };
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.replace(/^\uFEFF/, '').trim();
      if (line === '' || line.startsWith('#')) continue;
      const fields = splitFields(line);
      if (!cols) {
        if (!fields.some((f) => normaliseHeader(f) === normaliseHeader('交易订单总笔数'))) continue;
        cols = resolveColumns<keyof typeof SUMMARY_FILE_COLUMNS>(
          fields,
          SUMMARY_FILE_COLUMNS,
          ['trades', 'refunds'],
          '业务明细(汇总)',
        );
        continue;
      }
      const trades = Number(field(fields, cols.trades) || '0');
      const refunds = Number(field(fields, cols.refunds) || '0');
      const received = cols.received < 0 ? undefined : scaledOf(field(fields, cols.received), 2);
      if (field(fields, cols.store) === '合计') {
        total = { trades, refunds, received };
        break;
      }
      sum.trades += trades;
      sum.refunds += refunds;
      sum.received =
        sum.received === undefined || received === undefined ? undefined : sum.received + received;
    }
    if (!cols) {
      this.companionNotes.push(`the summary file ${name} has no 交易订单总笔数 header: not used`);
      return;
    }
    const use = total ?? sum;
    if (!Number.isSafeInteger(use.trades) || !Number.isSafeInteger(use.refunds)) {
      this.companionNotes.push(`the summary file ${name} has unreadable counts: not used`);
      return;
    }
    this.summaryFile = { name, ...use };
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
      const what = type === '交易' ? '商家实收' : '商家实收退款';
      if (declared.received !== undefined && declared.received !== actual.received) {
        reasons.push(
          `#${type}合计 says ${what} ${formatScaled(declared.received, 2)}, the rows add up to ${formatScaled(actual.received, 2)}`,
        );
      }
      if (declared.discount !== undefined && this.cols!.merchantDiscount >= 0) {
        if (declared.discount !== actual.discount) {
          reasons.push(
            `#${type}合计 says 商家优惠 ${formatScaled(declared.discount, 2)}, the rows add up to ${formatScaled(actual.discount, 2)}`,
          );
        }
      }
    }
    const s = this.summaryFile;
    if (s) {
      if (s.trades !== this.actual.交易.count || s.refunds !== this.actual.退款.count) {
        reasons.push(
          `${s.name} says ${s.trades} trades and ${s.refunds} refunds, the detail file has ${this.actual.交易.count} and ${this.actual.退款.count}`,
        );
      }
      const received = this.actual.交易.received + this.actual.退款.received;
      if (s.received !== undefined && s.received !== received) {
        reasons.push(
          `${s.name} says 商家实收 ${formatScaled(s.received, 2)}, the detail rows add up to ${formatScaled(received, 2)}`,
        );
      }
    }
    const rows = this.actual.交易.count + this.actual.退款.count;
    return {
      reasons,
      notes: [...this.companionNotes],
      emptyConfirmed: rows === 0 && reasons.length === 0,
    };
  }
}
