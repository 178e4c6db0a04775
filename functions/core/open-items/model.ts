/**
 * Open items (CONTRACT §5 "Open items"): the exceptions of every reconciliation, kept across files
 * until they settle by themselves or a person resolves them. Pure: the state changes are functions of
 * the item and what happened, each leaving a line in the item's history with who and when.
 */
import type { ExceptionItem } from '../settlement/types.ts';

export const OPEN_ITEM_STATES = ['open', 'settled', 'resolved'] as const;
export type OpenItemState = (typeof OPEN_ITEM_STATES)[number];

export const RESOLUTION_REASONS = [
  'written_off',
  'settled_elsewhere',
  'refunded_offline',
  'gateway_error',
  'other',
] as const;
export type ResolutionReason = (typeof RESOLUTION_REASONS)[number];

/** A resolution note longer than this is refused (400). */
export const MAX_NOTE_CHARS = 2000;

export type OpenItemCategory = Exclude<ExceptionItem['category'], 'rejected'>;

/** Who changed an item: a person's IAM principal (or `sandbox`), or the automatic runs. */
export const SYSTEM_RECONCILE = 'system:reconcile';
export const SYSTEM_DAILY = 'system:daily';

/** Categories whose item is a ledger entry waiting for its settlement row. */
const LEDGER_SIDE = new Set<string>(['pending_settlement', 'missing_in_settlement']);
/** Categories whose item is a settlement row waiting for its ledger entry. */
const ROW_SIDE = new Set<string>(['missing_in_ledger', 'unmatched_refund']);

export const isLedgerSide = (category: string): boolean => LEDGER_SIDE.has(category);
export const isRowSide = (category: string): boolean => ROW_SIDE.has(category);

/** What settled an item by itself. */
export interface SettledBy {
  /** `settlement_row`: a later file matched the entry; `ledger_entry`: the entry has since been written. */
  readonly how: 'settlement_row' | 'ledger_entry';
  readonly file?: string;
  readonly ledgerKey?: string;
}

/** One line of the audit trail: every state or category change, with who and when. */
export interface OpenItemEvent {
  readonly at: string;
  readonly by: string;
  readonly change: 'opened' | 'category' | 'settled' | 'resolved';
  readonly category?: string;
  readonly state?: OpenItemState;
  readonly file?: string;
  readonly settledBy?: SettledBy;
  readonly reason?: ResolutionReason;
}

export interface OpenItem {
  /** `{gateway}#{transactionId}#{kind}` (the ledger key, or the row's own), `#dup#{rowId}` / `#fee` suffixed. */
  readonly id: string;
  readonly gateway: string;
  readonly kind: string;
  readonly transactionId: string;
  readonly orderId?: string;
  readonly state: OpenItemState;
  /** The latest category. */
  readonly category: OpenItemCategory;
  /** Every category the item has had, oldest first. */
  readonly categories: readonly OpenItemCategory[];
  readonly currency?: string;
  readonly settlementAmountMinor?: number;
  readonly ledgerAmountMinor?: number;
  /** The ledger entry the item is about, when one was found. */
  readonly ledgerKey?: string;
  readonly ledgerAt?: string;
  /** When the gateway settled the row (the row's date), for row items. */
  readonly rowSettledAt?: string;
  readonly references: readonly string[];
  /** The latest report's explanation of the exception. */
  readonly detail: string;
  readonly firstSeenAt: string;
  readonly firstSeenFile: string;
  readonly lastSeenAt: string;
  readonly lastSeenFile: string;
  readonly settledAt?: string;
  readonly settledBy?: SettledBy;
  readonly resolvedAt?: string;
  readonly resolvedBy?: string;
  readonly reason?: ResolutionReason;
  readonly note?: string;
  /** Set once the daily run raised "Open Items Aging" for the item: once per item. */
  readonly agingAlertedAt?: string;
  readonly history: readonly OpenItemEvent[];
  /** Optimistic concurrency: every write expects the version it read. */
  readonly version: number;
}

/** An item as the API and the reports show it: with its age and the amount its totals count. */
export interface OpenItemView extends Omit<OpenItem, 'version'> {
  readonly ageDays: number;
  readonly amountMinor: number;
}

/** What one reconciliation saw of an item. */
export interface Sighting {
  /** The item id before alias lookup (the ledger key or the row's own), without suffix. */
  readonly baseId: string;
  /** `#dup#{rowId}` or `#fee`, else empty. */
  readonly suffix: string;
  /** Ids under which an earlier sighting of the same exception may have been stored, `baseId` first. */
  readonly candidates: readonly string[];
  readonly gateway: string;
  readonly kind: string;
  readonly transactionId: string;
  readonly orderId?: string;
  readonly category: OpenItemCategory;
  readonly currency?: string;
  readonly settlementAmountMinor?: number;
  readonly ledgerAmountMinor?: number;
  readonly ledgerKey?: string;
  readonly ledgerAt?: string;
  readonly rowSettledAt?: string;
  readonly references: readonly string[];
  readonly detail: string;
}

