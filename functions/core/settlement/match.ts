/**
 * Matching settlement rows against the ledger (CONTRACT §5 categories), streaming: rows arrive in
 * batches, each batch costs one `getByKeys` round trip (DynamoDB BatchGetItem by primary key), and
 * only per-entry state (which ledger keys a row claimed) and the exceptions stay in memory.
 *
 * Two phases, because a file's coverage is known only at its end:
 * 1. each row is looked up by its primary key `{gateway}#{transactionId}#{kind}`: the common case;
 * 2. at the end, the covered days' entries are listed once (GSI query, never a scan): rows that found
 *    no entry by key are matched by their other references, and covered entries no row claimed become
 *    `pending_settlement` or `missing_in_settlement`.
 */
import { countsInTotals, type LedgerEntry, ledgerKey } from '../ledger.ts';
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

interface Totals {
  ledgerGrossMinor: number;
  settlementGrossMinor: number;
  feesMinor: number;
  netMinor: number;
}

/** What matching found: counts per category, per-currency sums, the exception list. */
export interface MatchOutcome {
  readonly counts: Record<Category, number>;
  readonly totals: Map<string, Totals>;
  readonly exceptions: ExceptionItem[];
  /** Whether a row of the file claimed this ledger key (matched or not): what settles a pending entry. */
  readonly claimed: (ledgerKey: string) => boolean;
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
}

