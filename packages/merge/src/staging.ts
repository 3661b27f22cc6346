import {
  chmodSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { TargetError } from "@strata-oci/errors";

const STAGING_MARK = ".strata-staging-";

function badDestination(detail: string, hint: string, cause?: unknown): TargetError {
  return new TargetError("STRATA_BAD_DESTINATION", detail, {
    hint,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * The destination as an absolute path whose parent is a real directory
 * (symlinks and `..` in the parent resolved by the kernel, as every later
 * call will see them): `link/../d` used to be checked at one place and
 * renamed to another after the whole unpack.
 */
function resolveDestination(dest: string): string {
  if (dest === "")
    throw badDestination("the destination is an empty string", "name the directory to create");
  const trimmed = dest.replace(/\/+$/, "") || "/";
  const name = basename(trimmed);
  let parent: string;
  try {
    // realpathSync.native: the JS version (and path.join) apply `..` lexically, before looking.
    parent = realpathSync.native(
      name === "." || name === ".." ? `${trimmed}/..` : dirname(trimmed),
    );
  } catch (cause) {
    throw badDestination(
      `the parent of destination ${dest} does not exist`,
      "create the parent directory first",
      cause,
    );
  }
  if (!statSync(parent).isDirectory()) {
    throw badDestination(
      `the parent of destination ${dest} (${parent}) is not a directory`,
      "create the parent directory first",
    );
  }
  const absolute = name === "." || name === ".." ? realpathSync.native(dest) : join(parent, name);
  const stats = lstatSync(absolute, { throwIfNoEntry: false });
  if (stats?.isSymbolicLink() === true) {
    throw badDestination(
      `destination ${dest} is a symlink`,
      "name the directory itself: strata replaces DEST by a rename and never follows a link there",
    );
  }
  return absolute;
}

/**
 * Checks a destination and returns it as an absolute path to use from then
 * on. Refuses an empty name, a symlink, a missing parent, and anything that
 * exists and is not an empty directory: strata never merges into an
 * existing tree.
 */
export function checkDestination(dest: string): string {
  const absolute = resolveDestination(dest);
  const stats = statSync(absolute, { throwIfNoEntry: false });
  if (stats === undefined) return absolute;
  if (!stats.isDirectory() || readdirSync(absolute).length > 0) {
    throw new TargetError(
      "STRATA_DEST_NOT_EMPTY",
      `destination ${dest} exists and is not an empty directory`,
      {
        hint: "name a new directory, or remove this one first",
      },
    );
  }
  return absolute;
}

/**
 * Makes a private (0700) staging directory beside `dest`, on the same
 * filesystem so that the final rename is atomic.
 */
export function createStaging(dest: string): string {
  const absolute = resolve(dest);
  let dir: string;
  try {
    // The pid in the name lets a later run tell a killed run's leftovers from a live one's.
    dir = mkdtempSync(
      join(dirname(absolute), `.${basename(absolute)}${STAGING_MARK}${process.pid}-`),
    );
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "error";
    throw new TargetError(
      "STRATA_BAD_DESTINATION",
      `cannot create a staging directory in ${dirname(absolute)}: ${code}`,
      {
        cause,
        hint: "strata writes beside DEST and renames into place: DEST's parent must be writable",
      },
    );
  }
  chmodSync(dir, 0o700);
  return dir;
}

/** Moves a finished staging directory to `dest` (absent, or an empty directory). */
export function commitStaging(staging: string, dest: string): void {
  renameSync(staging, checkDestination(dest));
}

/** Removes a staging directory after a failure; never throws. */
export function discardStaging(staging: string): void {
  try {
    rmSync(staging, { recursive: true, force: true });
  } catch {
    // An unprivileged unpack leaves 0555 directories that refuse removal of
    // their children: make every real directory owner-writable, then retry.
    try {
      makeWritable(staging);
      rmSync(staging, { recursive: true, force: true });
    } catch {
      // Best effort: the name marks it as strata's, and a later run tries again.
    }
  }
}

function makeWritable(dir: string): void {
  if (lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) return;
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) makeWritable(join(dir, name));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Staging directories left beside `dest` by runs that were killed (their process is gone). */
export function leftoverStagings(dest: string): string[] {
  const absolute = resolve(dest);
  const prefix = `.${basename(absolute)}${STAGING_MARK}`;
  const parent = dirname(absolute);
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix))
    .filter((name) => {
      const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
      return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid);
    })
    .map((name) => join(parent, name));
}

/** Removes what killed runs left beside `dest`; returns what was removed. */
export function removeLeftoverStagings(dest: string): string[] {
  const leftovers = leftoverStagings(dest);
  for (const dir of leftovers) discardStaging(dir);
  return leftovers;
}
