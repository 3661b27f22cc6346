import { ByteQueue } from "./byte-queue.js";
import type { EntryBody } from "./layer-entry.js";
import { LimitExceededError } from "./errors.js";
import { CorruptLayerError } from "@strata-oci/errors";
import type { LayerLimits } from "./limits.js";
import {
  BLOCK,
  isZeroBlock,
  paddingOf,
  parseHeader,
  parsePaxRecords,
  TarFormatError,
  type RawTarHeader,
} from "./tar-header.js";

/** One tar member with PAX and GNU long-name headers folded in. */
export interface TarRecord {
  readonly name: Buffer;
  readonly linkname: Buffer;
  readonly typeflag: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  /** The member's data; iterable once, skipped if left unread. */
  readonly body: EntryBody;
}

function corrupt(detail: string, cause?: unknown): CorruptLayerError {
  return new CorruptLayerError("STRATA_CORRUPT_LAYER", detail, {
    cause,
    hint: "the layer blob is damaged; fetch the image again",
  });
}

function truncated(detail: string): CorruptLayerError {
  return new CorruptLayerError("STRATA_TRUNCATED_LAYER", detail, {
    hint: "the layer blob is incomplete; fetch the image again",
  });
}

// PAX numbers are decimal only: a sign, a fraction, hex or spaces in a size
// made the reader spin (issue #9); Go refuses them too. mtime alone may be
// negative or fractional (POSIX).
const UNSIGNED = /^[0-9]{1,16}$/;
const TIME = /^-?[0-9]{1,16}(\.[0-9]{1,9})?$/;
/** uid_t and gid_t are 32 bits, and (uid_t)-1 means "unchanged" to chown. */
const MAX_ID = 0xfffffffe;

function paxNumber(records: PaxRecords, key: string, fallback: number, pattern: RegExp): number {
  const value = records.get(key);
  if (value === undefined) return fallback;
  const text = value.toString("latin1");
  const number = Number(text);
  if (!pattern.test(text) || !Number.isSafeInteger(Math.trunc(number)))
    throw corrupt(`bad PAX ${key} ${JSON.stringify(text.slice(0, 40))}`);
  return number;
}

function ownerId(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_ID)
    throw corrupt(`${what} ${value} is out of range (0 to ${MAX_ID})`);
  return value;
}

function decodeLibarchiveName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch (cause) {
    throw corrupt(
      `bad %-escape in LIBARCHIVE.xattr name ${JSON.stringify(encoded.slice(0, 60))}`,
      cause,
    );
  }
}

const NO_RECORDS: ReadonlyMap<string, Buffer> = new Map();

/** The xattrs named by one set of PAX records. */
function paxXattrs(records: ReadonlyMap<string, Buffer>): ReadonlyMap<string, Buffer> {
  if (records.size === 0) return NO_RECORDS;
  let xattrs: Map<string, Buffer> | undefined;
  for (const [key, value] of records) {
    if (key.startsWith("SCHILY.xattr."))
      (xattrs ??= new Map()).set(key.slice("SCHILY.xattr.".length), value);
    else if (key.startsWith("LIBARCHIVE.xattr.")) {
      (xattrs ??= new Map()).set(
        decodeLibarchiveName(key.slice("LIBARCHIVE.xattr.".length)),
        Buffer.from(value.toString("latin1"), "base64"),
      );
    }
  }
  return xattrs ?? NO_RECORDS;
}

function hasSparse(records: ReadonlyMap<string, Buffer>): boolean {
  if (records.size === 0) return false;
  for (const key of records.keys()) if (key.startsWith("GNU.sparse.")) return true;
  return false;
}

/**
 * PAX records in force for one entry: its own over the global ones. What is
 * derived from the global records (xattrs, sparse keys) is computed once per
 * global header, not per entry: rescanning them for every entry made time
 * grow with entries x global keys (issue #9).
 */
class PaxRecords {
  global: ReadonlyMap<string, Buffer> = NO_RECORDS;
  globalXattrs: ReadonlyMap<string, Buffer> = NO_RECORDS;
  globalSparse = false;
  local = new Map<string, Buffer>();

