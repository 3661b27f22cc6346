import {
  BLOCK,
  encodeHeader,
  EventLoopTurns,
  paddingOf,
  stopIdleWorkers,
  type EntryPath,
  type TarHeaderFields,
} from "@strata-oci/layer";
import { AbortedError } from "@strata-oci/errors";
import type { MergedEntry, MergedTree } from "@strata-oci/merge";
import type { Image } from "@strata-oci/image";
import { mergeLayers, type MergedTreeOptions } from "@strata-oci/core";
import { BodySpool } from "./body-spool.js";

function header(
  path: EntryPath,
  entry: MergedEntry,
  type: TarHeaderFields["type"],
  linkname?: EntryPath,
): TarHeaderFields {
  return {
    // The root is "./"; directories end in "/", as GNU tar writes them.
    name:
      path.length === 0
        ? Buffer.from("./")
        : entry.kind === "dir" && type === "dir"
          ? Buffer.concat([path, Buffer.from("/")])
          : path,
    type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    mtime: entry.mtime,
    ...(entry.xattrs.size === 0 ? {} : { xattrs: entry.xattrs }),
    ...(linkname === undefined ? {} : { linkname }),
    ...(entry.kind === "char" || entry.kind === "block"
      ? { devMajor: entry.devMajor ?? 0, devMinor: entry.devMinor ?? 0 }
      : {}),
  };
}

/** An image's merged tree with every file's bytes at hand: what export writes its tar from. */
export interface SpooledTree {
  readonly image: Image;
  readonly tree: MergedTree;
  readonly spool: BodySpool;
  close(): void;
}

/**
 * The merged tree of `options.image`, from one read of each layer that also keeps every file's
 * bytes (in a temporary file, gone when closed): export's tar is written from it without reading
 * a layer again.
 */
export async function spooledTree(options: MergedTreeOptions): Promise<SpooledTree> {
  const spool = BodySpool.open();
  try {
    const merged = await mergeLayers(options, {
      entries: (index, entries) => spool.keep(index, entries),
    });
    // No layer is read again: a registry's downloaded layers go now, and the blob workers.
    merged.close();
    stopIdleWorkers();
    return { image: merged.image, tree: merged.tree, spool, close: () => spool.close() };
  } catch (error) {
    spool.close();
    throw error;
  }
}

export interface ExportOptions extends MergedTreeOptions {
  /**
   * Each chunk is valid only until the next is asked for (the consumer writes or copies it
   * first): one buffer is reused instead of a new 1 MiB one per chunk, left to the collector.
   */
  readonly transientChunks?: boolean | undefined;
}

/**
 * The image's merged tree as one tar stream, what `docker export` gives,
 * without writing a rootfs: first every directory, symlink, device and fifo
 * (walked parents first, names in byte order), then the files, layer by
 * layer in the order their bytes sit in the layers, each file's further
 * names as hardlinks right after it, then the directories again (their
 * times, which the files written into them moved). Memory follows the number
 * of entries; the files' bytes wait in a temporary file. Deterministic: the
 * same image gives the same bytes. Every layer is read once, and every byte
 * verified before the first file's bytes are written.
 */
export async function* exportImage(
  options: ExportOptions,
  built?: SpooledTree,
): AsyncGenerator<Buffer> {
  // `built`: the image's spooled tree when the caller has it already (and closes it).
  const made = built ?? (await spooledTree(options));
  try {
    yield* batched(tarPieces(made.tree, made.image.layers.length, made.spool), made.spool, options);
  } finally {
    if (built === undefined) made.close();
  }
}

/** A file's bytes in the spool. */
interface SpooledBytes {
  readonly offset: number;
  readonly length: number;
}

const ZEROS = Buffer.alloc(2 * BLOCK);

