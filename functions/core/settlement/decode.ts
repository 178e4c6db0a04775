/**
 * Bytes → text, streaming: optional gzip (WeChat Pay) or ZIP (Alipay's download), then the text
 * encoding (UTF-8 with or without BOM, UTF-16LE/BE with BOM for PayPal, GBK for Alipay). Memory stays
 * at one chunk plus the sniff window (a ZIP's compressed bytes are held: its directory is at its end).
 */
import { isAscii } from 'node:buffer';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SettlementFormatError } from './errors.ts';
import { DEFAULT_LIMITS } from './limits.ts';
import { collectZip, inflateEntry, isZip, readEntry, readZipDirectory, type ZipEntry } from './zip.ts';

/** MAX_SETTLEMENT_BYTES' default (CONTRACT §5): what a compressed upload may inflate to. */
export const DEFAULT_MAX_SETTLEMENT_BYTES = DEFAULT_LIMITS.maxBytes;

/** A file that came in the same archive as the one reconciled (Alipay's 业务明细(汇总)). */
export interface Companion {
  readonly name: string;
  /** Its text, decoded like the main file; absent when it could not be read (then `problem` says why). */
  readonly text?: string;
  readonly problem?: string;
}

/** Encodings we decode. GBK is decoded as GB18030, its strict superset, so every GBK byte decodes the same. */
export type TextEncodingName = 'utf-8' | 'utf-16le' | 'utf-16be' | 'gb18030';

/** Filled in while the stream is read: what was detected. */
export interface DecodeInfo {
  gzip: boolean;
  encoding: TextEncodingName | undefined;
  /** Bytes read from the source (before gunzip). */
  bytes: number;
  /** Limit on decompressed bytes (ZIP entries); {@link DEFAULT_MAX_SETTLEMENT_BYTES} when unset. */
  maxBytes?: number;
  /** When the upload was a ZIP: the entry reconciled, and the other files it held that we read. */
  zipEntry?: string;
  companions?: Companion[];
}

/** A companion file is small (a summary): anything larger is not one. */
const MAX_COMPANION_BYTES = 16 * 1024 * 1024;

/** The detail file an Alipay download holds: `{account}_{date}_业务明细.csv`. */
const isDetail = (name: string) => /业务明细\.csv$/i.test(baseName(name));
/** Its summary: `{account}_{date}_业务明细(汇总).csv` (parentheses ASCII or full-width). */
const isSummary = (name: string) => /业务明细[(（]汇总[)）]\.csv$/i.test(baseName(name));
const baseName = (name: string) => name.slice(name.lastIndexOf('/') + 1);

/**
 * Picks the entry to reconcile: the 业务明细 detail file, else the one file that is no summary.
 * Throws when there is none (or no way to choose), naming what the archive holds.
 */
function mainEntry(entries: readonly ZipEntry[]): ZipEntry {
  const files = entries.filter((e) => !e.name.endsWith('/'));
  const detail = files.filter((e) => isDetail(e.name));
  if (detail.length === 1) return detail[0]!;
  const others = files.filter((e) => !isSummary(e.name) && !/汇总/.test(e.name));
  if (detail.length === 0 && others.length === 1) return others[0]!;
  const listed = files.length ? files.map((e) => e.name).join(', ') : 'nothing';
  throw new SettlementFormatError(
    detail.length > 1
      ? `the ZIP archive holds several 业务明细 detail files (${listed}): upload one bill per file`
      : `the ZIP archive holds no 业务明细 detail file (it holds ${listed}): upload the bill as Alipay delivers it`,
  );
}

function decodeCompanion(bytes: Uint8Array): string {
  const encoding = sniffEncoding(bytes.subarray(0, SNIFF_BYTES));
  return new TextDecoder(encoding).decode(bytes);
}

