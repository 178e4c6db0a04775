/**
 * Matching settlement rows against the ledger (CONTRACT §5 categories), streaming: rows arrive in
 * batches, each batch costs one `getByKeys` round trip (DynamoDB BatchGetItem by primary key), and
 * only per-entry state (which ledger keys a row claimed) stays in memory: exceptions are handed to
 * `emit` as they are found, and rows no key found beyond {@link MAX_UNRESOLVED_IN_MEMORY} are kept as
 * line numbers and read again from the file (see {@link Matcher.finish}).
 *
 * Two phases, because a file's coverage is known only at its end:
 * 1. each row is looked up by its primary key `{gateway}#{transactionId}#{kind}`: the common case;
 * 2. at the end, the covered days' entries are listed once (GSI query, never a scan): rows that found
 *    no entry by key are matched by their other references, and covered entries no row claimed become
 *    `pending_settlement` or `missing_in_settlement`.
 */
import { countsInTotals, KIND_SIGN, type LedgerEntry } from '../ledger.ts';
import { type Currency, divRoundHalfUp, formatMajor, isCurrency, parseDecimal } from '../money.ts';
import { ClaimSet } from './claims.ts';
import { SettlementConfigError } from './errors.ts';
import { zeroCounts } from './report.ts';
import type { Category, ExceptionItem, ParsedItem, Period, RejectedRow, SettlementRow } from './types.ts';

/**
 * The ledger as reconciliation reads it. The DynamoDB adapter implements it with BatchGetItem on the
 * payments table and a Query of the `byGatewayDay` GSI (partition `{gateway}#{YYYY-MM-DD}`, sort key
 * `receivedAt`) for each UTC day the range touches. Never a Scan.
 */
export interface LedgerLookup {
  /**
   * Entries by primary key (`{gateway}#{transactionId}#{kind}`). Called with at most
   * {@link LEDGER_BATCH_SIZE} distinct keys (BatchGetItem's limit); absent keys are simply not returned.
   */
  getByKeys(keys: readonly string[]): Promise<readonly LedgerEntry[]>;
  /**
   * The gateway's entries received in `[fromIso, toIso)`. A superset (whole UTC days) is fine: the core
   * filters. An async iterable lets the adapter stream query pages instead of holding a day in memory.
   */
  listReceived(
    gateway: string,
    fromIso: string,
    toIso: string,
  ): AsyncIterable<LedgerEntry> | Promise<readonly LedgerEntry[]>;
}

/** Keys per `getByKeys` call: DynamoDB BatchGetItem's maximum. 1M rows → 10,000 calls, not 1M. */
export const LEDGER_BATCH_SIZE = 100;

/** A gateway's fee for one currency: `percent` of the gross (decimal string, "2.9" = 2.9 %) plus a fixed part. */
export interface FeeRule {
  readonly percent: string;
  readonly fixedMinor: number;
}

/** Fee schedule: gateway → currency → rule. Without one, `fee_mismatch` is off (as in the sandbox). */
export type FeeSchedule = Readonly<Record<string, Readonly<Record<string, FeeRule>>>>;

/** The UTC day partitions (`{gateway}#{YYYY-MM-DD}`) an adapter queries for `[fromIso, toIso)`. */
export function gatewayDaysBetween(gateway: string, fromIso: string, toIso: string): string[] {
  const days: string[] = [];
  const end = Date.parse(toIso);
  for (let t = Math.floor(Date.parse(fromIso) / 86_400_000) * 86_400_000; t < end; t += 86_400_000) {
    days.push(`${gateway}#${new Date(t).toISOString().slice(0, 10)}`);
  }
  return days;
}

/**
 * Per-currency sums, as bigint: a 2 GiB file holds ~10^7 rows of up to 10^15 minor units each, past
 * Number's exact range (2^53 ≈ 9·10^15).
 */
export interface Totals {
  ledgerGrossMinor: bigint;
  settlementGrossMinor: bigint;
  feesMinor: bigint;
  netMinor: bigint;
}

/**
 * An exact running sum of integer amounts. Adding `BigInt(x)` per row cost ~0.3 s per 1M rows (an
 * allocation and a conversion per addition, four additions a row): the sum is kept as a Number while
 * every partial sum is a safe integer (exact), and only what would leave that range goes to a bigint.
 */
export class ExactSum {
  private small = 0;
  private big = 0n;

