import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const NOBODY = 65534;
/** Only root can run a command as another user. */
export const canRunAsNobody = process.getuid?.() === 0;

const MAIN = join(import.meta.dirname, "..", "..", "packages", "strata", "dist", "main.js");
const MERGE = join(import.meta.dirname, "..", "..", "packages", "merge", "dist", "index.js");
const LAYER = join(import.meta.dirname, "..", "..", "packages", "layer", "dist", "index.js");

// Modules, the lazily loaded addon and the blob workers are loaded while
// still root, then privileges are dropped: the checkout may sit in a
// directory nobody cannot enter (a CI clone under a 0700 mktemp dir).
const WRAPPER = `
const [mainJs, mergeJs, layerJs, ...args] = process.argv.slice(2);
const { main } = await import(mainJs);
(await import(mergeJs)).native();
await (await import(layerJs)).prepareBlobWorkers();
process.setgroups([]);
process.setgid(${NOBODY});
process.setuid(${NOBODY});
process.exitCode = await main(args);
`;

function wrapperIn(work: string): string {
  const wrapper = join(work, "as-nobody.mjs");
  writeFileSync(wrapper, WRAPPER);
  return wrapper;
}

/** Runs the strata CLI as nobody; `work` is a directory for the wrapper script. */
export function strataAsNobody(work: string, args: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [wrapperIn(work), MAIN, MERGE, LAYER, ...args], {
    encoding: "utf8",
  });
}

/** The same, not waiting: for several runs at once. */
export function strataAsNobodyAsync(
  work: string,
  args: readonly string[],
): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [wrapperIn(work), MAIN, MERGE, LAYER, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stderr })));
}

/** Runs a program as nobody (no supplementary groups). */
export function runAsNobody(
  command: string,
  args: readonly string[],
  timeout = 60_000,
): SpawnSyncReturns<string> {
  return spawnSync(
    "setpriv",
    ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", command, ...args],
    { encoding: "utf8", timeout },
  );
}
