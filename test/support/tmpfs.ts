// A small tmpfs mounted for one test (root only): a full disk (size=1m) or a read-only one.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { expect } from "vitest";

/** `run` with a tmpfs mounted at the new directory `dir` (`options`: mount -o), unmounted after. */
export function withTmpfs(dir: string, options: string, run: (dir: string) => void): void {
  mkdirSync(dir);
  expect(spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]).status).toBe(0);
  try {
    run(dir);
  } finally {
    spawnSync("umount", [dir]);
  }
}
