/**
 * The incident, replayed against the sandbox: a flash sale paid through Stripe callbacks at ~30/s, a
 * retry job re-delivering 120 of them with fresh signatures, and the next morning's settlement file
 * with a few real-world exceptions. The ledger must equal the paid orders to the cent, and the
 * reconciliation report must explain every difference.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createS3Client } from '../functions/adapters/aws-clients.ts';
import { formatMajor } from '../functions/core/money.ts';
import { type FixtureRow, stripeCsv } from '../test/fixtures/settlement/builders.ts';
import { type GatewayKeys, paymentCallback, sendCallback } from './gateway-events.ts';
import type { Endpoints } from './main.ts';
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
}

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
  const rows: FixtureRow[] = sale.payments.map((p) => ({
    kind: 'payment',
    transactionId: p.transactionId,
    orderId: p.orderId,
    currency: 'USD',
    grossMinor: p.amountMinor,
    feeMinor: stripeFee(p.amountMinor),
    at: paidAt.get(p.orderId) ?? new Date().toISOString(),
  }));
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
  return { paidOrdersTotalMinor, ledgerTotalMinor, retryOutcomes, upload, settlementFile };
}
