/**
 * A small ZIP reader for settlement downloads (Alipay's bill is a `.csv.zip` holding `…_业务明细.csv`
 * and `…_业务明细(汇总).csv`), on Node's zlib alone: the central directory (PKWARE APPNOTE.TXT §4.3.12,
 * §4.3.16) says where each entry is, how it is compressed and how large it claims to be; entries are
 * inflated as a stream, counted against a limit (a ZIP bomb stops at the limit, not at the memory's
 * end) and checked against their CRC-32. What we do not read is refused by name: encryption, ZIP64,
 * methods other than stored and deflate.
 *
 * The archive itself is held in memory, because the central directory is at its end: the compressed
 * bytes are bounded by {@link MAX_ZIP_BYTES}. A day's bill compresses ~10:1, so this is no real limit.
 */
import { crc32, createInflateRaw } from 'node:zlib';
import { SettlementFormatError } from './errors.ts';

/** Largest archive (compressed) we hold to read its directory. */
export const MAX_ZIP_BYTES = 256 * 1024 * 1024;

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export interface ZipEntry {
  readonly name: string;
  readonly flags: number;
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localOffset: number;
}

/** The archive's first bytes say ZIP (a local file header, or the end record of an empty archive). */
export function isZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && head[3] === head[2] + 1;
}

function corrupt(detail: string): SettlementFormatError {
  return new SettlementFormatError(
    `the ZIP archive is corrupt or truncated (${detail}): download the bill again and upload it unchanged`,
  );
}

/**
 * Entry names: UTF-8 when the archive says so (flag bit 11), else whatever decodes: Alipay writes GBK
 * names without the flag, which CP437 (the format's default) would turn into nonsense.
 */
function entryName(bytes: Uint8Array, utf8Flag: boolean): string {
  if (utf8Flag) return new TextDecoder('utf-8').decode(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('gb18030').decode(bytes);
  }
}

