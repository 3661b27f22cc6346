import { displayPath, type EntryPath } from "@strata-oci/layer";
import { BadEntryError, StrataError, TargetError } from "@strata-oci/errors";

/**
 * Turns a system error (one with an errno code) into a TargetError; anything
 * else is a bug and is rethrown as it is, never disguised.
 */
export function fsError(error: unknown, what: string): unknown {
  if (error instanceof StrataError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return error;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new TargetError(
      "STRATA_NO_SPACE",
      `${what}: ${code}: the destination's filesystem is full`,
      {
        cause: error,
        hint: "free space or unpack elsewhere; nothing was left behind",
      },
    );
  }
  return new TargetError("STRATA_FS_ERROR", `${what}: ${code}: ${(error as Error).message}`, {
    cause: error,
  });
}

export function badHardlink(target: EntryPath, why: string): BadEntryError {
  return new BadEntryError("STRATA_BAD_HARDLINK", `hardlink target ${displayPath(target)} ${why}`, {
    hint: "a hardlink must name a file, symlink or device that exists in this or a lower layer",
  });
}