  get(key: string): Buffer | undefined {
    return this.local.size === 0
      ? this.global.get(key)
      : (this.local.get(key) ?? this.global.get(key));
  }

  setGlobal(records: ReadonlyMap<string, Buffer>, maxBytes: number): void {
    const merged = new Map([...this.global, ...records]);
    let bytes = 0;
    for (const [k, v] of merged) bytes += k.length + v.length;
    if (bytes > maxBytes) throw new LimitExceededError("maxHeaderSize", bytes, maxBytes);
    this.global = merged;
    this.globalXattrs = paxXattrs(merged);
    this.globalSparse = hasSparse(merged);
  }

  xattrs(): ReadonlyMap<string, Buffer> {
    const own = paxXattrs(this.local);
    if (own.size === 0) return this.globalXattrs;
    if (this.globalXattrs.size === 0) return own;
    return new Map([...this.globalXattrs, ...own]);
  }

  sparse(): boolean {
    return this.globalSparse || hasSparse(this.local);
  }
}

function stripNul(data: Buffer): Buffer {
  const nul = data.indexOf(0);
  return nul === -1 ? data : data.subarray(0, nul);
}

/**
 * The bytes of one entry, read from the queue as the consumer asks for them: `remaining` is what
 * the tar still holds of it (the reader skips what the consumer left).
 */
class EntryBytes implements EntryBody {
  #used = false;

  constructor(
    readonly queue: ByteQueue,
    public remaining: number,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    if (this.#used) throw new Error("entry body is iterable once");
    this.#used = true;
    while (this.remaining > 0) {
      const chunk =
        this.queue.takeSome(this.remaining) ?? (await this.queue.readSome(this.remaining));
      if (chunk.length === 0) throw truncated("layer ends inside an entry's data");
      this.remaining -= chunk.length;
      yield chunk;
    }
  }

  /** An arrow: the disk target calls it unbound. */
  readonly readAvailable = (): Buffer | null | undefined => {
    if (this.remaining === 0) return null;
    const chunk = this.queue.takeSome(this.remaining);
    if (chunk !== undefined) this.remaining -= chunk.length;
    return chunk;
  };
}

function headerOf(block: Buffer, position: number): RawTarHeader {
  try {
    return parseHeader(block);
  } catch (error) {
    if (error instanceof TarFormatError)
      throw corrupt(`${error.message} at byte ${position}`, error);
    throw error;
  }
}

/** What one archive's reading keeps between entries: extended headers and the limits' counts. */
class TarState {
  readonly pax = new PaxRecords();
  // Bytes of extended headers (PAX, GNU long names) waiting for their entry:
  // stacked headers are bounded together, not one by one (issue #9).
  #pendingHeaderBytes = 0;
  #longName: Buffer | undefined;
  #longLink: Buffer | undefined;
  #entries = 0;
  #totalBytes = 0;

  constructor(
    readonly queue: ByteQueue,
    readonly limits: LayerLimits,
  ) {}

  /** An extended header waits for its entry. */
  get pending(): boolean {
    return this.pax.local.size > 0 || this.#longName !== undefined || this.#longLink !== undefined;
  }

  /** A PAX (`x`, `g`) or GNU long-name (`L`, `K`) header: read and kept for the next entry. */
  async extended(typeflag: string, size: number): Promise<void> {
    const { limits, queue, pax } = this;
    if (typeflag !== "g") this.#pendingHeaderBytes += size;
    const headerBytes = typeflag === "g" ? size : this.#pendingHeaderBytes;
    if (headerBytes > limits.maxHeaderSize)
      throw new LimitExceededError("maxHeaderSize", headerBytes, limits.maxHeaderSize);
    const data = await queue.readExact(size);
    if (data.length < size) throw truncated("layer ends inside an extended header");
    await queue.skip(paddingOf(size));
    if (typeflag === "L") this.#longName = Buffer.from(stripNul(data));
    else if (typeflag === "K") this.#longLink = Buffer.from(stripNul(data));
    else {
      let records;
      try {
        records = parsePaxRecords(data);
      } catch (error) {
        if (error instanceof TarFormatError) throw corrupt(error.message, error);
        throw error;
      }
      if (typeflag === "x") for (const [k, v] of records) pax.local.set(k, v);
      else pax.setGlobal(records, limits.maxHeaderSize);
    }
  }

