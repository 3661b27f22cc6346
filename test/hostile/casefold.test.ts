import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTar, type TarMember } from "@strata-oci/layer";
import { writeOciLayout } from "@strata-oci/image";
import { canaryChanges, plantCanaries } from "./sandbox.js";

// Issue #9 class 1: containment must not depend on the filesystem mapping
// names to entries one to one. A case-insensitive FUSE passthrough (the
// kernel here has no CONFIG_UNICODE, so no ext4/tmpfs casefold) stands in for
// casefold ext4, CIFS and folding FUSE filesystems.
const BIN = join(import.meta.dirname, "..", "..", "packages", "strata", "bin", "strata.js");
const FS = join(import.meta.dirname, "..", "support", "casefold-fs.py");
const PYTHON = "/usr/bin/python3";

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to mount FUSE";
  if (!existsSync("/dev/fuse")) return "no /dev/fuse";
  if (spawnSync(PYTHON, ["-c", "import fusepy"]).status !== 0)
    return "needs Debian's python3-fusepy (test/install-tools.sh installs it)";
  return undefined;
}
const skip = whyNot();

const file = (name: string, data = "owned\n"): TarMember => ({ name, type: "file", data });
const dir = (name: string): TarMember => ({ name, type: "dir" });
const link = (name: string, target: string): TarMember => ({
  name,
  type: "symlink",
  linkname: target,
});

describe.skipIf(skip !== undefined)(
  `case-insensitive destination${skip === undefined ? "" : ` (skipped: ${skip})`}`,
  () => {
    let root = "";
    let mnt = "";
    let fuse: ChildProcess | undefined;

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), "strata-casefold-"));
      mnt = join(root, "mnt");
      mkdirSync(join(root, "backing"));
      mkdirSync(mnt);
      fuse = spawn(PYTHON, [FS, join(root, "backing"), mnt], { stdio: "ignore" });
      for (let i = 0; i < 200; i++) {
        if (readFileSync("/proc/self/mounts", "utf8").includes(` ${mnt} `)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      mkdirSync(join(mnt, "probe"));
      // The stand-in folds case, or this test proves nothing.
      expect(lstatSync(join(mnt, "PROBE")).isDirectory()).toBe(true);
      rmSync(join(mnt, "probe"), { recursive: true });
    });

    afterAll(async () => {
      spawnSync("umount", [mnt]);
      fuse?.kill();
      rmSync(root, { recursive: true, force: true });
    });

    const cases: ReadonlyArray<{ name: string; layers: (outside: string) => TarMember[][] }> = [
      {
        name: "dir cid, symlink CID -> outside, file cid/pwned (one layer)",
        layers: (o) => [[dir("cid"), link("CID", o), file("cid/pwned")]],
      },
      {
        name: "dir cid in layer 1; symlink CID -> outside and file cid/pwned in layer 2",
        layers: (o) => [
          [dir("cid"), file("cid/keep")],
          [link("CID", o), file("cid/pwned")],
        ],
      },
      {
        name: "nested: dir a/sub, symlink A -> outside, file a/sub/pwned",
        layers: (o) => [[dir("a"), dir("a/sub"), link("A", o), file("a/sub/pwned")]],
      },
      {
        name: "a hardlink through the folded name",
        layers: (o) => [
          [
            dir("cid"),
            file("cid/f"),
            link("CID", o),
            { name: "h", type: "hardlink", linkname: "cid/file" },
          ],
        ],
      },
    ];

    for (const [i, c] of cases.entries()) {
      it(c.name, () => {
        const work = join(root, `case${i}`);
        const outside = join(work, "outside");
        const canaries = plantCanaries([outside]);
        writeOciLayout(join(work, "image"), {
          layers: c.layers(outside).map((members) => ({ tar: writeTar(members) })),
          tag: "t",
        });
        const dest = join(mnt, `dest${i}`);
        const result = spawnSync(
          process.execPath,
          [BIN, "unpack", "--quiet", `oci:${join(work, "image")}:t`, dest],
          { encoding: "utf8" },
        );
        expect(result.stderr).not.toContain("unexpected error");
        expect(canaryChanges(canaries)).toEqual([]);
        expect(readdirSync(outside).sort()).toEqual(["file", "link", "sub"]);
        expect(readdirSync(join(outside, "sub"))).toEqual(["inner"]);
        expect(lstatSync(join(outside, "file")).nlink).toBe(1);
        if (result.status === 0) {
          // The write landed inside DEST, below the symlink's target taken from DEST's root.
          expect(
            lstatSync(join(dest, c.name.startsWith("nested") ? "a" : "cid")).isSymbolicLink(),
          ).toBe(true);
        } else {
          expect(result.stderr).toMatch(/code: STRATA_[A-Z_]+/);
          expect(existsSync(dest)).toBe(false);
        }
      });
    }
  },
);
