import { closeSync, readSync, type BigIntStats } from "node:fs";
import {
  BLOCK,
  childPath,
  encodeHeader,
  joinPath,
  paddingOf,
  splitPath,
  type EntryPath,
  type TarHeaderFields,
} from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import {
  decodeRootlessOwner,
  kindOfStats,
  resolveRootless,
  ROOTLESS_OWNER_XATTR,
} from "@strata-oci/merge";
import { HeldTree, treeChanged } from "./held-tree.js";
import type { RecordedEntry, RecordedKind, TreeRecord } from "@strata-oci/core";

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
  readonly rootless?: boolean;
  /** Entry times later than this (seconds) are written as it (SOURCE_DATE_EPOCH). */
  readonly clampTime?: number;
  /**
   * A file of UPPER to leave out of the layer: the output itself, when it lies there (GNU tar
   * leaves out its archive).
   */
  readonly skip?: { readonly dev: bigint; readonly ino: bigint };
  /**
   * Called with every entry of UPPER (parents first) and its lstat: what a new record of UPPER is
   * made of.
   */
  readonly onUpperEntry?: (path: EntryPath, stats: BigIntStats) => void;
}

/**
 * One path of a tree on disk: its lstat, and what else the diff may need of it, read when first
 * asked for.
 */
class Node {
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

const CHUNK = 1 << 20;
const WHITEOUT = Buffer.from(".wh.");

/** A tree read through held directories (held-tree.ts), as Nodes. */
class Tree {
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

function sameXattrs(a: ReadonlyMap<string, Buffer>, b: ReadonlyMap<string, Buffer>): boolean {
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
function sameContent(a: Node, b: Node, size: number): boolean {
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

/** What a diff reads of the tree before. */
interface Lower<
  E extends { readonly kind: RecordedKind; readonly ino: bigint; readonly nlink: number },
> {
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
class LowerDirectory implements Lower<Node> {
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
class LowerRecord implements Lower<RecordedEntry> {
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

function notADirectory(dir: string): TargetError {
  return new TargetError("STRATA_PATH_NOT_FOUND", `${dir} is not a directory`, {
    hint: "diff compares two directory trees",
  });
}

function* changeset<
  E extends { readonly kind: RecordedKind; readonly ino: bigint; readonly nlink: number },
>(lower: Lower<E>, upper: Tree, options: DiffOptions): Generator<Buffer> {
  const root = upper.node(Buffer.alloc(0));
  if (root?.kind !== "dir") throw notADirectory(options.upper);
  const changed = (before: E | undefined, after: Node): boolean =>
    before === undefined || before.kind !== after.kind || lower.changed(before, after);
  const skipped = (node: Node): boolean =>
    options.skip !== undefined &&
    node.stats.ino === options.skip.ino &&
    node.stats.dev === options.skip.dev;

  // Hardlink groups of `upper` (inodes with more than one name), and whether
  // each must be written: one of its names changed, or its names were not
  // one group below.
  const writeGroup = new Map<bigint, boolean>();
  if (!lower.linksChangeTogether) {
    const groups = new Map<bigint, EntryPath[]>();
    const scan = (node: Node): void => {
      if (node.kind !== "dir") {
        if (node.nlink > 1) groups.set(node.ino, [...(groups.get(node.ino) ?? []), node.path]);
        return;
      }
      upper.held.enter(node.path, node.stats);
      try {
        for (const name of upper.names(node.path)) {
          const child = upper.node(childPath(node.path, name));
          if (child !== undefined) scan(child);
        }
      } finally {
        upper.held.leave(node.path);
      }
    };
    scan(root);
    // Each name looked at again from the root, in both trees, through real directories only.
    const nameChanged = (path: EntryPath): boolean =>
      upper.within(path, () => {
        const after = upper.node(path);
        return (
          after === undefined ||
          (lower.within(path, () => changed(lower.entry(path), after)) ?? true)
        );
      }) ?? true;
    for (const [ino, paths] of groups) {
      const below = paths.map((path) => lower.within(path, () => lower.entry(path)));
      const together = below.every(
        (entry) =>
          entry !== undefined && entry.ino === below[0]?.ino && entry.nlink === paths.length,
      );
      writeGroup.set(ino, !together || paths.some(nameChanged));
    }
  }
  const firstOfGroup = new Map<bigint, EntryPath>();

  const time = (node: Node): number => {
    const seconds = Number(node.stats.mtimeNs) / 1e9;
    return options.clampTime !== undefined && seconds > options.clampTime
      ? options.clampTime
      : seconds;
  };
  const header = (
    path: EntryPath,
    node: Node,
    type: TarHeaderFields["type"],
    linkname?: Buffer,
  ): TarHeaderFields => {
    const xattrs = node.xattrs;
    return {
      name:
        path.length === 0
          ? Buffer.from("./")
          : type === "dir"
            ? Buffer.concat([path, Buffer.from("/")])
            : path,
      type,
      mode: node.mode,
      uid: node.owner.uid,
      gid: node.owner.gid,
      mtime: time(node),
      ...(xattrs.size === 0 ? {} : { xattrs }),
      ...(linkname === undefined ? {} : { linkname }),
      ...(type === "char" || type === "block"
        ? { devMajor: node.devMajor, devMinor: node.devMinor }
        : {}),
    };
  };

  /**
   * One path of `upper` as entries: a hardlink where its group's first name was written, else
   * itself with its bytes.
   */
  function* entry(path: EntryPath, node: Node): Generator<Buffer> {
    if (node.kind !== "dir" && node.nlink > 1) {
      const first = firstOfGroup.get(node.ino);
      if (first !== undefined) {
        yield* encodeHeader(header(path, node, "hardlink", first), 0);
        return;
      }
      firstOfGroup.set(node.ino, path);
    }
    if (node.kind !== "file") {
      yield* encodeHeader(header(path, node, node.kind, node.target), 0);
      return;
    }
    // Opened before its header is written: a file swapped for a symlink or a FIFO fails here, not
    // after.
    const fd = node.tree.openFile(node.path, node.stats);
    try {
      yield* encodeHeader(header(path, node, "file"), node.size);
      for (let at = 0; at < node.size;) {
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK, node.size - at));
        const n = readSync(fd, chunk, 0, chunk.length, at);
        if (n === 0) throw treeChanged(node.tree.root, node.path, "it shrank while it was read");
        at += n;
        yield n === chunk.length ? chunk : chunk.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
    if (paddingOf(node.size) > 0) yield Buffer.alloc(paddingOf(node.size));
  }

  /** Everything at and below `path` in `upper`, all new. */
  function* added(path: EntryPath, node: Node): Generator<Buffer> {
    options.onUpperEntry?.(path, node.stats);
    yield* entry(path, node);
    if (node.kind !== "dir") return;
    upper.held.enter(path, node.stats);
    try {
      for (const name of upper.names(path)) {
        const child = childPath(path, name);
        const childNode = upper.node(child);
        if (childNode !== undefined && !skipped(childNode)) yield* added(child, childNode);
      }
    } finally {
      upper.held.leave(path);
    }
  }

  /** `path`, which `upper` has as `after`, against `lower`. */
  function* compare(path: EntryPath, after: Node): Generator<Buffer> {
    const before = lower.entry(path);
    if (before?.kind !== "dir" || after.kind !== "dir") {
      // Added, or a type change: the new entry replaces the old and all below it.
      if (before?.kind !== after.kind) {
        yield* added(path, after);
        return;
      }
      options.onUpperEntry?.(path, after.stats);
      const group = after.nlink > 1 ? writeGroup.get(after.ino) : undefined;
      if (group === true || (group === undefined && changed(before, after)))
        yield* entry(path, after);
      return;
    }
    options.onUpperEntry?.(path, after.stats);
    if (changed(before, after)) yield* entry(path, after);
    lower.enter(before);
    upper.held.enter(path, after.stats);
    try {
      yield* children(path);
    } finally {
      upper.held.leave(path);
      lower.leave(before);
    }
  }

  /**
   * The children of `path`, a directory in both trees, each held: whiteouts for those gone, the
   * others compared.
   */
  function* children(path: EntryPath): Generator<Buffer> {
    const below = lower.names(path);
    const above = upper.names(path);
    let i = 0;
    let j = 0;
    while (i < below.length || j < above.length) {
      const order =
        i >= below.length
          ? 1
          : j >= above.length
            ? -1
            : Buffer.compare(below[i] as Buffer, above[j] as Buffer);
      if (order < 0) {
        // Gone: a whiteout (only what lower layers had; nothing of this layer is named so).
        yield* encodeHeader(
          {
            name: childPath(path, Buffer.concat([WHITEOUT, below[i] as Buffer])),
            type: "file",
            mode: 0o644,
          },
          0,
        );
        i++;
        continue;
      }
      const child = childPath(path, above[j] as Buffer);
      if (order === 0) i++;
      j++;
      const node = upper.node(child);
      if (node !== undefined && !skipped(node)) yield* compare(child, node);
    }
  }

  yield* compare(Buffer.alloc(0), root);
  yield Buffer.alloc(2 * BLOCK);
}
