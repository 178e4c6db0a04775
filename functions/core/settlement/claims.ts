/**
 * The one per-entry state matching keeps: which ledger keys a row has claimed, and on which line.
 *
 * An open-addressing table on typed arrays instead of a `Map<string, number>`: measured here with 1M
 * keys, a Map took ~2× as long to fill (rehash copies of a 1M-slot OrderedHashMap plus GC of its
 * backing stores). It stays exact: a 32-bit hash picks the slot, the key itself confirms.
 *
 * The keys are kept as bytes in fixed-size blocks, not as strings: 1M live key strings were each
 * copied by two young-generation GCs and then marked by every full one, which was most of the
 * reconciliation's GC time. Memory is what this table costs most: every megabyte it first touches
 * costs page faults (~4 ms per MB on the machine measured), so it keeps few bytes per key:
 * an 8-byte slot at most half full, and in a block the key's length, its line and its characters
 * after the prefix every key shares (`stripe#`). Blocks are appended, never copied on growth.
 *
 * Keys the blocks do not take (not starting with the prefix, a character above U+00FF, longer than
 * a block) go to a plain Map; gateway ids are ASCII, so such keys are rare.
 */

/** Bytes before a key's characters in its block: its length (uint16) and its line (uint32), little-endian. */
const HEADER = 6;
/** Keys kept in the blocks are shorter than this (the length is a uint16). */
const MAX_KEY = 0xffff;
/** References are int32: block × blockBytes + offset + 1 stays below 2^31. */
const MAX_REF = 0x7fffffff;

export class ClaimSet {
  private capacity = 1024;
  /**
   * Two int32 per slot: the key's hash, and where it lies in the blocks (block × blockBytes + offset
   * + 1; 0 = empty slot).
   */
  private slots = new Int32Array(this.capacity * 2);
  private readonly blocks: Uint8Array[] = [];
  /** The block keys are appended to, and its first free byte. */
  private block: Uint8Array;
  private used = 0;
  private count = 0;
  /** Keys the blocks do not take (see above). */
  private readonly others = new Map<string, number>();
  /** Set by {@link stage}: the key goes to {@link others}. */
  private stagedOther = false;
  private readonly blockBytes: number;

  /**
   * `prefix`: what (nearly) every key starts with; it is not stored. `blockBytes` is the size of a
   * key block (smaller only in tests).
   */
  constructor(
    private readonly prefix = '',
    blockBytes = 1 << 20,
  ) {
    this.blockBytes = blockBytes;
    this.block = new Uint8Array(blockBytes);
    this.blocks.push(this.block);
  }

  get size(): number {
    return this.count + this.others.size;
  }

  /** Line of the row that first claimed `key`, or undefined. */
  get(key: string): number | undefined {
    const hash = this.stage(key);
    if (this.stagedOther) return this.others.get(key);
    const slot = this.find(hash, key.length - this.prefix.length);
    return slot < 0 ? undefined : this.lineAt(this.slots[slot + 1]!);
  }

  /** Claims `key` for `line` (≥ 1) unless already claimed; returns the earlier line when it was. */
  claim(key: string, line: number): number | undefined {
    const hash = this.stage(key);
    const first = Math.max(1, line);
    if (this.stagedOther) {
      const earlier = this.others.get(key);
      if (earlier === undefined) this.others.set(key, first);
      return earlier;
    }
    const length = key.length - this.prefix.length;
    const existing = this.find(hash, length);
    if (existing >= 0) return this.lineAt(this.slots[existing + 1]!);
    if (this.count * 2 >= this.capacity) this.grow();
    // The staged characters become the key's: write its header in front of them.
    const b = this.block;
    const at = this.used;
    b[at] = length;
    b[at + 1] = length >>> 8;
    b[at + 2] = first;
    b[at + 3] = first >>> 8;
    b[at + 4] = first >>> 16;
    b[at + 5] = first >>> 24;
    this.insert(hash, (this.blocks.length - 1) * this.blockBytes + at + 1);
    this.used = at + HEADER + length;
    this.count++;
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Copies `key` (less the prefix) behind a header's room at the free end of the current block, not
   * yet kept, and returns its 32-bit FNV-1a hash. Sets {@link stagedOther} for keys kept elsewhere.
   */
  private stage(key: string): number {
    const from = this.prefix.length;
    const n = key.length - from;
    if (n >= MAX_KEY || n + HEADER > this.blockBytes || !key.startsWith(this.prefix)) {
      this.stagedOther = true;
      return 0;
    }
    if (this.used + HEADER + n > this.blockBytes) {
      if ((this.blocks.length + 1) * this.blockBytes >= MAX_REF) {
        this.stagedOther = true;
        return 0;
      }
      this.block = new Uint8Array(this.blockBytes);
      this.blocks.push(this.block);
      this.used = 0;
    }
    const b = this.block;
    const at = this.used + HEADER - from;
    let h = 0x811c9dc5;
    let all = 0;
    for (let i = from; i < key.length; i++) {
      const c = key.charCodeAt(i);
      all |= c;
      b[at + i] = c;
      h = Math.imul(h ^ c, 16777619);
    }
    this.stagedOther = all > 0xff;
    return h | 0;
  }

  /** The index in {@link slots} of the staged key (its hash and length given), or -1. */
  private find(hash: number, length: number): number {
    const mask = this.capacity - 1;
    const slots = this.slots;
    const staged = this.block;
    const stagedAt = this.used + HEADER;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const at = i * 2;
      const ref = slots[at + 1]!;
      if (ref === 0) return -1;
      if (slots[at] === hash) {
        const b = this.blocks[Math.floor((ref - 1) / this.blockBytes)]!;
        const p = (ref - 1) % this.blockBytes;
        if ((b[p]! | (b[p + 1]! << 8)) === length) {
          let k = 0;
          while (k < length && b[p + HEADER + k] === staged[stagedAt + k]) k++;
          if (k === length) return at;
        }
      }
    }
  }

  /** The line stored with the key at `ref`. */
  private lineAt(ref: number): number {
    const b = this.blocks[Math.floor((ref - 1) / this.blockBytes)]!;
    const p = (ref - 1) % this.blockBytes;
    return (b[p + 2]! | (b[p + 3]! << 8) | (b[p + 4]! << 16) | (b[p + 5]! << 24)) >>> 0;
  }

  private insert(hash: number, ref: number): void {
    const mask = this.capacity - 1;
    const slots = this.slots;
    let i = hash & mask;
    while (slots[i * 2 + 1] !== 0) i = (i + 1) & mask;
    slots[i * 2] = hash;
    slots[i * 2 + 1] = ref;
  }

  private grow(): void {
    const old = this.slots;
    this.capacity *= 2;
    this.slots = new Int32Array(this.capacity * 2);
    for (let at = 0; at < old.length; at += 2) {
      if (old[at + 1] !== 0) this.insert(old[at]!, old[at + 1]!);
    }
  }
}
