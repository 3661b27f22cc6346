import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from "node:fs";
import { BLOCK, childPath, encodeHeader, joinPath, paddingOf, splitPath, TargetError, type EntryPath, type TarHeaderFields } from "@strata-oci/layer";
import { decodeRootlessOwner, kindOfStats, nativeCalls, onDisk, ROOTLESS_OWNER_XATTR } from "@strata-oci/overlay";

export interface DiffOptions {
  /** The tree before (a directory). */
  readonly lower: string;
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
}

/** What the diff needs to know of one path. */
interface Node {
  readonly kind: "dir" | "file" | "symlink" | "char" | "block" | "fifo";
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
  readonly size: number;
  readonly target: Buffer | undefined;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  readonly ino: bigint;
  readonly nlink: number;
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
    if (stats === undefined || kind === undefined) return undefined;
    const xattrs = new Map<string, Buffer>();
    // Without strata's addon xattrs cannot be read: both sides then have none.
    const calls = nativeCalls();
    if (calls !== undefined) for (const name of calls.llistxattr(abs).sort()) xattrs.set(name, calls.lgetxattr(abs, name));
    let uid = Number(stats.uid);
    let gid = Number(stats.gid);
    if (this.rootless) {
      const record = xattrs.get(ROOTLESS_OWNER_XATTR);
      const owner = record === undefined ? { uid: 0, gid: 0 } : decodeRootlessOwner(record);
      if (owner !== undefined) ({ uid, gid } = owner);
      xattrs.delete(ROOTLESS_OWNER_XATTR);
    }
    const rdev = Number(stats.rdev);
    return {
      kind,
      mode: Number(stats.mode) & 0o7777,
      uid,
      gid,
      mtimeNs: stats.mtimeNs,
      size: kind === "file" ? Number(stats.size) : 0,
      target: kind === "symlink" ? readlinkSync(abs, { encoding: "buffer" }) : undefined,
      devMajor: (rdev >> 8) & 0xfff,
      devMinor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
      xattrs,
      ino: stats.ino,
      nlink: Number(stats.nlink),
    };
  }

  /**
   * The node at `path` when every parent is a real directory here; a path
   * under a symlink (which lstat would follow, out of the tree perhaps) or
   * under a file is absent.
   */
  nodeInside(path: EntryPath): Node | undefined {
    const parts = splitPath(path);
    for (let i = 1; i < parts.length; i++) {
      if (this.node(joinPath(parts.slice(0, i)))?.kind !== "dir") return undefined;
    }
    return this.node(path);
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

/**
 * The OCI changeset that turns the tree `lower` into `upper`, as an
 * uncompressed tar: added and changed entries, `.wh.NAME` for each removal,
 * a type change as the new entry (it replaces the old one and all below it),
 * hardlink groups kept (every name of a group written when any of them
 * changed), xattrs, devices, owners. A change is seen in the metadata (kind,
 * mode, owner, size, time, xattrs, link target, device) or, where the
 * metadata is the same, in the bytes. Entries in byte order of their paths:
 * the same two trees give the same tar.
 */
export async function* diffTrees(options: DiffOptions): AsyncGenerator<Buffer> {
  const rootless = options.rootless ?? (process.geteuid?.() ?? 0) !== 0;
  const lower = new Tree(Buffer.from(options.lower), rootless);
  const upper = new Tree(Buffer.from(options.upper), rootless);
  const root = upper.node(Buffer.alloc(0));
  for (const [tree, dir] of [[lower.node(Buffer.alloc(0)), options.lower], [root, options.upper]] as const) {
    if (tree?.kind !== "dir") throw new TargetError("STRATA_PATH_NOT_FOUND", `${dir} is not a directory`, { hint: "diff compares two directory trees" });
  }
  const changed = (path: EntryPath, before: Node | undefined, after: Node): boolean => {
    if (before === undefined || before.kind !== after.kind) return true;
    if (before.mode !== after.mode || before.uid !== after.uid || before.gid !== after.gid || before.mtimeNs !== after.mtimeNs) return true;
    if (!sameXattrs(before.xattrs, after.xattrs)) return true;
    if (after.kind === "symlink") return !(before.target as Buffer).equals(after.target as Buffer);
    if (after.kind === "char" || after.kind === "block") return before.devMajor !== after.devMajor || before.devMinor !== after.devMinor;
    if (after.kind === "file") return before.size !== after.size || !sameContent(lower.path(path), upper.path(path), after.size);
    return false;
  };

  // Hardlink groups of `upper` (inodes with more than one name), and whether
  // each must be written: one of its names changed, or its names were not
  // one group below.
  const groups = new Map<bigint, EntryPath[]>();
  const scan = (path: EntryPath): void => {
    for (const name of upper.names(path)) {
      const child = childPath(path, name);
      const node = upper.node(child);
      if (node === undefined) continue;
      if (node.kind === "dir") scan(child);
      else if (node.nlink > 1) groups.set(node.ino, [...(groups.get(node.ino) ?? []), child]);
    }
  };
  scan(Buffer.alloc(0));
  const writeGroup = new Map<bigint, boolean>();
  for (const [ino, paths] of groups) {
    // Paths of UPPER looked up in LOWER: only through LOWER's real directories.
    const below = paths.map((path) => lower.nodeInside(path));
    const together = below.every((node) => node !== undefined && node.ino === below[0]?.ino && node.nlink === paths.length);
    writeGroup.set(ino, !together || paths.some((path, i) => changed(path, below[i], upper.node(path) as Node)));
  }
  const firstOfGroup = new Map<bigint, EntryPath>();

  const time = (node: Node): number => {
    const seconds = Number(node.mtimeNs) / 1e9;
    return options.clampTime !== undefined && seconds > options.clampTime ? options.clampTime : seconds;
  };
  const header = (path: EntryPath, node: Node, type: TarHeaderFields["type"], linkname?: Buffer): TarHeaderFields => ({
    name: path.length === 0 ? Buffer.from("./") : type === "dir" ? Buffer.concat([path, Buffer.from("/")]) : path,
    type,
    mode: node.mode,
    uid: node.uid,
    gid: node.gid,
    mtime: time(node),
    ...(node.xattrs.size === 0 ? {} : { xattrs: node.xattrs }),
    ...(linkname === undefined ? {} : { linkname }),
    ...(type === "char" || type === "block" ? { devMajor: node.devMajor, devMinor: node.devMinor } : {}),
  });

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
    const fd = openSync(upper.path(path), "r");
    try {
      for (let at = 0; at < node.size; ) {
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK, node.size - at));
        const n = readSync(fd, chunk, 0, chunk.length, at);
        if (n === 0) throw new TargetError("STRATA_FS_ERROR", `${upper.path(path).toString()} shrank while it was read`, { hint: "diff a tree nothing is writing to" });
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
    const before = lower.node(path);
    if (before?.kind !== "dir" || after.kind !== "dir") {
      // Added, or a type change: the new entry replaces the old and all below it.
      if (before?.kind !== after.kind) {
        yield* added(path, after);
        return;
      }
      const group = after.nlink > 1 ? writeGroup.get(after.ino) : undefined;
      if (group === true || (group === undefined && changed(path, before, after))) yield* entry(path, after);
      return;
    }
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

  yield* compare(Buffer.alloc(0), root as Node);
  yield Buffer.alloc(2 * BLOCK);
}
