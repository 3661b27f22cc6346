/**
 * Pulls bytes from an async iterable of chunks on demand. Slices are handed
 * out without copying where a request fits inside one chunk.
 */
export class ByteQueue {
  readonly #source: AsyncIterator<Buffer>;
  #chunk: Buffer = Buffer.alloc(0);
  #offset = 0;
  #ended = false;
  /** Bytes consumed so far (handed out or skipped). */
  position = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  get #available(): number {
    return this.#chunk.length - this.#offset;
  }

  async #fill(): Promise<boolean> {
    while (this.#available === 0) {
      if (this.#ended) return false;
      const next = await this.#source.next();
      if (next.done === true) {
        this.#ended = true;
        return false;
      }
      this.#chunk = next.value;
      this.#offset = 0;
    }
    return true;
  }

  /**
   * Exactly `n` bytes, or fewer only when the source ends first (the caller
   * decides whether a short read is an error).
   */
  async readExact(n: number): Promise<Buffer> {
    if (!(await this.#fill())) return Buffer.alloc(0);
    if (this.#available >= n) return this.#take(n);
    const parts: Buffer[] = [];
    let missing = n;
    while (missing > 0 && (await this.#fill())) {
      const part = Buffer.from(this.#take(Math.min(missing, this.#available)));
      parts.push(part);
      missing -= part.length;
    }
    return Buffer.concat(parts);
  }

  /**
   * Exactly `n` bytes when the current chunk holds them, without waiting
   * (the common case: most reads fit in a chunk); undefined otherwise.
   */
  takeAvailable(n: number): Buffer | undefined {
    return this.#available >= n ? this.#take(n) : undefined;
  }

  /** Up to `max` (> 0) bytes of the current chunk without waiting; undefined when it is used up. */
  takeSome(max: number): Buffer | undefined {
    const available = this.#available;
    return available === 0 ? undefined : this.#take(Math.min(max, available));
  }

  /** Skips `n` bytes when the current chunk holds them, without waiting; false otherwise. */
  skipAvailable(n: number): boolean {
    if (this.#available < n) return false;
    this.#offset += n;
    this.position += n;
    return true;
  }

  /** Up to `max` bytes from the current chunk; empty only at the end of the source. */
  async readSome(max: number): Promise<Buffer> {
    if (max === 0 || !(await this.#fill())) return Buffer.alloc(0);
    return this.#take(Math.min(max, this.#available));
  }

  /** Skips up to `n` bytes; returns how many were skipped. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n && (await this.#fill())) {
      const step = Math.min(n - skipped, this.#available);
      this.#offset += step;
      this.position += step;
      skipped += step;
    }
    return skipped;
  }

  /** Reads and discards everything left, so that verifying streams upstream see their end. */
  async drain(): Promise<number> {
    let drained = this.#available;
    this.position += drained;
    this.#offset = this.#chunk.length;
    for (;;) {
      const next = await this.#source.next();
      if (next.done === true) break;
      drained += next.value.length;
      this.position += next.value.length;
    }
    this.#ended = true;
    return drained;
  }

  /** Stops the source early (on error or when the consumer gives up). */
  async close(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      await this.#source.return?.();
    }
  }

  #take(n: number): Buffer {
    const out = this.#chunk.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    this.position += n;
    return out;
  }
}
