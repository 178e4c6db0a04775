/**
 * PayPal Settlement report (STL): typed rows RH/FH/SH/CH/SB/SF/SC/RF/RC/FF, the first column naming
 * the type. CH names the SB columns. Amounts are ×100 for every currency, JPY included, with separate
 * debit/credit columns. The SH row's period (in its own UTC offset) is the file's coverage; SF/SC/RC/FF
 * are control totals checked against the SB rows as read (raw values, so a rejected row still counts).
 */
import { type Currency, exponent, type MoneyError, parseInteger } from '../../money.ts';
import { field, resolveColumns, splitFields } from '../csv.ts';
import { SettlementFormatError, SettlementRowError } from '../errors.ts';
import type { ParsedItem, Period, RowKind, SettlementRow } from '../types.ts';
import { currencyOf, daysToPeriod, formatScaled, idList, isoOf, opt, parseInstant } from '../values.ts';
import { type FormatParser, type FormatTrailer, rejected } from './format.ts';

const COLUMNS = {
  transactionId: ['Transaction ID'],
  invoiceId: ['Invoice ID'],
  referenceId: ['PayPal Reference ID'],
  referenceIdType: ['PayPal Reference ID Type'],
  eventCode: ['Transaction Event Code'],
  initiationDate: ['Transaction Initiation Date'],
  completionDate: ['Transaction Completion Date'],
  debitOrCredit: ['Transaction Debit or Credit'],
  gross: ['Gross Transaction Amount'],
  grossCurrency: ['Gross Transaction Currency'],
  feeDebitOrCredit: ['Fee Debit or Credit'],
  fee: ['Fee Amount'],
  feeCurrency: ['Fee Currency'],
  customField: ['Custom Field'],
  consumerId: ['Consumer ID'],
} as const;
type Key = keyof typeof COLUMNS;
const REQUIRED: Key[] = [
  'transactionId',
  'eventCode',
  'initiationDate',
  'completionDate',
  'debitOrCredit',
  'gross',
  'grossCurrency',
  'feeDebitOrCredit',
  'fee',
  'feeCurrency',
];

const ROW_TYPES = new Set(['RH', 'FH', 'SH', 'CH', 'SB', 'SF', 'SC', 'RF', 'RC', 'FF']);

/**
 * PayPal's transaction event codes (developer.paypal.com/docs/reports/reference/tcodes/, and Appendix
 * "Transaction Event Codes" of the Settlement Report Specification) with the direction column
 * (`Transaction Debit or Credit`): the same code can be money in or money out. First match wins.
 * A CR amount is positive, a DR negative, which is each ledger kind's own sign (`KIND_SIGN`).
 */
const TCODES: readonly {
  readonly code: RegExp;
  readonly credit: RowKind;
  readonly debit: RowKind;
  readonly means: string;
}[] = [
  // T1107 payment refund: DR when we refunded a buyer; CR when a seller refunded a purchase of ours.
  { code: /^T1107$/, credit: 'ignored', debit: 'refund', means: 'payment refund' },
  { code: /^T1106$/, credit: 'ignored', debit: 'reversal', means: 'payment reversal, initiated by PayPal' },
  { code: /^T1201$/, credit: 'ignored', debit: 'reversal', means: 'chargeback' },
  { code: /^T1202$/, credit: 'reinstatement', debit: 'ignored', means: 'chargeback reversal' },
  // T00xx: CR is a payment received; DR is money the merchant sent (T0000 payment sent, purchases).
  { code: /^T00\d\d$/, credit: 'payment', debit: 'ignored', means: 'PayPal account-to-account payment' },
  {
    code: /^T01\d\d$/,
    credit: 'ignored',
    debit: 'ignored',
    means: 'fee-only transaction (e.g. T0106 chargeback fee)',
  },
  { code: /^T02\d\d$/, credit: 'ignored', debit: 'ignored', means: 'currency conversion between balances' },
  { code: /^T03\d\d$/, credit: 'ignored', debit: 'ignored', means: 'bank deposit into the PayPal account' },
  { code: /^T04\d\d$/, credit: 'ignored', debit: 'ignored', means: 'withdrawal to a bank account' },
  { code: /^T05\d\d$/, credit: 'ignored', debit: 'ignored', means: 'debit card transaction' },
  { code: /^T06\d\d$/, credit: 'ignored', debit: 'ignored', means: 'credit card withdrawal or credit' },
  { code: /^T07\d\d$/, credit: 'ignored', debit: 'ignored', means: 'buyer credit payment' },
  { code: /^T08\d\d$/, credit: 'ignored', debit: 'ignored', means: 'incentive or rebate' },
  { code: /^T09\d\d$/, credit: 'ignored', debit: 'ignored', means: 'redemption (gift certificates, offers)' },
  { code: /^T10\d\d$/, credit: 'ignored', debit: 'ignored', means: 'bill pay transaction' },
  {
    code: /^T11\d\d$/,
    credit: 'ignored',
    debit: 'ignored',
    means: 'reversal or hold other than a payment reversal',
  },
  { code: /^T12\d\d$/, credit: 'ignored', debit: 'ignored', means: 'account adjustment' },
  {
    code: /^T1[3-9]\d\d$/,
    credit: 'ignored',
    debit: 'ignored',
    means: 'authorisation, hold, settlement or account transfer',
  },
  {
    code: /^T2\d\d\d$/,
    credit: 'ignored',
    debit: 'ignored',
    means: 'account transfer, loan or other non-payment',
  },
];

