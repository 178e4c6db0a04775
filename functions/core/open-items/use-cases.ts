/**
 * The open-item use cases: record a reconciliation's exceptions (and settle what it settled), the
 * daily run, a person's resolution, the list. The store and the ledger are ports; every write is a
 * read-modify-write that expects the version it read, so concurrent reconciliations of two gateways,
 * the daily run and a person resolving never lose each other's change.
 */
import type { Alerts } from '../alerts.ts';
import { countsInTotals, type LedgerEntry } from '../ledger.ts';
import type { ExceptionSink } from '../settlement/reconcile.ts';
import type { ExceptionItem } from '../settlement/types.ts';
import {
  applySighting,
  type ChangeContext,
  isLedgerSide,
  isRowSide,
  itemKey,
  markMissing,
  NotOpenError,
  type OpenItem,
  type OpenItemCategory,
  OpenItemNotFoundError,
  type OpenItemState,
  type OpenItemView,
  olderThanCutoff,
  pastLag,
  type ResolutionReason,
  resolve,
  type Sighting,
  SYSTEM_DAILY,
  SYSTEM_RECONCILE,
  settle,
  sightingOf,
  Totals,
  viewOf,
} from './model.ts';
import { openItemsCsv, openItemsHtml } from './render.ts';

export interface OpenItemsQuery {
  readonly state: OpenItemState;
  readonly gateway?: string;
  readonly category?: string;
  /** Only items first seen before this instant (ISO 8601). */
  readonly firstSeenBefore?: string;
}

/** The store port. The DynamoDB adapter answers every query from an index, never a Scan. */
export interface OpenItemsStore {
  get(id: string): Promise<OpenItem | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, OpenItem>>;
  /** Alias → item id, for the aliases that exist. */
  findAliases(aliases: readonly string[]): Promise<Map<string, string>>;
  putAliases(aliases: ReadonlyMap<string, string>): Promise<void>;
  /** Writes the item if the stored version is `expected` (undefined: the item must not exist yet). */
  put(item: OpenItem, expected: number | undefined): Promise<boolean>;
  /**
   * Writes up to {@link MAX_WRITES_AT_ONCE} items, each on the same condition as `put`, all or none
   * (one request): false when any condition failed or the write conflicted, and then none was written.
   */
  putAll(writes: readonly { item: OpenItem; expected: number | undefined }[]): Promise<boolean>;
  page(
    query: OpenItemsQuery,
    limit: number,
    cursor?: string,
  ): Promise<{ items: OpenItem[]; cursor?: string }>;
  all(query: OpenItemsQuery): AsyncIterable<OpenItem>;
}

/** Where the open-items pages go (`reports/open-items.csv` and `.html`). */
export interface OpenItemsReports {
  publish(files: { csv: string; html: string }): Promise<void>;
}

export interface LedgerByKey {
  getByKeys(keys: readonly string[]): Promise<readonly LedgerEntry[]>;
}

export interface OpenItemsDeps {
  readonly store: OpenItemsStore;
  readonly reports: OpenItemsReports;
}

/**
 * A file with more exceptions than this opens no items: such a file is a file-level problem (the wrong
 * gateway's file, a ledger not yet loaded), which its own report shows, not thousands of items for a
 * person to resolve one by one. It also keeps the reconcile function's time bounded: 1,000,000
 * unmatched rows would otherwise mean 1,000,000 conditional writes.
 */
export const MAX_ITEMS_PER_FILE = 2000;
/**
 * Collects a run's exceptions for the open items as the run streams them. A file whose exceptions
 * run past what open items take ({@link MAX_ITEMS_PER_FILE} distinct ones) opens none, so beyond a
 * few times that only the count is kept: memory stays bounded whatever the file holds.
 */
export class OpenItemsCollector implements ExceptionSink {
  items: ExceptionItem[] = [];
  dropped = 0;
  add(batch: readonly ExceptionItem[]): void {
    for (const item of batch) {
      if (this.items.length < 4 * MAX_ITEMS_PER_FILE) this.items.push(item);
      else this.dropped++;
    }
  }
  discard(): void {
    this.items = [];
    this.dropped = 0;
  }
}

