/**
 * The one per-entry state matching keeps: which ledger keys a row has claimed, and on which line.
 *
 * An open-addressing table on typed arrays instead of a `Map<string, number>`: measured here with 1M
 * keys, a Map took ~2× as long to fill (rehash copies of a 1M-slot OrderedHashMap plus GC of its
 * backing stores). It stays exact: a 32-bit FNV-1a hash picks the slot, the key itself confirms.
 *
 * The keys are kept as character codes in one growing typed array, not as strings: 1M live key
 * strings were each copied by two young-generation GCs and then marked by every full one, which was
 * most of the reconciliation's GC time. A key is hashed and copied to the end of that array in the
 * same pass; the copy is kept only when the key is new.
 */
export class ClaimSet {
  private capacity = 1024;
  /**
   * Four int32 per slot, side by side so a probe touches one cache line: hash, 1-based line of the
   * first claim (0 = empty slot), where the key starts in {@link chars}, and its length.
   */
  private slots = new Int32Array(this.capacity * 4);
  /** Every key's characters, one after the other; one byte each until a key needs more. */
  private chars: Uint8Array | Uint16Array = new Uint8Array(64 * 1024);
  private used = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Line of the row that first claimed `key`, or undefined. */
  get(key: string): number | undefined {
    const slot = this.find(this.stage(key), key.length);
    return slot < 0 ? undefined : this.slots[slot + 1];
  }

  /** Claims `key` for `line` (≥ 1) unless already claimed; returns the earlier line when it was. */
  claim(key: string, line: number): number | undefined {
    const hash = this.stage(key);
    const existing = this.find(hash, key.length);
    if (existing >= 0) return this.slots[existing + 1];
    if (this.count * 2 >= this.capacity) this.grow();
    this.insert(hash, this.used, key.length, Math.max(1, line));
    this.used += key.length;
    this.count++;
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Copies `key` to the free end of {@link chars} (not yet kept) and returns its FNV-1a hash (as int32). */
  private stage(key: string): number {
    const n = key.length;
    if (this.used + n > this.chars.length) this.growChars(this.used + n);
    let chars = this.chars;
    const at = this.used;
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c > 0xff && chars instanceof Uint8Array) {
        this.chars = Uint16Array.from(chars);
        chars = this.chars;
      }
      chars[at + i] = c;
      h ^= c;
      h = Math.imul(h, 16777619);
    }
    return h | 0;
  }

  /** The index in {@link slots} of the staged key (hash and length given), or -1. */
  private find(hash: number, length: number): number {
    const mask = this.capacity - 1;
    const slots = this.slots;
    const chars = this.chars;
    const staged = this.used;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const at = i * 4;
      if (slots[at + 1] === 0) return -1;
      if (slots[at] === hash && slots[at + 3] === length) {
        const offset = slots[at + 2]!;
        let k = 0;
        while (k < length && chars[offset + k] === chars[staged + k]) k++;
        if (k === length) return at;
      }
    }
  }

  private insert(hash: number, offset: number, length: number, line: number): void {
    const mask = this.capacity - 1;
    const slots = this.slots;
    let i = hash & mask;
    while (slots[i * 4 + 1] !== 0) i = (i + 1) & mask;
    const at = i * 4;
    slots[at] = hash;
    slots[at + 1] = line;
    slots[at + 2] = offset;
    slots[at + 3] = length;
  }

  private grow(): void {
    const old = this.slots;
    this.capacity *= 2;
    this.slots = new Int32Array(this.capacity * 4);
    for (let at = 0; at < old.length; at += 4) {
      if (old[at + 1] !== 0) this.insert(old[at]!, old[at + 2]!, old[at + 3]!, old[at + 1]!);
    }
  }

  private growChars(atLeast: number): void {
    let size = this.chars.length * 2;
    while (size < atLeast) size *= 2;
    const chars = this.chars instanceof Uint8Array ? new Uint8Array(size) : new Uint16Array(size);
    chars.set(this.chars.subarray(0, this.used));
    this.chars = chars;
  }
}
