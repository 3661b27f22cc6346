// The walk of a diff: UPPER against LOWER in byte order of the paths, as tar
// records (diff.ts says what the changeset holds).
import { closeSync, readSync, type BigIntStats } from "node:fs";
import { AbortedError } from "@strata-oci/errors";
import {
  BLOCK,
  childPath,
  encodeHeader,
  paddingOf,
  type EntryPath,
  type TarHeaderFields,
} from "@strata-oci/layer";
import type { DiffOptions } from "./diff.js";
import type { Lower, LowerEntry } from "./diff-lower.js";
import { CHUNK, notADirectory, type Node, type Tree } from "./diff-tree.js";
import { treeChanged } from "./held-tree.js";

const WHITEOUT = Buffer.from(".wh.");

class Changeset<E extends LowerEntry> {
  /**
   * Hardlink groups of UPPER (inodes with more than one name), and whether each must be written:
   * one of its names changed, or its names were not one group below.
   */
  readonly #writeGroup = new Map<bigint, boolean>();
  /** The name each hardlink group was first written under: the others link to it. */
  readonly #firstOfGroup = new Map<bigint, EntryPath>();

  constructor(
    readonly lower: Lower<E>,
    readonly upper: Tree,
    readonly options: DiffOptions,
  ) {}

  *tar(): Generator<Buffer> {
    const root = this.upper.node(Buffer.alloc(0));
    if (root?.kind !== "dir") throw notADirectory(this.options.upper);
    if (!this.lower.linksChangeTogether) this.#decideGroups(root);
    yield* this.#compare(Buffer.alloc(0), root);
    yield Buffer.alloc(2 * BLOCK);
  }

  #visits = 0;

  /** Each entry of UPPER as it is reached: the record, the progress, the signal. */
  #visited(path: EntryPath, stats: BigIntStats): void {
    const { signal, onProgress, onUpperEntry } = this.options;
    if (signal?.aborted === true) throw new AbortedError(signal.reason);
    onUpperEntry?.(path, stats);
    this.#visits++;
    onProgress?.({ kind: "diff", entries: this.#visits });
  }

  #changed(before: E | undefined, after: Node): boolean {
    return before === undefined || before.kind !== after.kind || this.lower.changed(before, after);
  }

