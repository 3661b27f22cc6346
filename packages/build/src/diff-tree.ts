// UPPER and LOWER as a diff reads them: paths as Nodes (an lstat, the rest read when
// asked for), through directories held open (held-tree.ts).
import { closeSync, readSync, type BigIntStats } from "node:fs";
import { joinPath, splitPath, type EntryPath } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import { decodeRootlessOwner, kindOfStats, ROOTLESS_OWNER_XATTR } from "@strata-oci/merge";
import type { RecordedKind } from "@strata-oci/core";
import type { HeldTree } from "./held-tree.js";

/**
 * One path of a tree on disk: its lstat, and what else the diff may need of it, read when first
 * asked for.
 */
export class Node {
  #xattrs: Map<string, Buffer> | undefined;
  #owner: { uid: number; gid: number } | undefined;

  constructor(
    readonly tree: HeldTree,
    readonly path: EntryPath,
    readonly stats: BigIntStats,
    readonly kind: RecordedKind,
    readonly rootless: boolean,
  ) {}

  get mode(): number {
    return Number(this.stats.mode) & 0o7777;
  }
  get size(): number {
    return this.kind === "file" ? Number(this.stats.size) : 0;
  }
  get ino(): bigint {
    return this.stats.ino;
  }
  get nlink(): number {
    return Number(this.stats.nlink);
  }
  get devMajor(): number {
    return (Number(this.stats.rdev) >> 8) & 0xfff;
  }
  get devMinor(): number {
    const rdev = Number(this.stats.rdev);
    return (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  }
  get target(): Buffer | undefined {
    return this.kind === "symlink" ? this.tree.readlink(this.path, this.stats) : undefined;
  }

  /**
   * Its xattrs, the rootless owner record left out; none without strata's addon (then neither side
   * has any).
   */
  get xattrs(): ReadonlyMap<string, Buffer> {
    const all = this.#allXattrs();
    if (!this.rootless || !all.has(ROOTLESS_OWNER_XATTR)) return all;
    const shown = new Map(all);
    shown.delete(ROOTLESS_OWNER_XATTR);
    return shown;
  }

  /**
   * Its owner: the file's, or (rootless) the one `user.rootlesscontainers` records, root where
   * there is none.
   */
  get owner(): { uid: number; gid: number } {
    if (this.#owner === undefined) {
      this.#owner = { uid: Number(this.stats.uid), gid: Number(this.stats.gid) };
      if (this.rootless) {
        const record = this.#allXattrs().get(ROOTLESS_OWNER_XATTR);
        this.#owner =
          record === undefined ? { uid: 0, gid: 0 } : (decodeRootlessOwner(record) ?? this.#owner);
      }
    }
    return this.#owner;
  }

  #allXattrs(): Map<string, Buffer> {
    this.#xattrs ??= this.tree.xattrs(this.path, this.stats);
    return this.#xattrs;
  }
}

export const CHUNK = 1 << 20;

/** A tree read through held directories (held-tree.ts), as Nodes. */
export class Tree {
  constructor(
    readonly held: HeldTree,
    readonly rootless: boolean,
  ) {}

  /**
   * The node at `path` (its parent held), or undefined; sockets are left out (a tar cannot hold
   * them).
   */
  node(path: EntryPath): Node | undefined {
    const stats = this.held.stat(path);
    const kind = stats === undefined ? undefined : kindOfStats(stats);
    return stats === undefined || kind === undefined
      ? undefined
      : new Node(this.held, path, stats, kind, this.rootless);
  }

  /** Names in held directory `path`, in byte order. */
  names(path: EntryPath): Buffer[] {
    return this.held.names(path);
  }

  /**
   * Runs `work` with every directory above `path` held, entered from the root (none followed);
   * undefined where one is no directory.
   */
  within<T>(path: EntryPath, work: () => T): T | undefined {
    const parts = splitPath(path);
    const entered: Node[] = [];
    try {
      for (let i = 1; i < parts.length; i++) {
        const dir = this.node(joinPath(parts.slice(0, i)));
        if (dir?.kind !== "dir") return undefined;
        this.held.enter(dir.path, dir.stats);
        entered.push(dir);
      }
      return work();
    } finally {
      for (const dir of entered.reverse()) this.held.leave(dir.path);
    }
  }
}

export function sameXattrs(
  a: ReadonlyMap<string, Buffer>,
  b: ReadonlyMap<string, Buffer>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [name, value] of a) if (!b.get(name)?.equals(value)) return false;
  return true;
}

// One pair of buffers for every comparison: a fresh 1 MiB pair per file was
// most of a repack's time (Debian: ~6k files).
const compareA = Buffer.allocUnsafe(CHUNK);
const compareB = Buffer.allocUnsafe(CHUNK);

/**
 * Whether two regular files hold the same bytes (read until the first difference), each opened as
 * the inode classified.
 */
export function sameContent(a: Node, b: Node, size: number): boolean {
  const fa = a.tree.openFile(a.path, a.stats);
  let fb: number | undefined;
  try {
    fb = b.tree.openFile(b.path, b.stats);
    for (let at = 0; at < size;) {
      const n = readSync(fa, compareA, 0, Math.min(CHUNK, size - at), at);
      const m = readSync(fb, compareB, 0, n, at);
      if (n === 0 || m !== n || !compareA.subarray(0, n).equals(compareB.subarray(0, n)))
        return false;
      at += n;
    }
    return true;
  } finally {
    closeSync(fa);
    if (fb !== undefined) closeSync(fb);
  }
}

export function notADirectory(dir: string): TargetError {
  return new TargetError("STRATA_PATH_NOT_FOUND", `${dir} is not a directory`, {
    hint: "diff compares two directory trees",
  });
}
