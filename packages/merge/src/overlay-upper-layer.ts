// A layer with layers below it, written for overlayfs (overlay-layer-writer.ts
// says what the result must be): its entries at the paths the merged tree
// resolves, lower inodes it hardlinks copied up, then whiteouts, opaque
// marks and the merged tree's attributes on every directory.
import {
  constants,
  copyFileSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import {
  childPath,
  joinPath,
  parentPath,
  splitPath,
  type EntryPath,
  type LayerEntry,
} from "@strata-oci/layer";
import { AttributeWriter, fsTime } from "./attribute-writer.js";
import type { DiskTarget } from "./disk-target.js";
import { LowerStack, opaqueXattr } from "./lower-stack.js";
import type { MergedEntry, MergedTree } from "./merged-tree.js";
import { native } from "./native.js";
import { deviceType } from "./node-kind.js";
import {
  attributesOf,
  copyNodeAttributes,
  diskTargetFor,
  storable,
  type OverlayLayerOptions,
  type OverlayLayerStats,
} from "./overlay-entry.js";
import { onDisk } from "./resolve-in-root.js";

const key = (path: EntryPath): string => path.toString("latin1");
const pathOf = (name: string): Buffer => Buffer.from(name, "latin1");

export class UpperLayerWriter {
  readonly #root: Buffer;
  readonly #below: LowerStack;
  readonly #attributes: AttributeWriter;
  readonly #disk: DiskTarget;
  readonly #layer: number;
  /** Paths whose children this layer's whiteouts and opaque markers changed. */
  readonly #touched: EntryPath[] = [];
  /**
   * Where this layer may have taken lower names out of the merged view: the
   * parents of its whiteouts, its opaque directories, and the paths of its
   * non-directories (which hide a lower directory, and may be replaced by a
   * directory again later in the layer). Only directories at or under one of
   * these are compared with the layers below: the others merge with them as
   * they are (a second image's /etc is not listed for its one changed file).
   */
  readonly #removalRoots = new Set<string>();
  readonly #copied = new Set<MergedEntry>();
  /** Lower names copied into this layer, by path: a whiteout later in the layer may remove them. */
  readonly #copiedPaths = new Map<string, MergedEntry>();
  readonly #stats: OverlayLayerStats = {
    entries: 0,
    bytes: 0,
    whiteouts: 0,
    opaque: 0,
    copiedUp: 0,
  };

  constructor(
    readonly tree: MergedTree,
    dir: string,
    readonly lowers: readonly string[],
    readonly options: OverlayLayerOptions,
  ) {
    this.#root = Buffer.from(dir);
    this.#below = new LowerStack(lowers, options.xattrs);
    this.#attributes = new AttributeWriter(options.policy, options.onWarning);
    this.#disk = diskTargetFor(dir, options);
    this.#layer = tree.beginLayer();
  }

  async write(entries: AsyncIterable<LayerEntry>): Promise<OverlayLayerStats> {
    await this.#disk.applyLayer(this.#resolved(entries));
    // Not disk.finish(): every directory's mode, owner, xattrs and times are set below, from the
    // merged tree.
    this.#stats.entries = this.#disk.stats.entries;
    this.#stats.bytes = this.#disk.stats.bytes;
    const dirs = this.#directories();
    const opaqueDirs = new Set<string>();
    for (const path of dirs.values()) {
      // A directory removed above with its parent's leftovers (a copy's parent, now gone from the
      // merged tree).
      if (lstatSync(this.#abs(path), { throwIfNoEntry: false })?.isDirectory() !== true) {
        dirs.delete(key(path));
        continue;
      }
      if (this.#markRemovals(path) === "opaque") opaqueDirs.add(key(path));
    }
    this.#setDirectoryAttributes([...dirs.values()], opaqueDirs);
    return this.#stats;
  }

  #abs(path: EntryPath): Buffer {
    return onDisk(this.#root, path);
  }

  /** The parents of `path` in this layer's directory (their attributes are set at the end). */
  #makeParents(path: EntryPath): void {
    mkdirSync(this.#abs(parentPath(path)), { recursive: true, mode: 0o755 });
  }

  /** Every name of the lower inode `entry` but `skip`, copied into this layer as one inode. */
  #copyUp(entry: MergedEntry, skip: EntryPath): void {
    this.#copied.add(entry);
    let first: Buffer | undefined;
    for (const path of this.tree.pathsOf(entry)) {
      if (path.equals(skip)) continue;
      const abs = this.#abs(path);
      this.#makeParents(path);
      this.#copiedPaths.set(key(path), entry);
      if (first !== undefined) {
        linkSync(first, abs);
        continue;
      }
      const source = this.#below.locate(path);
      if (source === undefined)
        throw new Error(
          `store invariant: ${path.toString()} is in the merged tree but in no lower layer`,
        );
      if (entry.kind === "file") copyFileSync(source.abs, abs, constants.COPYFILE_EXCL);
      else if (entry.kind === "symlink")
        symlinkSync(readlinkSync(source.abs, { encoding: "buffer" }), abs);
      else {
        const type = deviceType(entry.kind as "char" | "block" | "fifo");
        native().mknod(abs, type | 0o600, entry.devMajor ?? 0, entry.devMinor ?? 0);
      }
      copyNodeAttributes(source.abs, abs);
      first = abs;
      this.#stats.copiedUp++;
    }
  }

  /** The layer's entries at the paths the merged tree resolves them to; removals kept aside. */
  async *#resolved(entries: AsyncIterable<LayerEntry>): AsyncGenerator<LayerEntry> {
    for await (const entry of entries) {
      if (entry.kind === "whiteout" || entry.kind === "opaque") this.#removal(entry);
      else {
        const placed = this.#placed(entry);
        if (placed !== undefined) yield placed;
      }
    }
  }

  #removal(entry: LayerEntry & { kind: "whiteout" | "opaque" }): void {
    this.tree.applyEntry(entry);
    const changed = entry.kind === "whiteout" ? parentPath(entry.path) : entry.path;
    this.#touched.push(changed);
    this.#removalRoots.add(key(changed));
    // Copies of lower names are lower entries to the merged tree: what it removed goes from the
    // disk too, before a later entry resolves a path through it.
    for (const [name, value] of this.#copiedPaths) {
      const path = pathOf(name);
      if (this.tree.plainEntry(path) === value) continue;
      rmSync(this.#abs(path), { recursive: true, force: true });
      this.#copiedPaths.delete(name);
    }
  }

  /** `entry` where the merged tree puts it; undefined for a hardlink to itself. */
  #placed(entry: LayerEntry): LayerEntry | undefined {
    const landed = this.tree.applyEntry(entry) as { path: EntryPath; target?: EntryPath };
    if (entry.kind !== "dir") this.#removalRoots.add(key(landed.path));
    if (this.#copiedPaths.size > 0) {
      // This entry replaces what is at its path (and below): no copy there to remove later.
      const at = key(landed.path);
      const under = entry.kind === "dir" ? undefined : `${at}/`;
      for (const copied of this.#copiedPaths.keys())
        if (copied === at || (under !== undefined && copied.startsWith(under)))
          this.#copiedPaths.delete(copied);
    }
    // A hardlink to itself changes nothing (the merged tree checked that its target exists).
    if (landed.target?.equals(landed.path) === true) return undefined;
    if (entry.kind === "hardlink" && landed.target !== undefined) {
      const shared = this.tree.resolve(landed.target, false)?.entry;
      if (shared !== undefined && shared.layer < this.#layer && !this.#copied.has(shared))
        this.#copyUp(shared, landed.path);
    }
    const clean = storable(entry, landed.path, this.options);
    return {
      ...clean,
      path: landed.path,
      ...(landed.target === undefined ? {} : { target: landed.target }),
    } as LayerEntry;
  }

  /** The directories this layer has, and those its whiteouts and opaque markers changed. */
  #directories(): Map<string, EntryPath> {
    for (const path of this.#touched) {
      if (this.tree.plainEntry(path)?.kind !== "dir") continue;
      // Only through this layer's real directories: a symlink it wrote hides the lower one already.
      const parts = splitPath(path);
      let inside = true;
      for (let i = 1; i <= parts.length && inside; i++) {
        const stats = lstatSync(this.#abs(joinPath(parts.slice(0, i))), { throwIfNoEntry: false });
        if (stats !== undefined && !stats.isDirectory()) inside = false;
      }
      if (inside) mkdirSync(this.#abs(path), { recursive: true, mode: 0o755 });
    }
    const dirs = new Map<string, EntryPath>();
    const walk = (path: EntryPath): void => {
      dirs.set(key(path), path);
      // Entry types from readdir: no lstat per entry (a tenth of a store write's time).
      for (const dirent of readdirSync(this.#abs(path), {
        encoding: "buffer",
        withFileTypes: true,
      })) {
        if (dirent.isDirectory()) walk(childPath(path, dirent.name as unknown as Buffer));
      }
    };
    walk(Buffer.alloc(0));
    return dirs;
  }

  /** `path` or one of its ancestors is a removal root. */
  #mayHaveLost(path: EntryPath): boolean {
    if (this.#removalRoots.has("")) return true;
    for (let end = path.indexOf(0x2f); ; end = path.indexOf(0x2f, end + 1)) {
      if (this.#removalRoots.has(path.toString("latin1", 0, end === -1 ? path.length : end)))
        return true;
      if (end === -1) return false;
    }
  }

  /**
   * What directory `path` of this layer needs so that the mount lacks what the merged tree lacks:
   * whiteouts for the lower names gone, or an opaque mark when all it shows is this layer's.
   */
  #markRemovals(path: EntryPath): "opaque" | "whiteouts" | "none" {
    const copiedUp = this.#stats.copiedUp;
    // Copies removed again can be anywhere; otherwise only under a removal root can a lower name be
    // gone.
    if (copiedUp === 0 && !this.#mayHaveLost(path)) return "none";
    const lower = this.lowers.length === 0 ? [] : [...this.#below.names(path)];
    // Nothing below and nothing copied up: nothing to compare with the merged tree (a first
    // layer's case).
    if (lower.length === 0 && copiedUp === 0) return "none";
    const after = new Set((this.tree.list(path) ?? []).map(({ name }) => key(name)));
    // What this layer holds that the merged tree no longer has (a lower file copied up, then
    // removed): gone.
    if (copiedUp > 0) {
      for (const name of readdirSync(this.#abs(path), { encoding: "buffer" })) {
        if (!after.has(key(name)))
          rmSync(this.#abs(childPath(path, name)), { recursive: true, force: true });
      }
    }
    const gone = lower.filter((name) => !after.has(name));
    if (gone.length === 0) return "none";
    // overlayfs does not read an opaque mark on a layer's root: whiteouts there.
    const all =
      path.length > 0 &&
      [...after].every((name) => this.tree.writtenByCurrentLayer(childPath(path, pathOf(name))));
    if (all) {
      this.#stats.opaque++;
      return "opaque";
    }
    for (const name of gone) {
      native().mknod(this.#abs(childPath(path, pathOf(name))), deviceType("char") | 0o000, 0, 0);
      this.#stats.whiteouts++;
    }
    return "whiteouts";
  }

  /**
   * Attributes the merged tree gives each directory, children first (a child's change moves its
   * parent's mtime).
   */
  #setDirectoryAttributes(dirs: EntryPath[], opaqueDirs: ReadonlySet<string>): void {
    const ordered = dirs.sort((a, b) => splitPath(b).length - splitPath(a).length);
    for (const path of ordered) {
      const entry = this.tree.plainEntry(path);
      if (entry === undefined) continue;
      const abs = this.#abs(path);
      const attrs = attributesOf(path, entry);
      this.#attributes.ownerAndMode(abs, attrs, "dir");
      this.#attributes.xattrs(abs, attrs, "dir", true);
      if (opaqueDirs.has(key(path)))
        native().lsetxattr(abs, opaqueXattr(this.options.xattrs), Buffer.from("y"));
      lutimesSync(abs, fsTime(entry.mtime), fsTime(entry.mtime));
    }
  }
}
