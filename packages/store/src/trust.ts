// Who may own a layer store, checked each time one is opened. A store is
// trusted when nobody but the user running strata (and root) could have
// written it: its root and the directories strata keeps in it are real
// directories owned by this user and writable by nobody else, and every
// directory above it belongs to root or to this user and is writable by
// nobody else unless sticky (as /tmp). Otherwise another user could have
// planted a layer under the chain ID of an image, or a short link or record
// that leads strata outside the store, before strata ever looked.
import { lstatSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { TargetError } from "@strata-oci/errors";

/** The directories strata keeps in a store. */
export const STORE_DIRS = ["layers", "l", "images", "mounts", "staging"] as const;

function untrusted(path: string, why: string): TargetError {
  return new TargetError(
    "STRATA_STORE_UNTRUSTED",
    `the layer store cannot be trusted: ${path} ${why}`,
    {
      hint:
        "keep the store where only you (and root) can write: a directory you own, mode " +
        "0700 or 0755, under directories that are root's or yours (strata makes it so when it " +
        "creates the store)",
    },
  );
}

const euid = (): number => process.geteuid?.() ?? 0;

/** A directory strata made in the store: real, this user's, writable by nobody else. */
export function checkOwnDirectory(
  path: string,
  stats: Stats | undefined = lstatSync(path, { throwIfNoEntry: false }),
): void {
  if (stats === undefined) throw untrusted(path, "is missing");
  if (!stats.isDirectory())
    throw untrusted(path, stats.isSymbolicLink() ? "is a symlink" : "is not a directory");
  if (stats.uid !== euid())
    throw untrusted(path, `is owned by uid ${stats.uid}, not by this user (uid ${euid()})`);
  if ((stats.mode & 0o022) !== 0)
    throw untrusted(path, `is writable by others (mode ${(stats.mode & 0o7777).toString(8)})`);
}

/** The directories above the store (`root` is absolute and real). */
function checkAncestors(root: string): void {
  for (let dir = dirname(root); ; dir = dirname(dir)) {
    const stats = lstatSync(dir);
    if (stats.uid !== 0 && stats.uid !== euid())
      throw untrusted(
        dir,
        `(above the store) is owned by uid ${stats.uid}, neither root nor this user`,
      );
    if ((stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0)
      throw untrusted(dir, "(above the store) is writable by others and not sticky");
    if (dir === "/") return;
  }
}

/**
 * Refuses a store root that someone else could have written (see above): before anything in it is
 * read.
 */
export function checkStoreRoot(root: string): void {
  checkAncestors(root);
  checkOwnDirectory(root);
}

/** Refuses a store whose directories someone else could have written. */
export function checkStoreDirs(root: string): void {
  for (const name of STORE_DIRS) checkOwnDirectory(`${root}/${name}`);
}
