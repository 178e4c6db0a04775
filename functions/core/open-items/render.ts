/**
 * `reports/open-items.csv` and `reports/open-items.html` (CONTRACT §5): every open item, oldest first,
 * in age bands, with totals per currency. Pure; the HTML is one self-contained page (no scripts).
 */
import { displayMoney, escapeHtml } from '../settlement/report.ts';
import { AGE_BANDS, type OpenItemView, Totals } from './model.ts';

const CSV_HEADER = [
  'id',
  'state',
  'category',
  'gateway',
  'transaction_id',
  'order_id',
  'currency',
  'amount_minor',
  'settlement_amount_minor',
  'ledger_amount_minor',
  'age_days',
  'first_seen_at',
  'first_seen_file',
  'last_seen_at',
  'last_seen_file',
  'note',
].join(',');

/**
 * One CSV cell. Text is always quoted, and text a spreadsheet would read as a formula (starting with
 * `=`, `+`, `-`, `@`, a tab or CR, also right after a `;`, which some locales take as the separator)
 * gets a leading `'`. Numbers are written as they are (negative amounts stay numbers).
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const safe = value.replace(/(^|;)(\s*)(?=[=+\-@\t\r])/g, "$1$2'");
  return `"${safe.replace(/"/g, '""')}"`;
}

const byAge = (a: OpenItemView, b: OpenItemView) =>
  a.firstSeenAt < b.firstSeenAt ? -1 : a.firstSeenAt > b.firstSeenAt ? 1 : a.id < b.id ? -1 : 1;

export function openItemsCsv(items: readonly OpenItemView[]): string {
  const lines = [CSV_HEADER];
  for (const i of [...items].sort(byAge)) {
    lines.push(
      [
        csvCell(i.id),
        csvCell(i.state),
        csvCell(i.category),
        csvCell(i.gateway),
        csvCell(i.transactionId),
        csvCell(i.orderId),
        csvCell(i.currency),
        csvCell(i.amountMinor),
        csvCell(i.settlementAmountMinor),
        csvCell(i.ledgerAmountMinor),
        csvCell(i.ageDays),
        csvCell(i.firstSeenAt),
        csvCell(i.firstSeenFile),
        csvCell(i.lastSeenAt),
        csvCell(i.lastSeenFile),
        csvCell(i.detail),
      ].join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The open-items page: totals, then one table per age band, oldest first. */
export function openItemsHtml(items: readonly OpenItemView[], now: Date): string {
  const sorted = [...items].sort(byAge);
  const totals = new Totals();
  for (const i of sorted) totals.add(i);
  const totalRows = Object.entries(totals.toJSON())
    .map(
      ([c, t]) =>
        `<tr><th scope="row">${escapeHtml(c)}</th><td>${t.count}</td><td>${escapeHtml(displayMoney(t.amountMinor, c))}</td></tr>`,
    )
    .join('');
  // Oldest band first: what has waited longest is what finance should look at first.
  const bands = [...AGE_BANDS]
    .reverse()
    .map((band) => {
      const inBand = sorted.filter((i) => i.ageDays >= band.min && i.ageDays <= band.max);
      if (!inBand.length) return '';
      const rows = inBand
        .map(
          (i) =>
            `<tr><td class="id">${escapeHtml(i.id)}</td><td>${escapeHtml(i.category.replace(/_/g, ' '))}</td><td>${escapeHtml(i.orderId ?? '')}</td>` +
            `<td>${escapeHtml(i.currency ?? '')}</td><td class="num">${escapeHtml(displayMoney(i.amountMinor, i.currency))}</td><td class="num">${i.ageDays}</td>` +
            `<td>${escapeHtml(i.firstSeenFile)}</td><td>${escapeHtml(i.lastSeenFile)}</td><td>${escapeHtml(i.detail)}</td></tr>`,
        )
        .join('');
      return (
        `<section><h2>${escapeHtml(band.label)} (${inBand.length})</h2><div class="scroll"><table>` +
        '<thead><tr><th>Item</th><th>Category</th><th>Order</th><th>Currency</th><th>Amount</th><th>Age (days)</th><th>First seen in</th><th>Last seen in</th><th>Why</th></tr></thead>' +
        `<tbody>${rows}</tbody></table></div></section>`
      );
    })
    .join('');
  const verdict = sorted.length
    ? `${sorted.length} open item${sorted.length === 1 ? '' : 's'}`
    : 'No open items';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Open reconciliation items</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1a1a1a}
.verdict{padding:1rem 1.25rem;border-radius:8px;margin-bottom:1.5rem}.verdict h1{margin:0;font-size:1.7rem}
.ok{background:#e6f4ea;border:1px solid #34a853}.warn{background:#fef7e0;border:1px solid #f9ab00}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.id{font-family:ui-monospace,monospace;font-size:13px}
</style></head><body>
<header class="verdict ${sorted.length ? 'warn' : 'ok'}"><h1>${escapeHtml(verdict)}</h1>
<p>Exceptions kept across settlement files until they settle by themselves or are resolved (<code>npm run open-items</code>). Generated ${escapeHtml(now.toISOString())}.</p></header>
<section><h2>Totals per currency</h2><table class="totals"><thead><tr><th>Currency</th><th>Items</th><th>Amount</th></tr></thead>
<tbody>${totalRows || '<tr><td colspan="3">None.</td></tr>'}</tbody></table></section>
${bands}
</body></html>
`;
}

/**
 * The line each file's report.html carries about the open list, linking the page from the file's own
 * report folder (`reports/{gateway}/…/{stem}/` → `reports/open-items.html`).
 */
export function openItemsNote(
  openFromEarlierFiles: number,
  open: number,
  reportPrefix: string,
  untracked = 0,
): string {
  const depth = reportPrefix.split('/').filter(Boolean).length - 1;
  const href = `${'../'.repeat(Math.max(0, depth))}open-items.html`;
  const skipped = untracked
    ? `<p>This file's ${untracked} exceptions are more than the open-items list takes from one file: none of them was opened. Check that the file belongs to this gateway and that the ledger is complete, then upload it again.</p>`
    : '';
  return (
    `<section class="open-items"><h2>Open items</h2><p>${openFromEarlierFiles} item(s) from earlier files are still open ` +
    `(${open} in all, this file's included): <a href="${escapeHtml(href)}">open items</a>.</p>${skipped}</section>`
  );
}