  add(x: number): void {
    const sum = this.small + x;
    // Both safe integers and a safe result: the double addition was exact.
    if (Number.isSafeInteger(x) && Number.isSafeInteger(sum)) {
      this.small = sum;
    } else {
      // BigInt(x) throws for a fraction, NaN or ±Infinity, as adding BigInt(x) directly did.
      this.big += BigInt(x);
    }
  }

  get value(): bigint {
    return this.big + BigInt(this.small);
  }
}

/** One currency's {@link Totals} while rows are added. */
interface Sums {
  readonly ledgerGross: ExactSum;
  readonly settlementGross: ExactSum;
  readonly fees: ExactSum;
  readonly net: ExactSum;
}

/** What matching found: counts per category, per-currency sums, the exception list. */
export interface MatchOutcome {
  readonly counts: Record<Category, number>;
  readonly totals: Map<string, Totals>;
  /** Every exception, when no `emit` was given; empty otherwise (they went to `emit`). */
  readonly exceptions: ExceptionItem[];
  /** One line per kind of ignored row (and per netting done), for the report's notes. */
  readonly notes: string[];
  /** Whether a row of the file claimed this ledger key (matched or not): what settles a pending entry. */
  readonly claimed: (ledgerKey: string) => boolean;
}

/**
 * Rows no primary key found, kept whole until the file's coverage is known. Beyond this many only
 * their line numbers are kept and the rows are read again from the file: 400k unmatched rows held
 * whole cost 462 MB here.
 */
export const MAX_UNRESOLVED_IN_MEMORY = 20_000;

/** Line numbers as bits: 1M unmatched rows cost 125 KB instead of 1M row objects. */
class LineSet {
  private bits = new Uint8Array(1024);
  size = 0;
  add(line: number): void {
    const byte = line >>> 3;
    if (byte >= this.bits.length) {
      let n = this.bits.length * 2;
      while (n <= byte) n *= 2;
      const bits = new Uint8Array(n);
      bits.set(this.bits);
      this.bits = bits;
    }
    const mask = 1 << (line & 7);
    if (!(this.bits[byte]! & mask)) this.size++;
    this.bits[byte]! |= mask;
  }
  has(line: number): boolean {
    const byte = line >>> 3;
    return byte < this.bits.length && (this.bits[byte]! & (1 << (line & 7))) !== 0;
  }
}

export interface MatcherOptions {
  readonly gateway: string;
  readonly ledger: LedgerLookup;
  /** Report time, epoch ms. */
  readonly now: number;
  /** SETTLEMENT_LAG_DAYS: unsettled entries younger than this are `pending_settlement`. */
  readonly lagDays: number;
  /** This gateway's rules, by currency. */
  readonly feeRules?: Readonly<Record<string, FeeRule>>;
  /**
   * The gateway's ledger may hold `refund_adjustment` entries (Alipay's cumulative `refund_fee`):
   * refund rows are then compared after the covered days are listed, with their adjustments added.
   * Adjustments are found among the covered days' entries (their key has no fixed suffix to get).
   */
  readonly refundAdjustments?: boolean;
  /** The format has capture reversals (Stripe): short payment rows wait for them until the end. */
  readonly netsCaptureReversals?: boolean;
  /** Receives each exception as it is found; without it they are collected in {@link MatchOutcome}. */
  readonly emit?: (item: ExceptionItem) => void;
  /**
   * Rows no key found that are kept whole; past it, {@link Matcher.finish} needs `reread`.
   * @default Infinity
   */
  readonly maxUnresolved?: number;
}

/** An entry's amount with the sign of its kind (CONTRACT §5, `KIND_SIGN`). */
function signedLedger(entry: LedgerEntry): number {
  return (KIND_SIGN.get(entry.kind) ?? 0) * entry.amountMinor;
}

/** Refund rows and refund-failure rows without an entry are `unmatched_refund`; the rest `missing_in_ledger`. */
const REFUND_KINDS: ReadonlySet<string> = new Set(['refund', 'refund_failed']);

function fmt(minor: number, currency: string): string {
  return isCurrency(currency) ? `${formatMajor(minor, currency)} ${currency}` : `${minor} minor ${currency}`;
}

/** The ids a row may match an entry by, besides its primary key. */
function fallbackRefs(row: SettlementRow): string[] {
  // Never the payment a refund refunds (it would "match" a sibling refund of the same payment), and
  // the order id only for rows without their own transaction id: a second transaction for the same
  // order is exactly the double payment we must not hide behind the first one.
  return row.references.filter(
    (r) => r !== row.refundOf && (row.transactionId === undefined || r !== row.orderId),
  );
}

