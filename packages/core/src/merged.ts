import {
  displayPath,
  escapeName,
  isUtf8,
  readLayer,
  resolveLimits,
  unescapeName,
  type EntryPath,
  type LayerEntry,
  type LayerLimits,
} from "@strata-oci/layer";
import { ImageError, withErrorContext } from "@strata-oci/errors";
import type { Image, Platform, RegistryOptions } from "@strata-oci/image";
import { MergedTree, type MergedEntry, type MergeObserver } from "@strata-oci/merge";
import { prefetchedImage, type PrefetchedImage } from "./prefetch.js";
import { layerProgress } from "./layer-progress.js";
import { openContainerImage } from "./prologue.js";
import type { UnpackProgress } from "./unpack.js";

export interface MergedTreeOptions {
  readonly image: string;
  readonly platform?: string | Platform | undefined;
  readonly registry?: RegistryOptions | undefined;
  readonly limits?: Partial<LayerLimits> | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called as each layer's headers have been read. */
  readonly onLayer?: ((index: number, count: number) => void) | undefined;
  /** The layers' reading as unpack reports it (layer-start, bytes, layer-done): for a display. */
  readonly onProgress?: ((event: UnpackProgress) => void) | undefined;
}

/**
 * The merged tree of an image, from its layers' headers (every blob is read
 * and verified; no file body is kept): which entry each path shows, its
 * attributes, and the layer its bytes are in. Memory follows the number of
 * entries.
 */
export async function mergedTree(
  options: MergedTreeOptions,
): Promise<{ image: Image; tree: MergedTree; close: () => void }> {
  return await mergeLayers(options, {});
}

/** What strata analyse adds to the merge: an observer on the tree, and each layer's count. */
export interface MergeHooks {
  /** The image, opened: before its first layer is read. */
  begin?(image: Image): void;
  readonly observer?: MergeObserver;
  /** Each layer's entries, as they go into the tree. */
  entries?(index: number, entries: AsyncIterable<LayerEntry>): AsyncIterable<LayerEntry>;
  /** Uncompressed bytes of layer `index`, as they are read. */
  onTarBytes?(index: number, bytes: number): void;
}

/** mergedTree, with the hooks strata analyse counts through. */
export async function mergeLayers(
  options: MergedTreeOptions,
  hooks: MergeHooks,
): Promise<{ image: Image; tree: MergedTree; close: () => void }> {
  // Registry layers download ahead, read on the blob worker; kept until `close` (cat reads a
  // layer again), removed at exit at the latest.
  const prefetched = prefetchedImage(await openContainerImage(options));
  try {
    return { ...(await buildTree(prefetched, options, hooks)), close: prefetched.close };
  } catch (error) {
    prefetched.close();
    throw error;
  }
}

