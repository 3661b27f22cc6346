import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { onDisk, resolvePathInRoot } from "@strata-oci/merge";
import { BundleError } from "./errors.js";
import { parseGroup, parsePasswd } from "./passwd.js";
import type { AccountFiles } from "./user-spec.js";

const MAX_ACCOUNT_FILE = 16 * 2 ** 20;

/**
 * Reads a file of the rootfs by its path inside it: symlinks (the file
 * itself included) are followed inside the root, never on the host.
 * Undefined when it does not exist.
 */
export function readFileInRoot(rootfs: string, path: string): string | undefined {
  const root = Buffer.from(rootfs);
  const resolved = resolvePathInRoot(root, Buffer.from(path.replace(/^\/+/, "")));
  if (resolved === undefined) return undefined;
  // Non-blocking: a FIFO planted as /etc/passwd is refused, never waited on (a synchronous open no
  // signal can end).
  const fd = openSync(
    onDisk(root, resolved),
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
  );
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile())
      throw new BundleError(
        "STRATA_BAD_RUNTIME_CONFIG",
        `${path} in the image is not a regular file`,
      );
    if (stats.size > MAX_ACCOUNT_FILE)
      throw new BundleError(
        "STRATA_BAD_RUNTIME_CONFIG",
        `${path} in the image is larger than ${MAX_ACCOUNT_FILE} bytes`,
      );
    const buffer = Buffer.alloc(stats.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** The image's /etc/passwd and /etc/group, parsed; undefined where missing. */
export function readAccounts(rootfs: string): AccountFiles {
  const passwd = readFileInRoot(rootfs, "/etc/passwd");
  const group = readFileInRoot(rootfs, "/etc/group");
  return {
    passwd: passwd === undefined ? undefined : parsePasswd(passwd),
    group: group === undefined ? undefined : parseGroup(group),
  };
}