/** Item writes in flight at once. */
const CONCURRENCY = 8;
/** Items a reconciliation writes in one all-or-nothing request (TransactWriteItems' limit). */
export const MAX_WRITES_AT_ONCE = 100;

/** Version conflicts retried per item before the run fails (and is retried as a whole). */
const MAX_ATTEMPTS = 5;
const LEDGER_BATCH = 100;

export class OpenItemConflictError extends Error {
  constructor(id: string) {
    super(`open item ${id} kept changing under us`);
    this.name = 'OpenItemConflictError';
  }
}

/** Applies `change` to the stored item until the write lands on the version it read. */
async function update(
  store: OpenItemsStore,
  id: string,
  first: OpenItem | undefined,
  change: (current: OpenItem | undefined) => OpenItem | undefined,
): Promise<OpenItem | undefined> {
  let current = first;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const next = change(current);
    if (!next || next === current) return current;
    if (await store.put({ ...next, version: (current?.version ?? -1) + 1 }, current?.version)) {
      return { ...next, version: (current?.version ?? -1) + 1 };
    }
    current = await store.get(id);
  }
  throw new OpenItemConflictError(id);
}

export interface RecordInput {
  readonly gateway: string;
  /** The settlement file's key. */
  readonly file: string;
  readonly at: Date;
  readonly exceptions: Iterable<ExceptionItem>;
  /** Exceptions of the file not passed in `exceptions` (a caller bounding its memory): the file opens no items. */
  readonly dropped?: number;
  /** Whether a row of the file claimed the ledger key. */
  readonly claimed: (ledgerKey: string) => boolean;
}

export interface RecordOutcome {
  readonly seen: number;
  /** Exceptions not turned into items because the file had more than {@link MAX_ITEMS_PER_FILE}. */
  readonly untracked: number;
  readonly opened: number;
  readonly settled: number;
  /** Open items now, and how many of them earlier files first showed. */
  readonly open: number;
  readonly openFromEarlierFiles: number;
}

/**
 * After a reconciliation: one item per exception (found again by every reference it carries), then
 * the gateway's other open items settled where this file matched their entry or their entry has since
 * been written, then the pages regenerated from the table.
 */
export async function recordReconciliation(
  deps: OpenItemsDeps & { ledger: LedgerByKey },
  input: RecordInput,
): Promise<RecordOutcome> {
  const { store } = deps;
  const at = input.at.toISOString();
  const ctx = { at, by: SYSTEM_RECONCILE, file: input.file };
  // One sighting per id: a file listing the same exception twice still makes one item.
  let sightings = new Map<string, Sighting>();
  for (const e of input.exceptions) {
    const s = sightingOf(e);
    if (s) sightings.set(`${s.baseId}${s.suffix}`, s);
  }
  const dropped = input.dropped ?? 0;
  const untracked = dropped > 0 || sightings.size > MAX_ITEMS_PER_FILE ? sightings.size + dropped : 0;
  if (untracked) sightings = new Map();
  const aliasKeys = [...new Set([...sightings.values()].flatMap((s) => s.candidates))];
  const aliases = await store.findAliases(aliasKeys);
  const ids = new Map<string, Sighting>();
  const newAliases = new Map<string, string>();
  for (const s of sightings.values()) {
    // An earlier sighting under another reference wins: the item keeps the id it was first given.
    const base = s.candidates.map((c) => aliases.get(c)).find((v) => v !== undefined) ?? s.baseId;
    ids.set(`${base}${s.suffix}`, s);
    for (const c of s.candidates) if (!aliases.has(c)) newAliases.set(c, base);
  }
  const existing = await store.getMany([...ids.keys()]);
  const opened = [...ids.keys()].filter((id) => !existing.has(id)).length;
  // First attempt: every changed item on the version just read, up to 100 per request. A chunk whose
  // conditions do not all hold (a concurrent writer) is written item by item, re-reading on conflict.
  const writes = [...ids].flatMap(([id, s]) => {
    const before = existing.get(id);
    const next = applySighting(before, id, s, ctx);
    return next && next !== before
      ? [{ id, s, item: { ...next, version: (before?.version ?? -1) + 1 }, expected: before?.version }]
      : [];
  });
  for (let i = 0; i < writes.length; i += MAX_WRITES_AT_ONCE) {
    const chunk = writes.slice(i, i + MAX_WRITES_AT_ONCE);
    if (await store.putAll(chunk)) continue;
    await pool(chunk, CONCURRENCY, async ({ id, s }) => {
      await update(store, id, await store.get(id), (current) => applySighting(current, id, s, ctx));
    });
  }
  await store.putAliases(newAliases);

  const candidates: OpenItem[] = [];
  let settled = 0;
  for await (const item of store.all({ state: 'open', gateway: input.gateway })) {
    if (ids.has(item.id)) continue;
    if (isLedgerSide(item.category) && item.ledgerKey && input.claimed(item.ledgerKey)) {
      const done = await update(store, item.id, item, (c) =>
        c ? settle(c, { how: 'settlement_row', file: input.file, ledgerKey: item.ledgerKey! }, ctx) : c,
      );
      if (done?.state === 'settled') settled++;
    } else if (isRowSide(item.category)) {
      candidates.push(item);
    }
  }
  settled += await settleFromLedger(deps, candidates, ctx);
  const { open, fromOtherFiles } = await publish(deps, input.at, input.file);
  return { seen: ids.size, untracked, opened, settled, open, openFromEarlierFiles: fromOtherFiles };
}

