// The command in a pipeline whose reader stops early (`| head`), as GNU tools
// are used: each ends quietly with the status SIGPIPE gives (141), never with
// Node's error dump or "internal error" (exit 70), and leaves nothing behind.
// And a tar command whose stdout is redirected needs no `-o -`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "@strata-oci/image";
import { writeTar, type TarMember } from "@strata-oci/layer";
import { tempDir } from "../../../test/support/layers.js";

const BIN = join(import.meta.dirname, "..", "bin", "strata");
const work = tempDir("strata-pipes-");
const image = `oci:${join(work.path, "big")}:big`;
afterAll(() => work.remove());

beforeAll(() => {
  // Far more than a pipe holds (64 KiB): 4,000 names for ls, 4 MB of file bytes for cat and export.
  const members: TarMember[] = [{ name: "many/", type: "dir" }];
  for (let i = 0; i < 4000; i++)
    members.push({
      name: `many/file-with-a-long-name-${String(i).padStart(5, "0")}`,
      type: "file",
    });
  members.push({ name: "big.bin", type: "file", data: Buffer.alloc(4 << 20, 0x61) });
  writeOciLayout(join(work.path, "big"), { tag: "big", layers: [{ tar: writeTar(members) }] });
});

/** `strata ARGS | head -c 100` in bash: strata's status, what head got, strata's stderr. */
function piped(args: string): { status: number; bytes: number; stderr: string } {
  const script = `"${BIN}" ${args} 2>"${work.path}/err" | head -c 100 | wc -c; echo "\${PIPESTATUS[0]}"`;
  const run = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  const [bytes, status] = run.stdout.trim().split("\n").map(Number);
  const stderr = spawnSync("cat", [`${work.path}/err`], { encoding: "utf8" }).stdout;
  return { status: status as number, bytes: bytes as number, stderr };
}

/** stderr without the lines of progress a command prints off a terminal: what it complained. */
function complaints(stderr: string): string {
  return stderr.replace(/^strata: (files of )?layer \d+\/\d+ sha256:\S+ read: .*\n/gm, "");
}

describe("strata in a pipeline that closes early", () => {
  it.each([
    ["ls -R", `ls -R ${image}`],
    ["ls -R --json", `ls -R --json ${image}`],
    ["cat", `cat ${image} /big.bin`],
    ["export -o -", `export ${image} -o -`],
    ["export with stdout redirected and no -o", `export ${image}`],
  ])("%s ends with 141 and says nothing", (_name, args) => {
    const { status, bytes, stderr } = piped(args);
    expect(bytes).toBe(100);
    expect(complaints(stderr)).toBe("");
    expect(status).toBe(141);
  });

  it("diff of an image against a tree removes the unpacked LOWER when its reader goes away", () => {
    const upper = join(work.path, "upper");
    expect(spawnSync(BIN, ["unpack", image, upper]).status).toBe(0);
    const { status, stderr } = piped(`diff -q ${image} ${upper}`);
    expect(stderr).toBe("");
    // The trees are equal: the layer is the end-of-archive blocks alone, written before head
    // closes; whichever way the race goes, no scratch directory stays.
    expect([0, 141]).toContain(status);
    expect(readdirSync(work.path).filter((name) => name.startsWith(".strata-diff-"))).toEqual([]);
  });

  it("a tar command on a terminal still asks where the tar goes", () => {
    // `script` gives the command a real terminal for stdout.
    const run = spawnSync("script", ["-qec", `"${BIN}" export ${image}`, "/dev/null"], {
      encoding: "utf8",
    });
    expect(run.stdout).toContain("say where the tar goes");
    expect(run.status).toBe(2);
  });

  it("on a terminal, ls -R shows which layer it reads, clears it, then lists (#23)", () => {
    const run = spawnSync("script", ["-qec", `"${BIN}" ls -R ${image}`, "/dev/null"], {
      encoding: "utf8",
    });
    expect(run.status).toBe(0);
    const shown = run.stdout.indexOf("layer 1/1 sha256:");
    const cleared = run.stdout.lastIndexOf("\r\x1b[K");
    expect(shown).toBeGreaterThan(-1);
    expect(cleared).toBeGreaterThan(shown);
    expect(run.stdout.indexOf("/many/file-with-a-long-name-00000")).toBeGreaterThan(cleared);
    const quiet = spawnSync("script", ["-qec", `"${BIN}" ls --json ${image}`, "/dev/null"], {
      encoding: "utf8",
    });
    expect(quiet.stdout).not.toContain("layer 1/1");
  });

  it("off a terminal, a line per finished step on stderr; nothing with -q (#23)", () => {
    const tar = join(work.path, "steps.tar");
    const run = spawnSync(BIN, ["export", image, "-o", tar], { encoding: "utf8" });
    expect(run.status).toBe(0);
    // The layer is read once: its tree and the bytes of its files on the same pass.
    expect(run.stderr).toMatch(
      /^strata: layer 1\/1 sha256:[0-9a-f]{12} read: [\d.]+ [kM]B, 4002 entries\n/,
    );
    expect(run.stderr.match(/ read: /g)).toHaveLength(1);
    expect(complaints(run.stderr)).toBe("");
    const squashed = spawnSync(BIN, ["squash", image, `oci:${join(work.path, "sq")}:s`], {
      encoding: "utf8",
    });
    expect(squashed.stderr).toMatch(/^strata: layer 1\/1 .* read: /);
    expect(squashed.stderr).not.toMatch(/files of/);
    for (const args of [
      ["export", "-q", image, "-o", tar],
      ["squash", "--quiet", image, `oci:${join(work.path, "sq")}:s`],
      ["ls", "-q", "-R", image],
    ]) {
      const quiet = spawnSync(BIN, args, { encoding: "utf8" });
      expect({ args, status: quiet.status, stderr: quiet.stderr }).toEqual({
        args,
        status: 0,
        stderr: "",
      });
    }
  });

  it("a write to a full device is STRATA_NO_SPACE, not a crash", () => {
    if (statSync("/dev/full", { throwIfNoEntry: false }) === undefined) return;
    const run = spawnSync("bash", ["-c", `"${BIN}" cat ${image} /big.bin > /dev/full`], {
      encoding: "utf8",
    });
    expect(run.stderr).toContain("code: STRATA_NO_SPACE");
    expect(run.status).toBe(1);
  });
});
