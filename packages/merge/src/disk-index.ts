import {
  childNode,
  ensureChild,
  PathTree,
  type EntryPath,
  type PathTreeNode,
} from "@strata-oci/layer";

/** What one unpack has done at one path of its root. Layer numbers count from 1; 0 means never. */
export interface PathState {
  /**
   * Generation in which the path was seen to be a real directory reached through real directories.
   */
  known: number;
  /** The last layer that wrote an entry here. */
  written: number;
  /** The last layer whose whiteout or opaque marker for this path was applied. */
  whitedOut: number;
  madeOpaque: number;
  /**
   * Directories only: the mtime that `finish` sets, and the final mode where it differs from the
   * one on disk.
   */
  dirTime: number | undefined;
  dirMode: number | undefined;
  /** A directory made setgid: new children inherit its group. */
  setgid: boolean;
}

export type IndexNode = PathTreeNode<PathState>;

/**
 * The disk target's index of its root, one node per path it has touched,
 * stored by component (so that 4 KB paths cost their last name, issue #9),
 * and walked once per entry.
 *
 * Its `known` marks let parent resolution skip the lstat of directories
 * already seen. Sound because strata is the only writer inside its private
 * staging directory, and a directory can only stop being one (and a symlink
 * take its place) through a removal: any directory removal forgets every
 * known directory. Forgetting only the removed name and the names below it is
 * not enough: where the filesystem folds names (casefold ext4, CIFS, a
 * folding FUSE, Unicode normalisation), removing `CID` removes `cid` too, and
 * a symlink `CID` then sits where the index still says `cid` is a directory
 * (issue #9). Removing a file or symlink changes no known directory, since
 * known paths never pass through a symlink.
 */
export class DiskIndex {
  readonly #tree = new PathTree<PathState>();
  #generation = 1;

  constructor() {
    stateOf(this.#tree.root).known = this.#generation;
  }

  get root(): IndexNode {
    return this.#tree.root;
  }

  node(path: EntryPath): IndexNode | undefined {
    return this.#tree.node(path);
  }

  /** The state at `path`, made where missing. */
  state(path: EntryPath): PathState {
    return stateOf(this.#tree.ensure(path));
  }

  /** True when `path` is a known directory. */
  has(path: EntryPath): boolean {
    return this.isKnown(this.#tree.node(path)?.value);
  }

  isKnown(state: PathState | undefined): boolean {
    return state?.known === this.#generation;
  }

  /** The child `name` of a known directory's node, when it is known too. */
  knownChild(node: IndexNode | undefined, name: Buffer): IndexNode | undefined {
    const child = childNode(node, name);
    return this.isKnown(child?.value) ? child : undefined;
  }

  /** Records `name` in the known directory `node` as a known directory. */
  addChild(node: IndexNode, name: Buffer): IndexNode {
    const child = ensureChild(node, name);
    stateOf(child).known = this.#generation;
    return child;
  }

  markKnown(state: PathState): void {
    state.known = this.#generation;
  }

  /** Called when any directory is removed: nothing known is trusted after it. */
  forgetAll(): void {
    this.#generation++;
    stateOf(this.#tree.root).known = this.#generation;
  }

  /** Visits every directory given a time, each after the directories below it. */
  forEachDirectoryChildrenFirst(visit: (state: PathState, path: () => EntryPath) => void): void {
    this.#tree.forEachChildrenFirst((state, path) => {
      if (state.dirTime !== undefined) visit(state, path);
    });
  }
}

/** The state of `node`, made where missing. */
export function stateOf(node: IndexNode): PathState {
  return (node.value ??= {
    known: 0,
    written: 0,
    whitedOut: 0,
    madeOpaque: 0,
    dirTime: undefined,
    dirMode: undefined,
    setgid: false,
  });
}
