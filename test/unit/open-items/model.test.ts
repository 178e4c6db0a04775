/** Open items, pure: ids and suffixes, sightings across files, state changes and the CSV cells. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../../bin/endpoints.ts';
import {
  applySighting,
  markMissing,
  NotOpenError,
  resolve,
  settle,
  sightingOf,
} from '../../../functions/core/open-items/model.ts';
import { csvCell, openItemsNote } from '../../../functions/core/open-items/render.ts';
import type { ExceptionItem } from '../../../functions/core/settlement/types.ts';

const base: ExceptionItem = {
  category: 'missing_in_ledger',
  gateway: 'stripe',
  transactionId: 'ch_1',
  orderId: 'O-1',
  currency: 'USD',
  settlementAmountMinor: 500,
  note: 'line 2: no payment ch_1 in the ledger',
  kind: 'payment',
  references: ['ch_1', 'txn_9'],
  rowId: 'txn_9',
};
const ctx = (at: string, file = 'incoming/stripe/a.csv') => ({ at, by: 'system:reconcile', file });

describe('ids', () => {
  it('the ledger key when an entry was found, else the row’s own; suffixes for duplicates and fees', () => {
    expect(sightingOf(base)!.baseId).toBe('stripe#ch_1#payment');
    expect(
      sightingOf({ ...base, category: 'amount_mismatch', ledgerKey: 'stripe#pi_1#payment' })!.baseId,
    ).toBe('stripe#pi_1#payment');
    const dup = sightingOf({
      ...base,
      category: 'duplicate_in_settlement',
      ledgerKey: 'stripe#pi_1#payment',
    })!;
    expect(`${dup.baseId}${dup.suffix}`).toBe('stripe#pi_1#payment#dup#txn_9');
    const fee = sightingOf({ ...base, category: 'fee_mismatch', ledgerKey: 'stripe#pi_1#payment' })!;
    expect(`${fee.baseId}${fee.suffix}`).toBe('stripe#pi_1#payment#fee');
    // Every reference is a candidate id, so a row naming only its charge finds the item.
    expect(dup.candidates).toContain('stripe#ch_1#payment');
    expect(dup.candidates).not.toContain('stripe#O-1#payment');
  });

  it('rejected rows and rows without any id are no open items', () => {
    expect(sightingOf({ ...base, category: 'rejected' })).toBeUndefined();
    expect(sightingOf({ ...base, transactionId: undefined, references: [] })).toBeUndefined();
  });
});

describe('state changes', () => {
  it('first and last sighting; category history; a late ledger entry settles the row item', () => {
    const s = sightingOf(base)!;
    const first = applySighting(undefined, 'id', s, ctx('2026-11-01T00:00:00.000Z'));
    const again = applySighting(first, 'id', s, ctx('2026-11-02T00:00:00.000Z', 'incoming/stripe/b.csv'));
    expect(again).toMatchObject({
      firstSeenFile: 'incoming/stripe/a.csv',
      lastSeenFile: 'incoming/stripe/b.csv',
      categories: ['missing_in_ledger'],
    });
    expect(again.history).toHaveLength(1);
    const met = applySighting(
      again,
      'id',
      sightingOf({ ...base, category: 'pending_settlement', ledgerKey: 'stripe#ch_1#payment' })!,
      ctx('2026-11-03T00:00:00.000Z'),
    );
    expect(met).toMatchObject({ state: 'settled', settledBy: { how: 'ledger_entry' } });
  });

  it('resolve only an open item; a resolved item seen again stays resolved', () => {
    const s = sightingOf(base)!;
    const open = applySighting(undefined, 'id', s, ctx('2026-11-01T00:00:00.000Z'));
    const done = resolve(
      open,
      { reason: 'written_off', note: 'n' },
      { at: '2026-11-02T00:00:00.000Z', by: 'arn:aws:iam::1:user/f' },
    );
    expect(done).toMatchObject({ state: 'resolved', resolvedBy: 'arn:aws:iam::1:user/f' });
    expect(() => resolve(done, { reason: 'other', note: '' }, { at: 'x', by: 'y' })).toThrow(NotOpenError);
    const seen = applySighting(
      done,
      'id',
      { ...s, category: 'amount_mismatch' },
      ctx('2026-11-05T00:00:00.000Z', 'f.csv'),
    );
    expect(seen).toMatchObject({ state: 'resolved', category: 'missing_in_ledger', lastSeenFile: 'f.csv' });
    expect(settle(done, { how: 'ledger_entry' }, { at: 'x', by: 'y' })).toBe(done);
    expect(markMissing(done, { at: 'x', by: 'y' })).toBe(done);
  });
});

describe('csvCell', () => {
  it('quotes text and defuses formulas, also after a semicolon', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('ok;=1+1')).toBe(`"ok;'=1+1"`);
    expect(csvCell(-500)).toBe('-500');
    expect(csvCell(undefined)).toBe('');
  });

  it('no quoted cell ever starts a formula (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const cell = csvCell(s);
        const inner = cell.slice(1, -1).replace(/""/g, '"');
        for (const part of inner.split(';')) expect(/^\s*[=+\-@\t\r]/.test(part)).toBe(false);
      }),
    );
  });
});

describe('report line', () => {
  it('links the page from the report folder, however deep', () => {
    expect(openItemsNote(2, 3, 'reports/stripe/x/')).toContain('href="../../open-items.html"');
    expect(openItemsNote(0, 0, 'reports/stripe/2026/12/x/')).toContain('href="../../../../open-items.html"');
  });
});

describe('progress off a terminal', () => {
  it('prints the first update, then at most one line per interval', () => {
    const lines: string[] = [];
    let t = 0;
    const progress = createProgress({
      isTTY: false,
      write: (s) => lines.push(s),
      intervalMs: 5000,
      now: () => t,
    });
    for (t = 0; t < 12_000; t += 100) progress(`step ${t}`);
    expect(lines).toEqual(['step 0\n', 'step 5000\n', 'step 10000\n']);
    const tty: string[] = [];
    const inPlace = createProgress({ isTTY: true, write: (s) => tty.push(s) });
    inPlace('a');
    inPlace('b');
    expect(tty).toEqual(['\ra\u001b[K', '\rb\u001b[K']);
  });
});
