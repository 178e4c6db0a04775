/**
 * Writing CSV that finance opens in a spreadsheet (exceptions.csv, open-items.csv). Every text cell is
 * quoted (RFC 4180, `""` inside), numbers are not, and text that a spreadsheet would run as a formula
 * is shown as text instead (OWASP "CSV injection": a leading `=`, `+`, `-`, `@`, tab or CR gets a `'`).
 * The same is done after a `;`, a tab or a line break inside a cell: a spreadsheet set to a `;`
 * separator (most European locales) splits `x;=cmd()` into two cells and would evaluate the second.
 */

/** Starts a formula at the start of a cell or right after a separator a spreadsheet may split on. */
const FORMULA_START = /(^|[;\t\r\n])([ \t]*)([=+\-@\t\r])/g;

/** A text cell made safe to open: formulas neutralised, quoted. */
export function csvText(value: string): string {
  const safe = value.replace(FORMULA_START, "$1$2'$3");
  return `"${safe.replace(/"/g, '""')}"`;
}

/**
 * One cell: a number (or bigint) as its digits, unquoted (a negative amount stays a number); text
 * quoted and neutralised; undefined or null as an empty cell.
 */
export function csvCell(value: string | number | bigint | undefined | null): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'bigint') return value.toString();
  return csvText(value);
}

/** One CRLF-terminated record. */
export function csvRecord(values: readonly (string | number | bigint | undefined | null)[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
