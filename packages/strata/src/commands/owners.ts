import { UsageError, type Flag, type FlagValues } from "../cli/command.js";

/** How diff and repack read owners: --rootless or --root. */
export const OWNER_FLAGS: readonly Flag[] = [
  {
    name: "rootless",
    kind: "boolean",
    help:
      "owners from the user.rootlesscontainers xattr, as a rootless unpack (or umoci) " +
      "records them; the default when not running as root",
  },
  { name: "root", kind: "boolean", help: "owners from the files themselves (the default as root)" },
];

/** true, false, or undefined (the default: rootless unless root). */
export function rootlessOf(values: FlagValues): boolean | undefined {
  if (values.rootless === true && values.root === true)
    throw new UsageError("--rootless and --root exclude each other");
  return values.rootless === true ? true : values.root === true ? false : undefined;
}