export class OpenItemNotFoundError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`no open item ${id}`);
    this.name = 'OpenItemNotFoundError';
    this.id = id;
  }
}

export class NotOpenError extends Error {
  readonly id: string;
  readonly state: OpenItemState;
  constructor(id: string, state: OpenItemState) {
    super(`open item ${id} is ${state}, not open`);
    this.name = 'NotOpenError';
    this.id = id;
    this.state = state;
  }
}

const DAY_MS = 86_400_000;
/** References kept per item: enough for every id a gateway gives one transaction. */
const MAX_REFERENCES = 16;
/** Text from a file is bounded before it is stored (the item stays far below DynamoDB's 400 KB). */
const MAX_TEXT = 512;

const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);

/** The key one effect has in the ledger and, by the same rule, one item among the open items. */
export function itemKey(gateway: string, transactionId: string, kind: string): string {
  return `${gateway}#${transactionId}#${kind}`;
}

/**
 * The sighting an exception of a reconciliation is, or undefined for what is no open item (rejected
 * rows are file problems; a row without any id cannot be followed across files).
 */
export function sightingOf(e: ExceptionItem): Sighting | undefined {
  if (e.category === 'rejected' || !e.kind) return undefined;
  const transactionId = e.transactionId ?? e.references?.[0];
  if (!transactionId) return undefined;
  const own = itemKey(e.gateway, transactionId, e.kind);
  const baseId = e.ledgerKey ?? own;
  const references = [...new Set([transactionId, ...(e.references ?? [])])]
    .filter((r) => r !== e.orderId)
    .slice(0, MAX_REFERENCES)
    .map(clip);
  const candidates = [...new Set([baseId, own, ...references.map((r) => itemKey(e.gateway, r, e.kind!))])];
  const suffix =
    e.category === 'duplicate_in_settlement'
      ? `#dup#${e.rowId ?? transactionId}`
      : e.category === 'fee_mismatch'
        ? '#fee'
        : '';
  return {
    baseId,
    suffix,
    candidates,
    gateway: e.gateway,
    kind: e.kind,
    transactionId: clip(transactionId),
    ...(e.orderId ? { orderId: clip(e.orderId) } : {}),
    category: e.category,
    ...(e.currency ? { currency: e.currency } : {}),
    ...(e.settlementAmountMinor !== undefined ? { settlementAmountMinor: e.settlementAmountMinor } : {}),
    ...(e.ledgerAmountMinor !== undefined ? { ledgerAmountMinor: e.ledgerAmountMinor } : {}),
    ...(e.ledgerKey ? { ledgerKey: e.ledgerKey } : {}),
    ...(e.ledgerAt ? { ledgerAt: e.ledgerAt } : {}),
    ...(e.settledAt ? { rowSettledAt: e.settledAt } : {}),
    references,
    detail: clip(e.note),
  };
}

export interface ChangeContext {
  readonly at: string;
  readonly by: string;
  readonly file?: string;
}

/**
 * The item after one more sighting. A new item opens; an open one takes the latest category (kept in
 * its history), amounts and explanation; a settled or resolved one keeps its state and category, and
 * only its last sighting moves (CONTRACT §5).
 */
export function applySighting(
  existing: OpenItem | undefined,
  id: string,
  s: Sighting,
  ctx: ChangeContext & { file: string },
): OpenItem {
  if (!existing) {
    return {
      id,
      gateway: s.gateway,
      kind: s.kind,
      transactionId: s.transactionId,
      ...(s.orderId ? { orderId: s.orderId } : {}),
      state: 'open',
      category: s.category,
      categories: [s.category],
      ...facts(s),
      references: s.references,
      detail: s.detail,
      firstSeenAt: ctx.at,
      firstSeenFile: ctx.file,
      lastSeenAt: ctx.at,
      lastSeenFile: ctx.file,
      history: [
        { at: ctx.at, by: ctx.by, change: 'opened', category: s.category, state: 'open', file: ctx.file },
      ],
      version: 0,
    };
  }
  const seen = { ...existing, lastSeenAt: ctx.at, lastSeenFile: ctx.file };
  if (existing.state !== 'open') return seen;
  // The two halves meet: an earlier file's row had no ledger entry, and this file lists that entry
  // (written since, by a late callback) as unsettled. The row was settled then; the entry is here now.
  if (isRowSide(existing.category) && isLedgerSide(s.category) && s.ledgerKey) {
    return settle(seen, { how: 'ledger_entry', ledgerKey: s.ledgerKey }, ctx);
  }
  const changed = existing.category !== s.category;
  return {
    ...seen,
    ...(s.orderId && !existing.orderId ? { orderId: s.orderId } : {}),
    category: s.category,
    categories: changed ? [...existing.categories, s.category] : existing.categories,
    ...facts(s),
    references: [...new Set([...existing.references, ...s.references])].slice(0, MAX_REFERENCES),
    detail: s.detail,
    history: changed
      ? [
          ...existing.history,
          { at: ctx.at, by: ctx.by, change: 'category', category: s.category, file: ctx.file },
        ]
      : existing.history,
  };
}

