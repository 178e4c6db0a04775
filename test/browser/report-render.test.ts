/**
 * report.html, the page finance reads, rendered in headless Chromium (Debian's `chromium`): no console
 * errors, no page errors, no network requests (it must be self-contained), and the verdict, totals,
 * chart and exceptions visible. Run by `npm run test:browser` (CI installs Chromium); `npm test` needs
 * only Node.js and Java.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { reconcile } from '../../functions/core/settlement/reconcile.ts';
import { type FixtureRow, stripeCsv } from '../fixtures/settlement/builders.ts';
import { chunked, utf8 } from '../fixtures/settlement/bytes.ts';
import { FakeLedger, ledgerEntry } from '../fixtures/settlement/ledger.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function sampleReport(): Promise<string> {
  const at = '2026-11-23T03:00:00.000Z';
  const ledger = new FakeLedger([
    ledgerEntry({
      gateway: 'stripe',
      transactionId: 'pi_a',
      amountMinor: 1000,
      currency: 'USD',
      receivedAt: at,
      orderId: 'O-1',
    }),
    ledgerEntry({
      gateway: 'stripe',
      transactionId: 'pi_b',
      amountMinor: 2000,
      currency: 'USD',
      receivedAt: at,
      orderId: 'O-2',
    }),
  ]);
  const rows: FixtureRow[] = [
    {
      kind: 'payment',
      transactionId: 'pi_a',
      orderId: 'O-1',
      currency: 'USD',
      grossMinor: 1000,
      feeMinor: 59,
      at,
    },
    {
      kind: 'payment',
      transactionId: 'pi_x',
      orderId: '<script>alert(1)</script>',
      currency: 'USD',
      grossMinor: 700,
      feeMinor: 50,
      at,
    },
  ];
  const result = await reconcile({
    gateway: 'stripe',
    chunks: chunked(utf8(stripeCsv(rows))),
    ledger,
    now: new Date('2026-11-26T00:00:00.000Z'),
  });
  return result.html;
}

describe('report.html in headless Chromium', () => {
  it('renders without console errors, page errors or network requests', async () => {
    expect(
      existsSync(CHROMIUM),
      `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
    ).toBe(true);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'daigou-report-')), 'report.html');
    writeFileSync(file, await sampleReport());
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      await page.goto(`file://${file}`, { waitUntil: 'load' });
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
      const text = (await page.textContent('body')) ?? '';
      expect(text).toMatch(/exceeds/i);
      expect(text).toContain('<script>alert(1)</script>'); // shown as text, never run
      expect(await page.locator('svg').count()).toBeGreaterThan(0);
      expect(await page.locator('table').count()).toBeGreaterThanOrEqual(2);
    } finally {
      await browser.close();
    }
  });
});