/**
 * The row's own id, which tells two rows for one ledger entry apart: Stripe's balance transaction
 * (`txn_…`) when the file has one, else the row's transaction id, else its line.
 */
function rowIdOf(row: SettlementRow): string {
  return row.references.find((r) => r.startsWith('txn_')) ?? row.transactionId ?? `line-${row.line}`;
}

function entryKeys(entry: LedgerEntry): string[] {
  const keys = [entry.transactionId, ...Object.values(entry.references)];
  if (entry.orderId) keys.push(entry.orderId);
  return keys;
}

async function* entriesOf(
  source: AsyncIterable<LedgerEntry> | Promise<readonly LedgerEntry[]>,
): AsyncGenerator<LedgerEntry> {
  if (Symbol.asyncIterator in source) yield* source;
  else yield* await source;
}

/** Validates a fee schedule's rules once, so a typo fails the run instead of flagging every row. */
export function validateFeeRules(rules: Readonly<Record<string, FeeRule>>): void {
  for (const [currency, rule] of Object.entries(rules)) {
    try {
      const d = parseDecimal(rule.percent);
      if (d.units < 0n) throw new Error('negative');
    } catch (err) {
      throw new SettlementConfigError(
        `fee schedule ${currency}: percent ${JSON.stringify(rule.percent)} is not a decimal`,
        { cause: err },
      );
    }
    if (!Number.isSafeInteger(rule.fixedMinor)) {
      throw new SettlementConfigError(`fee schedule ${currency}: fixedMinor must be an integer`);
    }
  }
}

/** Expected fee for a gross amount: |gross| × percent / 100, half-up, plus the fixed part. */
export function expectedFee(grossMinor: number, rule: FeeRule): number {
  const p = parseDecimal(rule.percent);
  const variable = divRoundHalfUp(BigInt(Math.abs(grossMinor)) * p.units, 10n ** BigInt(p.scale + 2));
  return Number(variable) + rule.fixedMinor;
}

/**
 * Streams rows in (`push`, then `flush` when it says the batch is full), then `finish` with the
 * file's coverage. One instance per file.
 */
export class Matcher {
  private readonly counts = zeroCounts();
  private readonly totals = new Map<string, Sums>();
  private lastCurrency: string | undefined;
  private lastTotals: Sums | undefined;
  private readonly exceptions: ExceptionItem[] = [];
  private readonly emit: (item: ExceptionItem) => void;
  /** Ledger key → line of the first row that claimed it. The one per-entry state we keep. */
  private readonly claimed: ClaimSet;
  private batch: SettlementRow[] = [];
  /** Rows no primary key found; matched by reference at the end (few in a healthy file). */
  private readonly unresolved: SettlementRow[] = [];
  /** Claimed refund rows waiting for their `refund_adjustment` entries (see `refundAdjustments`). */
  private readonly deferredRefunds: { row: SettlementRow; entry: LedgerEntry }[] = [];
  /** Payment rows whose amount differs: a capture reversal later in the file may explain it. */
  private readonly shortPayments: { row: SettlementRow; entry: LedgerEntry }[] = [];
  /** Stripe `partial_capture_reversal` rows, netted with their charge at the end. */
  private readonly captureReversals: SettlementRow[] = [];
  /** Ignored rows by reason, for one note each. */
  private readonly ignoredReasons = new Map<string, number>();
  /** Lines of the unresolved rows past {@link MatcherOptions.maxUnresolved}, read again at the end. */
  private readonly overflow = new LineSet();
  private readonly maxUnresolved: number;

  constructor(private readonly options: MatcherOptions) {
    if (options.feeRules) validateFeeRules(options.feeRules);
    this.emit = options.emit ?? ((item) => this.exceptions.push(item));
    this.maxUnresolved = options.maxUnresolved ?? Number.POSITIVE_INFINITY;
    // Every key this matcher claims starts with its gateway (`{gateway}#{transactionId}#{kind}`).
    this.claimed = new ClaimSet(`${options.gateway}#`);
  }

  /** Rows that must be read again at the end ({@link finish}'s `reread`). */
  get overflowRows(): number {
    return this.overflow.size;
  }

