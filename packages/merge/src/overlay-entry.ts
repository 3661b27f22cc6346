// What one entry and one node of a store layer may be: overlayfs's own
// xattrs dropped, a 0:0 character device refused, a lower node's attributes
// copied onto its copy.
import { chmodSync, lchownSync, lstatSync, lutimesSync } from "node:fs";
import {
  displayPath,
  type EntryAttributes,
  type EntryPath,
  type LayerEntry,
} from "@strata-oci/layer";
import { BadEntryError } from "@strata-oci/errors";
import { fsTime, type UnpackWarning } from "./attribute-writer.js";
import { DiskTarget, type ApplyStats } from "./disk-target.js";
import { isOverlayXattr, type OverlayXattrs } from "./lower-stack.js";
import type { MergedEntry } from "./merged-tree.js";
import { nativeCalls } from "./native.js";
import type { OwnershipPolicy } from "./ownership.js";

export interface OverlayLayerOptions {
  readonly policy: OwnershipPolicy;
  /**
   * `trusted` (root: a kernel mount as root reads trusted.overlay.*) or `user` (unprivileged
   * `userxattr` mounts).
   */
  readonly xattrs: OverlayXattrs;
  readonly onWarning?: ((warning: UnpackWarning) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
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

export function attributesOf(path: EntryPath, entry: MergedEntry): EntryAttributes {
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
export function storable(
  entry: LayerEntry,
  path: EntryPath,
  options: OverlayLayerOptions,
): LayerEntry {
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

export function diskTargetFor(dir: string, options: OverlayLayerOptions): DiskTarget {
  return new DiskTarget(dir, {
    policy: options.policy,
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}