/** Opens a ZIP upload: reads its summary companions, then streams its detail entry. */
async function* unzip(
  first: Uint8Array,
  rest: AsyncIterator<Uint8Array> | undefined,
  info: DecodeInfo,
): AsyncGenerator<Uint8Array> {
  const zip = await collectZip(first, rest, (n) => {
    info.bytes += n;
  });
  const entries = readZipDirectory(zip);
  const main = mainEntry(entries);
  const maxBytes = info.maxBytes ?? DEFAULT_MAX_SETTLEMENT_BYTES;
  info.zipEntry = main.name;
  info.companions = [];
  for (const entry of entries.filter((e) => isSummary(e.name))) {
    try {
      const bytes = await readEntry(zip, entry, Math.min(maxBytes, MAX_COMPANION_BYTES));
      info.companions.push({ name: entry.name, text: decodeCompanion(bytes) });
    } catch (err) {
      if (!(err instanceof SettlementFormatError)) throw err;
      info.companions.push({ name: entry.name, problem: err.message });
    }
  }
  yield* inflateEntry(zip, main, maxBytes);
}

/** The file is larger than `MAX_SETTLEMENT_BYTES` once decompressed: stop reading, fail the file. */
function tooLarge(max: number): SettlementFormatError {
  return new SettlementFormatError(
    `the file is larger than ${max} bytes after decompression (MAX_SETTLEMENT_BYTES)`,
  );
}

/**
 * How much text we look at before choosing UTF-8 or GBK. Alipay's first lines (comments, header) are
 * Chinese, so a GBK file is never valid UTF-8 within the first few hundred bytes; 64 KiB is generous.
 */
const SNIFF_BYTES = 64 * 1024;

/**
 * Reads the source, gunzipping when it starts with the gzip magic bytes 1f 8b, and stops at `maxBytes`
 * of output: a 49 KB gzip can inflate to gigabytes.
 */
async function* maybeGunzip(
  source: AsyncIterable<Uint8Array>,
  info: DecodeInfo,
  maxBytes: number,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  let ended = false;
  // Four bytes decide; a pathological stream of 1-byte chunks still works.
  while (headLength < 4) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    info.bytes += r.value.length;
    head.push(r.value);
    headLength += r.value.length;
  }
  const first = concat(head);
  if (isZip(first)) {
    info.maxBytes ??= maxBytes;
    yield* unzip(first, ended ? undefined : it, info);
    return;
  }
  if (first.length < 2 || first[0] !== 0x1f || first[1] !== 0x8b) {
    if (info.bytes > maxBytes) throw tooLarge(maxBytes);
    if (first.length) yield first;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      info.bytes += r.value.length;
      if (info.bytes > maxBytes) throw tooLarge(maxBytes);
      yield r.value;
    }
  }
  info.gzip = true;
  async function* raw(): AsyncGenerator<Buffer> {
    yield Buffer.from(first.buffer, first.byteOffset, first.length);
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      info.bytes += r.value.length;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length);
    }
  }
  const src = Readable.from(raw(), { objectMode: false });
  const gunzip = createGunzip();
  src.on('error', (err) => gunzip.destroy(err));
  src.pipe(gunzip);
  let inflated = 0;
  try {
    for await (const chunk of gunzip) {
      inflated += (chunk as Buffer).length;
      if (inflated > maxBytes) {
        src.unpipe(gunzip);
        gunzip.destroy();
        throw tooLarge(maxBytes);
      }
      yield chunk as Buffer;
    }
  } catch (err) {
    if (err instanceof SettlementFormatError) throw err;
    // zlib says "unexpected end of file" for a truncated upload: name it for finance.
    throw new SettlementFormatError(`gzip stream is corrupt or truncated (${(err as Error).message})`, {
      cause: err,
    });
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Picks the encoding from a BOM, else "is the prefix valid UTF-8?" (no → GBK). */
export function sniffEncoding(prefix: Uint8Array): TextEncodingName {
  if (prefix[0] === 0xef && prefix[1] === 0xbb && prefix[2] === 0xbf) return 'utf-8';
  if (prefix[0] === 0xff && prefix[1] === 0xfe) return 'utf-16le';
  if (prefix[0] === 0xfe && prefix[1] === 0xff) return 'utf-16be';
  try {
    // stream: true, so a multi-byte character cut by the window's end is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(prefix, { stream: true });
    return 'utf-8';
  } catch {
    return 'gb18030';
  }
}

/**
 * Decodes a byte stream (an S3 body) into text chunks. The BOM is consumed. After the sniff, UTF-8 is
 * decoded leniently: ids and amounts are ASCII, so a stray bad byte in a description must not fail a
 * whole file (a bad byte in an amount still rejects that row).
 */
export async function* decodeText(
  source: AsyncIterable<Uint8Array>,
  info: DecodeInfo = { gzip: false, encoding: undefined, bytes: 0 },
  options: { maxBytes?: number } = {},
): AsyncGenerator<string> {
  const it = maybeGunzip(source, info, options.maxBytes ?? DEFAULT_LIMITS.maxBytes)[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    headLength += r.value.length;
  }
  const prefix = concat(head);
  const encoding = sniffEncoding(prefix);
  info.encoding = encoding;
  if (encoding === 'utf-8') {
    yield* decodeUtf8(prefix, ended ? undefined : it);
    return;
  }
  const decoder = new TextDecoder(encoding);
  for (const piece of pieces(prefix)) {
    const text = decoder.decode(piece, { stream: true });
    if (text) yield text;
  }
  if (!ended) {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      for (const piece of pieces(r.value)) {
        const text = decoder.decode(piece, { stream: true });
        if (text) yield text;
      }
    }
  }
  const text = decoder.decode();
  if (text) yield text;
}