  private keepUnresolved(row: SettlementRow): void {
    if (this.unresolved.length < this.maxUnresolved) this.unresolved.push(row);
    else this.overflow.add(row.line);
  }

  /** Adds one parsed item. Returns true when a batch is full: the caller must `await flush()`. */
  push(item: ParsedItem): boolean {
    if (item.kind === 'rejected') {
      this.reject(item);
      return false;
    }
    if (item.kind === 'ignored') {
      this.ignore(item.ignoredBecause ?? `${item.sourceType ?? 'unknown'} rows are no transaction`);
      return false;
    }
    if (item.kind === 'capture_reversal') {
      this.captureReversals.push(item);
      return false;
    }
    this.addSettlementTotals(item);
    if (item.transactionId === undefined) {
      this.keepUnresolved(item);
      return false;
    }
    this.batch.push(item);
    return this.batch.length >= LEDGER_BATCH_SIZE;
  }

  /** Looks the pending batch up by primary key and classifies what it finds. */
  async flush(): Promise<void> {
    const rows = this.batch;
    if (!rows.length) return;
    this.batch = [];
    const { gateway, ledger } = this.options;
    // Each key string is built once: its hash is then cached by V8 for the lookup and the claim.
    // One map both dedupes the batch's keys and receives the entries (null: asked, not found).
    const rowKeys: string[] = new Array(rows.length);
    const keys: string[] = [];
    const byKey = new Map<string, LedgerEntry | null>();
    for (let i = 0; i < rows.length; i++) {
      const key = `${gateway}#${rows[i]!.transactionId!}#${rows[i]!.kind}`;
      rowKeys[i] = key;
      // One map operation per row, not has + set: setting a key already there leaves the size.
      const size = byKey.size;
      byKey.set(key, null);
      if (byKey.size !== size) keys.push(key);
    }
    for (let i = 0; i < keys.length; i += LEDGER_BATCH_SIZE) {
      const slice = keys.length <= LEDGER_BATCH_SIZE ? keys : keys.slice(i, i + LEDGER_BATCH_SIZE);
      for (const entry of await ledger.getByKeys(slice)) {
        if (countsInTotals(entry)) byKey.set(entry.pk, entry);
      }
    }
    for (let i = 0; i < rows.length; i++) {
      const key = rowKeys[i]!;
      const entry = byKey.get(key);
      if (entry) this.apply(rows[i]!, entry, key);
      else this.keepUnresolved(rows[i]!);
    }
  }

