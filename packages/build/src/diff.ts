import type { BigIntStats } from "node:fs";
import type { EntryPath } from "@strata-oci/layer";
import { resolveRootless } from "@strata-oci/merge";
import type { TreeRecord } from "@strata-oci/core";
import { changeset } from "./changeset.js";
import { notADirectory, Tree } from "./diff-tree.js";
import { LowerDirectory, LowerRecord } from "./diff-lower.js";
import { HeldTree } from "./held-tree.js";

export interface DiffOptions {
  /**
   * The tree before: a directory, or the record of one kept when it was unpacked (then only UPPER
   * is read).
   */
  readonly lower: string | TreeRecord;
  /** The tree after (a directory). */
  readonly upper: string;
  /**
   * Owners from `user.rootlesscontainers` (absent: root), as a rootless
   * unpack recorded them, rather than from the files' own owners. Default:
   * when not running as root.
   */
  readonly rootless?: boolean | undefined;
  /** Entry times later than this (seconds) are written as it (SOURCE_DATE_EPOCH). */
  readonly clampTime?: number | undefined;
  /**
   * A file of UPPER to leave out of the layer: the output itself, when it lies there (GNU tar
   * leaves out its archive).
   */
  readonly skip?: { readonly dev: bigint; readonly ino: bigint };
  /**
   * Called with every entry of UPPER (parents first) and its lstat: what a new record of UPPER is
   * made of.
   */
  readonly onUpperEntry?: ((path: EntryPath, stats: BigIntStats) => void) | undefined;
  /** Ends the walk with AbortedError (checked at every entry of UPPER). */
  readonly signal?: AbortSignal | undefined;
  /** Called at every entry of UPPER compared: how many so far (for a display). */
  readonly onProgress?: ((event: DiffProgress) => void) | undefined;
}

/** How far a diff has walked UPPER. */
export interface DiffProgress {
  readonly kind: "diff";
  readonly entries: number;
}

/**
 * The OCI changeset that turns the tree `lower` into `upper`, as an
 * uncompressed tar: added and changed entries, `.wh.NAME` for each removal,
 * a type change as the new entry (it replaces the old one and all below it),
 * hardlink groups kept (every name of a group written when any of them
 * changed), xattrs, devices, owners. Against a directory, a change is seen
 * in the metadata (kind, mode, owner, size, time, xattrs, link target,
 * device) or, where the metadata is the same, in the bytes; against a
 * record, in the inode and ctime. Entries in byte order of their paths: the
 * same two trees give the same tar.
 */
export async function* diffTrees(options: DiffOptions): AsyncGenerator<Buffer> {
  const rootless = resolveRootless(options.rootless);
  const upper = new Tree(openTree(options.upper), rootless);
  let lower: HeldTree | undefined;
  try {
    if (typeof options.lower === "string") {
      lower = openTree(options.lower);
      yield* changeset(new LowerDirectory(new Tree(lower, rootless)), upper, options);
    } else {
      yield* changeset(new LowerRecord(options.lower), upper, options);
    }
  } finally {
    upper.held.close();
    lower?.close();
  }
}

/** The directory tree at `dir`, held open. */
function openTree(dir: string): HeldTree {
  try {
    return new HeldTree(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw notADirectory(dir);
    throw error;
  }
}