  /** The record of an entry's header, counted against the limits, with its body. */
  record(header: RawTarHeader): TarRecord & { body: EntryBytes } {
    const { typeflag, size } = header;
    const { limits, pax } = this;
    if (typeflag === "S" || pax.sparse()) {
      throw corrupt("GNU sparse entries are not supported in layers");
    }
    const entrySize = paxNumber(pax, "size", size, UNSIGNED);
    this.#entries++;
    if (this.#entries > limits.maxEntries)
      throw new LimitExceededError("maxEntries", this.#entries, limits.maxEntries);
    const hasData = typeflag === "0" || typeflag === "\0" || typeflag === "7";
    const dataSize = hasData || !["1", "2", "3", "4", "5", "6"].includes(typeflag) ? entrySize : 0;
    if (hasData && entrySize > limits.maxFileSize)
      throw new LimitExceededError("maxFileSize", entrySize, limits.maxFileSize);
    this.#totalBytes += dataSize;
    if (this.#totalBytes > limits.maxTotalBytes)
      throw new LimitExceededError("maxTotalBytes", this.#totalBytes, limits.maxTotalBytes);
    const record = {
      name: pax.get("path") ?? this.#longName ?? header.name,
      linkname: pax.get("linkpath") ?? this.#longLink ?? header.linkname,
      typeflag,
      mode: header.mode,
      uid: ownerId(paxNumber(pax, "uid", header.uid, UNSIGNED), "uid"),
      gid: ownerId(paxNumber(pax, "gid", header.gid, UNSIGNED), "gid"),
      size: entrySize,
      mtime: paxNumber(pax, "mtime", header.mtime, TIME),
      devMajor: header.devMajor,
      devMinor: header.devMinor,
      xattrs: pax.xattrs(),
      body: new EntryBytes(this.queue, dataSize),
    };
    if (pax.local.size > 0) pax.local = new Map();
    this.#pendingHeaderBytes = 0;
    this.#longName = undefined;
    this.#longLink = undefined;
    return record;
  }

  /** Past what the consumer left of the entry's data, and its padding. */
  async skipRest(body: EntryBytes, dataSize: number): Promise<void> {
    const { queue } = this;
    const remaining = body.remaining;
    body.remaining = 0;
    if (remaining > 0 && !queue.skipAvailable(remaining)) {
      const skipped = await queue.skip(remaining);
      if (skipped < remaining) throw truncated("layer ends inside an entry's data");
    }
    // A short padding at the very end is how umoci 0.4.7 ends a layer.
    const padding = paddingOf(dataSize);
    if (!queue.skipAvailable(padding)) await queue.skip(padding);
  }
}

/**
 * Streams tar members from decompressed layer bytes. Accepts the archives
 * umoci 0.4.7 and older write (no end-of-archive blocks, last padding
 * missing); refuses every other truncation. After the end of the archive it
 * drains the source, so that digest checks upstream run over every byte.
 */
export async function* readTar(
  source: AsyncIterable<Buffer>,
  limits: LayerLimits,
): AsyncGenerator<TarRecord> {
  const queue = new ByteQueue(source);
  const state = new TarState(queue, limits);
  try {
    for (;;) {
      // Synchronous when the chunk in hand holds the header: an await per entry is measurable.
      const block = queue.takeAvailable(BLOCK) ?? (await queue.readExact(BLOCK));
      if (block.length === 0) {
        if (state.pending) throw truncated("layer ends after an extended header, before its entry");
        break; // umoci-style end: no end-of-archive blocks
      }
      if (block.length < BLOCK)
        throw truncated(`layer ends inside a tar header at byte ${queue.position}`);
      if (isZeroBlock(block)) break;
      const header = headerOf(block, queue.position - BLOCK);
      const { typeflag } = header;
      if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
        await state.extended(typeflag, header.size);
        continue;
      }
      const record = state.record(header);
      const dataSize = record.body.remaining;
      yield record;
      await state.skipRest(record.body, dataSize);
    }
    await queue.drain();
  } finally {
    await queue.close();
  }
}