async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** Row items whose ledger entry has since been written (looked up under every reference) settle. */
async function settleFromLedger(
  deps: OpenItemsDeps & { ledger: LedgerByKey },
  items: readonly OpenItem[],
  ctx: ChangeContext,
): Promise<number> {
  const keysOf = (item: OpenItem) => [
    ...new Set([item.id, ...item.references.map((r) => itemKey(item.gateway, r, item.kind))]),
  ];
  const wanted = [...new Set(items.flatMap(keysOf))];
  const found = new Map<string, LedgerEntry>();
  for (let i = 0; i < wanted.length; i += LEDGER_BATCH) {
    for (const entry of await deps.ledger.getByKeys(wanted.slice(i, i + LEDGER_BATCH))) {
      if (countsInTotals(entry)) found.set(entry.pk, entry);
    }
  }
  let settled = 0;
  for (const item of items) {
    const key = keysOf(item).find((k) => found.has(k));
    if (!key) continue;
    const done = await update(deps.store, item.id, item, (c) =>
      c ? settle(c, { how: 'ledger_entry', ledgerKey: key }, ctx) : c,
    );
    if (done?.state === 'settled') settled++;
  }
  return settled;
}

/** Regenerates the pages from the table (never from memory: a concurrent writer's item is not lost). */
async function publish(
  deps: OpenItemsDeps,
  now: Date,
  file?: string,
): Promise<{ open: number; fromOtherFiles: number }> {
  const items: OpenItemView[] = [];
  for await (const item of deps.store.all({ state: 'open' })) items.push(viewOf(item, now));
  await deps.reports.publish({ csv: openItemsCsv(items), html: openItemsHtml(items, now) });
  return { open: items.length, fromOtherFiles: items.filter((i) => i.firstSeenFile !== file).length };
}

export interface DailyInput {
  readonly now: Date;
  readonly lagDays: number;
  readonly maxAgeDays: number;
}

export interface DailyOutcome {
  readonly open: number;
  readonly markedMissing: number;
  readonly settled: number;
  readonly alerted: number;
}

/**
 * The daily run: pending items past the lag become missing in settlement, row items whose ledger
 * entry has been written settle, and every open item older than `maxAgeDays` raises "Open Items
 * Aging" once (the item remembers it; a crash between the write and the alert loses the alert, never
 * doubles it).
 */
