import { pathKey, type EntryPath } from "@strata/layer";

/**
 * Paths this unpack has seen to be real directories (reached through real
 * directories only), so that parent resolution need not lstat them again.
 * Sound because strata is the only writer inside its private staging
 * directory, and a directory can only stop being one (and a symlink take its
 * place) through a removal: any directory removal forgets every known path.
 * Forgetting only the removed name and the names below it is not enough:
 * where the filesystem folds names (casefold ext4, CIFS, a folding FUSE,
 * Unicode normalisation), removing `CID` removes `cid` too, and a symlink
 * `CID` then sits where the cache still says `cid` is a directory (issue #9).
 * Removing a file or symlink changes no known directory, since known paths
 * never pass through a symlink.
 */
export class KnownDirectories {
  #keys = new Set<string>([""]);

  has(path: EntryPath): boolean {
    return this.#keys.has(pathKey(path));
  }

  hasKey(key: string): boolean {
    return this.#keys.has(key);
  }

  add(path: EntryPath): void {
    this.#keys.add(pathKey(path));
  }

  addKey(key: string): void {
    this.#keys.add(key);
  }

  /** Called when any directory is removed: nothing known is trusted after it. */
  forgetAll(): void {
    this.#keys = new Set([""]);
  }
}
