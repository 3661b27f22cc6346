// The layers below the one being written, as the kernel's overlayfs reads
// them: a name is looked up from the top layer down, a whiteout (character
// device 0/0) hides it below, an opaque directory hides everything below it
// in lower layers, a non-directory hides what lower layers have under its
// name. The store asks it what the merged view below shows (names in a
// directory, where a file's bytes are) without mounting anything.
import { lstatSync, readdirSync, readlinkSync, type BigIntStats, type Stats } from "node:fs";
import { childPath, splitPath, type EntryPath } from "@strata-oci/layer";
import { nativeCalls } from "./native.js";
import { onDisk } from "./resolve-in-root.js";
import { decodeRootlessOwner, ROOTLESS_OWNER_XATTR } from "./rootless-owner.js";
import type { LowerSource, MergedEntry } from "./merged-tree.js";

/**
 * How a store marks directories opaque: as root `trusted.overlay.opaque`, unprivileged (`userxattr`
 * mounts) `user.overlay.opaque`.
 */
export type OverlayXattrs = "trusted" | "user";

export function opaqueXattr(namespace: OverlayXattrs): string {
  return `${namespace}.overlay.opaque`;
}

/** xattrs overlayfs interprets itself: an image must not be able to set them in a store. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.");
}

export function isWhiteout(stats: Stats | BigIntStats): boolean {
  return stats.isCharacterDevice() && Number(stats.rdev) === 0;
}

export class LowerStack {
  readonly #layers: Buffer[];
  readonly #opaque: string;

  /** `layers`: the layer directories, bottom (layer 0) first. */
  constructor(layers: readonly string[], namespace: OverlayXattrs) {
    this.#layers = layers.map((layer) => Buffer.from(layer)).reverse();
    this.#opaque = opaqueXattr(namespace);
  }

  #isOpaque(abs: Buffer): boolean {
    const calls = nativeCalls();
    return (
      calls !== undefined &&
      calls.llistxattr(abs).includes(this.#opaque) &&
      calls.lgetxattr(abs, this.#opaque).toString() === "y"
    );
  }

  /**
   * The nodes at `path` from the top layer down, as overlayfs merges them:
   * the first is what the view shows; more follow only while each is a
   * directory that nothing hides (a whiteout or non-directory at `path` or a
   * parent, an opaque directory at `path` or a parent, ends the lookup).
   */
  *#lookup(path: EntryPath): Generator<{ abs: Buffer; stats: BigIntStats; layer: number }> {
    const parts = splitPath(path);
    for (const [top, layer] of this.#layers.entries()) {
      let at: EntryPath = Buffer.alloc(0);
      let node: { abs: Buffer; stats: BigIntStats } | undefined = {
        abs: layer,
        stats: lstatSync(layer, { bigint: true }),
      };
      let hidesBelow = false;
      for (const [i, part] of parts.entries()) {
        at = childPath(at, part);
        const abs = onDisk(layer, at);
        const stats = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
        if (stats === undefined) {
          node = undefined;
          break;
        }
        if (isWhiteout(stats) || (i < parts.length - 1 && !stats.isDirectory())) return;
        if (stats.isDirectory() && this.#isOpaque(abs)) hidesBelow = true;
        node = { abs, stats };
      }
      if (node !== undefined) {
        yield { ...node, layer: this.#layers.length - 1 - top };
        if (!node.stats.isDirectory()) return;
      }
      if (hidesBelow) return;
    }
  }

  /**
   * Where the merged view below has `path`'s own node (the topmost layer that has it, counting from
   * 0 at the bottom), or undefined.
   */
  locate(path: EntryPath): { abs: Buffer; stats: BigIntStats; layer: number } | undefined {
    for (const found of this.#lookup(path)) return found;
    return undefined;
  }

  /**
   * The names the merged view below shows in directory `path` (empty when it is no directory
   * there).
   */
  names(path: EntryPath): Set<string> {
    const shown = new Set<string>();
    const hidden = new Set<string>();
    let first = true;
    for (const { abs, stats } of this.#lookup(path)) {
      // Only directories merge: below a non-directory's layer nothing is looked at.
      if (!stats.isDirectory()) {
        if (first) return shown;
        break;
      }
      first = false;
      for (const name of readdirSync(abs, { encoding: "buffer" })) {
        const key = name.toString("latin1");
        if (shown.has(key) || hidden.has(key)) continue;
        const child = lstatSync(Buffer.concat([abs, Buffer.from("/"), name]), { bigint: true });
        if (isWhiteout(child)) hidden.add(key);
        else shown.add(key);
      }
    }
    return shown;
  }
}

/**
 * The merged view of stored layers as a merged tree's lower source: each
 * path looked up in the layer directories as overlayfs looks it up, its
 * entry made from the stored node (owners from user.rootlesscontainers in a
 * rootless store). Files' xattrs are left out (the store copies a file's
 * attributes from its stored node when it needs them).
 */
export class StoredLayers implements LowerSource {
  readonly #stack: LowerStack;
  readonly #rootless: boolean;
  /** Entries of inodes with several names, by layer and inode: one object for all their names. */
  readonly #linked = new Map<string, MergedEntry>();

  constructor(layers: readonly string[], namespace: OverlayXattrs, rootless: boolean) {
    this.#stack = new LowerStack(layers, namespace);
    this.#rootless = rootless;
  }

  names(path: EntryPath): Buffer[] {
    return [...this.#stack.names(path)].map((name) => Buffer.from(name, "latin1"));
  }

  entry(path: EntryPath): MergedEntry | undefined {
    const found = this.#stack.locate(path);
    if (found === undefined) return undefined;
    const { abs, stats, layer } = found;
    const kind = stats.isDirectory()
      ? "dir"
      : stats.isFile()
        ? "file"
        : stats.isSymbolicLink()
          ? "symlink"
          : stats.isCharacterDevice()
            ? "char"
            : stats.isBlockDevice()
              ? "block"
              : stats.isFIFO()
                ? "fifo"
                : undefined;
    if (kind === undefined) return undefined;
    const key = kind !== "dir" && stats.nlink > 1n ? `${layer}:${stats.ino}` : undefined;
    const known = key === undefined ? undefined : this.#linked.get(key);
    if (known !== undefined) return known;
    const calls = nativeCalls();
    const xattrs = new Map<string, Buffer>();
    if (calls !== undefined && (kind === "dir" || this.#rootless))
      for (const name of calls.llistxattr(abs))
        if (!isOverlayXattr(name)) xattrs.set(name, calls.lgetxattr(abs, name));
    let owner = { uid: Number(stats.uid), gid: Number(stats.gid) };
    if (this.#rootless) {
      const record = xattrs.get(ROOTLESS_OWNER_XATTR);
      owner =
        record === undefined
          ? { uid: 0, gid: 0 }
          : (decodeRootlessOwner(record) ?? { uid: 0, gid: 0 });
      xattrs.delete(ROOTLESS_OWNER_XATTR);
    }
    if (kind !== "dir") xattrs.clear();
    const rdev = Number(stats.rdev);
    const entry: MergedEntry = {
      kind,
      mode: Number(stats.mode) & 0o7777,
      ...owner,
      mtime: Number(stats.mtimeNs) / 1e9,
      xattrs,
      layer,
      ordinal: -1,
      size: kind === "file" ? Number(stats.size) : 0,
      ...(kind === "symlink" ? { target: readlinkSync(abs, { encoding: "buffer" }) } : {}),
      ...(kind === "char" || kind === "block"
        ? { devMajor: (rdev >> 8) & 0xfff, devMinor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) }
        : {}),
    };
    if (key !== undefined) this.#linked.set(key, entry);
    return entry;
  }
}