function facts(s: Sighting) {
  return {
    ...(s.currency ? { currency: s.currency } : {}),
    ...(s.settlementAmountMinor !== undefined ? { settlementAmountMinor: s.settlementAmountMinor } : {}),
    ...(s.ledgerAmountMinor !== undefined ? { ledgerAmountMinor: s.ledgerAmountMinor } : {}),
    ...(s.ledgerKey ? { ledgerKey: s.ledgerKey } : {}),
    ...(s.ledgerAt ? { ledgerAt: s.ledgerAt } : {}),
    ...(s.rowSettledAt ? { rowSettledAt: s.rowSettledAt } : {}),
  };
}

/** Settled by itself: only an open item moves; anything else is returned as it is. */
export function settle(item: OpenItem, settledBy: SettledBy, ctx: ChangeContext): OpenItem {
  if (item.state !== 'open') return item;
  return {
    ...item,
    state: 'settled',
    settledAt: ctx.at,
    settledBy,
    history: [
      ...item.history,
      { at: ctx.at, by: ctx.by, change: 'settled', state: 'settled', settledBy, ...fileOf(ctx) },
    ],
  };
}

/** The daily run's change: a pending entry past the settlement lag is missing in settlement. */
export function markMissing(item: OpenItem, ctx: ChangeContext): OpenItem {
  if (item.state !== 'open' || item.category !== 'pending_settlement') return item;
  return {
    ...item,
    category: 'missing_in_settlement',
    categories: [...item.categories, 'missing_in_settlement'],
    detail: `${item.kind} received ${item.ledgerAt ?? '(unknown)'}: no settlement row within the settlement lag`,
    history: [
      ...item.history,
      { at: ctx.at, by: ctx.by, change: 'category', category: 'missing_in_settlement' },
    ],
  };
}

/** Whether a pending item's entry is past the lag at `now` (the matcher's rule, CONTRACT §5). */
export function pastLag(item: OpenItem, now: Date, lagDays: number): boolean {
  if (item.category !== 'pending_settlement' || !item.ledgerAt) return false;
  return now.getTime() - Date.parse(item.ledgerAt) >= lagDays * DAY_MS;
}

/** Resolution by a person. The ledger is never touched by it. */
export function resolve(
  item: OpenItem,
  input: { reason: ResolutionReason; note: string },
  ctx: ChangeContext,
): OpenItem {
  if (item.state !== 'open') throw new NotOpenError(item.id, item.state);
  return {
    ...item,
    state: 'resolved',
    resolvedAt: ctx.at,
    resolvedBy: ctx.by,
    reason: input.reason,
    note: input.note,
    history: [
      ...item.history,
      { at: ctx.at, by: ctx.by, change: 'resolved', state: 'resolved', reason: input.reason },
    ],
  };
}

function fileOf(ctx: ChangeContext) {
  return ctx.file ? { file: ctx.file } : {};
}

/** Whole days since the item was first seen. */
export function ageDays(item: Pick<OpenItem, 'firstSeenAt'>, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - Date.parse(item.firstSeenAt)) / DAY_MS));
}

/** The instant an item must have been first seen before to be older than `days` days. */
export function olderThanCutoff(now: Date, days: number): string {
  return new Date(now.getTime() - days * DAY_MS).toISOString();
}

/** The amount the totals count: the settlement amount, else the ledger amount (both signed). */
export function amountOf(item: Pick<OpenItem, 'settlementAmountMinor' | 'ledgerAmountMinor'>): number {
  return item.settlementAmountMinor ?? item.ledgerAmountMinor ?? 0;
}

export function viewOf(item: OpenItem, now: Date): OpenItemView {
  const { version: _version, ...rest } = item;
  return { ...rest, ageDays: ageDays(item, now), amountMinor: amountOf(item) };
}

export type CurrencyCount = { count: number; amountMinor: number };

/** Per-currency count and signed amount; `—` for items without a currency. */
export class Totals {
  private readonly byCurrency = new Map<string, CurrencyCount>();
  add(item: Pick<OpenItem, 'currency' | 'settlementAmountMinor' | 'ledgerAmountMinor'>): void {
    const key = item.currency ?? '—';
    const t = this.byCurrency.get(key) ?? { count: 0, amountMinor: 0 };
    t.count++;
    t.amountMinor += amountOf(item);
    this.byCurrency.set(key, t);
  }
  toJSON(): Record<string, CurrencyCount> {
    const out: Record<string, CurrencyCount> = {};
    for (const c of [...this.byCurrency.keys()].sort()) out[c] = { ...this.byCurrency.get(c)! };
    return out;
  }
}

/** Age bands of the open-items page (CONTRACT §5). */
export const AGE_BANDS = [
  { label: '0–2 days', min: 0, max: 2 },
  { label: '3–7 days', min: 3, max: 7 },
  { label: '8–30 days', min: 8, max: 30 },
  { label: 'over 30 days', min: 31, max: Number.POSITIVE_INFINITY },
] as const;
