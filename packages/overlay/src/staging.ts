import { chmodSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { TargetError } from "@strata/layer";

const STAGING_MARK = ".strata-staging-";

/**
 * Refuses a destination that exists and is not an empty directory: strata
 * never merges into an existing tree.
 */
export function checkDestination(dest: string): void {
  const stats = statSync(dest, { throwIfNoEntry: false });
  if (stats === undefined) return;
  if (!stats.isDirectory() || readdirSync(dest).length > 0) {
    throw new TargetError("STRATA_DEST_NOT_EMPTY", `destination ${dest} exists and is not an empty directory`, {
      hint: "name a new directory, or remove this one first",
    });
  }
}

/**
 * Makes a private (0700) staging directory beside `dest`, on the same
 * filesystem so that the final rename is atomic.
 */
export function createStaging(dest: string): string {
  const absolute = resolve(dest);
  const dir = mkdtempSync(join(dirname(absolute), `.${basename(absolute)}${STAGING_MARK}`));
  chmodSync(dir, 0o700);
  return dir;
}

/** Moves a finished staging directory to `dest` (absent, or an empty directory). */
export function commitStaging(staging: string, dest: string): void {
  checkDestination(dest);
  renameSync(staging, resolve(dest));
}

/** Removes a staging directory after a failure; never throws. */
export function discardStaging(staging: string): void {
  try {
    rmSync(staging, { recursive: true, force: true });
  } catch {
    // Best effort: the name marks it as strata's, and a later run may clean it.
  }
}

/** Staging directories left beside `dest` by runs that were killed. */
export function leftoverStagings(dest: string): string[] {
  const absolute = resolve(dest);
  const prefix = `.${basename(absolute)}${STAGING_MARK}`;
  const parent = dirname(absolute);
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix))
    .map((name) => join(parent, name));
}