function signedLedger(entry: LedgerEntry): number {
  return entry.kind === 'payment' ? entry.amountMinor : -entry.amountMinor;
}

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
  private readonly totals = new Map<string, Totals>();
  private lastCurrency: string | undefined;
  private lastTotals: Totals | undefined;
  private readonly exceptions: ExceptionItem[] = [];
  /** Ledger key → line of the first row that claimed it. The one per-entry state we keep. */
  private readonly claimed = new ClaimSet();
  private batch: SettlementRow[] = [];
  /** Rows no primary key found; matched by reference at the end (few in a healthy file). */
  private readonly unresolved: SettlementRow[] = [];

  constructor(private readonly options: MatcherOptions) {
    if (options.feeRules) validateFeeRules(options.feeRules);
  }

  /** Adds one parsed item. Returns true when a batch is full: the caller must `await flush()`. */
  push(item: ParsedItem): boolean {
    if (item.kind === 'rejected') {
      this.reject(item);
      return false;
    }
    if (item.kind === 'ignored') {
      this.counts.ignored++;
      return false;
    }
    this.addSettlementTotals(item);
    if (item.transactionId === undefined) {
      this.unresolved.push(item);
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
      const key = ledgerKey(gateway, rows[i]!.transactionId!, rows[i]!.kind as 'payment');
      rowKeys[i] = key;
      if (!byKey.has(key)) {
        byKey.set(key, null);
        keys.push(key);
      }
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
      else this.unresolved.push(rows[i]!);
    }
  }

  /** Ends the file: reference matching, then the ledger side of the covered days. */
  async finish(period: Period | null): Promise<MatchOutcome> {
    await this.flush();
    const { gateway, ledger, now, lagDays } = this.options;
    const wanted = new Set<string>();
    for (const row of this.unresolved) for (const ref of fallbackRefs(row)) wanted.add(ref);
    const index = new Map<string, LedgerEntry[]>();
    const unclaimed = new Map<string, LedgerEntry>();
    if (period) {
      const from = Date.parse(period.from);
      const to = Date.parse(period.to);
      for await (const entry of entriesOf(ledger.listReceived(gateway, period.from, period.to))) {
        if (!countsInTotals(entry) || entry.gateway !== gateway) continue;
        const received = Date.parse(entry.receivedAt);
        if (!(received >= from && received < to)) continue;
        if (wanted.size) {
          for (const key of entryKeys(entry)) {
            if (!wanted.has(key)) continue;
            const list = index.get(key) ?? [];
            if (!list.some((e) => e.pk === entry.pk)) list.push(entry);
            index.set(key, list);
          }
        }
        if (!this.claimed.has(entry.pk)) unclaimed.set(entry.pk, entry);
      }
    }
    for (const row of this.unresolved) {
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
        this.apply(row, entry);
        unclaimed.delete(entry.pk);
      } else {
        this.unmatched(row);
      }
    }
    const ledgerSide: ExceptionItem[] = [];
    const lagMs = lagDays * 86_400_000;
    for (const entry of unclaimed.values()) {
      const pending = now - Date.parse(entry.receivedAt) < lagMs;
      const category = pending ? 'pending_settlement' : 'missing_in_settlement';
      this.counts[category]++;
      // Pending entries are not yet due: they stay out of the ledger total, or every report would drift.
      if (!pending) this.totalsFor(entry.currency).ledgerGrossMinor += signedLedger(entry);
      ledgerSide.push({
        category,
        gateway,
        transactionId: entry.transactionId,
        ...(entry.orderId ? { orderId: entry.orderId } : {}),
        currency: entry.currency,
        ledgerAmountMinor: signedLedger(entry),
        ledgerAt: entry.receivedAt,
        kind: entry.kind,
        ledgerKey: entry.pk,
        references: entryKeys(entry).filter((k) => k !== entry.orderId),
        note: pending
          ? `${entry.kind} received ${entry.receivedAt}, within the ${lagDays}-day settlement lag: expected in a later file`
          : `${entry.kind} received ${entry.receivedAt}, no settlement row for it`,
      });
    }
    this.exceptions.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    ledgerSide.sort((a, b) => (a.ledgerAt! < b.ledgerAt! ? -1 : a.ledgerAt! > b.ledgerAt! ? 1 : 0));
    return {
      counts: this.counts,
      totals: this.totals,
      exceptions: [...this.exceptions, ...ledgerSide],
      claimed: (key) => this.claimed.has(key),
    };
  }

  private totalsFor(currency: string): Totals {
    // Rows of a file share a currency or two: remember the last one asked for.
    if (currency === this.lastCurrency && this.lastTotals) return this.lastTotals;
    let t = this.totals.get(currency);
    if (!t) {
      t = { ledgerGrossMinor: 0, settlementGrossMinor: 0, feesMinor: 0, netMinor: 0 };
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
    own.feesMinor += row.feeMinor;
    own.netMinor += row.netMinor;
    if (row.fx?.amountMinor !== undefined && row.fx.currency) {
      const signed = row.grossMinor < 0 ? -Math.abs(row.fx.amountMinor) : Math.abs(row.fx.amountMinor);
      this.totalsFor(row.fx.currency).settlementGrossMinor += signed;
    } else {
      own.settlementGrossMinor += row.grossMinor;
    }
  }

  private reject(item: RejectedRow): void {
    this.exceptions.push({
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
    this.exceptions.push({
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

  private apply(row: SettlementRow, entry: LedgerEntry, key: string = entry.pk): void {
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
    this.totalsFor(entry.currency).ledgerGrossMinor += signedLedger(entry);
    if (entry.classification === 'double_payment') {
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
    if (currency !== entry.currency) {
      this.counts.currency_mismatch++;
      this.rowException(
        'currency_mismatch',
        row,
        `settled as ${fmt(amount, currency)}, the ledger has ${fmt(entry.amountMinor, entry.currency)}`,
        entry,
      );
      return;
    }
    if (amount !== entry.amountMinor) {
      this.counts.amount_mismatch++;
      this.rowException(
        'amount_mismatch',
        row,
        `settled ${fmt(amount, currency)}, the ledger has ${fmt(entry.amountMinor, entry.currency)}`,
        entry,
      );
      return;
    }
    this.counts.matched++;
    const rule = row.kind === 'payment' ? this.options.feeRules?.[row.currency] : undefined;
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
    if (row.kind === 'refund') {
      this.counts.unmatched_refund++;
      this.rowException(
        'unmatched_refund',
        row,
        `no refund ${id} in the ledger${row.refundOf ? ` (refund of ${row.refundOf})` : ''}`,
      );
    } else {
      this.counts.missing_in_ledger++;
      this.rowException('missing_in_ledger', row, `no ${row.kind} ${id} in the ledger`);
    }
  }
}