function kindOf(code: string, credit: boolean): { kind: RowKind; ignoredBecause?: string } {
  const entry = TCODES.find((t) => t.code.test(code));
  if (!entry)
    return { kind: 'ignored', ignoredBecause: `T-code ${code} is not in PayPal's T-code table we read` };
  const kind = credit ? entry.credit : entry.debit;
  if (kind !== 'ignored') return { kind };
  const direction = credit ? 'credit' : 'debit';
  return {
    kind,
    ignoredBecause: `${code} ${direction} (${entry.means}${/^T00/.test(code) && !credit ? ': money the merchant sent' : ''}) is no customer payment`,
  };
}

/** Hundredths (STL) → our minor units. JPY has none: a non-zero remainder cannot be a real amount. */
function stlMinor(raw: string, currency: Currency, column: string): number {
  let hundredths: number;
  try {
    hundredths = raw === '' ? 0 : parseInteger(raw);
  } catch (err) {
    throw new SettlementRowError(`${column}: ${(err as MoneyError).message}`, { cause: err });
  }
  const exp = exponent(currency);
  if (exp === 2) return hundredths;
  if (exp > 2) return hundredths * 10 ** (exp - 2);
  const div = 10 ** (2 - exp);
  if (hundredths % div !== 0) {
    throw new SettlementRowError(`${column}: ${raw} hundredths is a fraction of a ${currency} unit`);
  }
  return hundredths / div;
}

function sign(raw: string, column: string): 1 | -1 {
  const v = raw.toUpperCase();
  if (v === 'CR') return 1;
  if (v === 'DR') return -1;
  throw new SettlementRowError(`${column}: ${JSON.stringify(raw)} is neither CR nor DR`);
}

interface CurrencySums {
  grossCredit: bigint;
  grossDebit: bigint;
  feeCredit: bigint;
  feeDebit: bigint;
}

/** Raw integer or undefined (unreadable values simply make the control totals disagree). */
function rawInt(raw: string): bigint | undefined {
  if (raw === '') return 0n;
  return /^[+-]?\d+$/.test(raw) ? BigInt(raw) : undefined;
}

export class PaypalParser implements FormatParser {
  readonly format = 'paypal' as const;
  readonly dayOffsetMinutes = 0;
  private cols: Record<Key, number> | undefined;
  private seenAny = false;
  private readonly reasons: string[] = [];
  /** Every record so far, of the file, of the open report (from RH) and of the open section (from SH). */
  private fileRows = 0;
  private reportRows = 0;
  private sectionRows = 0;
  private from: number | undefined;
  private to: number | undefined;
  private sectionSb = 0;
  private sectionOpen = false;
  private sectionSums = new Map<string, CurrencySums>();
  private sectionFooters = new Map<string, CurrencySums>();
  private reportSb = 0;
  private reportOpen = false;
  private fileSb = 0;
  private footerSeen = false;

