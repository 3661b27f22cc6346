import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from "node:fs";
import { BLOCK, childPath, encodeHeader, joinPath, paddingOf, splitPath, TargetError, type EntryPath, type TarHeaderFields } from "@strata-oci/layer";
import { decodeRootlessOwner, kindOfStats, nativeCalls, onDisk, ROOTLESS_OWNER_XATTR } from "@strata-oci/overlay";
import type { RecordedEntry, RecordedKind, TreeRecord } from "./tree-record.js";

export interface DiffOptions {
  /** The tree before: a directory, or the record of one kept when it was unpacked (then only UPPER is read). */
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
  /** Called with every entry of UPPER (parents first) and its lstat: what a new record of UPPER is made of. */
  readonly onUpperEntry?: (path: EntryPath, stats: BigIntStats) => void;
}

/** One path of a tree on disk: its lstat, and what else the diff may need of it, read when first asked for. */
class Node {
  #xattrs: Map<string, Buffer> | undefined;
  #owner: { uid: number; gid: number } | undefined;

  constructor(
    readonly abs: Buffer,
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
    return this.kind === "symlink" ? readlinkSync(this.abs, { encoding: "buffer" }) : undefined;
  }

  /** Its xattrs, the rootless owner record left out; none without strata's addon (then neither side has any). */
  get xattrs(): ReadonlyMap<string, Buffer> {
    const all = this.#allXattrs();
    if (!this.rootless || !all.has(ROOTLESS_OWNER_XATTR)) return all;
    const shown = new Map(all);
    shown.delete(ROOTLESS_OWNER_XATTR);
    return shown;
  }

  /** Its owner: the file's, or (rootless) the one `user.rootlesscontainers` records, root where there is none. */
  get owner(): { uid: number; gid: number } {
    if (this.#owner === undefined) {
      this.#owner = { uid: Number(this.stats.uid), gid: Number(this.stats.gid) };
      if (this.rootless) {
        const record = this.#allXattrs().get(ROOTLESS_OWNER_XATTR);
        this.#owner = record === undefined ? { uid: 0, gid: 0 } : (decodeRootlessOwner(record) ?? this.#owner);
      }
    }
    return this.#owner;
  }

  #allXattrs(): Map<string, Buffer> {
    if (this.#xattrs === undefined) {
      this.#xattrs = new Map();
      const calls = nativeCalls();
      if (calls !== undefined) for (const name of calls.llistxattr(this.abs).sort()) this.#xattrs.set(name, calls.lgetxattr(this.abs, name));
    }
    return this.#xattrs;
  }
}

const CHUNK = 1 << 20;
const WHITEOUT = Buffer.from(".wh.");

class Tree {
  constructor(
    readonly root: Buffer,
    readonly rootless: boolean,
  ) {}

  path(path: EntryPath): Buffer {
    return onDisk(this.root, path);
  }

