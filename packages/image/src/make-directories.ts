// A directory and its missing parents, made one component at a time. Node
// 20's mkdirSync(path, { recursive: true }) never returns for a path under
// /proc (it retries the parent it cannot make, forever: `strata copy IMAGE
// oci:/proc/x:t` hung); here every component is made or found once, and a
// failure is a typed error naming it.
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { TargetError } from "@strata-oci/errors";

export function makeDirectories(path: string, mode = 0o755): void {
  const missing: string[] = [];
  let at = resolve(path);
  // Up to the deepest component that exists.
  for (;;) {
    const found = statSync(at, { throwIfNoEntry: false });
    if (found !== undefined) {
      if (!found.isDirectory()) throw cannotMake(path, at, "ENOTDIR");
      break;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const directory of missing.reverse()) {
    try {
      mkdirSync(directory, mode);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      // Made meanwhile by another writer: as good as made here.
      if (code === "EEXIST" && statSync(directory).isDirectory()) continue;
      throw cannotMake(path, directory, code, error);
    }
  }
}

function cannotMake(path: string, at: string, code: string, cause?: unknown): TargetError {
  return new TargetError("STRATA_FS_ERROR", `cannot make the directory ${path}: ${code} at ${at}`, {
    hint: "write somewhere you can create directories",
    ...(cause === undefined ? {} : { cause }),
  });
}
