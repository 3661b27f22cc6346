// One layer of a layer store, written as the kernel's overlayfs reads it:
// stacked on the layers below (already stored), the mount must show the
// same tree as a flat unpack of the same layers. The layer's entries are
// written by a DiskTarget into the layer's own directory at the paths the
// merged tree resolves them to (a parent that is a symlink in a lower layer
// is followed, as the flat unpack follows it); then the directory is made
// to say what changed in overlay terms: names gone from the merged view
// become whiteouts (character devices 0/0), a directory whose content is
// all this layer's becomes opaque, and every directory in it carries the
// attributes the merged tree gives it (overlayfs shows the uppermost
// copy's), implied parents included.
import {
  chmodSync,
  copyFileSync,
  constants,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import {
  childPath,
  displayPath,
  parentPath,
  splitPath,
  joinPath,
  type EntryAttributes,
  type EntryPath,
  type LayerEntry,
} from "@strata-oci/layer";
import { BadEntryError } from "@strata-oci/errors";
import { AttributeWriter, fsTime, type UnpackWarning } from "./attribute-writer.js";
import { DiskTarget, type ApplyStats } from "./disk-target.js";
import { isOverlayXattr, LowerStack, opaqueXattr, type OverlayXattrs } from "./lower-stack.js";
import type { MergedEntry, MergedTree } from "./merged-tree.js";
import { native, nativeCalls } from "./native.js";
import type { OwnershipPolicy } from "./ownership.js";
import { onDisk } from "./resolve-in-root.js";

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export interface OverlayLayerOptions {
  readonly policy: OwnershipPolicy;
  /**
   * `trusted` (root: a kernel mount as root reads trusted.overlay.*) or `user` (unprivileged
   * `userxattr` mounts).
   */
  readonly xattrs: OverlayXattrs;
  readonly onWarning?: (warning: UnpackWarning) => void;
  readonly signal?: AbortSignal;
}

/** What writing a layer did, beyond the entries: the overlay markers it needed. */
export interface OverlayLayerStats extends ApplyStats {
  whiteouts: number;
  opaque: number;
  /** Lower files copied into this layer because one of its entries hardlinks them. */
  copiedUp: number;
}

/**
 * A stored node's own attributes onto another node: owner (as root; a
 * rootless store keeps it in the user.rootlesscontainers xattr, copied with
 * the others), mode, xattrs but overlayfs's own, mtime. For a copied-up
 * lower inode, and for a writable mount's upper root (whose attributes the
 * merged root shows).
 */
export function copyNodeAttributes(from: Buffer, to: Buffer): void {
  const stats = lstatSync(from, { bigint: true });
  if (process.geteuid?.() === 0) lchownSync(to, Number(stats.uid), Number(stats.gid));
  if (!stats.isSymbolicLink()) chmodSync(to, Number(stats.mode) & 0o7777);
  const calls = nativeCalls();
  if (calls !== undefined)
    for (const name of calls.llistxattr(from))
      if (!isOverlayXattr(name)) calls.lsetxattr(to, name, calls.lgetxattr(from, name));
  const mtime = fsTime(Number(stats.mtimeNs) / 1e9);
  lutimesSync(to, mtime, mtime);
}

function attributesOf(path: EntryPath, entry: MergedEntry): EntryAttributes {
  const xattrs = new Map([...entry.xattrs].filter(([name]) => !isOverlayXattr(name)));
  return { path, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime, xattrs };
}

/**
 * An entry as a store layer can hold it: without the xattrs overlayfs would
 * obey (dropped, with a warning of their own), and refused where overlayfs
 * would read it as something else: a character device 0:0 is a whiteout to
 * the kernel (it would hide the entry and what lies below it), so a store
 * cannot hold one that is created as a device. A rootless store writes
 * devices as empty files, as a rootless flat unpack does.
 */
function storable(entry: LayerEntry, path: EntryPath, options: OverlayLayerOptions): LayerEntry {
  if (
    entry.kind === "char" &&
    entry.devMajor === 0 &&
    entry.devMinor === 0 &&
    options.policy.privileged
  ) {
    throw new BadEntryError(
      "STRATA_UNREPRESENTABLE",
      `${displayPath(path)} is a character device 0:0, which overlayfs reads as a whiteout`,
      {
        hint:
          "the layer store cannot hold it; unpack the image flat (strata unpack IMAGE " +
          "DEST) or rootless (--rootless: devices become empty files)",
        context: { entry: displayPath(path) },
      },
    );
  }
  if (
    entry.kind === "whiteout" ||
    entry.kind === "opaque" ||
    ![...entry.xattrs.keys()].some(isOverlayXattr)
  )
    return entry;
  for (const name of entry.xattrs.keys()) {
    if (isOverlayXattr(name))
      options.onWarning?.({
        kind: "overlay-xattr-dropped",
        path: displayPath(path),
        detail: `${name}: overlayfs's own xattr, which an image may not set in a store`,
      });
  }
  return {
    ...entry,
    xattrs: new Map([...entry.xattrs].filter(([name]) => !isOverlayXattr(name))),
  } as LayerEntry;
}

function diskTargetFor(dir: string, options: OverlayLayerOptions): DiskTarget {
  return new DiskTarget(dir, {
    policy: options.policy,
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}

/**
 * Writes a bottom layer (nothing below it) into the empty directory `dir`:
 * with nothing to hide or resolve through, its overlay directory is its
 * flat unpack (whiteouts and opaque markers remove nothing of the layer's
 * own), written by the disk target alone.
 */
export async function writeBottomLayer(
  dir: string,
  entries: AsyncIterable<LayerEntry>,
  options: OverlayLayerOptions,
): Promise<OverlayLayerStats> {
  const disk = diskTargetFor(dir, options);
  async function* stripped(): AsyncGenerator<LayerEntry> {
    for await (const entry of entries) yield storable(entry, entry.path, options);
  }
  await disk.applyLayer(stripped());
  disk.finish();
  return { ...disk.stats, whiteouts: 0, opaque: 0, copiedUp: 0 };
}

/**
 * Writes the next layer of `tree` (the merged view of the layers below,
 * stored in `lowers`, bottom first: usually a tree over StoredLayers that
 * loads what this layer touches) into the empty directory `dir`.
 */
export async function writeOverlayLayer(
  tree: MergedTree,
  dir: string,
  lowers: readonly string[],
  entries: AsyncIterable<LayerEntry>,
  options: OverlayLayerOptions,
): Promise<OverlayLayerStats> {
  const root = Buffer.from(dir);
  const below = new LowerStack(lowers, options.xattrs);
  const attributes = new AttributeWriter(options.policy, options.onWarning);
  const disk = diskTargetFor(dir, options);
  const layer = tree.beginLayer();
  const touched: EntryPath[] = [];
  /**
   * Where this layer may have taken lower names out of the merged view: the
   * parents of its whiteouts, its opaque directories, and the paths of its
   * non-directories (which hide a lower directory, and may be replaced by a
   * directory again later in the layer). Only directories at or under one of
   * these are compared with the layers below: the others merge with them as
   * they are (a second image's /etc is not listed for its one changed file).
   */
  const removalRoots = new Set<string>();
  const copied = new Set<MergedEntry>();
  /**
   * Lower names copied into this layer, by path: a whiteout later in the layer may remove them
   * again.
   */
  const copiedPaths = new Map<string, MergedEntry>();
  const stats: OverlayLayerStats = { entries: 0, bytes: 0, whiteouts: 0, opaque: 0, copiedUp: 0 };

  /**
   * Makes the parents of `path` in this layer's directory (their attributes are set at the end).
   */
  const makeParents = (path: EntryPath): void => {
    mkdirSync(onDisk(root, parentPath(path)), { recursive: true, mode: 0o755 });
  };

  /**
   * Every name of the lower inode `entry` (at `path`, among others), copied into this layer as one
   * inode.
   */
  const copyUp = (entry: MergedEntry, skip: EntryPath): void => {
    copied.add(entry);
    let first: Buffer | undefined;
    for (const path of tree.pathsOf(entry)) {
      if (path.equals(skip)) continue;
      const abs = onDisk(root, path);
      makeParents(path);
      copiedPaths.set(path.toString("latin1"), entry);
      if (first !== undefined) {
        linkSync(first, abs);
        continue;
      }
      const source = below.locate(path);
      if (source === undefined)
        throw new Error(
          `store invariant: ${path.toString()} is in the merged tree but in no lower layer`,
        );
      if (entry.kind === "file") copyFileSync(source.abs, abs, constants.COPYFILE_EXCL);
      else if (entry.kind === "symlink")
        symlinkSync(readlinkSync(source.abs, { encoding: "buffer" }), abs);
      else {
        const type = entry.kind === "char" ? S_IFCHR : entry.kind === "block" ? S_IFBLK : S_IFIFO;
        native().mknod(abs, type | 0o600, entry.devMajor ?? 0, entry.devMinor ?? 0);
      }
      copyNodeAttributes(source.abs, abs);
      first = abs;
      stats.copiedUp++;
    }
  };

  async function* resolved(): AsyncGenerator<LayerEntry> {
    for await (const entry of entries) {
      if (entry.kind === "whiteout" || entry.kind === "opaque") {
        tree.applyEntry(entry);
        const changed = entry.kind === "whiteout" ? parentPath(entry.path) : entry.path;
        touched.push(changed);
        removalRoots.add(changed.toString("latin1"));
        // Copies of lower names are lower entries to the merged tree: what it removed goes from the
        // disk too,
        // before a later entry resolves a path through it.
        for (const [key, value] of copiedPaths) {
          const path = Buffer.from(key, "latin1");
          if (tree.plainEntry(path) === value) continue;
          rmSync(onDisk(root, path), { recursive: true, force: true });
          copiedPaths.delete(key);
        }
        continue;
      }
      const landed = tree.applyEntry(entry) as { path: EntryPath; target?: EntryPath };
      if (entry.kind !== "dir") removalRoots.add(landed.path.toString("latin1"));
      if (copiedPaths.size > 0) {
        // This entry replaces what is at its path (and below): no copy there to remove later.
        const key = landed.path.toString("latin1");
        const under = entry.kind === "dir" ? undefined : `${key}/`;
        for (const copiedKey of copiedPaths.keys())
          if (copiedKey === key || (under !== undefined && copiedKey.startsWith(under)))
            copiedPaths.delete(copiedKey);
      }
      // A hardlink to itself changes nothing (the merged tree checked that its target exists).
      if (landed.target?.equals(landed.path) === true) continue;
      if (entry.kind === "hardlink" && landed.target !== undefined) {
        const shared = tree.resolve(landed.target, false)?.entry;
        if (shared !== undefined && shared.layer < layer && !copied.has(shared))
          copyUp(shared, landed.path);
      }
      const clean = storable(entry, landed.path, options);
      yield {
        ...clean,
        path: landed.path,
        ...(landed.target === undefined ? {} : { target: landed.target }),
      } as LayerEntry;
    }
  }

  await disk.applyLayer(resolved());
  // Not disk.finish(): every directory's mode, owner, xattrs and times are set below, from the
  // merged tree.
  stats.entries = disk.stats.entries;
  stats.bytes = disk.stats.bytes;

  // The directories this layer has, and those its whiteouts and opaque markers changed.
  const dirs = new Map<string, EntryPath>();
  const walk = (path: EntryPath): void => {
    dirs.set(path.toString("latin1"), path);
    // Entry types from readdir: no lstat per entry (a tenth of a store write's time).
    for (const dirent of readdirSync(onDisk(root, path), {
      encoding: "buffer",
      withFileTypes: true,
    })) {
      if (dirent.isDirectory()) walk(childPath(path, dirent.name as unknown as Buffer));
    }
  };
  for (const path of touched) {
    if (tree.plainEntry(path)?.kind !== "dir") continue;
    // Only through this layer's real directories: a symlink it wrote hides the lower one already.
    const parts = splitPath(path);
    let inside = true;
    for (let i = 1; i <= parts.length && inside; i++) {
      const stats = lstatSync(onDisk(root, joinPath(parts.slice(0, i))), { throwIfNoEntry: false });
      if (stats !== undefined && !stats.isDirectory()) inside = false;
    }
    if (inside) mkdirSync(onDisk(root, path), { recursive: true, mode: 0o755 });
  }
  walk(Buffer.alloc(0));

  /** `path` or one of its ancestors is a removal root. */
  const mayHaveLost = (path: EntryPath): boolean => {
    if (removalRoots.has("")) return true;
    for (let end = path.indexOf(0x2f); ; end = path.indexOf(0x2f, end + 1)) {
      if (removalRoots.has(path.toString("latin1", 0, end === -1 ? path.length : end))) return true;
      if (end === -1) return false;
    }
  };

  const opaqueDirs = new Set<string>();
  for (const path of dirs.values()) {
    // A directory removed above with its parent's leftovers (a copy's parent, now gone from the
    // merged tree).
    if (lstatSync(onDisk(root, path), { throwIfNoEntry: false })?.isDirectory() !== true) {
      dirs.delete(path.toString("latin1"));
      continue;
    }
    // Copies removed again can be anywhere; otherwise only under a removal root can a lower name be
    // gone.
    if (stats.copiedUp === 0 && !mayHaveLost(path)) continue;
    const lower = lowers.length === 0 ? [] : [...below.names(path)];
    // Nothing below and nothing copied up: nothing to compare with the merged tree (a first layer's
    // case).
    if (lower.length === 0 && stats.copiedUp === 0) continue;
    const after = new Set((tree.list(path) ?? []).map(({ name }) => name.toString("latin1")));
    const abs = onDisk(root, path);
    // What this layer holds that the merged tree no longer has (a lower file copied up, then
    // removed): gone.
    if (stats.copiedUp > 0) {
      for (const name of readdirSync(abs, { encoding: "buffer" })) {
        if (!after.has(name.toString("latin1")))
          rmSync(onDisk(root, childPath(path, name)), { recursive: true, force: true });
      }
    }
    const gone = lower.filter((name) => !after.has(name));
    if (gone.length === 0) continue;
    // overlayfs does not read an opaque mark on a layer's root: whiteouts there.
    const all =
      path.length > 0 &&
      [...after].every((name) =>
        tree.writtenByCurrentLayer(childPath(path, Buffer.from(name, "latin1"))),
      );
    if (all) {
      opaqueDirs.add(path.toString("latin1"));
      stats.opaque++;
      continue;
    }
    for (const name of gone) {
      native().mknod(
        onDisk(root, childPath(path, Buffer.from(name, "latin1"))),
        S_IFCHR | 0o000,
        0,
        0,
      );
      stats.whiteouts++;
    }
  }

  // Attributes the merged tree gives each directory, children first (a child's change moves its
  // parent's mtime).
  const ordered = [...dirs.values()].sort((a, b) => splitPath(b).length - splitPath(a).length);
  for (const path of ordered) {
    const entry = tree.plainEntry(path);
    if (entry === undefined) continue;
    const abs = onDisk(root, path);
    const attrs = attributesOf(path, entry);
    attributes.ownerAndMode(abs, attrs, "dir");
    attributes.xattrs(abs, attrs, "dir", true);
    if (opaqueDirs.has(path.toString("latin1")))
      native().lsetxattr(abs, opaqueXattr(options.xattrs), Buffer.from("y"));
    lutimesSync(abs, fsTime(entry.mtime), fsTime(entry.mtime));
  }
  return stats;
}