  record(text: string, line: number): ParsedItem | undefined {
    const fields = splitFields(text);
    const type = (fields[0] ?? '')
      .trim()
      .replace(/^\uFEFF/, '')
      .toUpperCase();
    if (!this.seenAny) {
      this.seenAny = true;
      if (!ROW_TYPES.has(type)) {
        throw new SettlementFormatError(
          `not a PayPal STL file: the first row's type ${JSON.stringify(fields[0] ?? '')} is not RH`,
          { line },
        );
      }
    }
    const values = fields.slice(1).map((v) => v.trim());
    this.fileRows++;
    this.reportRows++;
    this.sectionRows++;
    switch (type) {
      case 'RH':
        this.reportOpen = true;
        this.reportSb = 0;
        this.reportRows = 1;
        return undefined;
      case 'FH':
        return undefined;
      case 'SH':
        this.sectionHeader(values, line);
        return undefined;
      case 'CH':
        this.cols = resolveColumns(values, COLUMNS, REQUIRED, 'PayPal STL file (CH row)', line);
        return undefined;
      case 'SB':
        return this.body(values, line);
      case 'SF':
        this.sectionFooter(values);
        return undefined;
      case 'SC':
        this.sectionCount(values);
        return undefined;
      case 'RF':
        return undefined;
      case 'RC':
        this.compareCount('RC (report)', values[0], this.reportSb, this.reportRows);
        this.reportOpen = false;
        return undefined;
      case 'FF':
        this.compareCount('FF (file)', values[0], this.fileSb, this.fileRows);
        this.footerSeen = true;
        return undefined;
      default:
        return { kind: 'rejected', line, reason: `unknown STL row type ${JSON.stringify(fields[0] ?? '')}` };
    }
  }

  private sectionHeader(values: string[], line: number): void {
    if (this.sectionOpen) this.reasons.push(`section ending before line ${line} has no SC row`);
    this.sectionOpen = true;
    this.sectionSb = 0;
    this.sectionRows = 1;
    this.sectionSums = new Map();
    this.sectionFooters = new Map();
    let start: ReturnType<typeof parseInstant>;
    let end: ReturnType<typeof parseInstant>;
    try {
      start = parseInstant(values[0] ?? '', 0, 'SH start');
      end = parseInstant(values[1] ?? '', 0, 'SH end');
    } catch (err) {
      throw new SettlementFormatError(`SH row has no readable period: ${(err as Error).message}`, {
        line,
        cause: err,
      });
    }
    // Whole days of the SH period in the SH row's own offset(s): a DST change can give two offsets.
    const from = Date.parse(daysToPeriod(start.localDay, start.localDay, start.offsetMinutes).from);
    const to = Date.parse(daysToPeriod(end.localDay, end.localDay, end.offsetMinutes).to);
    this.from = this.from === undefined ? from : Math.min(this.from, from);
    this.to = this.to === undefined ? to : Math.max(this.to, to);
  }

  private body(values: string[], line: number): ParsedItem {
    if (!this.cols) throw new SettlementFormatError('SB row before any CH row', { line });
    this.sectionSb++;
    this.reportSb++;
    this.fileSb++;
    const c = this.cols;
    this.accumulate(values, c);
    const transactionId = field(values, c.transactionId);
    try {
      return this.row(values, c, line, transactionId);
    } catch (err) {
      return rejected(line, err, opt(transactionId));
    }
  }

  private accumulate(values: string[], c: Record<Key, number>): void {
    const currency = field(values, c.grossCurrency).toUpperCase();
    const sums = this.sectionSums.get(currency) ?? {
      grossCredit: 0n,
      grossDebit: 0n,
      feeCredit: 0n,
      feeDebit: 0n,
    };
    this.sectionSums.set(currency, sums);
    const gross = rawInt(field(values, c.gross));
    const fee = rawInt(field(values, c.fee));
    const dc = field(values, c.debitOrCredit).toUpperCase();
    const feeDc = field(values, c.feeDebitOrCredit).toUpperCase();
    if (gross !== undefined) {
      if (dc === 'CR') sums.grossCredit += gross;
      else if (dc === 'DR') sums.grossDebit += gross;
    }
    if (fee !== undefined) {
      if (feeDc === 'CR') sums.feeCredit += fee;
      else if (feeDc === 'DR') sums.feeDebit += fee;
    }
  }

