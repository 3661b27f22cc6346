// A FILE strata writes whole (a tar, an archive, a record, a report): made
// under a temporary name beside it and renamed over it when complete. A
// rename replaces whatever the name held: run as root, `-o /dev/full` or
// `--record /dev/null` turned the device into a regular file, and a symlink
// was replaced by the file instead of the file it points to being written.
import { lstatSync, realpathSync, statSync, type Stats } from "node:fs";
import { TargetError } from "@strata-oci/errors";

function kindOf(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return "a directory";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Where to write FILE whole: FILE itself when it is missing or a regular
 * file; through a symlink, the regular file it points to; anything else (a
 * directory, a device, a FIFO, a socket, a symlink to nothing) is refused
 * before anything is written. `what` names FILE for the message.
 */
export function replacedFile(file: string, what: string): string {
  const own = lstatSync(file, { throwIfNoEntry: false });
  if (own === undefined) return file;
  let target = file;
  let stats: Stats | undefined = own;
  if (own.isSymbolicLink()) {
    stats = statSync(file, { throwIfNoEntry: false });
    if (stats !== undefined) target = realpathSync(file);
  }
  const kind = stats === undefined ? "a symlink to nothing" : kindOf(stats);
  if (kind === undefined) return target;
  throw new TargetError(
    "STRATA_BAD_DESTINATION",
    `${what} ${file} is ${kind}: strata writes it whole, under a temporary name renamed over it`,
    {
      hint:
        "give a regular file or a new name (a command that writes to stdout takes -: " +
        "redirect it where you want)",
    },
  );
}
