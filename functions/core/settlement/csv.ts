/**
 * A hand-written CSV record splitter. Measured on a 1M-row Stripe file: csv-parse with `columns: true`
 * ran at ~14× a bare `readline` line count; this splitter (indexOf for line ends, `split(',')` for lines
 * without quotes, a quote-aware path only for lines that have one) stays within a small multiple.
 */
import { SettlementFormatError } from './errors.ts';
import { DEFAULT_LIMITS, exceedsUtf8Bytes } from './limits.ts';

const QUOTE = 34;
const CR = 13;

/** Receives one logical record: its text (quoted newlines kept) and the 1-based line it starts on. */
export type RecordSink = (text: string, line: number) => void;

/** Told about a record longer than the bound (its text is dropped, never held): the line it starts on. */
export type OverlongSink = (line: number, maxRecordBytes: number) => void;

/** What the splitter knows once the text has ended. */
export interface SplitEnd {
  /** The last record had no line terminator (a cut file usually doesn't). */
  readonly lastUnterminated: boolean;
  /** The file ended inside a quoted field. */
  readonly openQuote: boolean;
  /** Line number of the last record emitted (0 when none). */
  readonly lastLine: number;
}

/**
 * Splits streamed text into CSV records: CRLF or LF line ends, a quoted field may span lines.
 * Text arrives in arbitrary chunks; only the unfinished tail is kept between chunks.
 *
 * A record longer than `maxRecordBytes` is never held: once its text passes the bound, the rest of
 * its line is skipped and `onOverlong` names its line (an unbalanced quote that would swallow the
 * file ends there too, and the next line starts a fresh record).
 */
export class RecordSplitter {
  private rest = '';
  private nextLine = 1;
  private pending: string | undefined;
  private pendingLine = 0;
  private pendingQuotes = 0;
  /** UTF-8 bytes of `pending`, kept as lines join it (encoding the whole record each time is quadratic). */
  private pendingBytes = 0;
  private lastLine = 0;
  /** Inside an overlong line: drop text up to its newline. */
  private skipping = false;
  private readonly maxRecordBytes: number;
  private readonly onOverlong: OverlongSink;

  /**
   * `quoted`: `"` quotes a field that may span lines (RFC 4180). A format whose fields are never
   * quoted (WeChat Pay's bill) passes false: every physical line is a record, quotes are data.
   */
  private readonly quoted: boolean;

  constructor(options: { maxRecordBytes?: number; onOverlong?: OverlongSink; quoted?: boolean } = {}) {
    this.quoted = options.quoted ?? true;
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_LIMITS.maxRecordBytes;
    this.onOverlong =
      options.onOverlong ??
      ((line, max) => {
        throw new SettlementFormatError(`record longer than ${max} bytes`, { line });
      });
  }

  push(chunk: string, sink: RecordSink): void {
    let start = 0;
    if (this.skipping) {
      const nl = chunk.indexOf('\n');
      if (nl < 0) return;
      this.skipping = false;
      this.overlong(this.nextLine++);
      start = nl + 1;
    } else if (this.rest) {
      // Only the line that straddles the chunk boundary is joined: `rest + chunk` made every chunk a
      // cons string, and each indexOf on a cons string leaves the fast builtin (~0.4 s per 1M lines).
      const nl = chunk.indexOf('\n');
      if (nl < 0) {
        if (this.rest.length + chunk.length > this.maxRecordBytes) this.startSkipping();
        else this.rest += chunk;
        return;
      }
      const line = this.rest + chunk.slice(0, nl);
      this.rest = '';
      this.physical(line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line, sink);
      start = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && chunk.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
      this.physical(chunk.slice(start, end), sink);
      start = nl + 1;
    }
    this.rest = start === 0 ? chunk : chunk.slice(start);
    if (this.rest.length > this.maxRecordBytes) this.startSkipping();
  }

  end(sink: RecordSink): SplitEnd {
    if (this.skipping) {
      this.skipping = false;
      this.overlong(this.nextLine++);
      return { lastUnterminated: true, openQuote: false, lastLine: this.lastLine };
    }
    const unterminated = this.rest.length > 0;
    if (unterminated) {
      const tail = this.rest.charCodeAt(this.rest.length - 1) === CR ? this.rest.slice(0, -1) : this.rest;
      this.rest = '';
      this.physical(tail, sink);
    }
    const openQuote = this.pending !== undefined;
    if (this.pending !== undefined) {
      // Emit what we have: the parser rejects it, and the caller reports the open quote.
      this.emit(this.pending, this.pendingLine, sink);
      this.pending = undefined;
    }
    return { lastUnterminated: unterminated || openQuote, openQuote, lastLine: this.lastLine };
  }

