// One entry of the merged tree as `strata ls` prints it, as ls -l does.
import type { ListedEntry } from "@strata-oci/core";
import { escapeName } from "@strata-oci/layer";

const TYPE_CHARS: Record<ListedEntry["kind"], string> = {
  dir: "d",
  file: "-",
  symlink: "l",
  char: "c",
  block: "b",
  fifo: "p",
};

/** `drwxr-xr-x` with setuid, setgid and sticky shown as ls shows them. */
function modeString(kind: ListedEntry["kind"], mode: number): string {
  const bit = (mask: number, char: string): string => (mode & mask ? char : "-");
  const exec = (x: number, special: number, set: string): string =>
    mode & special ? (mode & x ? set : set.toUpperCase()) : mode & x ? "x" : "-";
  return (
    `${TYPE_CHARS[kind]}${bit(0o400, "r")}${bit(0o200, "w")}${exec(0o100, 0o4000, "s")}` +
    `${bit(0o40, "r")}${bit(0o20, "w")}${exec(0o10, 0o2000, "s")}${bit(0o4, "r")}` +
    `${bit(0o2, "w")}${exec(0o1, 0o1000, "t")}`
  );
}

export function listingLine(e: ListedEntry): string {
  const time = new Date(e.mtime * 1000).toISOString().slice(0, 16).replace("T", " ");
  const size = e.device ?? String(e.size);
  // Names and targets as the image has them, escaped (a terminal obeys what a name holds); `cat`
  // takes the same spelling.
  const target =
    e.target === undefined
      ? ""
      : ` -> ${escapeName(
          e.targetBase64 === undefined
            ? Buffer.from(e.target)
            : Buffer.from(e.targetBase64, "base64"),
        )}`;
  const name = `/${e.escapedPath}${target}`;
  return (
    `${modeString(e.kind, e.mode)} ${`${e.uid}/${e.gid}`.padEnd(11)} ` +
    `${size.padStart(10)} ${time} ${(e.layer < 0 ? "-" : `L${e.layer}`).padEnd(3)} ${name}`
  );
}