  private row(values: string[], c: Record<Key, number>, line: number, transactionId: string): SettlementRow {
    if (!transactionId) throw new SettlementRowError('Transaction ID is empty');
    const code = field(values, c.eventCode).toUpperCase();
    const direction = sign(field(values, c.debitOrCredit), 'Transaction Debit or Credit');
    const { kind, ignoredBecause } = kindOf(code, direction === 1);
    const currency = currencyOf(field(values, c.grossCurrency), 'Gross Transaction Currency');
    const grossMinor = direction * stlMinor(field(values, c.gross), currency, 'Gross Transaction Amount');
    const feeRaw = field(values, c.fee);
    let feeMinor = 0;
    if (feeRaw !== '' && feeRaw !== '0') {
      const feeCurrencyRaw = field(values, c.feeCurrency);
      const feeCurrency = feeCurrencyRaw ? currencyOf(feeCurrencyRaw, 'Fee Currency') : currency;
      if (feeCurrency !== currency) {
        throw new SettlementRowError(`fee currency ${feeCurrency} differs from gross currency ${currency}`);
      }
      // DR: PayPal took a fee (positive, as in every format); CR: it gave one back (a refund's fee).
      feeMinor =
        -sign(field(values, c.feeDebitOrCredit), 'Fee Debit or Credit') *
        stlMinor(feeRaw, currency, 'Fee Amount');
    }
    const completed = field(values, c.completionDate) || field(values, c.initiationDate);
    const settledAt = isoOf(parseInstant(completed, 0, 'Transaction Completion Date').ms);
    const referenceId = opt(field(values, c.referenceId));
    const invoiceId = opt(field(values, c.invoiceId));
    const customField = opt(field(values, c.customField));
    // Payments: custom_id is our order id. Refunds: custom_id / invoice_id carry our refund id instead.
    const orderId = kind === 'payment' ? customField : undefined;
    const refundOf = kind === 'payment' || kind === 'ignored' ? undefined : referenceId;
    return {
      line,
      kind,
      references: idList(transactionId, referenceId, invoiceId, customField),
      transactionId,
      ...(orderId ? { orderId } : {}),
      ...(refundOf ? { refundOf } : {}),
      currency,
      grossMinor,
      feeMinor,
      netMinor: grossMinor - feeMinor,
      settledAt,
      sourceType: code,
      ...(ignoredBecause ? { ignoredBecause } : {}),
    };
  }

  private sectionFooter(values: string[]): void {
    const currency = (values[0] ?? '').toUpperCase();
    const read = (i: number) => rawInt(values[i] ?? '') ?? -1n;
    this.sectionFooters.set(currency, {
      grossCredit: read(1),
      grossDebit: read(2),
      feeCredit: read(3),
      feeDebit: read(4),
    });
  }

  private sectionCount(values: string[]): void {
    this.compareCount('SC (section)', values[0], this.sectionSb, this.sectionRows);
    const currencies = new Set([...this.sectionSums.keys(), ...this.sectionFooters.keys()]);
    for (const currency of currencies) {
      const rows = this.sectionSums.get(currency);
      const footer = this.sectionFooters.get(currency);
      if (!footer) {
        this.reasons.push(
          `SF: no section footer for ${currency || '(blank currency)'} though SB rows carry it`,
        );
        continue;
      }
      const zero = { grossCredit: 0n, grossDebit: 0n, feeCredit: 0n, feeDebit: 0n };
      const actual = rows ?? zero;
      for (const k of ['grossCredit', 'grossDebit', 'feeCredit', 'feeDebit'] as const) {
        if (footer[k] !== actual[k]) {
          const label = {
            grossCredit: 'gross credit',
            grossDebit: 'gross debit',
            feeCredit: 'fee credit',
            feeDebit: 'fee debit',
          }[k];
          this.reasons.push(
            `SF ${currency}: ${label} total ${footer[k] < 0n ? '(unreadable)' : formatScaled(footer[k], 2)} ≠ ${formatScaled(actual[k], 2)} in the SB rows (hundredths shown as units)`,
          );
        }
      }
    }
    this.sectionOpen = false;
    this.sectionSb = 0;
    this.sectionSums = new Map();
    this.sectionFooters = new Map();
  }

  /**
   * The spec defines SC, RC and FF as record counts without saying whether a count covers the SB rows
   * alone or every row of its scope (header to footer): either reading is accepted (CONTRACT §5), the
   * latter with or without the count row itself. `rows` counts the scope's records up to this one.
   */
  private compareCount(what: string, raw: string | undefined, sb: number, rows: number): void {
    const declared = /^\d+$/.test(raw ?? '') ? Number(raw) : Number.NaN;
    if (declared !== sb && declared !== rows && declared !== rows - 1)
      this.reasons.push(
        `${what} record count says ${raw ?? '(none)'}, the file has ${sb} SB rows (${rows - 1} rows in all before the count)`,
      );
  }

  finish(): FormatTrailer {
    const reasons = [...this.reasons];
    if (this.sectionOpen) reasons.push('the last section has no SC row: the file is truncated');
    if (this.reportOpen) reasons.push('the report has no RC row: the file is truncated');
    if (!this.footerSeen) reasons.push('no FF row: the file is truncated or not a complete STL file');
    if (this.from === undefined || this.to === undefined) {
      throw new SettlementFormatError('not a PayPal STL file: no SH row gives the period');
    }
    const notes: string[] = [];
    const period: Period = { from: isoOf(this.from), to: isoOf(this.to) };
    return { reasons, notes, period, emptyConfirmed: this.fileSb === 0 && reasons.length === 0 };
  }
}