  /**
   * Ends the file: reference matching, then the ledger side of the covered days. When more rows
   * found no key than are kept whole, `reread` must give the file's items again (the same parse of the
   * same bytes): the rows whose lines were noted are matched as they pass, in file order.
   */
  async finish(
    period: Period | null,
    reread?: () => AsyncIterable<readonly ParsedItem[]>,
  ): Promise<MatchOutcome> {
    await this.flush();
    const { gateway, ledger, now, lagDays } = this.options;
    if (this.overflow.size && !reread) {
      throw new SettlementConfigError(
        'more unresolved rows than kept in memory, and no way to read them again',
      );
    }
    // With rows to read again, which references they carry is unknown yet: index every covered
    // entry (bounded by the ledger's days, not by the file's rows).
    const wanted = this.overflow.size ? undefined : new Set<string>();
    if (wanted) for (const row of this.unresolved) for (const ref of fallbackRefs(row)) wanted.add(ref);
    const index = new Map<string, LedgerEntry[]>();
    const unclaimed = new Map<string, LedgerEntry>();
    /** Refund key → Σ its adjustments' amounts (signed as recorded: a correction down is negative). */
    const adjustments = new Map<string, { minor: number; entries: LedgerEntry[] }>();
    if (period) {
      const from = Date.parse(period.from);
      const to = Date.parse(period.to);
      for await (const entry of entriesOf(ledger.listReceived(gateway, period.from, period.to))) {
        if (!countsInTotals(entry) || entry.gateway !== gateway) continue;
        const received = Date.parse(entry.receivedAt);
        if (!(received >= from && received < to)) continue;
        // (a string compare: the kind joins the callback side's EntryKind with the refund lifecycle)
        if ((entry.kind as string) === 'refund_adjustment') {
          const refundKey = `${gateway}#${entry.transactionId}#refund`;
          const a = adjustments.get(refundKey) ?? { minor: 0, entries: [] };
          a.minor += entry.amountMinor;
          a.entries.push(entry);
          adjustments.set(refundKey, a);
          continue;
        }
        if (!wanted || wanted.size) {
          for (const key of entryKeys(entry)) {
            if (wanted && !wanted.has(key)) continue;
            const list = index.get(key) ?? [];
            if (!list.some((e) => e.pk === entry.pk)) list.push(entry);
            index.set(key, list);
          }
        }
        if (!this.claimed.has(entry.pk)) unclaimed.set(entry.pk, entry);
      }
    }
    const resolve = (row: SettlementRow): void => {
      let entry: LedgerEntry | undefined;
      for (const ref of fallbackRefs(row)) {
        const candidates = index.get(ref)?.filter((e) => e.kind === row.kind);
        // An id shared by several entries says nothing about which one this row is.
        if (candidates?.length === 1) {
          entry = candidates[0];
          break;
        }
      }
      if (entry) {
        this.apply(row, entry, entry.pk, adjustments);
        unclaimed.delete(entry.pk);
      } else {
        this.unmatched(row);
      }
    };
    for (const row of this.unresolved) resolve(row);
    this.unresolved.length = 0;
    if (this.overflow.size && reread) {
      for await (const items of reread()) {
        for (const item of items) {
          if (item.kind !== 'rejected' && item.kind !== 'ignored' && this.overflow.has(item.line)) {
            resolve(item);
          }
        }
      }
    }
    for (const { row, entry } of this.deferredRefunds) {
      this.classify(row, entry, adjustments.get(entry.pk)?.minor ?? 0);
      adjustments.delete(entry.pk);
    }
    this.netCaptureReversals();
    const ledgerSide: ExceptionItem[] = [];
    const lagMs = lagDays * 86_400_000;
    // An adjustment belongs to its refund: with it when the refund is unsettled, alone otherwise.
    const unsettled: { entry: LedgerEntry; signed: number }[] = [];
    for (const entry of unclaimed.values()) {
      const adjusted = adjustments.get(entry.pk);
      adjustments.delete(entry.pk);
      unsettled.push({ entry, signed: signedLedger(entry) - (adjusted?.minor ?? 0) });
    }
    for (const [refundKey, a] of adjustments) {
      if (this.claimed.has(refundKey)) continue;
      for (const entry of a.entries) unsettled.push({ entry, signed: signedLedger(entry) });
    }
    for (const { entry, signed } of unsettled) {
      const pending = now - Date.parse(entry.receivedAt) < lagMs;
      const category = pending ? 'pending_settlement' : 'missing_in_settlement';
      this.counts[category]++;
      // Pending entries are not yet due: they stay out of the ledger total, or every report would drift.
      if (!pending) this.totalsFor(entry.currency).ledgerGross.add(signed);
      ledgerSide.push({
        category,
        gateway,
        transactionId: entry.transactionId,
        ...(entry.orderId ? { orderId: entry.orderId } : {}),
        currency: entry.currency,
        ledgerAmountMinor: signed,
        ledgerAt: entry.receivedAt,
        kind: entry.kind,
        ledgerKey: entry.pk,
        references: entryKeys(entry).filter((k) => k !== entry.orderId),
        note: pending
          ? `${entry.kind} received ${entry.receivedAt}, within the ${lagDays}-day settlement lag: expected in a later file`
          : `${entry.kind} received ${entry.receivedAt}, no settlement row for it`,
      });
    }
    // Row exceptions went out in the order rows were decided; the ledger side (bounded by the
    // covered days) follows, oldest first.
    ledgerSide.sort((a, b) => (a.ledgerAt! < b.ledgerAt! ? -1 : a.ledgerAt! > b.ledgerAt! ? 1 : 0));
    const notes = [...this.ignoredReasons].map(([reason, n]) => `${n} row(s) ignored: ${reason}`);
    for (const item of ledgerSide) this.emit(item);
    return {
      counts: this.counts,
      totals: new Map(
        [...this.totals].map(([currency, t]) => [
          currency,
          {
            ledgerGrossMinor: t.ledgerGross.value,
            settlementGrossMinor: t.settlementGross.value,
            feesMinor: t.fees.value,
            netMinor: t.net.value,
          },
        ]),
      ),
      exceptions: this.exceptions,
      notes,
      claimed: (key) => this.claimed.has(key),
    };
  }