  /** The unfinished line is already too long: drop it and skip to its end. */
  private startSkipping(): void {
    this.rest = '';
    this.skipping = true;
  }

  /** Reports the overlong record (the pending multi-line one when inside it) and forgets it. */
  private overlong(line: number): void {
    const at = this.pending !== undefined ? this.pendingLine : line;
    this.pending = undefined;
    this.lastLine = at;
    this.onOverlong(at, this.maxRecordBytes);
  }

  private physical(text: string, sink: RecordSink): void {
    const line = this.nextLine++;
    // Checked on the line, not only on the record: `pending` is bounded by the check below.
    if (text.length * 3 > this.maxRecordBytes && exceedsUtf8Bytes(text, this.maxRecordBytes)) {
      this.overlong(line);
      return;
    }
    if (this.pending !== undefined) {
      this.pendingBytes += 1 + Buffer.byteLength(text, 'utf8');
      if (this.pendingBytes > this.maxRecordBytes) {
        this.overlong(line);
        return;
      }
      this.pending += `\n${text}`;
      this.pendingQuotes += countQuotes(text);
      if (this.pendingQuotes % 2 === 0) {
        const record = this.pending;
        this.pending = undefined;
        this.emit(record, this.pendingLine, sink);
      }
      return;
    }
    if (!this.quoted || text.indexOf('"') < 0) {
      this.emit(text, line, sink);
      return;
    }
    const quotes = countQuotes(text);
    if (quotes % 2 === 0) {
      this.emit(text, line, sink);
    } else {
      this.pending = text;
      this.pendingBytes = Buffer.byteLength(text, 'utf8');
      this.pendingLine = line;
      this.pendingQuotes = quotes;
    }
  }

  private emit(text: string, line: number, sink: RecordSink): void {
    this.lastLine = line;
    sink(text, line);
  }
}

function countQuotes(text: string): number {
  let n = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) n++;
  return n;
}

/** Splits one record into fields; `"…"` quoting with `""` escapes. Unquoted lines take the fast path. */
export function splitFields(text: string): string[] {
  if (text.indexOf('"') < 0) return text.split(',');
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          value += text.slice(i);
          i = n;
          break;
        }
        value += text.slice(i, q);
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      // Anything between the closing quote and the comma is kept, as lenient readers do.
      const comma = text.indexOf(',', i);
      if (comma < 0) {
        out.push(value + text.slice(i));
        return out;
      }
      out.push(value + text.slice(i, comma));
      i = comma + 1;
    } else {
      const comma = text.indexOf(',', i);
      if (comma < 0) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}

/**
 * Header names match case- and whitespace-insensitively (PayPal writes `Transaction  Debit or Credit`
 * with two spaces) and full-width forms match their ASCII ones (`订单金额（元）` = `订单金额(元)`).
 */
