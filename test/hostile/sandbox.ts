import {
  chmodSync,
  chownSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diffSnapshots, snapshotDisk, type TreeSnapshot } from "@strata-oci/testing";

/** Files and directories strata must never touch, with their state before the run. */
export interface Canaries {
  readonly dirs: readonly string[];
  readonly before: ReadonlyMap<string, TreeSnapshot>;
}

function plant(dir: string): void {
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "file"), "canary: must never change\n");
  writeFileSync(join(dir, "sub", "inner"), "inner canary\n");
  symlinkSync("file", join(dir, "link"));
  chmodSync(join(dir, "file"), 0o640);
  chmodSync(join(dir, "sub"), 0o750);
  if (process.getuid?.() === 0) chownSync(join(dir, "file"), 1234, 4321);
  for (const p of ["file", "sub/inner", "sub", "link", "."])
    lutimesSync(join(dir, p), 1_111_111_111, 1_111_111_111);
}

/** Plants canaries in each directory (created if missing) and records them. */
export function plantCanaries(dirs: readonly string[]): Canaries {
  for (const dir of dirs) plant(dir);
  return { dirs, before: new Map(dirs.map((d) => [d, snapshotDisk(d)])) };
}

/**
 * Differences from the recorded state: empty when every canary is byte-, mode-, owner- and
 * time-identical.
 */
export function canaryChanges(canaries: Canaries): string[] {
  return canaries.dirs.flatMap((dir) => {
    const before = canaries.before.get(dir);
    return before === undefined
      ? [`${dir}: never recorded`]
      : diffSnapshots(before, snapshotDisk(dir)).map((d) => `${dir}: ${d}`);
  });
}

/**
 * A sandbox for one case: canaries above DEST (`canary-above`) and beside it
 * (`work/canary-beside`); DEST is `work/dest`, the image `work/image`.
 */
export function makeSandbox(): {
  root: string;
  work: string;
  dest: string;
  layout: string;
  canaries: Canaries;
  remove: () => void;
} {
  const root = mkdtempSync(join(tmpdir(), "strata-hostile-"));
  const work = join(root, "work");
  mkdirSync(work);
  const canaries = plantCanaries([join(root, "canary-above"), join(work, "canary-beside")]);
  return {
    root,
    work,
    dest: join(work, "dest"),
    layout: join(work, "image"),
    canaries,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** What lies in a directory, one level, sorted. */
export function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}