  private ignore(reason: string): void {
    this.counts.ignored++;
    this.ignoredReasons.set(reason, (this.ignoredReasons.get(reason) ?? 0) + 1);
  }

  /**
   * Stripe `partial_capture_reversal`: the uncaptured part of an authorisation, booked as its own
   * balance transaction. It is netted with its charge's row (a charge authorised at 200 and captured
   * at 150 matches the ledger's 150); a charge that is not in this file (or matched already) leaves
   * it `ignored`, named, because the ledger already holds the captured amount.
   */
  private netCaptureReversals(): void {
    const byRef = new Map<string, { row: SettlementRow; entry: LedgerEntry; netted: number }>();
    const short = this.shortPayments.map((p) => ({ ...p, netted: 0 }));
    for (const p of short) for (const ref of p.row.references) if (!byRef.has(ref)) byRef.set(ref, p);
    for (const r of this.captureReversals) {
      const refs = r.refundOf ? [r.refundOf, ...r.references] : r.references;
      const charge = refs.map((ref) => byRef.get(ref)).find((p) => p !== undefined);
      if (!charge) {
        this.ignore(
          `partial capture reversal of a charge not in this file or already matched (${r.refundOf ?? r.references[0] ?? 'no id'}): the ledger holds the captured amount`,
        );
        continue;
      }
      charge.netted += r.grossMinor;
      this.addSettlementTotals(r);
    }
    for (const p of short) {
      const row =
        p.netted === 0
          ? p.row
          : {
              ...p.row,
              grossMinor: p.row.grossMinor + p.netted,
              ...(p.row.fx?.amountMinor !== undefined
                ? { fx: { ...p.row.fx, amountMinor: p.row.fx.amountMinor + p.netted } }
                : {}),
            };
      this.classify(row, p.entry, 0, true);
    }
  }

  private totalsFor(currency: string): Sums {
    // Rows of a file share a currency or two: remember the last one asked for.
    if (currency === this.lastCurrency && this.lastTotals) return this.lastTotals;
    let t = this.totals.get(currency);
    if (!t) {
      t = {
        ledgerGross: new ExactSum(),
        settlementGross: new ExactSum(),
        fees: new ExactSum(),
        net: new ExactSum(),
      };
      this.totals.set(currency, t);
    }
    this.lastCurrency = currency;
    this.lastTotals = t;
    return t;
  }

  /**
   * Settlement gross is summed in the currency matching compares (Stripe's customer-facing side when
   * given), so ledger and settlement totals are comparable; fees and net stay in the settlement currency.
   */
  private addSettlementTotals(row: SettlementRow): void {
    const own = this.totalsFor(row.currency);
    own.fees.add(row.feeMinor);
    own.net.add(row.netMinor);
    if (row.fx?.amountMinor !== undefined && row.fx.currency) {
      const signed = row.grossMinor < 0 ? -Math.abs(row.fx.amountMinor) : Math.abs(row.fx.amountMinor);
      this.totalsFor(row.fx.currency).settlementGross.add(signed);
    } else {
      own.settlementGross.add(row.grossMinor);
    }
  }

  private reject(item: RejectedRow): void {
    this.emit({
      category: 'rejected',
      gateway: this.options.gateway,
      ...(item.transactionId ? { transactionId: item.transactionId } : {}),
      note: `line ${item.line}: ${item.reason}`,
      line: item.line,
    });
  }

  private rowException(
    category: ExceptionItem['category'],
    row: SettlementRow,
    note: string,
    entry?: LedgerEntry,
    fee?: { expected: number },
  ): void {
    const compareCurrency = row.fx?.currency ?? row.currency;
    const compareAmount = row.fx?.amountMinor !== undefined ? row.fx.amountMinor : row.grossMinor;
    this.emit({
      category,
      gateway: this.options.gateway,
      ...(row.transactionId ? { transactionId: row.transactionId } : {}),
      ...((row.orderId ?? entry?.orderId) ? { orderId: row.orderId ?? entry?.orderId } : {}),
      currency: compareCurrency,
      settlementAmountMinor: compareAmount,
      ...(entry ? { ledgerAmountMinor: signedLedger(entry), ledgerAt: entry.receivedAt } : {}),
      feeMinor: row.feeMinor,
      ...(fee ? { expectedFeeMinor: fee.expected } : {}),
      settledAt: row.settledAt,
      note: `line ${row.line}: ${note}`,
      line: row.line,
      kind: entry?.kind ?? row.kind,
      ...(entry ? { ledgerKey: entry.pk } : {}),
      references: fallbackRefs(row),
      rowId: rowIdOf(row),
    });
  }

