/**
 * reports/open-items.html rendered in headless Chromium (Debian's `chromium`), like report.html: no
 * console or page errors, no network requests, every item visible in its age band with the totals, and
 * nothing wider than a 1,300 px window; file text shown as text, never run. Also report.html's
 * exception table with long ids stays within the same window.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { applySighting, sightingOf, viewOf } from '../../functions/core/open-items/model.ts';
import { openItemsHtml } from '../../functions/core/open-items/render.ts';
import { reconcile } from '../../functions/core/settlement/reconcile.ts';
import type { ExceptionItem } from '../../functions/core/settlement/types.ts';
import { stripeCsv } from '../fixtures/settlement/builders.ts';
import { chunked, utf8 } from '../fixtures/settlement/bytes.ts';
import { FakeLedger } from '../fixtures/settlement/ledger.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const NOW = new Date('2026-12-20T09:00:00.000Z');

function sampleItems() {
  const exception = (id: string, category: ExceptionItem['category'], amount: number): ExceptionItem => ({
    category,
    gateway: 'stripe',
    transactionId: id,
    orderId: id === 'pi_x' ? '<script>alert(1)</script>' : `O-${id}`,
    currency: 'USD',
    settlementAmountMinor: amount,
    note: `line 2: no payment ${id} in the ledger`,
    kind: 'payment',
    references: [id],
  });
  const seenAt = ['2026-12-19', '2026-12-15', '2026-12-01', '2026-10-01'];
  return seenAt.map((day, i) => {
    const s = sightingOf(
      exception(i === 0 ? 'pi_x' : `pi_${'long'.repeat(20)}${i}`, 'missing_in_ledger', 100 * (i + 1)),
    )!;
    const item = applySighting(undefined, s.baseId, s, {
      at: `${day}T10:00:00.000Z`,
      by: 'system:reconcile',
      file: `incoming/stripe/${day}.csv`,
    });
    return viewOf(item, NOW);
  });
}

async function render(html: string) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'daigou-open-items-')), 'page.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
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
    const text = (await page.textContent('body')) ?? '';
    const scrollWidth = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    return { problems, requests, text, scrollWidth, headings: await page.locator('h2').allTextContents() };
  } finally {
    await browser.close();
  }
}

describe('open-items.html in headless Chromium', () => {
  it('renders every item in its age band, with totals, without errors, requests or overflow', async () => {
    expect(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`).toBe(true);
    const page = await render(openItemsHtml(sampleItems(), NOW));
    expect(page.problems).toEqual([]);
    expect(page.requests).toEqual([]);
    expect(page.text).toContain('4 open items');
    expect(page.text).toContain('<script>alert(1)</script>');
    expect(page.headings).toEqual([
      'Totals per currency',
      'over 30 days (1)',
      '8–30 days (1)',
      '3–7 days (1)',
      '0–2 days (1)',
    ]);
    expect(page.text).toContain('10.00');
    expect(page.scrollWidth).toBeLessThanOrEqual(1300);
  });

  it("report.html's exception table with long ids fits a 1,300 px window", async () => {
    const at = '2026-11-23T03:00:00.000Z';
    const long = `pi_${'0123456789abcdef'.repeat(6)}`;
    const result = await reconcile({
      gateway: 'stripe',
      chunks: chunked(
        utf8(
          stripeCsv([
            {
              kind: 'payment',
              transactionId: long,
              orderId: `ord_${'x'.repeat(80)}`,
              currency: 'USD',
              grossMinor: 123456,
              feeMinor: 3610,
              at,
            },
          ]),
        ),
      ),
      ledger: new FakeLedger([]),
      now: new Date('2026-11-26T00:00:00.000Z'),
    });
    const page = await render(result.html);
    expect(page.problems).toEqual([]);
    expect(page.text).toContain(long);
    expect(page.scrollWidth).toBeLessThanOrEqual(1300);
  });
});
