// The merged tree's nodes over a lower source (the layer store's stored
// layers): a directory's children are loaded from it when first asked for.
import { childNode, ensureChild, type EntryPath, type PathTreeNode } from "@strata-oci/layer";
import type { MergedEntry } from "./merged-entry.js";

type Node = PathTreeNode<MergedEntry>;

const SLASH = Buffer.from("/");

/**
 * The merged view of layers below this tree's first, asked for one path or
 * one directory at a time (the layer store's stored layers, read where
 * they lie): a tree on top of it loads only what its own layers touch.
 */
export interface LowerSource {
  /**
   * The entry at `path` (no symlink followed, the last component's either), or undefined. Names of
   * one inode share one entry object.
   */
  entry(path: EntryPath): MergedEntry | undefined;
  /** The names in directory `path`. */
  names(path: EntryPath): Buffer[];
}

export function children(node: Node): Node[] {
  const out: Node[] = [];
  for (const child of node.children?.values() ?? []) out.push(child);
  for (const child of node.collided?.values() ?? []) out.push(child);
  return out;
}

/** Children found in the tree, or else loaded from the source. */
export class LoadedNodes {
  /** Directories whose children below are not all loaded from the source yet, with their paths. */
  readonly #pending = new Map<Node, EntryPath>();

  constructor(
    readonly source: LowerSource | undefined,
    /** Gives a loaded node its entry (the tree counts them). */
    readonly set: (node: Node, entry: MergedEntry) => void,
  ) {}

  /** Directory `node`, at `path` in the source, has children there that are not loaded yet. */
  pending(node: Node, path: EntryPath): void {
    this.#pending.set(node, path);
  }

  /** No child of `node` needs loading (an opaque marker removed them all). */
  loaded(node: Node): void {
    this.#pending.delete(node);
  }

  /**
   * The child `name` of `node`, loaded from the source where `node` still has unloaded children.
   */
  child(node: Node | undefined, name: Buffer): Node | undefined {
    const found = childNode(node, name);
    if (found !== undefined || node === undefined) return found;
    const path = this.#pending.get(node);
    if (path === undefined) return undefined;
    const childPathOf = path.length === 0 ? Buffer.from(name) : Buffer.concat([path, SLASH, name]);
    const entry = (this.source as LowerSource).entry(childPathOf);
    if (entry === undefined) return undefined;
    const child = ensureChild(node, name);
    this.set(child, entry);
    if (entry.kind === "dir") this.#pending.set(child, childPathOf);
    return child;
  }

  /** All children of `node`, those below loaded first. */
  children(node: Node): Node[] {
    const path = this.#pending.get(node);
    if (path !== undefined) {
      for (const name of (this.source as LowerSource).names(path)) this.child(node, name);
      this.#pending.delete(node);
    }
    return children(node);
  }
}
