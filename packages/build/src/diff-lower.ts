// The tree before, as a diff reads it: a directory (compared by metadata, then
// bytes) or the record an unpack kept of it (compared by inode and ctime).
import type { EntryPath } from "@strata-oci/layer";
import type { RecordedEntry, RecordedKind, TreeRecord } from "@strata-oci/core";
import { sameContent, sameXattrs, type Node, type Tree } from "./diff-tree.js";

/** What a diff needs of a lower entry. */
export interface LowerEntry {
  readonly kind: RecordedKind;
  readonly ino: bigint;
  readonly nlink: number;
}

/** What a diff reads of the tree before. */
export interface Lower<E extends LowerEntry> {
  /**
   * Runs `work` where `path`'s parents can be looked at: reached through real directories only
   * (never a symlink, which could lead out).
   */
  within<T>(path: EntryPath, work: () => T): T | undefined;
  /** The entry at `path`, whose parents are held (the walk is in them, or `within`). */
  entry(path: EntryPath): E | undefined;
  names(path: EntryPath): Buffer[];
  /** Directory `entry` is walked into, and left again: its children can be looked at meanwhile. */
  enter(entry: E): void;
  leave(entry: E): void;
  /**
   * Whether UPPER's `after` differs from `before`, LOWER's entry of the same kind at the same path.
   */
  changed(before: E, after: Node): boolean;
  /**
   * True when the names of one inode are always seen changed or unchanged
   * together (a record: they share the inode's ctime, which a new or removed
   * name also sets), so hardlink groups need no scan of UPPER first.
   */
  readonly linksChangeTogether: boolean;
}

/**
 * LOWER as a directory: a change is seen in the metadata, or where that is the same, in the bytes.
 */
export class LowerDirectory implements Lower<Node> {
  readonly linksChangeTogether = false;

  constructor(readonly tree: Tree) {}

  entry(path: EntryPath): Node | undefined {
    return this.tree.node(path);
  }

  within<T>(path: EntryPath, work: () => T): T | undefined {
    return this.tree.within(path, work);
  }

  names(path: EntryPath): Buffer[] {
    return this.tree.names(path);
  }

  enter(node: Node): void {
    this.tree.held.enter(node.path, node.stats);
  }

  leave(node: Node): void {
    this.tree.held.leave(node.path);
  }

  changed(before: Node, after: Node): boolean {
    if (before.mode !== after.mode || before.stats.mtimeNs !== after.stats.mtimeNs) return true;
    if (before.owner.uid !== after.owner.uid || before.owner.gid !== after.owner.gid) return true;
    if (!sameXattrs(before.xattrs, after.xattrs)) return true;
    if (after.kind === "symlink") return !(before.target as Buffer).equals(after.target as Buffer);
    if (after.kind === "char" || after.kind === "block")
      return before.devMajor !== after.devMajor || before.devMinor !== after.devMinor;
    if (after.kind === "file")
      return before.size !== after.size || !sameContent(before, after, after.size);
    return false;
  }
}

/**
 * LOWER as its record: an entry of UPPER with the recorded inode and ctime
 * is unchanged, anything else changed (a file changed and changed back is
 * written again; harmless, and never read to find out).
 */
export class LowerRecord implements Lower<RecordedEntry> {
  readonly linksChangeTogether = true;

  constructor(readonly record: TreeRecord) {}

  entry(path: EntryPath): RecordedEntry | undefined {
    return this.record.entry(path);
  }

  within<T>(_path: EntryPath, work: () => T): T {
    // The record was walked without following symlinks: what it has is inside.
    return work();
  }

  names(path: EntryPath): Buffer[] {
    return this.record.names(path);
  }

  enter(): void {}

  leave(): void {}

  changed(before: RecordedEntry, after: Node): boolean {
    return before.ino !== after.ino || before.ctimeNs !== after.stats.ctimeNs;
  }
}