/** The tar, piece by piece: headers and padding as bytes, file bodies as places in the spool. */
function* tarPieces(
  tree: MergedTree,
  layers: number,
  spool: BodySpool,
): Generator<Buffer | SpooledBytes> {
  // Files waiting for their bytes, by layer and position in it: the first name's path (latin1: a
  // string costs a fifth of a Buffer, and a 1M-entry image keeps one per file), further names
  // apart (hardlinks are few).
  const pending: Array<Map<number, string>> = Array.from({ length: layers }, () => new Map());
  const moreNames = new Map<string, string[]>();
  const firstName = new Map<MergedEntry, EntryPath>();
  for (const { path, entry } of tree.walk()) {
    if (entry.kind === "file") {
      const byOrdinal = pending[entry.layer] as Map<number, string>;
      const first = byOrdinal.get(entry.ordinal);
      const name = path.toString("latin1");
      if (first === undefined) byOrdinal.set(entry.ordinal, name);
      else moreNames.set(first, [...(moreNames.get(first) ?? []), name]);
      continue;
    }
    const first = entry.kind === "dir" ? undefined : firstName.get(entry);
    if (first !== undefined) {
      yield* encodeHeader(header(path, entry, "hardlink", first), 0);
      continue;
    }
    if (entry.kind !== "dir") firstName.set(entry, path);
    yield* encodeHeader(
      {
        ...header(path, entry, entry.kind),
        ...(entry.kind === "symlink" && entry.target !== undefined
          ? { linkname: entry.target }
          : {}),
      },
      0,
    );
  }
  for (const [layer, files] of pending.entries()) {
    for (const ordinal of Float64Array.from(files.keys()).sort()) {
      const name = files.get(ordinal) as string;
      const first = Buffer.from(name, "latin1");
      const file = tree.plainEntry(first) as MergedEntry;
      yield* encodeHeader(header(first, file, "file"), file.size);
      if (file.size > 0) yield { offset: spool.offsetOf(layer, ordinal), length: file.size };
      yield ZEROS.subarray(0, paddingOf(file.size));
      for (const other of moreNames.get(name) ?? [])
        yield* encodeHeader(header(Buffer.from(other, "latin1"), file, "hardlink", first), 0);
    }
  }
  // Directories once more, now that their contents are in: an extractor
  // (GNU tar among them) sets a directory's time when it meets its entry, and
  // writing files into it afterwards moved that time.
  for (const { path, entry } of tree.walk())
    if (entry.kind === "dir") yield* encodeHeader(header(path, entry, "dir"), 0);
  yield ZEROS;
}

const BATCH = 1 << 20;

/**
 * The pieces packed into 1 MiB buffers, file bytes read from the spool straight into them: a
 * yield per header was most of the cost of an image of small files.
 */
async function* batched(
  pieces: Iterable<Buffer | SpooledBytes>,
  spool: BodySpool,
  options: ExportOptions,
): AsyncGenerator<Buffer> {
  let out = Buffer.allocUnsafe(BATCH);
  let used = 0;
  const turns = new EventLoopTurns();
  for (const piece of pieces) {
    const bytes = Buffer.isBuffer(piece) ? piece : undefined;
    let { length } = bytes ?? (piece as SpooledBytes);
    let from = 0;
    while (length > 0) {
      const n = Math.min(length, BATCH - used);
      if (bytes !== undefined) bytes.copy(out, used, from, from + n);
      else spool.read(out.subarray(used, used + n), (piece as SpooledBytes).offset + from);
      used += n;
      from += n;
      length -= n;
      if (used === BATCH) {
        // A consumer that writes synchronously (the CLI's -o FILE) never lets the event loop run:
        // a turn now and then, or SIGINT waited for the whole tar (a second of a 1 GB one).
        const turn = turns.due();
        if (turn !== undefined) await turn;
        if (options.signal?.aborted === true) throw new AbortedError(options.signal.reason);
        yield out;
        if (options.transientChunks !== true) out = Buffer.allocUnsafe(BATCH);
        used = 0;
      }
    }
  }
  if (used > 0) yield out.subarray(0, used);
}
