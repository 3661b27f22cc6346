// A FILE strata writes whole (export's and diff's tar, an archive, a record,
// analyse's page) is made under a temporary name and renamed over FILE. Run
// as root, `-o /dev/full` turned the device into a regular file, and a
// symlink was replaced instead of the file it names being written. Now a
// directory, device, FIFO, socket or dangling symlink at FILE is refused
// before anything is written, and a symlink to a file writes that file.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "@strata-oci/testing";
import { withTmpfs } from "../../../test/support/tmpfs.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "packages", "strata", "bin", "strata.js");
const SAMPLE = `oci:${join(ROOT, "fixtures", "sample", "oci")}:sample`;
const work = tempDir("strata-special-outputs-");
afterAll(() => work.remove());
const privileged = process.geteuid?.() === 0;

function strata(...args: string[]): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", cwd: work.path });
  return { status: run.status, stderr: run.stderr };
}

/** What a path is, and which inode: to see that a refused command left it alone. */
function identity(path: string): string {
  const stats = lstatSync(path);
  const kind = stats.isFIFO()
    ? "fifo"
    : stats.isCharacterDevice()
      ? "char"
      : stats.isDirectory()
        ? "dir"
        : stats.isSymbolicLink()
          ? `link -> ${readlinkSync(path)}`
          : "file";
  return `${kind} ${stats.ino}`;
}

const special = (): Record<string, string> => {
  const dir = join(work.path, `specials-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const at = (name: string): string => join(dir, name);
  expect(spawnSync("mkfifo", [at("fifo")]).status).toBe(0);
  mkdirSync(at("dir"));
  symlinkSync("nothing-here", at("dangling"));
  if (privileged) expect(spawnSync("mknod", [at("device"), "c", "1", "3"]).status).toBe(0);
  return {
    fifo: at("fifo"),
    dir: at("dir"),
    dangling: at("dangling"),
    ...(privileged ? { device: at("device") } : {}),
  };
};

describe("a FILE that is not a regular file is refused, left as it was (#24 follow-up)", () => {
  it("export, diff, copy and squash to archives, unpack --record, analyse --html", () => {
    const places = special();
    const rootfs = join(work.path, "rootfs");
    mkdirSync(rootfs);
    const commands = (file: string): string[][] => [
      ["export", "-q", SAMPLE, "-o", file],
      ["diff", "-q", SAMPLE, rootfs, "-o", file],
      ["copy", "-q", SAMPLE, `docker-archive:${file}`],
      ["squash", "-q", SAMPLE, `oci-archive:${file}`],
      ["unpack", "-q", "--record", file, SAMPLE, join(work.path, "never-unpacked")],
      ["analyse", "-q", "--html", file, SAMPLE],
    ];
    for (const [name, file] of Object.entries(places)) {
      const before = identity(file);
      for (const args of commands(file)) {
        const run = strata(...args);
        expect({ name, args: args[0], status: run.status }).toEqual({
          name,
          args: args[0],
          status: 1,
        });
        expect(run.stderr).toContain("code: STRATA_BAD_DESTINATION");
        expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
        expect(identity(file)).toBe(before);
      }
    }
    expect(existsSync(join(work.path, "never-unpacked"))).toBe(false);
  });

  it.skipIf(!privileged)(
    "unpack --record into a directory that cannot be written: refused before unpacking, no DEST",
    () => {
      withTmpfs(join(work.path, "read-only"), "ro,size=1m", (readOnly) => {
        const dest = join(work.path, "not-unpacked");
        const run = strata("unpack", "-q", "--record", join(readOnly, "rec"), SAMPLE, dest);
        expect(run.status).toBe(1);
        expect(run.stderr).toContain("code: STRATA_BAD_RECORD");
        expect(run.stderr).toContain("EROFS");
        expect(existsSync(dest)).toBe(false);
      });
    },
  );

  it.skipIf(!privileged)(
    "repack --record whose record cannot be written back: refused before the new image is made",
    () => {
      withTmpfs(join(work.path, "records"), "size=1m", (records) => {
        const rootfs = join(work.path, "repack-rootfs");
        const record = join(records, "rec");
        const unpacked = strata("unpack", "-q", "--record", record, SAMPLE, rootfs);
        expect(unpacked.status, unpacked.stderr).toBe(0);
        expect(spawnSync("mount", ["-o", "remount,ro", records]).status).toBe(0);
        writeFileSync(join(rootfs, "added.txt"), "new\n");
        const out = join(work.path, "repacked");
        const run = strata("repack", "-q", "--record", record, SAMPLE, rootfs, `oci:${out}:t`);
        expect(run.status).toBe(1);
        expect(run.stderr).toContain("code: STRATA_BAD_RECORD");
        expect(run.stderr).toContain("EROFS");
        expect(existsSync(out)).toBe(false);
      });
    },
  );

  it("through a symlink to a file, that file is written; the link stays a link", () => {
    const dir = join(work.path, "linked");
    mkdirSync(dir);
    writeFileSync(join(dir, "real.tar"), "old\n");
    symlinkSync("real.tar", join(dir, "link.tar"));
    const run = strata("export", "-q", SAMPLE, "-o", join(dir, "link.tar"));
    expect(run.status, run.stderr).toBe(0);
    expect(identity(join(dir, "link.tar"))).toMatch(/^link -> real\.tar /);
    const listed = spawnSync("tar", ["-tf", join(dir, "real.tar")], { encoding: "utf8" });
    expect(listed.stdout).toContain("usr/bin/hello");
  });
});
