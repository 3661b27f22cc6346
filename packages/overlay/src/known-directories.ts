import { pathKey, type EntryPath } from "@strata/layer";

/**
 * Paths this unpack has seen to be real directories (reached through real
 * directories only), so that parent resolution need not lstat them again.
 * Sound because strata is the only writer inside its private staging
 * directory, and a directory can only stop being one (and a symlink take its
 * place) through a removal: removing a directory forgets it and everything
 * below it. Removing a file or symlink changes no known directory, since
 * known paths never pass through a symlink.
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

  addKey(key: string): void {
    this.#keys.add(key);
  }

  /** Called when the directory at `path` is removed. */
  forgetBelow(path: EntryPath): void {
    const key = pathKey(path);
    if (key === "") {
      this.#keys.clear();
      this.#keys.add("");
      return;
    }
    const prefix = `${key}/`;
    this.#keys.delete(key);
    for (const k of this.#keys) if (k.startsWith(prefix)) this.#keys.delete(k);
  }
}