/** Reads the central directory. Throws SettlementFormatError with a reason finance can act on. */
export function readZipDirectory(zip: Buffer): ZipEntry[] {
  // The end record is the last 22 bytes, unless a comment (≤ 65,535 bytes) follows it.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end-of-directory record');
  const count = zip.readUInt16LE(eocd + 10);
  const size = zip.readUInt32LE(eocd + 12);
  const offset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    throw new SettlementFormatError(
      'the ZIP archive is in ZIP64 form (over 4 GB or 65,535 files), which is not read here: upload the CSV inside it instead',
    );
  }
  if (offset + size > eocd) throw corrupt('the directory lies outside the archive');
  const entries: ZipEntry[] = [];
  let p = offset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > eocd || zip.readUInt32LE(p) !== CENTRAL)
      throw corrupt(`directory entry ${n + 1} is unreadable`);
    const flags = zip.readUInt16LE(p + 8);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    entries.push({
      name: entryName(zip.subarray(p + 46, p + 46 + nameLength), (flags & 0x800) !== 0),
      flags,
      method: zip.readUInt16LE(p + 10),
      crc32: zip.readUInt32LE(p + 16),
      compressedSize: zip.readUInt32LE(p + 20),
      uncompressedSize: zip.readUInt32LE(p + 24),
      localOffset: zip.readUInt32LE(p + 42),
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Where an entry's compressed bytes are, after checking what we can read. */
function entryData(zip: Buffer, entry: ZipEntry): Buffer {
  if (entry.flags & 0x1) {
    throw new SettlementFormatError(
      `the ZIP entry ${entry.name} is password-protected (encrypted): download the bill without a password, or upload the CSV inside it`,
    );
  }
  if (entry.method !== 0 && entry.method !== 8) {
    throw new SettlementFormatError(
      `the ZIP entry ${entry.name} uses compression method ${entry.method}; only stored and deflate are read: upload the CSV inside it`,
    );
  }
  const p = entry.localOffset;
  if (p + 30 > zip.length || zip.readUInt32LE(p) !== LOCAL)
    throw corrupt(`${entry.name} has no local header`);
  const start = p + 30 + zip.readUInt16LE(p + 26) + zip.readUInt16LE(p + 28);
  const end = start + entry.compressedSize;
  if (end > zip.length) throw corrupt(`${entry.name} runs past the end of the archive`);
  return zip.subarray(start, end);
}

/**
 * Inflates one entry as a stream of chunks, stopping with a `failed` reason as soon as more than
 * `maxBytes` come out (ZIP bomb), and checking size and CRC-32 at the end (corruption).
 */
export async function* inflateEntry(zip: Buffer, entry: ZipEntry, maxBytes: number): AsyncGenerator<Buffer> {
  const data = entryData(zip, entry);
  const tooLarge = () =>
    new SettlementFormatError(
      `the ZIP entry ${entry.name} inflates to more than ${maxBytes} bytes (MAX_SETTLEMENT_BYTES): refused as a possible ZIP bomb`,
    );
  let produced = 0;
  let crc = 0;
  if (entry.method === 0) {
    if (data.length > maxBytes) throw tooLarge();
    for (let i = 0; i < data.length; i += 1024 * 1024) {
      const chunk = data.subarray(i, Math.min(data.length, i + 1024 * 1024));
      crc = crc32(chunk, crc);
      produced += chunk.length;
      yield chunk;
    }
  } else {
    const inflate = createInflateRaw();
    // Fed in pieces, so backpressure holds: a 1 KB bomb must not inflate into memory before we count.
    const feed = async () => {
      for (let i = 0; i < data.length; i += 64 * 1024) {
        if (inflate.destroyed) return;
        if (!inflate.write(data.subarray(i, Math.min(data.length, i + 64 * 1024)))) {
          await new Promise<void>((resolve) => {
            inflate.once('drain', resolve);
            inflate.once('close', resolve);
          });
        }
      }
      inflate.end();
    };
    feed().catch((err) => inflate.destroy(err as Error));
    try {
      for await (const chunk of inflate) {
        const b = chunk as Buffer;
        produced += b.length;
        if (produced > maxBytes) throw tooLarge();
        crc = crc32(b, crc);
        yield b;
      }
    } catch (err) {
      inflate.destroy();
      if (err instanceof SettlementFormatError) throw err;
      throw corrupt(`${entry.name}: ${(err as Error).message}`);
    } finally {
      inflate.destroy();
    }
  }
  if (produced !== entry.uncompressedSize) {
    throw corrupt(
      `${entry.name} inflates to ${produced} bytes, its directory says ${entry.uncompressedSize}`,
    );
  }
  if (crc >>> 0 !== entry.crc32) throw corrupt(`${entry.name} fails its CRC-32 check`);
}

/** One entry in memory (small companions such as a summary file), bounded by `maxBytes`. */
export async function readEntry(zip: Buffer, entry: ZipEntry, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of inflateEntry(zip, entry, maxBytes)) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Reads the whole (compressed) archive from a stream, refusing one past {@link MAX_ZIP_BYTES}. */
export async function collectZip(
  first: Uint8Array,
  rest: AsyncIterator<Uint8Array> | undefined,
  onBytes: (n: number) => void,
): Promise<Buffer> {
  const parts: Buffer[] = [Buffer.from(first.buffer, first.byteOffset, first.length)];
  let total = first.length;
  if (rest) {
    for (;;) {
      const r = await rest.next();
      if (r.done) break;
      onBytes(r.value.length);
      total += r.value.length;
      if (total > MAX_ZIP_BYTES) {
        throw new SettlementFormatError(
          `the ZIP archive is over ${MAX_ZIP_BYTES} bytes compressed: upload the CSV inside it instead`,
        );
      }
      parts.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length));
    }
  }
  return Buffer.concat(parts, total);
}
