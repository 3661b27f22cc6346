import { ByteQueue } from "./byte-queue.js";
import type { EntryBody } from "./layer-entry.js";
import { CorruptLayerError, LimitExceededError } from "./errors.js";
import type { LayerLimits } from "./limits.js";
import { BLOCK, isZeroBlock, paddingOf, parseHeader, parsePaxRecords, TarFormatError } from "./tar-header.js";

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
  return new CorruptLayerError("STRATA_CORRUPT_LAYER", detail, { cause, hint: "the layer blob is damaged; fetch the image again" });
}

function truncated(detail: string): CorruptLayerError {
  return new CorruptLayerError("STRATA_TRUNCATED_LAYER", detail, { hint: "the layer blob is incomplete; fetch the image again" });
}

function paxNumber(records: ReadonlyMap<string, Buffer>, key: string, fallback: number): number {
  const value = records.get(key);
  if (value === undefined) return fallback;
  const text = value.toString("latin1");
  const number = Number(text);
  if (text === "" || !Number.isFinite(number)) throw corrupt(`bad PAX ${key} ${JSON.stringify(text)}`);
  return number;
}

function decodeLibarchiveName(encoded: string): string {
  return decodeURIComponent(encoded);
}

const NO_RECORDS: ReadonlyMap<string, Buffer> = new Map();

function paxXattrs(records: ReadonlyMap<string, Buffer>): ReadonlyMap<string, Buffer> {
  if (records.size === 0) return NO_RECORDS;
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of records) {
    if (key.startsWith("SCHILY.xattr.")) xattrs.set(key.slice("SCHILY.xattr.".length), value);
    else if (key.startsWith("LIBARCHIVE.xattr.")) {
      xattrs.set(decodeLibarchiveName(key.slice("LIBARCHIVE.xattr.".length)), Buffer.from(value.toString("latin1"), "base64"));
    }
  }
  return xattrs;
}

function hasSparse(records: ReadonlyMap<string, Buffer>): boolean {
  if (records.size === 0) return false;
  for (const key of records.keys()) if (key.startsWith("GNU.sparse.")) return true;
  return false;
}

function stripNul(data: Buffer): Buffer {
  const nul = data.indexOf(0);
  return nul === -1 ? data : data.subarray(0, nul);
}

/**
 * Streams tar members from decompressed layer bytes. Accepts the archives
 * umoci 0.4.7 and older write (no end-of-archive blocks, last padding
 * missing); refuses every other truncation. After the end of the archive it
 * drains the source, so that digest checks upstream run over every byte.
 */
export async function* readTar(source: AsyncIterable<Buffer>, limits: LayerLimits): AsyncGenerator<TarRecord> {
  const queue = new ByteQueue(source);
  let global = new Map<string, Buffer>();
  let local = new Map<string, Buffer>();
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  let entries = 0;
  let totalBytes = 0;
  try {
    for (;;) {
      // Synchronous when the chunk in hand holds the header: an await per entry is measurable.
      const block = queue.takeAvailable(BLOCK) ?? (await queue.readExact(BLOCK));
      if (block.length === 0) {
        if (local.size > 0 || longName !== undefined || longLink !== undefined) {
          throw truncated("layer ends after an extended header, before its entry");
        }
        break; // umoci-style end: no end-of-archive blocks
      }
      if (block.length < BLOCK) throw truncated(`layer ends inside a tar header at byte ${queue.position}`);
      if (isZeroBlock(block)) break;
      let header;
      try {
        header = parseHeader(block);
      } catch (error) {
        if (error instanceof TarFormatError) throw corrupt(`${error.message} at byte ${queue.position - BLOCK}`, error);
        throw error;
      }
      const { typeflag, size } = header;
      if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
        if (size > limits.maxHeaderSize) throw new LimitExceededError("maxHeaderSize", size, limits.maxHeaderSize);
        const data = await queue.readExact(size);
        if (data.length < size) throw truncated("layer ends inside an extended header");
        await queue.skip(paddingOf(size));
        if (typeflag === "x" || typeflag === "g") {
          let records;
          try {
            records = parsePaxRecords(data);
          } catch (error) {
            if (error instanceof TarFormatError) throw corrupt(error.message, error);
            throw error;
          }
          if (typeflag === "x") for (const [k, v] of records) local.set(k, v);
          else global = new Map([...global, ...records]);
        } else if (typeflag === "L") longName = Buffer.from(stripNul(data));
        else longLink = Buffer.from(stripNul(data));
        continue;
      }
      if (typeflag === "S" || hasSparse(local) || hasSparse(global)) {
        throw corrupt("GNU sparse entries are not supported in layers");
      }
      // Most entries have no PAX records: no Map is built for them.
      const records = global.size === 0 ? local : local.size === 0 ? global : new Map([...global, ...local]);
      const entrySize = paxNumber(records, "size", size);
      entries++;
      if (entries > limits.maxEntries) throw new LimitExceededError("maxEntries", entries, limits.maxEntries);
      const hasData = typeflag === "0" || typeflag === "\0" || typeflag === "7";
      const dataSize = hasData || !["1", "2", "3", "4", "5", "6"].includes(typeflag) ? entrySize : 0;
      if (hasData && entrySize > limits.maxFileSize) throw new LimitExceededError("maxFileSize", entrySize, limits.maxFileSize);
      totalBytes += dataSize;
      if (totalBytes > limits.maxTotalBytes) throw new LimitExceededError("maxTotalBytes", totalBytes, limits.maxTotalBytes);

      let remaining = dataSize;
      let bodyUsed = false;
      const body: EntryBody = {
        [Symbol.asyncIterator]: async function* () {
          if (bodyUsed) throw new Error("entry body is iterable once");
          bodyUsed = true;
          while (remaining > 0) {
            const chunk = queue.takeSome(remaining) ?? (await queue.readSome(remaining));
            if (chunk.length === 0) throw truncated("layer ends inside an entry's data");
            remaining -= chunk.length;
            yield chunk;
          }
        },
        readAvailable: () => {
          if (remaining === 0) return null;
          const chunk = queue.takeSome(remaining);
          if (chunk !== undefined) remaining -= chunk.length;
          return chunk;
        },
      };
      yield {
        name: records.get("path") ?? longName ?? header.name,
        linkname: records.get("linkpath") ?? longLink ?? header.linkname,
        typeflag,
        mode: header.mode,
        uid: paxNumber(records, "uid", header.uid),
        gid: paxNumber(records, "gid", header.gid),
        size: entrySize,
        mtime: paxNumber(records, "mtime", header.mtime),
        devMajor: header.devMajor,
        devMinor: header.devMinor,
        xattrs: paxXattrs(records),
        body,
      };
      if (local.size > 0) local = new Map();
      longName = undefined;
      longLink = undefined;
      if (remaining > 0 && !queue.skipAvailable(remaining)) {
        const skipped = await queue.skip(remaining);
        if (skipped < remaining) throw truncated("layer ends inside an entry's data");
      }
      remaining = 0;
      // A short padding at the very end is how umoci 0.4.7 ends a layer.
      const padding = paddingOf(dataSize);
      if (!queue.skipAvailable(padding)) await queue.skip(padding);
    }
    await queue.drain();
  } finally {
    await queue.close();
  }
}
