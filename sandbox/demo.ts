/**
 * The incident, replayed against the sandbox: a flash sale paid through Stripe callbacks at ~30/s, a
 * retry job re-delivering 120 of them with fresh signatures, and the next morning's settlement file
 * with a few real-world exceptions. The ledger must equal the paid orders to the cent, and the
 * reconciliation report must explain every difference. Then a second day: the next file settles the
 * payments that were still pending, finance resolves the rest from the `open-items` CLI, and the open
 * list ends empty.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createS3Client } from '../functions/adapters/aws-clients.ts';
import { formatMajor } from '../functions/core/money.ts';
import type { OpenItemView } from '../functions/core/open-items/model.ts';
import { type FixtureRow, stripeCsv } from '../test/fixtures/settlement/builders.ts';
import { type GatewayKeys, paymentCallback, sendCallback } from './gateway-events.ts';
import { type Endpoints, ROOT } from './main.ts';
import { describeSummary, type UploadResult, uploadAndWait } from './settlement-upload.ts';
import { pool, simulate } from './simulator.ts';

export interface DemoOptions {
  readonly endpoints: Endpoints;
  readonly orders: number;
  readonly retries: number;
  readonly ratePerSecond: number;
  readonly workDir: string;
  readonly log: (line: string) => void;
  readonly progress?: (line: string) => void;
}

export interface DemoResult {
  readonly paidOrdersTotalMinor: number;
  readonly ledgerTotalMinor: number;
  readonly retryOutcomes: Record<string, number>;
  readonly upload: UploadResult;
  readonly settlementFile: string;
  /** Day 2: items of the demo's files settled by the next file, resolved by finance, left open. */
  readonly secondDay: { settled: number; resolved: number; stillOpen: number };
}

/** Payments whose settlement rows come only in the next day's file (pending on day 1). */
const LATE_SETTLING = 3;

/** Stripe's standard card fee, 2.9 % + 30¢, half-up. */
const stripeFee = (gross: number) => Math.floor((gross * 29 + 500) / 1000) + 30;

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const { endpoints, log } = o;
  const keys = endpoints.gateways as GatewayKeys;
  const usd = (minor: number) => `$${formatMajor(minor, 'USD')}`;

  log(`1. Flash sale: ${o.orders} orders paid through Stripe callbacks at ~${o.ratePerSecond}/s`);
  const sale = await simulate(
    {
      api: endpoints.api,
      gateway: 'stripe',
      keys,
      orders: o.orders,
      duplicateRatio: 0,
      retries: 0,
      concurrency: 8,
      outOfOrder: false,
      payCurrency: 'USD',
      ratePerSecond: o.ratePerSecond,
    },
    (done, total) => o.progress?.(`   callbacks ${done}/${total}`),
  );
  log(`   ${JSON.stringify(sale.outcomes)}`);

  const retried = sale.payments.slice(0, o.retries);
  log(`2. The retry job re-delivers ${retried.length} callbacks, re-signed with fresh timestamps`);
  const retryOutcomes: Record<string, number> = {};
  await pool(retried, 8, async (p) => {
    const res = await sendCallback(endpoints.api, paymentCallback('stripe', keys, p, new Date()));
    retryOutcomes[res.outcome] = (retryOutcomes[res.outcome] ?? 0) + 1;
  });
  log(`   ${JSON.stringify(retryOutcomes)}`);

  log('3. The ledger against the paid orders');
  let ledgerTotalMinor = 0;
  const paidAt = new Map<string, string>();
  await pool(sale.payments, 8, async (p) => {
    const res = await fetch(`${endpoints.api}/orders/${p.orderId}`);
    const order = (await res.json()) as {
      payments: { kind: string; amountMinor: number; receivedAt: string }[];
    };
    for (const entry of order.payments.filter((e) => e.kind === 'payment')) {
      ledgerTotalMinor += entry.amountMinor;
      paidAt.set(p.orderId, entry.receivedAt);
    }
  });
  const paidOrdersTotalMinor = sale.payments.reduce((s, p) => s + p.amountMinor, 0);
  log(
    `   ledger ${usd(ledgerTotalMinor)} vs paid orders ${usd(paidOrdersTotalMinor)}: ${
      ledgerTotalMinor === paidOrdersTotalMinor
        ? 'equal to the cent, no retry was counted twice'
        : 'DIFFERENT'
    }`,
  );

  log("4. Stripe's settlement file for the day, with a few real-world exceptions");
  const late = sale.payments.slice(-LATE_SETTLING);
  const rowOf = (p: (typeof sale.payments)[number], at?: string): FixtureRow => ({
    kind: 'payment',
    transactionId: p.transactionId,
    orderId: p.orderId,
    currency: 'USD',
    grossMinor: p.amountMinor,
    feeMinor: stripeFee(p.amountMinor),
    at: at ?? paidAt.get(p.orderId) ?? new Date().toISOString(),
  });
  const rows: FixtureRow[] = sale.payments.slice(0, -LATE_SETTLING).map((p) => rowOf(p));
  log(`   - the last ${late.length} payments settle only in tomorrow's file: pending today`);
  const [twiceFeed, refunded] = sale.payments;
  const now = new Date().toISOString();
  if (twiceFeed) {
    // The same charge settled twice: its fee is charged again.
    rows.push({ ...rows[0]!, at: now });
    log(`   - a charge (and its fee) settled twice: ${twiceFeed.transactionId}`);
  }
  const lostPayment = `pi_${randomBytes(12).toString('hex')}`;
  rows.push({
    kind: 'payment',
    transactionId: lostPayment,
    orderId: 'ord_never_reached_us',
    currency: 'USD',
    grossMinor: 24_900,
    feeMinor: stripeFee(24_900),
    at: now,
  });
  log(`   - a payment whose callback never reached us: ${lostPayment} (${usd(24_900)})`);
  if (refunded) {
    rows.push({
      kind: 'refund',
      transactionId: `re_${randomBytes(12).toString('hex')}`,
      refundOf: refunded.transactionId,
      orderId: refunded.orderId,
      currency: 'USD',
      grossMinor: -refunded.amountMinor,
      feeMinor: 0,
      at: now,
    });
    log(`   - a refund made in the Stripe dashboard, never announced to us: order ${refunded.orderId}`);
  }
  mkdirSync(o.workDir, { recursive: true });
  const settlementFile = path.join(
    o.workDir,
    `stripe-itemized-${now.slice(0, 10)}-${randomBytes(3).toString('hex')}.csv`,
  );
  writeFileSync(settlementFile, stripeCsv(rows));

  log('5. Finance drops it into the bucket; reconciliation runs');
  const upload = await uploadAndWait({
    s3: createS3Client({ S3_ENDPOINT: endpoints.s3 }),
    bucket: endpoints.bucket,
    file: settlementFile,
    gateway: 'stripe',
    saveTo: path.join(o.workDir, 'reports'),
    ...(o.progress ? { progress: o.progress } : {}),
  });
  for (const line of describeSummary(upload.summary)) log(`   ${line}`);
  log(`   report: ${path.join(upload.localDir, 'report.html')}`);

  const secondDay = await runSecondDay(
    o,
    late.map((p) => rowOf(p, nextDay(now))),
    upload.key,
  );
  return { paidOrdersTotalMinor, ledgerTotalMinor, retryOutcomes, upload, settlementFile, secondDay };
}