  private apply(
    row: SettlementRow,
    entry: LedgerEntry,
    key: string = entry.pk,
    adjustments?: ReadonlyMap<string, { minor: number }>,
  ): void {
    const firstLine = this.claimed.claim(key, row.line);
    if (firstLine !== undefined) {
      this.counts.duplicate_in_settlement++;
      this.rowException(
        'duplicate_in_settlement',
        row,
        `another ${row.kind} row for ${entry.pk}, first on line ${firstLine}`,
        entry,
      );
      return;
    }
    if (row.kind === 'refund' && this.options.refundAdjustments && !adjustments) {
      this.deferredRefunds.push({ row, entry });
      return;
    }
    this.classify(row, entry, adjustments?.get(entry.pk)?.minor ?? 0);
  }

  /**
   * Categorises a claimed row. `adjustMinor` (Σ of the refund's `refund_adjustment` entries) is added
   * to a refund's amount; `final` says a short payment was already given its chance to be netted.
   */
  private classify(row: SettlementRow, entry: LedgerEntry, adjustMinor: number, final = false): void {
    const ledgerMinor = entry.amountMinor + adjustMinor;
    const signedEntry = (KIND_SIGN.get(entry.kind) ?? 0) * ledgerMinor;
    if (entry.classification === 'double_payment') {
      this.totalsFor(entry.currency).ledgerGross.add(signedEntry);
      this.counts.double_payment++;
      this.rowException(
        'double_payment',
        row,
        `the ledger recorded ${entry.transactionId} as a second payment of order ${entry.orderId ?? '(unknown)'}`,
        entry,
      );
      return;
    }
    const currency: Currency = row.fx?.currency ?? row.currency;
    const amount = Math.abs(row.fx?.amountMinor ?? row.grossMinor);
    if (
      row.kind === 'payment' &&
      !final &&
      currency === entry.currency &&
      amount !== ledgerMinor &&
      this.options.netsCaptureReversals
    ) {
      this.shortPayments.push({ row, entry });
      return;
    }
    this.totalsFor(entry.currency).ledgerGross.add(signedEntry);
    if (currency !== entry.currency) {
      this.counts.currency_mismatch++;
      this.rowException(
        'currency_mismatch',
        row,
        `${row.kind} settled as ${fmt(amount, currency)}, the ledger has ${fmt(ledgerMinor, entry.currency)}`,
        entry,
      );
      return;
    }
    if (amount !== ledgerMinor) {
      this.counts.amount_mismatch++;
      this.rowException(
        'amount_mismatch',
        row,
        `${row.kind} settled ${fmt(amount, currency)}, the ledger has ${fmt(ledgerMinor, entry.currency)}${adjustMinor ? ` (refund ${fmt(entry.amountMinor, entry.currency)} with adjustments ${fmt(adjustMinor, entry.currency)})` : ''}`,
        entry,
      );
      return;
    }
    this.counts.matched++;
    const rules = this.options.feeRules;
    const rule =
      row.kind === 'payment' && rules && Object.hasOwn(rules, row.currency) ? rules[row.currency] : undefined;
    if (rule) {
      const expected = expectedFee(row.grossMinor, rule);
      // One minor unit of tolerance: gateways round per fee component.
      if (Math.abs(row.feeMinor - expected) > 1) {
        this.counts.fee_mismatch++;
        this.rowException(
          'fee_mismatch',
          row,
          `fee ${fmt(row.feeMinor, row.currency)}, the schedule says ${fmt(expected, row.currency)} (${rule.percent} % + ${fmt(rule.fixedMinor, row.currency)})`,
          entry,
          { expected },
        );
      }
    }
  }

  private unmatched(row: SettlementRow): void {
    const id = row.transactionId ?? row.references[0] ?? '(no id)';
    if (REFUND_KINDS.has(row.kind)) {
      this.counts.unmatched_refund++;
      this.rowException(
        'unmatched_refund',
        row,
        `no ${row.kind} ${id} in the ledger${row.refundOf ? ` (refund of ${row.refundOf})` : ''}`,
      );
    } else {
      this.counts.missing_in_ledger++;
      this.rowException('missing_in_ledger', row, `no ${row.kind} ${id} in the ledger`);
    }
  }
}