  /** The node at `path`, or undefined; sockets are left out (a tar cannot hold them). */
  node(path: EntryPath): Node | undefined {
    const abs = this.path(path);
    let stats: BigIntStats | undefined;
    try {
      stats = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    } catch (error) {
      // A parent that is not a directory here (B's a/c, where A has a file a): absent.
      if ((error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
    }
    const kind = stats === undefined ? undefined : kindOfStats(stats);
    return stats === undefined || kind === undefined ? undefined : new Node(abs, stats, kind, this.rootless);
  }

  /** Names in directory `path`, in byte order. */
  names(path: EntryPath): Buffer[] {
    return readdirSync(this.path(path), { encoding: "buffer" }).sort(Buffer.compare);
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

/** Whether two regular files hold the same bytes (read until the first difference). */
function sameContent(a: Buffer, b: Buffer, size: number): boolean {
  const fa = openSync(a, "r");
  const fb = openSync(b, "r");
  try {
    const ba = compareA;
    const bb = compareB;
    for (let at = 0; at < size; ) {
      const n = readSync(fa, ba, 0, Math.min(CHUNK, size - at), at);
      const m = readSync(fb, bb, 0, n, at);
      if (n === 0 || m !== n || !ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
      at += n;
    }
    return true;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** What a diff reads of the tree before. */
interface Lower<E extends { readonly kind: RecordedKind; readonly ino: bigint; readonly nlink: number }> {
  /** The entry at `path`, reached through real directories only (never through a symlink, which could lead out). */
  entryInside(path: EntryPath): E | undefined;
  /** The entry at `path`, whose parents are directories in both trees. */
  entry(path: EntryPath): E | undefined;
  names(path: EntryPath): Buffer[];
  /** Whether UPPER's `after` differs from `before`, LOWER's entry of the same kind at `path`. */
  changed(path: EntryPath, before: E, after: Node): boolean;
  /**
   * True when the names of one inode are always seen changed or unchanged
   * together (a record: they share the inode's ctime, which a new or removed
   * name also sets), so hardlink groups need no scan of UPPER first.
   */
  readonly linksChangeTogether: boolean;
}

/** LOWER as a directory: a change is seen in the metadata, or where that is the same, in the bytes. */
class LowerDirectory implements Lower<Node> {
  readonly linksChangeTogether = false;

  constructor(
    readonly tree: Tree,
    readonly upper: Tree,
  ) {}

  entry(path: EntryPath): Node | undefined {
    return this.tree.node(path);
  }

  entryInside(path: EntryPath): Node | undefined {
    const parts = splitPath(path);
    for (let i = 1; i < parts.length; i++) {
      if (this.tree.node(joinPath(parts.slice(0, i)))?.kind !== "dir") return undefined;
    }
    return this.tree.node(path);
  }

  names(path: EntryPath): Buffer[] {
    return this.tree.names(path);
  }

  changed(path: EntryPath, before: Node, after: Node): boolean {
    if (before.mode !== after.mode || before.stats.mtimeNs !== after.stats.mtimeNs) return true;
    if (before.owner.uid !== after.owner.uid || before.owner.gid !== after.owner.gid) return true;
    if (!sameXattrs(before.xattrs, after.xattrs)) return true;
    if (after.kind === "symlink") return !(before.target as Buffer).equals(after.target as Buffer);
    if (after.kind === "char" || after.kind === "block") return before.devMajor !== after.devMajor || before.devMinor !== after.devMinor;
    if (after.kind === "file") return before.size !== after.size || !sameContent(this.tree.path(path), this.upper.path(path), after.size);
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

  entryInside(path: EntryPath): RecordedEntry | undefined {
    // The record was walked without following symlinks: what it has is inside.
    return this.record.entry(path);
  }

  names(path: EntryPath): Buffer[] {
    return this.record.names(path);
  }

  changed(_path: EntryPath, before: RecordedEntry, after: Node): boolean {
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
  const rootless = options.rootless ?? (process.geteuid?.() ?? 0) !== 0;
  const upper = new Tree(Buffer.from(options.upper), rootless);
  if (typeof options.lower === "string") {
    const lower = new Tree(Buffer.from(options.lower), rootless);
    if (lower.node(Buffer.alloc(0))?.kind !== "dir") throw notADirectory(options.lower);
    yield* changeset(new LowerDirectory(lower, upper), upper, options);
  } else {
    yield* changeset(new LowerRecord(options.lower), upper, options);
  }
}

function notADirectory(dir: string): TargetError {
  return new TargetError("STRATA_PATH_NOT_FOUND", `${dir} is not a directory`, { hint: "diff compares two directory trees" });
}

function* changeset<E extends { readonly kind: RecordedKind; readonly ino: bigint; readonly nlink: number }>(lower: Lower<E>, upper: Tree, options: DiffOptions): Generator<Buffer> {
  const root = upper.node(Buffer.alloc(0));
  if (root?.kind !== "dir") throw notADirectory(options.upper);
  const changed = (path: EntryPath, before: E | undefined, after: Node): boolean => before === undefined || before.kind !== after.kind || lower.changed(path, before, after);

  // Hardlink groups of `upper` (inodes with more than one name), and whether
  // each must be written: one of its names changed, or its names were not
  // one group below.
  const writeGroup = new Map<bigint, boolean>();
  if (!lower.linksChangeTogether) {
    const groups = new Map<bigint, EntryPath[]>();
    const scan = (path: EntryPath, node: Node): void => {
      if (node.kind !== "dir") {
        if (node.nlink > 1) groups.set(node.ino, [...(groups.get(node.ino) ?? []), path]);
        return;
      }
      for (const name of upper.names(path)) {
        const child = childPath(path, name);
        const childNode = upper.node(child);
        if (childNode !== undefined) scan(child, childNode);
      }
    };
    scan(Buffer.alloc(0), root);
    for (const [ino, paths] of groups) {
      const below = paths.map((path) => lower.entryInside(path));
      const together = below.every((entry) => entry !== undefined && entry.ino === below[0]?.ino && entry.nlink === paths.length);
      writeGroup.set(ino, !together || paths.some((path, i) => changed(path, below[i], upper.node(path) as Node)));
    }
  }
  const firstOfGroup = new Map<bigint, EntryPath>();

  const time = (node: Node): number => {
    const seconds = Number(node.stats.mtimeNs) / 1e9;
    return options.clampTime !== undefined && seconds > options.clampTime ? options.clampTime : seconds;
  };
  const header = (path: EntryPath, node: Node, type: TarHeaderFields["type"], linkname?: Buffer): TarHeaderFields => {
    const xattrs = node.xattrs;
    return {
      name: path.length === 0 ? Buffer.from("./") : type === "dir" ? Buffer.concat([path, Buffer.from("/")]) : path,
      type,
      mode: node.mode,
      uid: node.owner.uid,
      gid: node.owner.gid,
      mtime: time(node),
      ...(xattrs.size === 0 ? {} : { xattrs }),
      ...(linkname === undefined ? {} : { linkname }),
      ...(type === "char" || type === "block" ? { devMajor: node.devMajor, devMinor: node.devMinor } : {}),
    };
  };

  /** One path of `upper` as entries: a hardlink where its group's first name was written, else itself with its bytes. */
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
    yield* encodeHeader(header(path, node, "file"), node.size);
    const fd = openSync(node.abs, "r");
    try {
      for (let at = 0; at < node.size; ) {
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK, node.size - at));
        const n = readSync(fd, chunk, 0, chunk.length, at);
        if (n === 0) throw new TargetError("STRATA_FS_ERROR", `${node.abs.toString()} shrank while it was read`, { hint: "diff a tree nothing is writing to" });
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
    for (const name of upper.names(path)) {
      const child = childPath(path, name);
      const childNode = upper.node(child);
      if (childNode !== undefined) yield* added(child, childNode);
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
      if (group === true || (group === undefined && changed(path, before, after))) yield* entry(path, after);
      return;
    }
    options.onUpperEntry?.(path, after.stats);
    if (changed(path, before, after)) yield* entry(path, after);
    const below = lower.names(path);
    const above = upper.names(path);
    let i = 0;
    let j = 0;
    while (i < below.length || j < above.length) {
      const order = i >= below.length ? 1 : j >= above.length ? -1 : Buffer.compare(below[i] as Buffer, above[j] as Buffer);
      if (order < 0) {
        // Gone: a whiteout (only what lower layers had; nothing of this layer is named so).
        yield* encodeHeader({ name: childPath(path, Buffer.concat([WHITEOUT, below[i] as Buffer])), type: "file", mode: 0o644 }, 0);
        i++;
        continue;
      }
      const child = childPath(path, above[j] as Buffer);
      if (order === 0) i++;
      j++;
      const node = upper.node(child);
      if (node !== undefined) yield* compare(child, node);
    }
  }

  yield* compare(Buffer.alloc(0), root);
  yield Buffer.alloc(2 * BLOCK);
}
