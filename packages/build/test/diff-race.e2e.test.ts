// Issue #26.4: diff of a tree that changes while it is read. A container's
// own processes can swap UPPER's files (rename-exchange) for symlinks to a
// host secret, or for FIFOs, while a build tool diffs it: diff reads what it
// classified or stops typed (STRATA_TREE_CHANGED); it never puts the
// secret's bytes into the layer, never hangs, never fails untyped.
import { spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { diffTrees } from "@strata-oci/build";
import { StrataError } from "@strata-oci/core";
import { tempDir } from "@strata-oci/testing";

const SWAPPER = join(import.meta.dirname, "..", "..", "..", "test", "support", "swapper.py");
const havePython = spawnSync("sh", ["-c", "command -v /usr/bin/python3"]).status === 0;
const work = tempDir("strata-diff-race-");
afterAll(() => work.remove());
let n = 0;
const SECRET = "TOP-SECRET-host-bytes-0123456789";

/**
 * UPPER with `count` files, each paired in UPPER/.swap with a symlink to the secret or a FIFO;
 * LOWER empty or a copy.
 */
function racedTrees(
  swapWith: "symlink" | "fifo",
  lowerHasFiles: boolean,
): { lower: string; upper: string; secret: string } {
  const box = join(work.path, `box-${n++}`);
  const upper = join(box, "upper");
  const lower = join(box, "lower");
  mkdirSync(join(upper, ".swap"), { recursive: true });
  mkdirSync(lower);
  const secret = join(box, "secret");
  writeFileSync(secret, SECRET.repeat(100));
  for (let i = 0; i < 40; i++) {
    const name = `f${String(i).padStart(3, "0")}`;
    writeFileSync(join(upper, name), `upper file ${i}\n`.repeat(50));
    if (lowerHasFiles) writeFileSync(join(lower, name), `lower file ${i}\n`.repeat(50));
    if (swapWith === "symlink") symlinkSync(secret, join(upper, ".swap", name));
    else spawnSync("mkfifo", [join(upper, ".swap", name)]);
  }
  return { lower, upper, secret };
}

async function collect(
  lower: string,
  upper: string,
): Promise<{ tar: Buffer } | { error: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of diffTrees({ lower, upper })) parts.push(Buffer.from(chunk));
    return { tar: Buffer.concat(parts) };
  } catch (error) {
    return { error };
  }
}

describe.runIf(havePython)("diff while another process swaps UPPER's files (#26.4)", () => {
  for (const [swapWith, lowerHasFiles] of [
    ["symlink", false],
    ["symlink", true],
    ["fifo", false],
    ["fifo", true],
  ] as const) {
    it(
      `swapped for ${swapWith === "symlink" ? "symlinks to a host secret" : "FIFOs"}${
        lowerHasFiles ? ", LOWER a directory " + "with the same names" : ""
      }: 25 runs, each a ` + `layer without the secret or STRATA_TREE_CHANGED, none hangs`,
      async () => {
        const { lower, upper } = racedTrees(swapWith, lowerHasFiles);
        const stop = join(upper, "..", "stop");
        const swapper = spawn("/usr/bin/python3", [SWAPPER, upper, stop], { stdio: "ignore" });
        const outcomes = { layers: 0, changed: 0 };
        try {
          for (let run = 0; run < 25; run++) {
            // A hang (opening a FIFO) would end the test by its timeout.
            const result = await collect(lower, upper);
            if ("tar" in result) {
              expect(result.tar.includes(Buffer.from(SECRET))).toBe(false);
              outcomes.layers++;
            } else {
              expect(result.error).toBeInstanceOf(StrataError);
              expect((result.error as StrataError).code).toBe("STRATA_TREE_CHANGED");
              outcomes.changed++;
            }
          }
        } finally {
          writeFileSync(stop, "");
          await new Promise((resolve) => swapper.on("close", resolve));
        }
        expect(outcomes.layers + outcomes.changed).toBe(25);
        console.log(
          `swapped for ${swapWith}, lower ${lowerHasFiles ? "with files" : "empty"}: ` +
            `${outcomes.layers} layers, ${outcomes.changed} STRATA_TREE_CHANGED`,
        );
      },
      120_000,
    );
  }
});
