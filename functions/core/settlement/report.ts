/**
 * The three report files of CONTRACT §5, as pure functions: summary.json (an object), exceptions.csv
 * and report.html (strings). Exceptions are few, so strings are fine; the rows never reach here.
 */
import { csvCell, csvRecord } from '../csv-cells.ts';
import { formatMajor, isCurrency, parseDecimal } from '../money.ts';
import { SettlementConfigError } from './errors.ts';
import { MAX_REPORT_ID_CHARS, MAX_REPORT_NOTE_CHARS, truncateText } from './limits.ts';
import {
  CATEGORIES,
  type Category,
  type CurrencyTotals,
  type ExceptionItem,
  type SettlementSummary,
} from './types.ts';

/** `reports/{gateway}/{fileStem}/…`: the base name without its last extension, `.gz` stripped first. */
export function fileStem(key: string): string {
  let base = key.slice(key.lastIndexOf('/') + 1);
  if (/\.gz$/i.test(base)) base = base.slice(0, -3);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** All categories at 0: summary.json lists every key, even when 0. */
export function zeroCounts(): Record<Category, number> {
  return Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
}

/** Sums as matching accumulates them: exact bigint (see `Totals` in match.ts). */
export interface ExactTotals {
  readonly ledgerGrossMinor: bigint;
  readonly settlementGrossMinor: bigint;
  readonly feesMinor: bigint;
  readonly netMinor: bigint;
}

/**
 * Per-currency totals with `differenceMinor` = ledger − settlement (subtracted exactly), keys sorted
 * for stable output. summary.json holds JSON numbers: see {@link unsafeTotals} for sums beyond 2^53.
 */
export function finishTotals(totals: ReadonlyMap<string, ExactTotals>): Record<string, CurrencyTotals> {
  const out: Record<string, CurrencyTotals> = {};
  for (const currency of [...totals.keys()].sort()) {
    const t = totals.get(currency)!;
    out[currency] = {
      ledgerGrossMinor: Number(t.ledgerGrossMinor),
      settlementGrossMinor: Number(t.settlementGrossMinor),
      feesMinor: Number(t.feesMinor),
      netMinor: Number(t.netMinor),
      differenceMinor: Number(t.ledgerGrossMinor - t.settlementGrossMinor),
    };
  }
  return out;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Currencies whose sums a JSON number cannot hold exactly (beyond 2^53): the report says so. */
export function unsafeTotals(totals: ReadonlyMap<string, ExactTotals>): string[] {
  const unsafe: string[] = [];
  for (const [currency, t] of totals) {
    const values = [t.ledgerGrossMinor, t.settlementGrossMinor, t.feesMinor, t.netMinor];
    values.push(t.ledgerGrossMinor - t.settlementGrossMinor);
    if (values.some((v) => v > MAX_SAFE || v < -MAX_SAFE)) unsafe.push(currency);
  }
  return unsafe.sort();
}

/** A threshold as an exact decimal (0.005 → 5 / 10^3), so "exceeds" is decided without float error. */
function thresholdDecimal(threshold: number): { units: bigint; scale: number } {
  if (!Number.isFinite(threshold) || threshold < 0) {
    throw new SettlementConfigError(`drift threshold must be a non-negative number, got ${threshold}`);
  }
  const text = String(threshold);
  return parseDecimal(/e/i.test(text) ? threshold.toFixed(20) : text);
}

/**
 * CONTRACT §5 drift. byValue: the largest |difference| / |settlement gross| over currencies (0 when
 * both are 0, 1 when only the settlement side is). byCount: items neither matched, ignored nor pending
 * over items neither ignored nor pending (`fee_mismatch` is counted in addition to `matched`, so it is
 * no item of its own). `exceeded` compares byValue with the threshold exactly, in integers.
 */
export function computeDrift(
  totals: Record<string, CurrencyTotals>,
  counts: Record<Category, number>,
  threshold: number,
): SettlementSummary['drift'] {
  const t = thresholdDecimal(threshold);
  let byValue = 0;
  let exceeded = false;
  for (const { differenceMinor: diff, settlementGrossMinor: settled } of Object.values(totals)) {
    const d = Math.abs(diff);
    const s = Math.abs(settled);
    const ratio = s === 0 ? (d === 0 ? 0 : 1) : d / s;
    byValue = Math.max(byValue, ratio);
    // d / s > units / 10^scale  ⇔  d · 10^scale > units · s   (s = 0: ratio is 1 or 0)
    if (
      s === 0
        ? d !== 0 && 10n ** BigInt(t.scale) > t.units
        : BigInt(d) * 10n ** BigInt(t.scale) > t.units * BigInt(s)
    ) {
      exceeded = true;
    }
  }
  let items = 0;
  let off = 0;
  for (const c of CATEGORIES) {
    if (c === 'ignored' || c === 'pending_settlement' || c === 'fee_mismatch') continue;
    items += counts[c];
    if (c !== 'matched') off += counts[c];
  }
  return { byValue, byCount: items === 0 ? 0 : off / items, threshold, exceeded };
}

/** exceptions.csv's first line, CRLF-terminated. */
export const EXCEPTIONS_CSV_HEADER =
  'category,gateway,transaction_id,order_id,currency,settlement_amount_minor,ledger_amount_minor,fee_minor,expected_fee_minor,settled_at,ledger_at,note\r\n';

/** One exceptions.csv cell (see {@link csvCell}): text quoted and formula-safe, numbers bare. */
export const csvField = csvCell;

const id = (value: string | undefined) =>
  value === undefined ? undefined : truncateText(value, MAX_REPORT_ID_CHARS);

/** One CRLF-terminated exceptions.csv line; ids and the note cut to their report lengths. */
export function exceptionLine(e: ExceptionItem): string {
  return csvRecord([
    e.category,
    e.gateway,
    id(e.transactionId),
    id(e.orderId),
    id(e.currency),
    e.settlementAmountMinor,
    e.ledgerAmountMinor,
    e.feeMinor,
    e.expectedFeeMinor,
    e.settledAt,
    e.ledgerAt,
    truncateText(e.note, MAX_REPORT_NOTE_CHARS),
  ]);
}

/** exceptions.csv: the exact header, one CRLF-terminated line per item neither matched nor ignored. */
export function exceptionsCsv(items: readonly ExceptionItem[]): string {
  let out = EXCEPTIONS_CSV_HEADER;
  for (const e of items) out += exceptionLine(e);
  return out;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** HTML-escapes text and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** 0.039 → "3.9%", 0.005 → "0.5%", 0.00012 → "0.012%": enough digits to see a small drift. */
export function formatPercent(ratio: number): string {
  const pct = ratio * 100;
  if (pct === 0) return '0%';
  const digits = pct >= 10 ? 1 : pct >= 0.1 ? 2 : 4;
  return `${Number(pct.toFixed(digits))}%`;
}

/** An amount for reading: major units with thousands grouped (`12,345.60`), or minor units when the currency is unknown. */
export function displayMoney(minor: number, currency: string | undefined): string {
  if (!currency || !isCurrency(currency)) return `${minor} (minor units)`;
  // Group thousands for reading; the digits themselves come from formatMajor (no float).
  const [int = '', frac] = formatMajor(minor, currency).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** The one-line verdict a finance reader sees first, and its tone. */
export function verdictOf(
  summary: SettlementSummary,
  exceptionCount: number,
): { text: string; tone: 'ok' | 'warn' | 'bad' } {
  if (summary.status === 'failed') return { text: 'File could not be read', tone: 'bad' };
  if (summary.status === 'incomplete') return { text: 'Incomplete file', tone: 'bad' };
  const { byValue, threshold, exceeded } = summary.drift;
  if (exceeded)
    return {
      text: `Drift ${formatPercent(byValue)} exceeds ${formatPercent(threshold)} threshold`,
      tone: 'bad',
    };
  const toReview = exceptionCount - summary.counts.pending_settlement;
  if (toReview > 0) return { text: `Balanced within threshold, ${toReview} item(s) to review`, tone: 'warn' };
  return { text: 'Balanced', tone: 'ok' };
}

/** report.html lists this many exceptions; exceptions.csv has them all. */
export const HTML_EXCEPTION_LIMIT = 1000;

/** Where the open-items line goes: filled in by the handler once the file's items are recorded. */
const OPEN_ITEMS_MARKER = '<!--open-items-->';

/** report.html with the section on what is still open (CONTRACT §5) in its place. */
export function withOpenItemsSection(html: string, section: string): string {
  return html.replace(OPEN_ITEMS_MARKER, () => section);
}

/** report.html: one self-contained page (inline CSS and SVG; no scripts, fonts or external styles). */
export function renderHtml(
  summary: SettlementSummary,
  exceptions: readonly ExceptionItem[],
  /** How many exceptions exceptions.csv has, when `exceptions` holds only the first of them. */
  exceptionCount: number = exceptions.length,
): string {
  const verdict = verdictOf(summary, exceptionCount);
  const title = `Settlement reconciliation: ${summary.gateway}${summary.source.key ? `, ${fileStem(summary.source.key)}` : ''}`;
  const reasons = summary.reasons.length
    ? `<ul class="reasons">${summary.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>`
    : '';
  const notes = summary.notes.length
    ? `<ul class="notes">${summary.notes.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>`
    : '';
  const totalsRows = Object.entries(summary.totals)
    .map(
      ([c, t]) =>
        `<tr><th scope="row">${escapeHtml(c)}</th><td>${displayMoney(t.ledgerGrossMinor, c)}</td><td>${displayMoney(t.settlementGrossMinor, c)}</td>` +
        `<td class="${t.differenceMinor === 0 ? '' : 'diff'}">${displayMoney(t.differenceMinor, c)}</td><td>${displayMoney(t.feesMinor, c)}</td><td>${displayMoney(t.netMinor, c)}</td></tr>`,
    )
    .join('');
  const max = Math.max(1, ...CATEGORIES.map((c) => summary.counts[c]));
  const barHeight = 22;
  const bars = CATEGORIES.map((c, i) => {
    const n = summary.counts[c];
    const width = Math.round((n / max) * 300);
    const cls =
      c === 'matched' ? 'good' : c === 'ignored' || c === 'pending_settlement' ? 'neutral' : 'badbar';
    return (
      `<text x="0" y="${i * barHeight + 15}">${escapeHtml(c.replace(/_/g, ' '))}</text>` +
      `<rect class="${cls}" x="190" y="${i * barHeight + 3}" width="${width}" height="16"><title>${escapeHtml(c)}: ${n}</title></rect>` +
      `<text x="${196 + width}" y="${i * barHeight + 15}">${n}</text>`
    );
  }).join('');
  const svg = `<svg role="img" aria-label="Counts by category" width="560" height="${CATEGORIES.length * barHeight}" viewBox="0 0 560 ${CATEGORIES.length * barHeight}" xmlns="http://www.w3.org/2000/svg">${bars}</svg>`;
  const shown = exceptions.slice(0, HTML_EXCEPTION_LIMIT);
  const exceptionRows = shown
    .map((e) => {
      const c = e.currency ?? '';
      const amount = (v: number | undefined) => (v === undefined ? '' : displayMoney(v, c));
      return (
        `<tr><td>${escapeHtml(e.category.replace(/_/g, ' '))}</td><td>${escapeHtml(e.kind?.replace(/_/g, ' ') ?? '')}</td><td>${escapeHtml(id(e.transactionId) ?? '')}</td><td>${escapeHtml(id(e.orderId) ?? '')}</td>` +
        `<td>${escapeHtml(c)}</td><td class="num">${escapeHtml(amount(e.settlementAmountMinor))}</td><td class="num">${escapeHtml(amount(e.ledgerAmountMinor))}</td>` +
        `<td class="num">${escapeHtml(amount(e.feeMinor))}</td><td class="num">${escapeHtml(amount(e.expectedFeeMinor))}</td>` +
        `<td>${escapeHtml(e.settledAt ?? '')}</td><td>${escapeHtml(e.ledgerAt ?? '')}</td><td>${escapeHtml(truncateText(e.note, MAX_REPORT_NOTE_CHARS))}</td></tr>`
      );
    })
    .join('');
  const more =
    exceptionCount > shown.length
      ? `<p>Showing the first ${shown.length} of ${exceptionCount} items; exceptions.csv has them all.</p>`
      : '';
  const period =
    summary.period.from && summary.period.to
      ? `${escapeHtml(summary.period.from)} to ${escapeHtml(summary.period.to)} (UTC, end exclusive)`
      : 'none (no transaction rows)';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1a1a1a}
.verdict{padding:1rem 1.25rem;border-radius:8px;margin-bottom:1.5rem}
.verdict h1{margin:0;font-size:1.7rem}.ok{background:#e6f4ea;border:1px solid #34a853}.warn{background:#fef7e0;border:1px solid #f9ab00}.bad{background:#fce8e6;border:1px solid #d93025}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.num,.totals td{text-align:right;font-variant-numeric:tabular-nums}.diff{color:#d93025;font-weight:600}
svg text{font-size:13px;fill:#1a1a1a}.good{fill:#34a853}.neutral{fill:#9aa0a6}.badbar{fill:#d93025}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:#555}
.scroll{overflow-x:auto}.exceptions td{overflow-wrap:anywhere}.exceptions td.num{overflow-wrap:normal;white-space:nowrap}
</style></head><body>
<header class="verdict ${verdict.tone}"><h1>${escapeHtml(verdict.text)}</h1>${reasons}${notes}</header>
<section><h2>File</h2><dl>
<dt>Gateway</dt><dd>${escapeHtml(summary.gateway)} (${escapeHtml(summary.format)} format)</dd>
<dt>File</dt><dd>${escapeHtml(summary.source.key ?? '')}</dd>
<dt>Period covered</dt><dd>${period}</dd>
<dt>Rows</dt><dd>${summary.rows.total} (${summary.rows.parsed} read, ${summary.rows.rejected} rejected)</dd>
<dt>Report generated</dt><dd>${escapeHtml(summary.generatedAt)}</dd>
</dl></section>
<section><h2>Totals per currency</h2>
<table class="totals"><thead><tr><th>Currency</th><th>Ledger gross</th><th>Settlement gross</th><th>Difference (ledger − settlement)</th><th>Fees</th><th>Net</th></tr></thead>
<tbody>${totalsRows || '<tr><td colspan="6">No amounts.</td></tr>'}</tbody></table></section>
<section><h2>Drift</h2>
<p>By value: <strong>${formatPercent(summary.drift.byValue)}</strong> against a threshold of ${formatPercent(summary.drift.threshold)}${summary.drift.exceeded ? ' (exceeded: an alert is raised)' : ''}. By count: ${formatPercent(summary.drift.byCount)} of items are not matched.</p></section>
<section><h2>Counts by category</h2>${svg}</section>
${OPEN_ITEMS_MARKER}
<section><h2>Exceptions (${exceptionCount})</h2>${more}
<p>Amounts are signed as they move money: payments, refund failures and reinstatements positive; refunds, their adjustments and reversals negative.</p>
<div class="scroll"><table class="exceptions"><thead><tr><th>Category</th><th>Kind</th><th>Transaction</th><th>Order</th><th>Currency</th><th>Settlement</th><th>Ledger</th><th>Fee</th><th>Expected fee</th><th>Settled at</th><th>Ledger at</th><th>Note</th></tr></thead>
<tbody>${exceptionRows || '<tr><td colspan="12">None.</td></tr>'}</tbody></table></div></section>
</body></html>
`;
}
