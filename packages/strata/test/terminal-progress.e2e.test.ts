// The progress display in a real terminal (#23): tmux gives the command a
// pane of 80 (and 40) columns; the raw output it drew is recorded with
// pipe-pane, and what the pane shows afterwards is captured. The display must
// have been drawn in place (carriage return + erase line, never wider than
// the pane) and erased at the end: the pane holds the summary alone, no stale
// row of a line that wrapped.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "@strata-oci/image";
import { writeTar, type TarMember } from "@strata-oci/layer";
import { tempDir } from "../../../test/support/layers.js";

const BIN = join(import.meta.dirname, "..", "bin", "strata");
const hasTmux = spawnSync("sh", ["-c", "command -v tmux"]).status === 0;
const work = tempDir("strata-tmux-");
const socket = join(work.path, "tmux.sock");
const image = `oci:${join(work.path, "image")}:t`;
afterAll(() => {
  spawnSync("tmux", ["-S", socket, "kill-server"]);
  work.remove();
});

beforeAll(() => {
  // Three layers of a few MB, so that each is drawn while it is read.
  const layers = [0, 1, 2].map((n) => {
    const members: TarMember[] = [{ name: `d${n}/`, type: "dir" }];
    for (let i = 0; i < 300; i++)
      members.push({ name: `d${n}/f${i}`, type: "file", data: Buffer.alloc(8192, 0x61 + n) });
    return { tar: writeTar(members) };
  });
  writeOciLayout(join(work.path, "image"), { tag: "t", layers });
});

const tmux = (...args: string[]) =>
  spawnSync("tmux", ["-S", socket, ...args], { encoding: "utf8" });

/** Runs `strata ARGS` in a detached pane of `columns`: what it drew, and what the pane shows. */
async function inPane(columns: number, args: string): Promise<{ raw: string; shown: string[] }> {
  const session = `s${columns}`;
  const raw = join(work.path, `${session}.raw`);
  const done = join(work.path, `${session}.done`);
  // The pane waits for pipe-pane before strata starts, and stays after it ends to be captured.
  const script = `sleep 0.5; "${BIN}" ${args}; touch "${done}"; sleep 60`;
  expect(
    tmux("new-session", "-d", "-s", session, "-x", String(columns), "-y", "20", script).status,
  ).toBe(0);
  tmux("pipe-pane", "-t", session, "-o", `cat >> "${raw}"`);
  for (let waited = 0; !existsSync(done); waited += 100) {
    if (waited > 60_000) throw new Error("strata did not finish in its pane");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const shown = tmux("capture-pane", "-p", "-t", session).stdout.split("\n").filter(Boolean);
  tmux("kill-session", "-t", session);
  return { raw: readFileSync(raw, "utf8"), shown };
}

describe.runIf(hasTmux)("progress in a real terminal (tmux)", () => {
  it.each([80, 40])(
    "%i columns: drawn in place, never wider than the pane, erased at the end",
    async (columns) => {
      const dest = join(work.path, `rootfs-${columns}`);
      const { raw, shown } = await inPane(columns, `unpack ${image} ${dest}`);
      // Each draw erases the row and writes one line; the last erase is followed by the summary.
      const segments = raw.split("\r\x1b[K").slice(1);
      const draws = segments.slice(0, -1);
      expect(segments.at(-1)).toMatch(/^unpacked /);
      expect(draws.filter((d) => d.startsWith("layer 3/3")).length).toBeGreaterThan(0);
      for (const draw of draws) {
        expect(draw, "a draw is one line").not.toMatch(/\n/);
        expect(draw.length, draw).toBeLessThan(columns);
      }
      // Erased: the pane shows the summary alone (a line that wrapped would have left a row).
      expect(shown).toHaveLength(Math.ceil((shown.join("").length + 1) / columns));
      expect(shown.join("")).toMatch(/^unpacked .*3 layers/);
      expect(shown.join("")).not.toContain("layer 3/3");
    },
    90_000,
  );
});