export function normaliseHeader(name: string): string {
  return name
    .replace(/^[\uFEFF`]+/, '')
    .normalize('NFKC')
    .replace(/\s+/g, '')
    .toLowerCase();
}

/** Column spec: a key → the header names (any of) that carry it. */
export type ColumnSpec<K extends string> = Readonly<Record<K, readonly string[]>>;

/**
 * Maps header fields to column indexes. Added columns are fine; a missing required one makes the file
 * `failed` with a reason naming every missing column.
 */
export function resolveColumns<K extends string>(
  header: readonly string[],
  spec: ColumnSpec<K>,
  required: readonly K[],
  what: string,
  line?: number,
): Record<K, number> {
  const positions = new Map<string, number>();
  header.forEach((name, i) => {
    const key = normaliseHeader(name);
    if (!positions.has(key)) positions.set(key, i);
  });
  const out = {} as Record<K, number>;
  const missing: string[] = [];
  for (const key of Object.keys(spec) as K[]) {
    const names = spec[key];
    const found = names.map((n) => positions.get(normaliseHeader(n))).find((i) => i !== undefined);
    out[key] = found ?? -1;
    if (found === undefined && required.includes(key)) missing.push(names[0]!);
  }
  if (missing.length) {
    throw new SettlementFormatError(`not a ${what}: missing required columns: ${missing.join(', ')}`, {
      line,
    });
  }
  return out;
}

/** The trimmed field at a column index; '' when the column is absent or the row is short. */
export function field(fields: readonly string[], index: number): string {
  if (index < 0) return '';
  const v = fields[index];
  return v === undefined ? '' : v.trim();
}

/**
 * The fields of one record located, not cut: {@link scan} records where each field starts and ends
 * (indexOf over commas and quotes, never char by char), and a field becomes a string only when read.
 * A hot parser reads the few columns it needs, numbers straight from the text, and never allocates
 * the rest (a Stripe row has 15 columns, one a quoted description nobody reads).
 *
 * Reading is exactly {@link splitFields}: `raw(i)` is `splitFields(text)[i]`, `field(i)` is
 * `field(splitFields(text), i)`. One instance is reused for every record.
 */
export class FieldScanner {
  /** The record last scanned. */
  text = '';
  /** Number of fields. */
  count = 0;
  /** Start of field i: its first character, or its opening quote when quoted. */
  private starts = new Int32Array(32);
  /** End of field i (exclusive): the comma after it, or the end of the text. */
  private ends = new Int32Array(32);
  /** Quoted fields: the index just past the closing quote (text.length + 1 when unterminated); 0 otherwise. */
  private closes = new Int32Array(32);

  scan(text: string): void {
    this.text = text;
    const len = text.length;
    let n = 0;
    let i = 0;
    for (;;) {
      if (n === this.starts.length) this.grow();
      this.starts[n] = i;
      if (text.charCodeAt(i) === QUOTE) {
        let j = i + 1;
        let close = -1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) break;
          if (text.charCodeAt(q + 1) === QUOTE) {
            j = q + 2;
          } else {
            close = q + 1;
            break;
          }
        }
        if (close < 0) {
          // No closing quote: the field runs to the end of the record, commas and all.
          this.closes[n] = len + 1;
          this.ends[n] = len;
          this.count = n + 1;
          return;
        }
        this.closes[n] = close;
        const comma = text.indexOf(',', close);
        if (comma < 0) {
          this.ends[n] = len;
          this.count = n + 1;
          return;
        }
        this.ends[n++] = comma;
        i = comma + 1;
      } else {
        this.closes[n] = 0;
        const comma = text.indexOf(',', i);
        if (comma < 0) {
          this.ends[n] = len;
          this.count = n + 1;
          return;
        }
        this.ends[n++] = comma;
        i = comma + 1;
      }
    }
  }

  /** `splitFields(text)[i]`: undefined past the last field. */
  raw(i: number): string | undefined {
    if (i < 0 || i >= this.count) return undefined;
    const close = this.closes[i]!;
    if (close === 0) return this.text.slice(this.starts[i], this.ends[i]);
    // Between the quotes every `"` is half of a `""` pair; anything after the closing quote is kept.
    const inner = this.text.slice(this.starts[i]! + 1, close - 1);
    return (
      (inner.indexOf('"') < 0 ? inner : inner.replace(/""/g, '"')) + this.text.slice(close, this.ends[i])
    );
  }

  /** `field(splitFields(text), i)`: trimmed, '' when the column is absent or the row is short. */
  field(i: number): string {
    const v = this.raw(i);
    if (v === undefined) return '';
    return needsTrim(v) ? v.trim() : v;
  }

  /** `field(i) === ''`, without cutting the string in the common cases. */
  isBlank(i: number): boolean {
    if (i < 0 || i >= this.count) return true;
    if (this.closes[i] === 0 && this.starts[i] === this.ends[i]) return true;
    return this.field(i) === '';
  }

  /**
   * Where field i's text lies when it can be read in place: unquoted, present, and starting and ending
   * with a printable ASCII character (so trimming would not change it). -1 otherwise.
   */
  plainStart(i: number): number {
    if (i < 0 || i >= this.count || this.closes[i] !== 0) return -1;
    const s = this.starts[i]!;
    const e = this.ends[i]!;
    if (s === e || !printable(this.text.charCodeAt(s)) || !printable(this.text.charCodeAt(e - 1))) return -1;
    return s;
  }

  /** End of field i (exclusive); meaningful when {@link plainStart} is not -1. */
  end(i: number): number {
    return this.ends[i]!;
  }

  /** `field(i) === value` for a value without edge whitespace, read in place when possible. */
  equals(i: number, value: string): boolean {
    const s = this.plainStart(i);
    if (s < 0) return this.field(i) === value;
    return this.ends[i]! - s === value.length && this.text.startsWith(value, s);
  }

  private grow(): void {
    const size = this.starts.length * 2;
    const starts = new Int32Array(size);
    const ends = new Int32Array(size);
    const closes = new Int32Array(size);
    starts.set(this.starts);
    ends.set(this.ends);
    closes.set(this.closes);
    this.starts = starts;
    this.ends = ends;
    this.closes = closes;
  }
}

/** Printable ASCII: no whitespace that `trim()` would remove. */
function printable(code: number): boolean {
  return code > 32 && code < 127;
}

/** Could `trim()` change the string? (Only when an edge character is not printable ASCII.) */
function needsTrim(s: string): boolean {
  return s.length > 0 && (!printable(s.charCodeAt(0)) || !printable(s.charCodeAt(s.length - 1)));
}