const nextDay = (iso: string) => new Date(Date.parse(iso) + 86_400_000).toISOString();

/** Why finance closes each kind of exception the demo's first file leaves open. */
const RESOLUTIONS: Record<string, { reason: string; note: string }> = {
  duplicate_in_settlement: {
    reason: 'gateway_error',
    note: 'Stripe settled the charge twice; support ticket opened to reclaim the second fee',
  },
  missing_in_ledger: {
    reason: 'other',
    note: 'Callback never reached us; the customer was found and the order fulfilled by hand',
  },
  unmatched_refund: {
    reason: 'refunded_offline',
    note: 'Refund made by support in the Stripe dashboard; order adjusted by hand',
  },
};

async function openItemsOf(api: string, query: string): Promise<OpenItemView[]> {
  const items: OpenItemView[] = [];
  let token: string | undefined;
  do {
    const res = await fetch(
      `${api}/reconciliation/open-items?${query}${token ? `&nextToken=${encodeURIComponent(token)}` : ''}`,
    );
    if (!res.ok) throw new Error(`GET /reconciliation/open-items answered ${res.status}`);
    const body = (await res.json()) as { items: OpenItemView[]; nextToken?: string };
    items.push(...body.items);
    token = body.nextToken;
  } while (token);
  return items;
}

/** Runs the real `npm run open-items` CLI, as finance would. */
function openItemsCli(api: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bin/open-items.ts'), ...args, '--api', api],
      { cwd: ROOT },
      (error, stdout, stderr) => (error ? reject(new Error(`${stderr || error.message}`)) : resolve(stdout)),
    );
  });
}

async function runSecondDay(o: DemoOptions, lateRows: FixtureRow[], firstKey: string) {
  const { endpoints, log } = o;
  const mine = (i: OpenItemView) => i.firstSeenFile === firstKey;
  const openBefore = (await openItemsOf(endpoints.api, 'gateway=stripe')).filter(mine);
  log(`6. Open items after day 1: ${openBefore.length}`);
  for (const i of openBefore) log(`   - ${i.category.replace(/_/g, ' ')}: ${i.id}`);

  const file = path.join(
    o.workDir,
    `stripe-itemized-${lateRows[0]?.at.slice(0, 10) ?? 'day2'}-${randomBytes(3).toString('hex')}.csv`,
  );
  writeFileSync(file, stripeCsv(lateRows));
  log(`7. The next morning's file settles the ${lateRows.length} pending payments`);
  const upload = await uploadAndWait({
    s3: createS3Client({ S3_ENDPOINT: endpoints.s3 }),
    bucket: endpoints.bucket,
    file,
    gateway: 'stripe',
    saveTo: path.join(o.workDir, 'reports'),
    ...(o.progress ? { progress: o.progress } : {}),
  });
  for (const line of describeSummary(upload.summary)) log(`   ${line}`);
  const settled = (await openItemsOf(endpoints.api, 'gateway=stripe&state=settled')).filter(mine).length;
  const left = (await openItemsOf(endpoints.api, 'gateway=stripe')).filter(mine);
  log(`   settled by themselves: ${settled}; left for a person: ${left.length}`);

  log('8. Finance resolves the rest from the CLI');
  let resolved = 0;
  for (const item of left) {
    const { reason, note } = RESOLUTIONS[item.category] ?? { reason: 'other', note: 'Checked by finance' };
    log(`   $ npm run open-items -- resolve '${item.id}' --reason ${reason} --note "${note}"`);
    const out = await openItemsCli(endpoints.api, ['resolve', item.id, '--reason', reason, '--note', note]);
    log(`     ${out.trim()}`);
    resolved++;
  }
  const stillOpen = (await openItemsOf(endpoints.api, 'gateway=stripe')).filter(mine).length;
  log(`9. Open items of the demo now: ${stillOpen}${stillOpen === 0 ? ' (the open list is empty)' : ''}`);
  log(`   page: ${endpoints.s3}/${endpoints.bucket}/reports/open-items.html`);
  return { settled, resolved, stillOpen };
}
