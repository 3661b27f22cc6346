import type { LayerTarget } from "./layer-target.js";
import {
  chmodSync,
  constants,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import {
  assertNever,
  baseName,
  childPath,
  displayPath,
  childNode,
  parentPath,
  type EntryAttributes,
  type EntryPath,
  type LayerEntry,
} from "@strata-oci/layer";
import { AbortedError, withErrorContext } from "@strata-oci/errors";
import { nativeCalls } from "./native.js";
import type { OwnershipPolicy } from "./ownership.js";
import { AttributeWriter, fsTime, type UnpackWarning } from "./attribute-writer.js";
import { DiskIndex, stateOf, type IndexNode } from "./disk-index.js";
import { FileWriter } from "./file-writer.js";
import { deviceType } from "./node-kind.js";
import { badHardlink, fsError } from "./target-errors.js";
import {
  isPlainDirectory,
  lstatOrUndefined,
  onDisk,
  resolveParentInRoot,
  type ResolvedPath,
} from "./resolve-in-root.js";

export type { UnpackWarning } from "./attribute-writer.js";

const CREATE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface DiskTargetOptions {
  readonly policy: OwnershipPolicy;
  readonly onWarning?: ((warning: UnpackWarning) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Counts of what applying layers did. */
export interface ApplyStats {
  entries: number;
  bytes: number;
}

/**
 * Writes layer entries into a root directory on disk, following the
 * changeset contract. Synchronous fs calls on one thread (measured 2x faster
 * than promise-based writes here) while decompression runs on the pool.
 * Directory times are set by `finish()`, after every child is written.
 */
export class DiskTarget implements LayerTarget {
  readonly #root: Buffer;
  readonly #options: DiskTargetOptions;
  readonly #attributes: AttributeWriter;
  readonly #files: FileWriter;
  readonly #index = new DiskIndex();
  /** The layer being applied, counting from 1 (the index's `written` marks). */
  #layer = 0;

  #rootAttributes: EntryAttributes | undefined;
  readonly stats: ApplyStats = { entries: 0, bytes: 0 };

  /**
   * `root` must exist and be empty; it is owned by the caller (usually a private staging
   * directory).
   */
  constructor(root: string, options: DiskTargetOptions) {
    this.#root = Buffer.from(root);
    this.#options = options;
    this.#attributes = new AttributeWriter(options.policy, options.onWarning);
    this.#files = new FileWriter(this.#attributes, this.stats);
  }

  /** Applies one layer's entries in tar order; the layer's whiteouts affect only lower layers. */
  async applyLayer(entries: AsyncIterable<LayerEntry>): Promise<void> {
    this.#layer++;
    for await (const entry of entries) {
      if (this.#options.signal?.aborted === true)
        throw new AbortedError(this.#options.signal.reason);
      try {
        // Only files wait (for their data); everything else is applied without an await.
        const writing = this.#apply(entry);
        if (writing !== undefined) await writing;
      } catch (error) {
        throw withErrorContext(fsError(error, "write"), { entry: displayPath(entry.path) });
      }
      this.stats.entries++;
    }
  }

  /** Sets directory times (children are all written now) and the root's attributes, last. */
  finish(): void {
    // Children first: setting a child's time changes its parent's mtime.
    this.#index.forEachDirectoryChildrenFirst((state, pathOf) => {
      const path = pathOf();
      // A recorded directory may since have been replaced, or a parent turned
      // into a symlink: only touch it when no symlink leads there.
      if (path.length === 0 || !isPlainDirectory(this.#root, path, this.#index)) return;
      const abs = onDisk(this.#root, path);
      if (state.dirMode !== undefined) chmodSync(abs, state.dirMode);
      const mtime = state.dirTime ?? 0;
      lutimesSync(abs, fsTime(mtime), fsTime(mtime));
    });
    const rootAttrs = this.#rootAttributes;
    if (rootAttrs === undefined) {
      chmodSync(this.#root, 0o755);
      lutimesSync(this.#root, 0, 0);
      return;
    }
    this.#attributes.ownerAndMode(this.#root, rootAttrs, "dir");
    this.#attributes.xattrs(this.#root, rootAttrs, "dir", true);
    lutimesSync(this.#root, fsTime(rootAttrs.mtime), fsTime(rootAttrs.mtime));
  }

  #apply(entry: LayerEntry): Promise<void> | undefined {
    if (entry.kind === "whiteout" || entry.kind === "opaque") {
      this.#removal(entry);
      return undefined;
    }
    if (entry.path.length === 0) {
      // The root stays 0700 while unpacking; its own attributes come last.
      this.#rootAttributes = entry;
      stateOf(this.#index.root).written = this.#layer;
      return undefined;
    }
    const path = this.#placed(entry);
    // One walk per entry: the parent's node is the index's last walk now.
    const state = this.#index.state(path);
    const writing = this.#write(entry, path, onDisk(this.#root, path), state);
    // Nothing else runs before the write ends: the caller awaits it before the next entry.
    state.written = this.#layer;
    return writing;
  }

  /**
   * A whiteout or an opaque marker. A repeated one in one layer changes nothing (the lower content
   * is gone) but walked the whole subtree again, quadratic in the repeats (issue #9).
   */
  #removal(entry: LayerEntry & { kind: "whiteout" | "opaque" }): void {
    const index = this.#index;
    const state = index.state(entry.path);
    if (entry.kind === "whiteout") {
      if (state.whitedOut === this.#layer) return;
      state.whitedOut = this.#layer;
      if (isPlainDirectory(this.#root, parentPath(entry.path), index))
        this.#removeLower(entry.path, index.node(entry.path));
      return;
    }
    if (state.madeOpaque === this.#layer) return;
    state.madeOpaque = this.#layer;
    if (!isPlainDirectory(this.#root, entry.path, index)) return;
    const here = index.node(entry.path);
    for (const name of readdirSync(onDisk(this.#root, entry.path), { encoding: "buffer" })) {
      this.#removeLower(childPath(entry.path, name), childNode(here, name));
    }
  }

  /** Where `entry` goes: its parent resolved inside the root (missing parents made). */
  #placed(entry: LayerEntry): EntryPath {
    const index = this.#index;
    const parent = resolveParentInRoot(
      this.#root,
      entry.path,
      true,
      (dir) => {
        const made = onDisk(this.#root, dir);
        // Explicit owner: a setgid parent would otherwise pass its group down.
        if (this.#options.policy.privileged) lchownSync(made, 0, 0);
        chmodSync(made, 0o755);
        // Missing parents get time 0, so that unpacking is reproducible.
        index.state(dir).dirTime = 0;
      },
      index,
    );
    // When the parent resolved to the entry's own parent it is that very slice
    // of the entry's path (same memory, same length): reuse the path.
    const sameParent =
      parent !== undefined &&
      parent.buffer === entry.path.buffer &&
      parent.byteOffset === entry.path.byteOffset &&
      parent.length === Math.max(0, entry.path.lastIndexOf(0x2f));
    return sameParent ? entry.path : childPath(parent as ResolvedPath, baseName(entry.path));
  }

  /** The node of `entry` at `path`; a file's bytes are written by the promise it returns. */
  #write(
    entry: Exclude<LayerEntry, { kind: "whiteout" | "opaque" }>,
    path: EntryPath,
    abs: Buffer,
    state: ReturnType<DiskIndex["state"]>,
  ): Promise<void> | undefined {
    switch (entry.kind) {
      case "dir": {
        const index = this.#index;
        const merge = index.isKnown(state) || !this.#create(abs, () => mkdirSync(abs, 0o700), true);
        // chown clears security.capability, so xattrs come after it.
        this.#attributes.ownerAndMode(abs, entry, "dir", state);
        this.#attributes.xattrs(abs, entry, "dir", merge);
        index.markKnown(state);
        state.dirTime = entry.mtime;
        return undefined;
      }
      case "file":
        return this.#files.write(
          this.#createFile(abs, entry.mode),
          abs,
          this.#parentSetgid(path),
          entry,
          entry.body,
        );
      case "symlink":
        this.#create(abs, () => symlinkSync(entry.target, abs));
        this.#attributes.finishNode(abs, entry, "symlink");
        return undefined;
      case "hardlink":
        this.#hardlink(abs, path, entry.target);
        return undefined;
      case "char":
      case "block":
      case "fifo":
        return this.#special(entry, path, abs);
      default:
        return assertNever(entry);
    }
  }

  #createFile(abs: Buffer, mode: number): number {
    let fd = -1;
    this.#create(
      abs,
      () => (fd = openSync(abs, CREATE_FLAGS, this.#attributes.creationMode(mode))),
    );
    return fd;
  }

  /**
   * A device or a fifo. A fifo needs no privilege (umoci makes them rootless too); devices do; both
   * need the addon's mknod. Otherwise an empty file, and a warning.
   */
  #special(
    entry: LayerEntry & { kind: "char" | "block" | "fifo" },
    path: EntryPath,
    abs: Buffer,
  ): Promise<void> | undefined {
    const calls = nativeCalls();
    if (calls !== undefined && (this.#options.policy.privileged || entry.kind === "fifo")) {
      const type = deviceType(entry.kind);
      const [major, minor] = entry.kind === "fifo" ? [0, 0] : [entry.devMajor, entry.devMinor];
      this.#create(abs, () => calls.mknod(abs, type | 0o600, major, minor));
      this.#attributes.finishNode(abs, entry, entry.kind);
      return undefined;
    }
    const why = calls === undefined ? "strata's native addon is unavailable" : "rootless";
    this.#options.onWarning?.({
      kind: "device-replaced",
      path: displayPath(path),
      detail: `${entry.kind} replaced by an empty file (${why})`,
    });
    const fd = this.#createFile(abs, entry.mode);
    return this.#files.write(fd, abs, this.#parentSetgid(path), entry, []);
  }

  #parentSetgid(path: EntryPath): boolean {
    return this.#index.node(parentPath(path))?.value?.setgid === true;
  }

  /**
   * Creates a node with `make`, which fails with EEXIST when something is in
   * the way: that is removed (never written through) and `make` runs again.
   * With `keepDirectory`, an existing directory is kept and false returned.
   */
  #create(abs: Buffer, make: () => void, keepDirectory = false): boolean {
    try {
      make();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const isDirectory = lstatOrUndefined(abs)?.isDirectory() === true;
    if (keepDirectory && isDirectory) return false;
    this.#remove(abs, isDirectory);
    make();
    return true;
  }

  /** Removes a path (recursively); after a directory removal no known directory is trusted. */
  #remove(abs: Buffer, isDirectory: boolean): void {
    if (!isDirectory) {
      // rmSync would lstat again first.
      unlinkSync(abs);
      return;
    }
    rmSync(abs, { recursive: true, force: true });
    this.#index.forgetAll();
  }

  #hardlink(abs: Buffer, path: EntryPath, target: EntryPath): void {
    const parent = resolveParentInRoot(this.#root, target, false, undefined, this.#index);
    const targetPath = parent === undefined ? undefined : childPath(parent, baseName(target));
    const stats =
      targetPath === undefined ? undefined : lstatOrUndefined(onDisk(this.#root, targetPath));
    if (targetPath === undefined || stats === undefined)
      throw badHardlink(target, "does not exist");
    if (stats.isDirectory()) throw badHardlink(target, "is a directory");
    if (targetPath.equals(path)) return;
    try {
      this.#create(abs, () => linkSync(onDisk(this.#root, targetPath), abs));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT")
        throw badHardlink(target, "was removed by this entry");
      throw error;
    }
  }

  /**
   * Removes what lower layers put at `path` and below, keeping what this
   * layer wrote. `node` is the index's node for `path`: where there is
   * none, nothing at or below it was written and it all goes at once.
   */
  #removeLower(path: EntryPath, node: IndexNode | undefined): boolean {
    const abs = onDisk(this.#root, path);
    const stats = lstatOrUndefined(abs);
    if (stats === undefined) return false;
    let keep = node?.value?.written === this.#layer;
    if (stats.isDirectory() && node !== undefined) {
      for (const name of readdirSync(abs, { encoding: "buffer" })) {
        if (this.#removeLower(childPath(path, name), childNode(node, name))) keep = true;
      }
    }
    if (!keep) this.#remove(abs, stats.isDirectory());
    return keep;
  }
}