  #skipped(node: Node): boolean {
    const skip = this.options.skip;
    return skip !== undefined && node.stats.ino === skip.ino && node.stats.dev === skip.dev;
  }

  /** Every name of each inode of UPPER that has more than one. */
  #hardlinkGroups(root: Node): Map<bigint, EntryPath[]> {
    const groups = new Map<bigint, EntryPath[]>();
    const scan = (node: Node): void => {
      if (node.kind !== "dir") {
        if (node.nlink > 1) groups.set(node.ino, [...(groups.get(node.ino) ?? []), node.path]);
        return;
      }
      this.upper.held.enter(node.path, node.stats);
      try {
        for (const name of this.upper.names(node.path)) {
          const child = this.upper.node(childPath(node.path, name));
          if (child !== undefined) scan(child);
        }
      } finally {
        this.upper.held.leave(node.path);
      }
    };
    scan(root);
    return groups;
  }

  #decideGroups(root: Node): void {
    const { lower, upper } = this;
    // Each name looked at again from the root, in both trees, through real directories only.
    const nameChanged = (path: EntryPath): boolean =>
      upper.within(path, () => {
        const after = upper.node(path);
        return (
          after === undefined ||
          (lower.within(path, () => this.#changed(lower.entry(path), after)) ?? true)
        );
      }) ?? true;
    for (const [ino, paths] of this.#hardlinkGroups(root)) {
      const below = paths.map((path) => lower.within(path, () => lower.entry(path)));
      const together = below.every(
        (entry) =>
          entry !== undefined && entry.ino === below[0]?.ino && entry.nlink === paths.length,
      );
      this.#writeGroup.set(ino, !together || paths.some(nameChanged));
    }
  }

  #time(node: Node): number {
    const seconds = Number(node.stats.mtimeNs) / 1e9;
    const clamp = this.options.clampTime;
    return clamp !== undefined && seconds > clamp ? clamp : seconds;
  }

  #header(
    path: EntryPath,
    node: Node,
    type: TarHeaderFields["type"],
    linkname?: Buffer,
  ): TarHeaderFields {
    const xattrs = node.xattrs;
    const name =
      path.length === 0
        ? Buffer.from("./")
        : type === "dir"
          ? Buffer.concat([path, Buffer.from("/")])
          : path;
    return {
      name,
      type,
      mode: node.mode,
      uid: node.owner.uid,
      gid: node.owner.gid,
      mtime: this.#time(node),
      ...(xattrs.size === 0 ? {} : { xattrs }),
      ...(linkname === undefined ? {} : { linkname }),
      ...(type === "char" || type === "block"
        ? { devMajor: node.devMajor, devMinor: node.devMinor }
        : {}),
    };
  }

  /**
   * One path of UPPER as entries: a hardlink where its group's first name was written, else
   * itself with its bytes.
   */
  *#entry(path: EntryPath, node: Node): Generator<Buffer> {
    if (node.kind !== "dir" && node.nlink > 1) {
      const first = this.#firstOfGroup.get(node.ino);
      if (first !== undefined) {
        yield* encodeHeader(this.#header(path, node, "hardlink", first), 0);
        return;
      }
      this.#firstOfGroup.set(node.ino, path);
    }
    if (node.kind !== "file") {
      yield* encodeHeader(this.#header(path, node, node.kind, node.target), 0);
      return;
    }
    // Opened before its header is written: a file swapped for a symlink or a FIFO fails here, not
    // after.
    const fd = node.tree.openFile(node.path, node.stats);
    try {
      yield* encodeHeader(this.#header(path, node, "file"), node.size);
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

  /** Everything at and below `path` in UPPER, all new. */
  *#added(path: EntryPath, node: Node): Generator<Buffer> {
    this.#visited(path, node.stats);
    yield* this.#entry(path, node);
    if (node.kind !== "dir") return;
    this.upper.held.enter(path, node.stats);
    try {
      for (const name of this.upper.names(path)) {
        const child = childPath(path, name);
        const childNode = this.upper.node(child);
        if (childNode !== undefined && !this.#skipped(childNode))
          yield* this.#added(child, childNode);
      }
    } finally {
      this.upper.held.leave(path);
    }
  }

  /** `path`, which UPPER has as `after`, against LOWER. */
  *#compare(path: EntryPath, after: Node): Generator<Buffer> {
    const before = this.lower.entry(path);
    if (before?.kind !== "dir" || after.kind !== "dir") {
      // Added, or a type change: the new entry replaces the old and all below it.
      if (before?.kind !== after.kind) {
        yield* this.#added(path, after);
        return;
      }
      this.#visited(path, after.stats);
      const group = after.nlink > 1 ? this.#writeGroup.get(after.ino) : undefined;
      if (group === true || (group === undefined && this.#changed(before, after)))
        yield* this.#entry(path, after);
      return;
    }
    this.#visited(path, after.stats);
    if (this.#changed(before, after)) yield* this.#entry(path, after);
    this.lower.enter(before);
    this.upper.held.enter(path, after.stats);
    try {
      yield* this.#children(path);
    } finally {
      this.upper.held.leave(path);
      this.lower.leave(before);
    }
  }

  /**
   * The children of `path`, a directory in both trees, each held: whiteouts for those gone, the
   * others compared.
   */
  *#children(path: EntryPath): Generator<Buffer> {
    const below = this.lower.names(path);
    const above = this.upper.names(path);
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
        const name = childPath(path, Buffer.concat([WHITEOUT, below[i] as Buffer]));
        yield* encodeHeader({ name, type: "file", mode: 0o644 }, 0);
        i++;
        continue;
      }
      const child = childPath(path, above[j] as Buffer);
      if (order === 0) i++;
      j++;
      const node = this.upper.node(child);
      if (node !== undefined && !this.#skipped(node)) yield* this.#compare(child, node);
    }
  }
}

/** The tar of the changeset from `lower` to `upper` (diffTrees says what it holds). */
export function changeset<E extends LowerEntry>(
  lower: Lower<E>,
  upper: Tree,
  options: DiffOptions,
): Generator<Buffer> {
  return new Changeset(lower, upper, options).tar();
}
