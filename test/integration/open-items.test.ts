/**
 * Open items on DynamoDB Local and s3rver, through the real handlers: the reconcile function records
 * them, the open-items function lists and resolves them, the daily function ages and alerts. Each
 * scenario has its own tables and bucket.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { localAlerts } from '../../functions/adapters/alerts.ts';
import type { LedgerEntry } from '../../functions/core/ledger.ts';
import { createHandler as createOpenItems } from '../../functions/open-items/app.ts';
import { createHandler as createDaily } from '../../functions/open-items/open-items-daily/app.ts';
import { createHandler as createReconcile } from '../../functions/reconcile/app.ts';
import { type FixtureRow, stripeCsv } from '../fixtures/settlement/builders.ts';
import { ledgerEntry } from '../fixtures/settlement/ledger.ts';
import { httpEvent } from '../support/http-events.ts';
import { createTestResources, type TestResources } from '../support/resources.ts';
import { objectCreatedEvent } from '../support/s3-events.ts';

interface World {
  r: TestResources;
  clock: { now: Date };
  reconcile: ReturnType<typeof createReconcile>;
  api: ReturnType<typeof createOpenItems>;
  daily: ReturnType<typeof createDaily>;
}

async function world(start: string): Promise<World> {
  const r = await createTestResources();
  const clock = { now: new Date(start) };
  return {
    r,
    clock,
    reconcile: createReconcile(r.envFor('reconcile'), { now: () => clock.now }),
    api: createOpenItems(r.envFor('openItems'), { now: () => clock.now }),
    daily: createDaily(r.envFor('openItemsDaily')),
  };
}

const s3Event = objectCreatedEvent;

async function seed(w: World, entries: LedgerEntry[]) {
  await w.r.doc.send(
    new BatchWriteCommand({
      RequestItems: { [w.r.tables.payments]: entries.map((Item) => ({ PutRequest: { Item } })) },
    }),
  );
}

async function upload(w: World, name: string, rows: FixtureRow[]) {
  const key = `incoming/stripe/${name}`;
  await w.r.s3.send(new PutObjectCommand({ Bucket: w.r.bucket, Key: key, Body: stripeCsv(rows) }));
  const [run] = await w.reconcile(s3Event(w.r.bucket, key));
  return run!;
}

async function read(w: World, key: string): Promise<string> {
  const res = await w.r.s3.send(new GetObjectCommand({ Bucket: w.r.bucket, Key: key }));
  return await res.Body!.transformToString();
}

interface ItemBody {
  id: string;
  state: string;
  category: string;
  categories: string[];
  firstSeenFile: string;
  lastSeenFile: string;
  ageDays: number;
  amountMinor: number;
  settledBy?: { how: string; file?: string; ledgerKey?: string };
  resolvedBy?: string;
  reason?: string;
  note?: string;
  history: { by: string; change: string }[];
}

interface ListBody {
  items: ItemBody[];
  totals: Record<string, { count: number; amountMinor: number }>;
  nextToken?: string;
}

async function list(w: World, query: Record<string, string> = {}) {
  const res = await w.api(
    httpEvent({
      method: 'GET',
      path: '/reconciliation/open-items',
      routeKey: 'GET /reconciliation/open-items',
      query,
    }),
  );
  return { status: res.statusCode, body: JSON.parse(res.body!) as ListBody };
}

async function resolve(w: World, id: string, body: unknown) {
  const res = await w.api(
    httpEvent({
      method: 'POST',
      path: `/reconciliation/open-items/${encodeURIComponent(id)}/resolve`,
      routeKey: 'POST /reconciliation/open-items/{id}/resolve',
      pathParameters: { id },
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
  return { status: res.statusCode, body: JSON.parse(res.body!) as ItemBody & { error?: string } };
}

const payment = (id: string, amountMinor: number, at: string, orderId = `O-${id}`): FixtureRow => ({
  kind: 'payment',
  transactionId: id,
  orderId,
  currency: 'USD',
  grossMinor: amountMinor,
  feeMinor: 30,
  at,
});

describe('settled by itself', () => {
  it('an entry pending in file 1 is settled by file 2, which matches it', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    const day1 = '2026-11-23T10:00:00.000Z';
    await seed(w, [
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_a',
        amountMinor: 1000,
        currency: 'USD',
        receivedAt: day1,
      }),
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_p',
        amountMinor: 2500,
        currency: 'USD',
        receivedAt: day1,
      }),
    ]);
    await upload(w, 'day1.csv', [payment('pi_a', 1000, day1)]);
    let open = await list(w);
    expect(open.body.items.map((i) => [i.id, i.category])).toEqual([
      ['stripe#pi_p#payment', 'pending_settlement'],
    ]);
    expect(open.body.totals).toEqual({ USD: { count: 1, amountMinor: 2500 } });
    // The file's own report says what is open and links the page.
    const html = await read(w, 'reports/stripe/day1/report.html');
    expect(html).toContain('href="../../open-items.html"');
    expect(await read(w, 'reports/open-items.csv')).toContain('"stripe#pi_p#payment"');

    w.clock.now = new Date('2026-11-25T09:00:00.000Z');
    await upload(w, 'day2.csv', [payment('pi_p', 2500, '2026-11-24T08:00:00.000Z')]);
    open = await list(w);
    expect(open.body.items).toEqual([]);
    const settled = await list(w, { state: 'settled' });
    expect(settled.body.items).toHaveLength(1);
    expect(settled.body.items[0]).toMatchObject({
      id: 'stripe#pi_p#payment',
      state: 'settled',
      settledBy: { how: 'settlement_row', file: 'incoming/stripe/day2.csv' },
    });
    expect(settled.body.items[0]!.history.map((h) => [h.change, h.by])).toEqual([
      ['opened', 'system:reconcile'],
      ['settled', 'system:reconcile'],
    ]);
    expect(await read(w, 'reports/open-items.html')).toContain('No open items');
  });

  it('a missing_in_ledger row is settled by the next run after its late callback', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    const at = '2026-11-23T10:00:00.000Z';
    await upload(w, 'late.csv', [payment('pi_late', 4200, at)]);
    expect((await list(w)).body.items.map((i) => [i.id, i.category])).toEqual([
      ['stripe#pi_late#payment', 'missing_in_ledger'],
    ]);
    // The callback arrives a day late; the callback path does not touch open items.
    await seed(w, [
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_late',
        amountMinor: 4200,
        currency: 'USD',
        receivedAt: '2026-11-24T12:00:00.000Z',
      }),
    ]);
    expect((await list(w)).body.items).toHaveLength(1);
    w.clock.now = new Date('2026-11-25T09:00:00.000Z');
    await upload(w, 'next.csv', [payment('pi_other', 100, '2026-11-24T13:00:00.000Z')]);
    const settled = (await list(w, { state: 'settled' })).body.items;
    expect(settled.map((i) => [i.id, i.settledBy])).toEqual([
      ['stripe#pi_late#payment', { how: 'ledger_entry', ledgerKey: 'stripe#pi_late#payment' }],
    ]);
  });

  it('the daily run settles a row whose ledger entry was written on a day no later file covers', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    await upload(w, 'orphan.csv', [payment('pi_orphan', 4200, '2026-11-23T10:00:00.000Z')]);
    await seed(w, [
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_orphan',
        amountMinor: 4200,
        currency: 'USD',
        receivedAt: '2026-11-20T12:00:00.000Z',
      }),
    ]);
    expect(await w.daily({ time: '2026-11-25T00:00:00.000Z' })).toMatchObject({ settled: 1, open: 0 });
    const [item] = (await list(w, { state: 'settled' })).body.items;
    expect(item).toMatchObject({ settledBy: { how: 'ledger_entry', ledgerKey: 'stripe#pi_orphan#payment' } });
    expect(item!.history.at(-1)).toMatchObject({ change: 'settled', by: 'system:daily' });
  });

  it('a row without its payment intent finds the pi_ item through its charge: one item', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    const at = '2026-11-23T10:00:00.000Z';
    await seed(w, [
      ledgerEntry({
        gateway: 'stripe',
        transactionId: 'pi_c',
        amountMinor: 900,
        currency: 'USD',
        receivedAt: at,
        references: { payment_intent: 'pi_c', latest_charge: 'ch_pi_c' },
      }),
    ]);
    // File 1 does not cover the entry's day with a row for it: pending.
    await upload(w, 'f1.csv', [payment('pi_x1', 100, at)]);
    // File 2 settles it at another amount, and its row names only the charge (no payment_intent_id).
    const csv = stripeCsv([payment('pi_c', 950, at)]).replace(/,pi_c,/g, ',,');
    await w.r.s3.send(new PutObjectCommand({ Bucket: w.r.bucket, Key: 'incoming/stripe/f2.csv', Body: csv }));
    await w.reconcile(s3Event(w.r.bucket, 'incoming/stripe/f2.csv'));
    const items = (await list(w, { gateway: 'stripe' })).body.items.filter((i) => i.id.includes('pi_c'));
    expect(items.map((i) => [i.id, i.category, i.categories])).toEqual([
      ['stripe#pi_c#payment', 'amount_mismatch', ['pending_settlement', 'amount_mismatch']],
    ]);
  });
});

describe('the same file twice', () => {
  it('leaves one item, first and last sighting kept', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    const at = '2026-11-23T10:00:00.000Z';
    const rows = [payment('pi_twice', 700, at)];
    await upload(w, 'same.csv', rows);
    await upload(w, 'same.csv', rows);
    // New content under another name: the same exception, seen in a second file.
    w.clock.now = new Date('2026-11-25T09:00:00.000Z');
    await upload(w, 'again.csv', rows);
    const { items } = (await list(w)).body;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      id: 'stripe#pi_twice#payment',
      firstSeenFile: 'incoming/stripe/same.csv',
      lastSeenFile: 'incoming/stripe/again.csv',
      ageDays: 1,
    });
  });
});

describe('two files reconciled at once', () => {
  it('sharing exceptions: each item written once with both sightings, none lost to the other run', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    const at = '2026-11-23T10:00:00.000Z';
    // The runs write their new items in one all-or-nothing request each: the loser's request fails on
    // the shared items and falls back to writing item by item on the versions it then reads.
    const rows = Array.from({ length: 30 }, (_, i) => payment(`pi_both_${i}`, 100 + i, at));
    for (const [name, body] of [
      ['a.csv', rows],
      ['b.csv', [...rows].reverse()],
    ] as const) {
      await w.r.s3.send(
        new PutObjectCommand({ Bucket: w.r.bucket, Key: `incoming/stripe/${name}`, Body: stripeCsv(body) }),
      );
    }
    const runs = await Promise.all([
      w.reconcile(s3Event(w.r.bucket, 'incoming/stripe/a.csv')),
      w.reconcile(s3Event(w.r.bucket, 'incoming/stripe/b.csv')),
    ]);
    expect(runs.map(([run]) => run!.outcome)).toEqual(['reported', 'reported']);
    const { items } = (await list(w)).body;
    expect(items).toHaveLength(30);
    for (const item of items) {
      const stored = await w.r.doc.send(
        new GetCommand({
          TableName: w.r.tables.openItems,
          Key: { pk: `item#${item.id}` },
          ConsistentRead: true,
        }),
      );
      // Opened by one run (version 0), seen again by the other (version 1).
      expect(stored.Item?.version, item.id).toBe(1);
      expect([item.firstSeenFile, item.lastSeenFile].sort()).toEqual([
        'incoming/stripe/a.csv',
        'incoming/stripe/b.csv',
      ]);
    }
  });
});

describe('resolution by a person', () => {
  it('resolves once, then 409 not_open; 404 for an unknown id; 400 for a bad reason or a long note', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    await upload(w, 'r.csv', [payment('pi_r', 1500, '2026-11-23T10:00:00.000Z')]);
    const id = 'stripe#pi_r#payment';

    expect((await resolve(w, id, { reason: 'refunded', note: 'x' })).status).toBe(400);
    const long = await resolve(w, id, { reason: 'other', note: 'n'.repeat(2001) });
    expect(long.status).toBe(400);
    expect(long.body.error).toBe('validation_error');
    expect((await resolve(w, id, 'not json')).status).toBe(400);
    expect((await resolve(w, 'stripe#pi_nope#payment', { reason: 'other', note: '' })).body).toEqual({
      error: 'open_item_not_found',
    });

    const ok = await resolve(w, id, { reason: 'settled_elsewhere', note: 'n'.repeat(2000) });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      id,
      state: 'resolved',
      resolvedBy: 'sandbox',
      reason: 'settled_elsewhere',
    });
    expect(ok.body.history.at(-1)).toMatchObject({ change: 'resolved', by: 'sandbox' });
    const again = await resolve(w, id, { reason: 'other', note: '' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('not_open');
    expect((await list(w)).body.items).toEqual([]);
    expect(await read(w, 'reports/open-items.csv')).not.toContain('pi_r');
    // The ledger is untouched by a resolution.
    const ledger = await w.r.doc.send(
      new GetCommand({ TableName: w.r.tables.payments, Key: { pk: 'stripe#pi_r#payment' } }),
    );
    expect(ledger.Item).toBeUndefined();

    // A resolved item seen again stays resolved; only its last sighting moves.
    w.clock.now = new Date('2026-11-25T09:00:00.000Z');
    await upload(w, 'r2.csv', [payment('pi_r', 1500, '2026-11-23T10:00:00.000Z')]);
    const resolved = (await list(w, { state: 'resolved' })).body.items;
    expect(resolved.map((i) => [i.state, i.lastSeenFile])).toEqual([['resolved', 'incoming/stripe/r2.csv']]);
  });
});

describe('the list', () => {
  it('pages through more than one page with totals over the whole filter', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    const at = '2026-11-23T10:00:00.000Z';
    const rows = Array.from({ length: 5 }, (_, i) => payment(`pi_page${i}`, 100 * (i + 1), at));
    await upload(w, 'page.csv', rows);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await list(w, { limit: '2', ...(token ? { nextToken: token } : {}) });
      expect(status).toBe(200);
      expect(body.items.length).toBeLessThanOrEqual(2);
      expect(body.totals).toEqual({ USD: { count: 5, amountMinor: 1500 } });
      seen.push(...body.items.map((i) => i.id));
      token = body.nextToken;
      pages++;
    } while (token);
    expect(pages).toBeGreaterThan(1);
    expect(seen.sort()).toEqual(rows.map((r) => `stripe#${r.transactionId}#payment`).sort());

    w.clock.now = new Date('2026-11-24T10:00:00.000Z');
    const filtered = await list(w, { category: 'missing_in_ledger', gateway: 'stripe', olderThanDays: '0' });
    expect(filtered.body.totals.USD?.count).toBe(5);
    expect((await list(w, { olderThanDays: '3' })).body.items).toEqual([]);
    expect((await list(w, { state: 'closed' })).status).toBe(400);
    expect((await list(w, { nextToken: 'garbage' })).status).toBe(400);
  });
});

describe('the daily run', () => {
  it('moves pending items past the lag to missing_in_settlement, and alerts once per old item across two ticks', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    const at = '2026-11-24T08:00:00.000Z';
    const tag = randomBytes(4).toString('hex');
    await seed(w, [
      ledgerEntry({
        gateway: 'stripe',
        transactionId: `pi_pend${tag}`,
        amountMinor: 300,
        currency: 'USD',
        receivedAt: at,
      }),
    ]);
    await upload(w, 'daily.csv', [payment(`pi_m1${tag}`, 100, at), payment(`pi_m2${tag}`, 200, at)]);
    expect((await list(w)).body.items.map((i) => i.category).sort()).toEqual([
      'missing_in_ledger',
      'missing_in_ledger',
      'pending_settlement',
    ]);
    const alertsOf = () =>
      localAlerts.filter((a) => a.detailType === 'Open Items Aging' && String(a.detail.id).includes(tag));

    const tick1 = await w.daily({ time: '2026-12-03T09:00:00.000Z' });
    expect(tick1).toMatchObject({ markedMissing: 1, alerted: 3, open: 3 });
    const tick2 = await w.daily({ time: '2026-12-04T09:00:00.000Z' });
    expect(tick2).toMatchObject({ markedMissing: 0, alerted: 0, open: 3 });
    expect(alertsOf()).toHaveLength(3);
    expect(new Set(alertsOf().map((a) => a.detail.id)).size).toBe(3);
    const items = (await list(w)).body.items;
    expect(items.map((i) => i.category).sort()).toEqual([
      'missing_in_ledger',
      'missing_in_ledger',
      'missing_in_settlement',
    ]);
    const aged = items.find((i) => i.category === 'missing_in_settlement')!;
    expect(aged.history.at(-1)).toMatchObject({ change: 'category', by: 'system:daily' });
  });

  it('does not alert on items younger than OPEN_ITEM_MAX_AGE_DAYS', async () => {
    const w = await world('2026-11-24T09:00:00.000Z');
    await upload(w, 'young.csv', [
      payment(`pi_young${randomBytes(3).toString('hex')}`, 100, '2026-11-24T08:00:00.000Z'),
    ]);
    expect(await w.daily({ time: '2026-11-30T09:00:00.000Z' })).toMatchObject({ alerted: 0, open: 1 });
  });
});