export async function runDaily(
  deps: OpenItemsDeps & { ledger: LedgerByKey; alerts: Alerts },
  input: DailyInput,
): Promise<DailyOutcome> {
  const at = input.now.toISOString();
  const ctx = { at, by: SYSTEM_DAILY };
  const rowItems: OpenItem[] = [];
  let markedMissing = 0;
  const open: OpenItem[] = [];
  for await (const item of deps.store.all({ state: 'open' })) open.push(item);
  for (const item of open) {
    if (pastLag(item, input.now, input.lagDays)) {
      const done = await update(deps.store, item.id, item, (c) => (c ? markMissing(c, ctx) : c));
      if (done?.category === 'missing_in_settlement') markedMissing++;
    } else if (isRowSide(item.category)) {
      rowItems.push(item);
    }
  }
  const settled = await settleFromLedger(deps, rowItems, ctx);
  const cutoff = olderThanCutoff(input.now, input.maxAgeDays);
  let alerted = 0;
  for await (const item of deps.store.all({ state: 'open', firstSeenBefore: cutoff })) {
    if (item.agingAlertedAt) continue;
    let claimed = false;
    await update(deps.store, item.id, item, (c) => {
      if (c?.state !== 'open' || c.agingAlertedAt) return c;
      claimed = true;
      return { ...c, agingAlertedAt: at };
    });
    if (!claimed) continue;
    const view = viewOf(item, input.now);
    await deps.alerts.raise('Open Items Aging', {
      id: item.id,
      gateway: item.gateway,
      category: item.category,
      currency: item.currency,
      amountMinor: view.amountMinor,
      ageDays: view.ageDays,
      maxAgeDays: input.maxAgeDays,
      firstSeenAt: item.firstSeenAt,
      firstSeenFile: item.firstSeenFile,
      report: 'reports/open-items.html',
    });
    alerted++;
  }
  const { open: stillOpen } = await publish(deps, input.now);
  return { open: stillOpen, markedMissing, settled, alerted };
}

/** A person resolves an open item; 409 `not_open` otherwise. The ledger is never touched. */
export async function resolveItem(
  deps: OpenItemsDeps,
  id: string,
  input: { reason: ResolutionReason; note: string },
  who: string,
  now: Date,
): Promise<OpenItemView> {
  const item = await deps.store.get(id);
  if (!item) throw new OpenItemNotFoundError(id);
  const ctx = { at: now.toISOString(), by: who };
  const done = await update(deps.store, id, item, (c) => {
    if (!c) throw new OpenItemNotFoundError(id);
    if (c.state !== 'open') throw new NotOpenError(id, c.state);
    return resolve(c, input, ctx);
  });
  await publish(deps, now);
  return viewOf(done!, now);
}

export interface ListInput {
  readonly state: OpenItemState;
  readonly gateway?: string;
  readonly category?: OpenItemCategory;
  readonly olderThanDays?: number;
  readonly limit: number;
  readonly cursor?: string;
}

export interface ListOutcome {
  readonly items: OpenItemView[];
  readonly totals: Record<string, { count: number; amountMinor: number }>;
  readonly nextToken?: string;
}

/** One page of the filter, oldest first, with totals over the whole filter (not the page). */
export async function listItems(deps: Pick<OpenItemsDeps, 'store'>, input: ListInput, now: Date) {
  const query: OpenItemsQuery = {
    state: input.state,
    ...(input.gateway ? { gateway: input.gateway } : {}),
    ...(input.category ? { category: input.category } : {}),
    ...(input.olderThanDays !== undefined
      ? { firstSeenBefore: olderThanCutoff(now, input.olderThanDays) }
      : {}),
  };
  const [page, totals] = await Promise.all([
    deps.store.page(query, input.limit, input.cursor),
    (async () => {
      const t = new Totals();
      for await (const item of deps.store.all(query)) t.add(item);
      return t.toJSON();
    })(),
  ]);
  return {
    items: page.items.map((i) => viewOf(i, now)),
    totals,
    ...(page.cursor ? { nextToken: page.cursor } : {}),
  } satisfies ListOutcome;
}
