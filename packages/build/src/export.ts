import {
  BLOCK,
  encodeHeader,
  paddingOf,
  readLayer,
  type EntryPath,
  type TarHeaderFields,
} from "@strata-oci/layer";
import { withErrorContext } from "@strata-oci/errors";
import type { MergedEntry, MergedTree } from "@strata-oci/merge";
import type { Image } from "@strata-oci/image";
import { layerProgress, mergedTree, type MergedTreeOptions } from "@strata-oci/core";

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

/**
 * The image's merged tree as one tar stream, what `docker export` gives,
 * without writing a rootfs: first every directory, symlink, device and fifo
 * (walked parents first, names in byte order), then the files, layer by
 * layer in the order their bytes sit in the layers, each file's further
 * names as hardlinks right after it, then the directories again (their
 * times, which the files written into them moved). Memory follows the number of entries.
 * Deterministic: the same image gives the same bytes. Every layer is read
 * twice (headers, then the bytes of the files that survive) and verified
 * both times.
 */
export async function* exportImage(
  options: MergedTreeOptions,
  built?: Awaited<ReturnType<typeof mergedTree>>,
): AsyncGenerator<Buffer> {
  // `built`: the image's merged tree when the caller has it already (and closes it).
  const made = built ?? (await mergedTree(options));
  try {
    yield* exportTree(made.image, made.tree, options);
  } finally {
    if (built === undefined) made.close();
  }
}

async function* exportTree(
  image: Image,
  tree: MergedTree,
  options: MergedTreeOptions,
): AsyncGenerator<Buffer> {
  // Files waiting for their bytes, by layer and position in it: the first name's path (latin1: a
  // string
  // costs a fifth of a Buffer, and a 1M-entry image keeps one per file), further names apart
  // (hardlinks are few).
  const pending: Array<Map<number, string>> = image.layers.map(() => new Map());
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
  yield* fileBodies(image, tree, { pending, moreNames }, options);
  // Directories once more, now that their contents are in: an extractor
  // (GNU tar among them) sets a directory's time when it meets its entry, and
  // writing files into it afterwards moved that time.
  for (const { path, entry } of tree.walk())
    if (entry.kind === "dir") yield* encodeHeader(header(path, entry, "dir"), 0);
  yield Buffer.alloc(2 * BLOCK);
}

/**
 * The second read of each layer: the bytes of the files that survive, each file's first name
 * with them and its further names as hardlinks after it.
 */
async function* fileBodies(
  image: Image,
  tree: MergedTree,
  names: { pending: Array<Map<number, string>>; moreNames: Map<string, string[]> },
  options: MergedTreeOptions,
): AsyncGenerator<Buffer> {
  const { pending, moreNames } = names;
  const { onProgress } = options;
  const count = image.layers.length;
  for (const [index, layer] of image.layers.entries()) {
    const files = pending[index] as Map<number, string>;
    if (files.size === 0) continue;
    let ordinal = 0;
    const progress = layerProgress(layer, index, count, onProgress, {
      pass: "bodies",
      entries: () => ordinal,
    });
    try {
      // Transient chunks: only the bytes of files that survive are copied out, as they are handed
      // on.
      for await (const entry of readLayer(layer, {
        transientChunks: true,
        context: { image: image.reference },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(progress.onBlobBytes === undefined ? {} : { onBlobBytes: progress.onBlobBytes }),
      })) {
        const name = files.get(ordinal++);
        if (name === undefined || entry.kind !== "file") continue;
        const first = Buffer.from(name, "latin1");
        const file = tree.plainEntry(first) as MergedEntry;
        yield* encodeHeader(header(first, file, "file"), file.size);
        for await (const chunk of entry.body) yield Buffer.from(chunk);
        const padding = paddingOf(file.size);
        if (padding > 0) yield Buffer.alloc(padding);
        for (const other of moreNames.get(name) ?? [])
          yield* encodeHeader(header(Buffer.from(other, "latin1"), file, "hardlink", first), 0);
      }
    } catch (error) {
      throw withErrorContext(error, { image: image.reference, layer: layer.digest ?? `#${index}` });
    }
    progress.done();
  }
}