async function buildTree(
  { image, read }: PrefetchedImage,
  options: MergedTreeOptions,
  hooks: MergeHooks,
): Promise<{ image: Image; tree: MergedTree }> {
  // The merged view is held whole: bounded as a layer's entries are (about 240 bytes each; README).
  const tree = new MergedTree({
    maxEntries: resolveLimits(options.limits).maxEntries,
    ...(hooks.observer === undefined ? {} : { observer: hooks.observer }),
  });
  const { onProgress } = options;
  const count = image.layers.length;
  hooks.begin?.(image);
  for (const [index, layer] of image.layers.entries()) {
    const progress = layerProgress(layer, index, count, onProgress);
    const { onTarBytes } = hooks;
    try {
      const entriesOf = readLayer(layer, {
        // Bodies are skipped, never kept: the ring's bytes need no copies.
        transientChunks: true,
        context: { image: image.reference },
        ...(options.limits === undefined ? {} : { limits: options.limits }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(progress.onBlobBytes === undefined ? {} : { onBlobBytes: progress.onBlobBytes }),
        ...(onTarBytes === undefined ? {} : { onTarBytes: (n: number) => onTarBytes(index, n) }),
      });
      const counted = progress.counted(entriesOf);
      await tree.applyLayer(hooks.entries?.(index, counted) ?? counted);
    } catch (error) {
      throw withErrorContext(error, { image: image.reference, layer: layer.digest ?? `#${index}` });
    }
    read(index);
    progress.done();
    options.onLayer?.(index, count);
  }
  tree.finish();
  return { image, tree };
}

/** One entry as `strata ls` shows it. */
export interface ListedEntry {
  /**
   * From the image's root, without a leading slash ("" is the root); exact where it is UTF-8 (else
   * with U+FFFD, and `pathBase64` exact).
   */
  readonly path: string;
  /**
   * The path's bytes in base64, only where they are not UTF-8 (two such names would otherwise look
   * alike).
   */
  readonly pathBase64?: string;
  /**
   * The path as `strata ls` prints it and `cat` takes it: controls and undecodable bytes escaped
   * (\xNN), backslashes doubled.
   */
  readonly escapedPath: string;
  readonly kind: MergedEntry["kind"];
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  /** The layer its entry came from (index in manifest order); -1 for a directory no entry named. */
  readonly layer: number;
  readonly target?: string;
  /** The link target's bytes in base64, only where they are not UTF-8. */
  readonly targetBase64?: string;
  readonly device?: string;
  readonly xattrs: readonly string[];
}

function listed(path: EntryPath, entry: MergedEntry): ListedEntry {
  return {
    path: path.toString("utf8"),
    ...(isUtf8(path) ? {} : { pathBase64: path.toString("base64") }),
    escapedPath: escapeName(path),
    kind: entry.kind,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.size,
    mtime: entry.mtime,
    layer: entry.layer,
    ...(entry.target === undefined ? {} : { target: entry.target.toString("utf8") }),
    ...(entry.target === undefined || isUtf8(entry.target)
      ? {}
      : { targetBase64: entry.target.toString("base64") }),
    ...(entry.kind === "char" || entry.kind === "block"
      ? { device: `${entry.devMajor}:${entry.devMinor}` }
      : {}),
    xattrs: [...entry.xattrs.keys()].sort(),
  };
}

/**
 * A path as the user wrote it ("/etc/passwd", "etc", "/"), as an entry path
 * inside the image: a string in the spelling `ls` prints (\xNN for bytes that
 * are not UTF-8, \\ for a backslash), or the exact bytes.
 */
function insideImage(path: string | Buffer): EntryPath {
  const bytes = typeof path === "string" ? unescapeName(path) : path;
  const parts = bytes
    .toString("latin1")
    .split("/")
    .filter((part) => part !== "" && part !== ".");
  return Buffer.from(parts.join("/"), "latin1");
}

function notFound(image: Image, path: string | Buffer): ImageError {
  const shown = typeof path === "string" ? path : escapeName(path);
  return new ImageError("STRATA_PATH_NOT_FOUND", `${image.reference} has no ${shown}`, {
    hint: "`strata ls IMAGE DIR` lists what a directory holds",
    context: { image: image.reference, entry: shown },
  });
}

export interface ListOptions extends MergedTreeOptions {
  /**
   * Default the root. A directory lists its entries, anything else itself (as `ls -l`). The
   * spelling `ls` prints, or the exact bytes.
   */
  readonly path?: string | Buffer | undefined;
  /** Every entry below `path`, parents first (as `tar -tv`). */
  readonly recursive?: boolean | undefined;
}

/** The merged tree's entries at `path` without unpacking the image: `strata ls`. */
export async function list(
  options: ListOptions,
): Promise<{ image: Image; entries: ListedEntry[] }> {
  const { image, entries } = await listing(options);
  return { image, entries: [...entries] };
}

/**
 * `list`, with the entries made one at a time as they are taken: a listing
 * of a million entries then costs the merged tree alone, not the tree and
 * every entry's record at once (issue #26.8; `strata ls` writes it so).
 */
export async function listing(
  options: ListOptions,
): Promise<{ image: Image; entries: Iterable<ListedEntry> }> {
  const { image, tree, close } = await mergedTree(options);
  // The listing needs the tree alone: no layer is read again.
  close();
  const wanted = options.path ?? "/";
  const found = tree.resolve(insideImage(wanted), true);
  if (found === undefined) throw notFound(image, wanted);
  if (found.entry.kind !== "dir") return { image, entries: [listed(found.path, found.entry)] };
  if (options.recursive === true)
    return {
      image,
      entries: mapped(tree.walk(found.path), ({ path, entry }) => listed(path, entry)),
    };
  const children = tree.list(found.path) ?? [];
  return {
    image,
    entries: mapped(children, ({ name, entry }) =>
      listed(
        found.path.length === 0 ? name : Buffer.concat([found.path, Buffer.from("/"), name]),
        entry,
      ),
    ),
  };
}

function* mapped<T, U>(items: Iterable<T>, map: (item: T) => U): Generator<U> {
  for (const item of items) yield map(item);
}

export interface CatOptions extends MergedTreeOptions {
  /** The file: the spelling `ls` prints (\xNN, \\), or the exact bytes. */
  readonly path: string | Buffer;
}

/**
 * One file's bytes, read from the layer that holds them, symlinks resolved
 * inside the image: `strata cat`. The rest of that layer is read after the
 * file, so that its digest is checked over every byte as always; a mismatch
 * then fails the iteration after the bytes were given.
 */
export async function* cat(options: CatOptions): AsyncGenerator<Buffer> {
  const { image, tree, close } = await mergedTree(options);
  try {
    yield* catFrom(image, tree, options);
  } finally {
    close();
  }
}

async function* catFrom(
  image: Image,
  tree: MergedTree,
  options: CatOptions,
): AsyncGenerator<Buffer> {
  const found = tree.resolve(insideImage(options.path), true);
  if (found === undefined) throw notFound(image, options.path);
  if (found.entry.kind !== "file") {
    throw new ImageError(
      "STRATA_NOT_A_FILE",
      `${displayPath(found.path)} in ${image.reference} is a ` +
        `${found.entry.kind === "dir" ? "directory" : found.entry.kind}, not a file`,
      {
        hint: "strata cat prints regular files; `strata ls` lists directories",
        context: { image: image.reference, entry: displayPath(found.path) },
      },
    );
  }
  const layer = image.layers[found.entry.layer];
  if (layer === undefined) throw new Error(`unreachable: layer ${found.entry.layer}`);
  let ordinal = 0;
  // Transient chunks: only the file's bytes are copied out, as they are handed on.
  for await (const entry of readLayer(layer, {
    transientChunks: true,
    context: { image: image.reference },
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })) {
    if (ordinal++ !== found.entry.ordinal) continue;
    if (entry.kind !== "file")
      throw new ImageError(
        "STRATA_IMAGE_UNREADABLE",
        `layer ${layer.digest ?? found.entry.layer} changed while it was read`,
        { context: { image: image.reference } },
      );
    for await (const chunk of entry.body) yield Buffer.from(chunk);
  }
}