/**
 * Bytes are decoded at most this many at a time. A string of more than ~128 KiB is a large object
 * in V8, each on pages of its own that are mapped for it and unmapped when it dies: decoding a 1 MiB
 * S3 chunk into one string cost ~0.3 s of page faults per 1M Stripe rows (174 MB) on the machine
 * measured. Pieces of 64 KiB are allocated and freed in the young generation like any other string.
 */
const DECODE_BYTES = 64 * 1024;

/** `bytes` cut into subarrays of at most {@link DECODE_BYTES} (no copy). */
function* pieces(bytes: Uint8Array): Generator<Uint8Array> {
  if (bytes.length <= DECODE_BYTES) {
    yield bytes;
    return;
  }
  for (let i = 0; i < bytes.length; i += DECODE_BYTES) yield bytes.subarray(i, i + DECODE_BYTES);
}

/**
 * UTF-8, the common case, decoded so that ASCII chunks become one-byte strings: TextDecoder returns
 * two-byte strings in Node 20, which doubled the memory of every line and field cut from them and
 * made each later indexOf and compare slower. A chunk that is all ASCII (checked natively) is read as
 * latin1, byte for byte the same characters; any other chunk goes through TextDecoder, unchanged.
 * Switching is exact because the decoder can only hold an unfinished sequence when the last byte it
 * was fed is ≥ 0x80, and then the next chunk goes to it too. The BOM is stripped here, once, so the
 * decoder (which may first see bytes mid-file) is told to keep any it meets later, as one would.
 */
async function* decodeUtf8(
  prefix: Uint8Array,
  rest: AsyncIterator<Uint8Array> | undefined,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let decoderBusy = false;
  const decode = (bytes: Uint8Array): string => {
    if (bytes.length === 0) return '';
    if (!decoderBusy && isAscii(bytes)) {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    }
    decoderBusy = bytes[bytes.length - 1]! >= 0x80;
    return decoder.decode(bytes, { stream: true });
  };
  const bom = prefix[0] === 0xef && prefix[1] === 0xbb && prefix[2] === 0xbf;
  for (const piece of pieces(bom ? prefix.subarray(3) : prefix)) {
    const text = decode(piece);
    if (text) yield text;
  }
  if (rest) {
    for (;;) {
      const r = await rest.next();
      if (r.done) break;
      for (const piece of pieces(r.value)) {
        const text = decode(piece);
        if (text) yield text;
      }
    }
  }
  const text = decoder.decode();
  if (text) yield text;
}
