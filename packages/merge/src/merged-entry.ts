// The entries of the merged tree: plain data, one object shape per kind.
import type { LayerEntry } from "@strata-oci/layer";
import { ownedAttributes, type OwnershipPolicy } from "./ownership.js";

/** One entry of the merged tree: what the image shows at a path, and where it came from. */
export interface MergedEntry {
  readonly kind: "dir" | "file" | "symlink" | "char" | "block" | "fifo";
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  /**
   * The layer (index in manifest order) of the entry that made it; -1 for a directory no entry
   * named.
   */
  readonly layer: number;
  /**
   * Files: their size, and where their bytes are: the n-th entry (`ordinal`, as readLayer yields
   * them) of `layer`.
   */
  readonly size: number;
  readonly ordinal: number;
  readonly target?: Buffer;
  readonly devMajor?: number;
  readonly devMinor?: number;
}

const PRIVILEGED: OwnershipPolicy = { privileged: true, uid: 0, gid: 0 };
export const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

export type Attributes = Pick<
  MergedEntry,
  "mode" | "uid" | "gid" | "mtime" | "xattrs" | "layer" | "ordinal"
>;

// Entries are object literals with their fields in one order, one shape per
// kind. In a 1M-entry image's tree an entry costs 200-240 bytes of heap, its
// path's node and name included (ls -R fails in a 200 MB heap, runs in 240).
export function plainEntry(
  kind: "dir" | "file" | "fifo",
  a: Attributes,
  size: number,
): MergedEntry {
  return {
    kind,
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    mtime: a.mtime,
    xattrs: a.xattrs,
    layer: a.layer,
    ordinal: a.ordinal,
    size,
  };
}

function symlinkEntry(a: Attributes, target: Buffer): MergedEntry {
  return {
    kind: "symlink",
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    mtime: a.mtime,
    xattrs: a.xattrs,
    layer: a.layer,
    ordinal: a.ordinal,
    size: target.length,
    target,
  };
}

function deviceEntry(
  kind: "char" | "block",
  a: Attributes,
  devMajor: number,
  devMinor: number,
): MergedEntry {
  return {
    kind,
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    mtime: a.mtime,
    xattrs: a.xattrs,
    layer: a.layer,
    ordinal: a.ordinal,
    size: 0,
    devMajor,
    devMinor,
  };
}

/**
 * The attributes of `entry` as they land on disk (user.* xattrs only on files and directories), as
 * the model has them, with the layer and position its bytes come from.
 */
export function attributesOf(
  entry: Exclude<LayerEntry, { kind: "whiteout" | "opaque" }>,
  layer: number,
  ordinal: number,
): Attributes {
  const owned = ownedAttributes(entry, entry.kind === "hardlink" ? "file" : entry.kind, PRIVILEGED);
  return {
    mode: entry.mode,
    uid: owned.uid,
    gid: owned.gid,
    mtime: entry.mtime,
    xattrs: owned.xattrs.size === 0 ? NO_XATTRS : owned.xattrs,
    layer,
    ordinal,
  };
}

/** The merged entry of a file, symlink, device or fifo. */
export function nodeEntry(
  entry: LayerEntry & { kind: "file" | "symlink" | "char" | "block" | "fifo" },
  attrs: Attributes,
): MergedEntry {
  switch (entry.kind) {
    case "file":
      return plainEntry("file", attrs, entry.size);
    case "symlink":
      return symlinkEntry(attrs, Buffer.from(entry.target));
    case "char":
    case "block":
      return deviceEntry(entry.kind, attrs, entry.devMajor, entry.devMinor);
    case "fifo":
      return plainEntry("fifo", attrs, 0);
  }
}

/** A directory no entry named: 0755, root-owned, time 0, as the model and the disk target make. */
export function impliedDirectory(): MergedEntry {
  return {
    kind: "dir",
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtime: 0,
    xattrs: NO_XATTRS,
    layer: -1,
    size: 0,
    ordinal: -1,
  };
}
