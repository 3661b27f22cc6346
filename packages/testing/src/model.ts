import {
  baseName,
  childPath,
  displayPath,
  isWithin,
  joinPath,
  parentPath,
  pathFromKey,
  pathKey,
  splitPath,
  type EntryAttributes,
  type EntryPath,
  type LayerEntry,
} from "@strata-oci/layer";
import { BadEntryError, withErrorContext } from "@strata-oci/errors";
import { ownedAttributes, type LayerTarget, type OwnershipPolicy } from "@strata-oci/merge";
import type { ModelNode, NodeAttributes } from "./model-node.js";

/** Symlinks followed while resolving one path before it counts as a loop (Linux: 40). */
export const MAX_SYMLINK_FOLLOWS = 40;

const PRIVILEGED: OwnershipPolicy = { privileged: true, uid: 0, gid: 0 };

function attributesOf(
  entry: EntryAttributes,
  kind: string,
  policy: OwnershipPolicy,
): NodeAttributes {
  const owned = ownedAttributes(entry, kind, policy);
  return {
    mode: entry.mode,
    uid: owned.uid,
    gid: owned.gid,
    mtime: entry.mtime,
    xattrs: owned.xattrs,
  };
}

async function readBody(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

/**
 * The reference model: the changeset contract of DESIGN.md applied to a tree
 * in memory, written to be obviously right rather than fast. The disk target
 * is tested against it; users can test their own layers against it too.
 */
export class ReferenceModel implements LayerTarget {
  /** Nodes by path key (`pathKey`); "" is the root. */
  readonly nodes = new Map<string, ModelNode>();
  readonly #policy: OwnershipPolicy;

  constructor(policy: OwnershipPolicy = PRIVILEGED) {
    this.#policy = policy;
    // A root no entry names gets mode 0755 and time 0, as umoci gives it;
    // so do missing parents, so that unpacking is reproducible.
    this.nodes.set("", { kind: "dir", attrs: this.#parentAttributes() });
  }

  /** Applies layers in order, `layers[0]` first. */
  async applyLayers(
    layers: Iterable<AsyncIterable<LayerEntry> | Iterable<LayerEntry>>,
  ): Promise<this> {
    for (const layer of layers) await this.applyLayer(layer);
    return this;
  }

  /** Applies one layer's entries in tar order. */
  async applyLayer(entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>): Promise<void> {
    const written = new Set<string>();
    for await (const entry of entries) {
      try {
        await this.#apply(entry, written);
      } catch (error) {
        throw withErrorContext(error, { entry: displayPath(entry.path) });
      }
    }
  }

  finish(): void {}

  #parentAttributes(): NodeAttributes {
    return {
      mode: 0o755,
      uid: this.#policy.privileged ? 0 : this.#policy.uid,
      gid: this.#policy.privileged ? 0 : this.#policy.gid,
      mtime: 0,
      xattrs: new Map(),
    };
  }

  async #apply(entry: LayerEntry, written: Set<string>): Promise<void> {
    if (entry.kind === "whiteout") return this.#whiteout(entry.path, written);
    if (entry.kind === "opaque") return this.#opaque(entry.path, written);
    const becomesFile =
      !this.#policy.privileged && (entry.kind === "char" || entry.kind === "block");
    const attrs = attributesOf(entry, becomesFile ? "file" : entry.kind, this.#policy);
    if (entry.path.length === 0) {
      this.nodes.set("", { kind: "dir", attrs });
      written.add("");
      return;
    }
    const parent = this.resolveParent(entry.path, true);
    if (parent === undefined) throw new Error("unreachable: parents are created");
    const path = childPath(parent, baseName(entry.path));
    const key = pathKey(path);
    const existing = this.nodes.get(key);
    switch (entry.kind) {
      case "dir":
        if (existing?.kind === "dir") {
          existing.attrs = attrs;
        } else {
          this.#removeTree(key);
          this.nodes.set(key, { kind: "dir", attrs });
        }
        break;
      case "hardlink": {
        const targetKey = this.#hardlinkTarget(entry.target);
        if (targetKey === key) break;
        this.#removeTree(key);
        const target = this.nodes.get(targetKey);
        if (target === undefined) throw badHardlink(entry.target, "was removed by this entry");
        this.nodes.set(key, target);
        break;
      }
      case "file": {
        const content = await readBody(entry.body);
        this.#removeTree(key);
        this.nodes.set(key, { kind: "file", attrs, content });
        break;
      }
      case "symlink":
        this.#removeTree(key);
        this.nodes.set(key, { kind: "symlink", attrs, target: Buffer.from(entry.target) });
        break;
      case "char":
      case "block":
      case "fifo":
        this.#removeTree(key);
        if (entry.kind === "fifo") this.nodes.set(key, { kind: "fifo", attrs });
        else if (!this.#policy.privileged)
          this.nodes.set(key, { kind: "file", attrs, content: Buffer.alloc(0) });
        else
          this.nodes.set(key, {
            kind: entry.kind,
            attrs,
            devMajor: entry.devMajor,
            devMinor: entry.devMinor,
          });
        break;
    }
    written.add(key);
  }

  /**
   * Resolves the parent of `path` inside the root: symlinks followed (absolute
   * targets taken from the root, `..` stopping at the root). Missing
   * directories are created when `create`, else the result is undefined.
   */
  resolveParent(path: EntryPath, create: boolean): EntryPath | undefined {
    const pending = splitPath(parentPath(path));
    const resolved: Buffer[] = [];
    let follows = 0;
    while (pending.length > 0) {
      const part = pending.shift() as Buffer;
      const text = part.toString("latin1");
      if (text === ".") continue;
      if (text === "..") {
        resolved.pop();
        continue;
      }
      const key = pathKey(joinPath([...resolved, part]));
      const node = this.nodes.get(key);
      if (node === undefined) {
        if (!create) return undefined;
        this.nodes.set(key, { kind: "dir", attrs: this.#parentAttributes() });
        resolved.push(part);
      } else if (node.kind === "dir") {
        resolved.push(part);
      } else if (node.kind === "symlink") {
        if (++follows > MAX_SYMLINK_FOLLOWS) {
          throw new BadEntryError(
            "STRATA_SYMLINK_LOOP",
            `too many symlinks resolving ${displayPath(path)}`,
          );
        }
        if (node.target[0] === 0x2f) resolved.length = 0;
        pending.unshift(...splitPath(node.target));
      } else {
        throw new BadEntryError(
          "STRATA_PARENT_NOT_DIRECTORY",
          `a parent of ${displayPath(path)} is a ${node.kind}, not a directory`,
        );
      }
    }
    return joinPath(resolved);
  }

  #hardlinkTarget(target: EntryPath): string {
    const parent = this.resolveParent(target, false);
    const key = parent === undefined ? undefined : pathKey(childPath(parent, baseName(target)));
    const node = key === undefined ? undefined : this.nodes.get(key);
    if (key === undefined || node === undefined) throw badHardlink(target, "does not exist");
    if (node.kind === "dir") throw badHardlink(target, "is a directory");
    return key;
  }

  /** The directory at `path` if every component is a real directory (no symlink followed). */
  #plainDirectory(path: EntryPath): boolean {
    const parts = splitPath(path);
    for (let i = 1; i <= parts.length; i++) {
      const node = this.nodes.get(pathKey(joinPath(parts.slice(0, i))));
      if (node?.kind !== "dir") return false;
    }
    return true;
  }

  #whiteout(path: EntryPath, written: Set<string>): void {
    if (!this.#plainDirectory(parentPath(path))) return;
    if (this.nodes.has(pathKey(path))) this.#removeLower(pathKey(path), written);
  }

  #opaque(path: EntryPath, written: Set<string>): void {
    if (!this.#plainDirectory(path)) return;
    for (const child of this.#children(pathKey(path))) this.#removeLower(child, written);
  }

  /**
   * Removes what lower layers put at `key` and below; keeps what this layer wrote. Returns whether
   * `key` stays.
   */
  #removeLower(key: string, written: Set<string>): boolean {
    const node = this.nodes.get(key);
    if (node === undefined) return false;
    let keep = written.has(key);
    if (node.kind === "dir") {
      for (const child of this.#children(key)) if (this.#removeLower(child, written)) keep = true;
    }
    if (!keep) this.nodes.delete(key);
    return keep;
  }

  #children(key: string): string[] {
    const dir = pathFromKey(key);
    return [...this.nodes.keys()].filter((k) => {
      if (k === key) return false;
      const path = pathFromKey(k);
      return isWithin(path, dir) && pathKey(parentPath(path)) === key;
    });
  }

  #removeTree(key: string): void {
    const root = pathFromKey(key);
    for (const k of [...this.nodes.keys()])
      if (isWithin(pathFromKey(k), root) && k !== "") this.nodes.delete(k);
  }
}

function badHardlink(target: EntryPath, why: string): BadEntryError {
  return new BadEntryError("STRATA_BAD_HARDLINK", `hardlink target ${displayPath(target)} ${why}`, {
    hint: "a hardlink must name a file, symlink or device that exists in this or a lower layer",
  });
}
