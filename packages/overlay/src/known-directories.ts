import { pathKey, type EntryPath } from "@strata/layer";

/**
 * Paths this unpack has seen to be real directories (reached through real
 * directories only), so that parent resolution need not lstat them again.
 * Sound because strata is the only writer inside its private staging
 * directory, and every removal it makes forgets everything: a directory can
 * only stop being one (and a symlink take its place) through a removal.
 */
export class KnownDirectories {
  readonly #keys = new Set<string>([""]);

  has(path: EntryPath): boolean {
    return this.#keys.has(pathKey(path));
  }

  hasKey(key: string): boolean {
    return this.#keys.has(key);
  }

  add(path: EntryPath): void {
    this.#keys.add(pathKey(path));
  }

  /** Called on every removal. */
  forgetAll(): void {
    this.#keys.clear();
    this.#keys.add("");
  }
}
