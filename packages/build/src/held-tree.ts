// A directory tree read as it is while something else may change it: a
// container's own processes can swap UPPER's files for symlinks to host
// secrets, or for FIFOs, while a build tool diffs it. Every directory on the
// way is held open and every name is looked up in the directory held, never
// as a path from the root (`/proc/self/fd/N/NAME`: the kernel's *at lookup,
// which Node lacks); nothing is followed; a file is opened without blocking
// and read only when the inode opened is the one classified. A tree that
// changed under the walk is STRATA_TREE_CHANGED, never another file's bytes.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  type BigIntStats,
} from "node:fs";
import { displayPath, type EntryPath } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import { nativeCalls } from "@strata-oci/merge";

const OPEN_DIR =
  constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const OPEN_FILE =
  constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** The tree changed between looking at `path` and reading it. */
export function treeChanged(root: string, path: EntryPath, what: string): TargetError {
  return new TargetError(
    "STRATA_TREE_CHANGED",
    `${root}: ${displayPath(path)} changed while it was read (${what})`,
    {
      hint: "diff a tree nothing is writing to (stop the container first), then run it again",
      context: { entry: displayPath(path) },
    },
  );
}

function sameInode(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}

/** `parent` and `name` of a path below the root (the root itself has neither). */
function split(path: EntryPath): { parent: string; name: Buffer } {
  const slash = path.lastIndexOf(0x2f);
  return slash < 0
    ? { parent: "", name: path }
    : { parent: path.toString("latin1", 0, slash), name: path.subarray(slash + 1) };
}

export class HeldTree {
  readonly root: string;
  /**
   * The directories held open, by path (latin1): those the walk is in, each with how many times it
   * was entered.
   */
  readonly #held = new Map<string, { fd: number; count: number }>();
  readonly #rootStats: BigIntStats;

  /**
   * Opens the tree at `root` (a symlink given as the root itself is the caller's choice, and
   * followed).
   */
  constructor(root: string) {
    this.root = root;
    const fd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
    this.#held.set("", { fd, count: 1 });
    this.#rootStats = fstatSync(fd, { bigint: true });
  }

  /** The root's own stats. */
  get rootStats(): BigIntStats {
    return this.#rootStats;
  }

  #dirFd(key: string, path: EntryPath): number {
    const held = this.#held.get(key);
    if (held === undefined)
      throw new Error(`held tree: ${displayPath(path)}'s directory is not held`);
    return held.fd;
  }

  /** `path` as the kernel finds it from its held parent directory. */
  #at(path: EntryPath): Buffer {
    const { parent, name } = split(path);
    return Buffer.concat([Buffer.from(`/proc/self/fd/${this.#dirFd(parent, path)}/`), name]);
  }

  /**
   * lstat of `path`, whose parent directory is held; undefined when it is gone (or its parent is no
   * directory any more).
   */
  stat(path: EntryPath): BigIntStats | undefined {
    if (path.length === 0) return this.#rootStats;
    try {
      return lstatSync(this.#at(path), { bigint: true, throwIfNoEntry: false });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
      throw error;
    }
  }

  /** The names in held directory `path`, in byte order. */
  names(path: EntryPath): Buffer[] {
    const fd = this.#dirFd(path.toString("latin1"), path);
    return readdirSync(`/proc/self/fd/${fd}/`, { encoding: "buffer" }).sort(Buffer.compare);
  }

  /**
   * Holds directory `path` (classified as `stats`), looked up in its held parent; refused when
   * another inode is there now.
   */
  enter(path: EntryPath, stats: BigIntStats): void {
    if (path.length === 0) return;
    const key = path.toString("latin1");
    const held = this.#held.get(key);
    if (held !== undefined) {
      held.count++;
      return;
    }
    this.#held.set(key, { fd: this.#open(path, OPEN_DIR, stats, "a directory"), count: 1 });
  }

  /** Lets go of directory `path` (entered as often as it is left). */
  leave(path: EntryPath): void {
    if (path.length === 0) return;
    const key = path.toString("latin1");
    const held = this.#held.get(key);
    if (held === undefined || --held.count > 0) return;
    closeSync(held.fd);
    this.#held.delete(key);
  }

  /** Closes every directory still held. */
  close(): void {
    for (const { fd } of this.#held.values()) closeSync(fd);
    this.#held.clear();
  }

  /**
   * A regular file `path` (classified as `stats`) opened for reading: never a symlink followed, a
   * FIFO waited on, or another inode.
   */
  openFile(path: EntryPath, stats: BigIntStats): number {
    return this.#open(path, OPEN_FILE, stats, "a file");
  }

  /** The target of symlink `path`, read from its held parent. */
  readlink(path: EntryPath, stats: BigIntStats): Buffer {
    let target: Buffer;
    try {
      target = readlinkSync(this.#at(path), { encoding: "buffer" });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EINVAL" || code === "ENOENT")
        throw treeChanged(this.root, path, "no longer a symlink");
      throw error;
    }
    const after = this.stat(path);
    if (after === undefined || !sameInode(after, stats))
      throw treeChanged(this.root, path, "another symlink in its place");
    return target;
  }

  /**
   * The xattrs of `path` (classified as `stats`): a file's or directory's
   * through a descriptor of the inode classified; others' by name from the
   * held parent (never followed), checked to be the same inode after.
   */
  xattrs(path: EntryPath, stats: BigIntStats): Map<string, Buffer> {
    const calls = nativeCalls();
    const xattrs = new Map<string, Buffer>();
    if (calls === undefined) return xattrs;
    if (stats.isFile() || stats.isDirectory()) {
      const fd =
        path.length === 0
          ? undefined
          : this.#open(
              path,
              stats.isFile() ? OPEN_FILE : OPEN_DIR,
              stats,
              stats.isFile() ? "a file" : "a directory",
            );
      const read = fd ?? this.#dirFd("", path);
      try {
        for (const name of calls.flistxattr(read).sort())
          xattrs.set(name, calls.fgetxattr(read, name));
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      return xattrs;
    }
    const at = this.#at(path);
    for (const name of calls.llistxattr(at).sort()) xattrs.set(name, calls.lgetxattr(at, name));
    const after = this.stat(path);
    if (after === undefined || !sameInode(after, stats))
      throw treeChanged(this.root, path, "another node in its place");
    return xattrs;
  }

  #open(path: EntryPath, flags: number, stats: BigIntStats, what: string): number {
    let fd: number;
    try {
      fd = openSync(this.#at(path), flags);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ELOOP" || code === "ENOTDIR" || code === "ENOENT" || code === "ENXIO")
        throw treeChanged(this.root, path, `no longer ${what}`);
      throw error;
    }
    const opened = fstatSync(fd, { bigint: true });
    if (
      !sameInode(opened, stats) ||
      (opened.mode & BigInt(constants.S_IFMT)) !== (stats.mode & BigInt(constants.S_IFMT))
    ) {
      closeSync(fd);
      throw treeChanged(this.root, path, `another inode in its place`);
    }
    return fd;
  }
}
