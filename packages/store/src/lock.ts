// The store's lock (flock on STORE/lock): storing and mounting an image
// hold it shared, gc holds it alone. gc reads which layers are in use and
// removes the others while no image is being stored: without it, a gc that
// read the kept images before an unpack kept its own removed the base layer
// that unpack had just found stored (issue #26.6).
import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { join } from "node:path";
import { AbortedError } from "@strata-oci/errors";
import { native } from "@strata-oci/merge";
import { damaged } from "./records.js";

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_UN = 8;
/**
 * How often a waiting holder tries again (flock is asked without blocking, so that a signal ends
 * the wait).
 */
const POLL_MS = 25;

export type LockMode = "shared" | "exclusive";

/**
 * Runs `work` holding the store's lock in `mode`; waits for it as long as it takes, or until
 * `signal` aborts.
 */
export async function withStoreLock<T>(
  root: string,
  mode: LockMode,
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const calls = native();
  const file = join(root, "lock");
  const fd = openSync(
    file,
    constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    0o600,
  );
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.uid !== (process.geteuid?.() ?? stats.uid))
      throw damaged(file, "not this user's lock file");
    while (!calls.flock(fd, mode === "shared" ? LOCK_SH : LOCK_EX)) {
      if (signal?.aborted === true) throw new AbortedError(signal.reason);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    try {
      return await work();
    } finally {
      calls.flock(fd, LOCK_UN);
    }
  } finally {
    closeSync(fd);
  }
}
