// Issue #26.4: the build loop's own inputs and outputs. An output that
// would land in what the command reads, a record that is a FIFO, a device
// or names no path a tree can hold, a SOURCE_DATE_EPOCH that is no time:
// each refused typed before any harm, none waited on.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSourceDateEpoch, repack, squash } from "@strata-oci/build";
import { readTreeRecord, unpack } from "@strata-oci/core";
import { tempDir, writeStackImage } from "@strata-oci/testing";

const BIN = join(import.meta.dirname, "..", "..", "strata", "bin", "strata.js");
const work = tempDir("strata-build-hostile-");
afterAll(() => work.remove());
let n = 0;
const fresh = (name: string): string => join(work.path, `${name}-${n++}`);

function strata(
  args: string[],
  stdout: "pipe" | number = "pipe",
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    timeout: 30_000,
    stdio: ["ignore", stdout, "pipe"],
  });
  return { status: run.status, stdout: run.stdout ?? "", stderr: run.stderr };
}

function expectRefused(run: { status: number | null; stderr: string }, code: string): void {
  expect(run.stderr).not.toContain("internal error");
  expect(run.stderr).toContain(`code: ${code}`);
  expect(run.status).toBe(1);
}

/** An image, and its flat unpack with a record. */
async function unpacked(): Promise<{
  image: string;
  layout: string;
  rootfs: string;
  record: string;
}> {
  const layout = fresh("image");
  const image = writeStackImage(
    layout,
    [
      [
        { name: "etc/", type: "dir" },
        { name: "etc/a", type: "file", data: "a\n" },
      ],
    ],
    "t",
  );
  const rootfs = fresh("rootfs");
  const record = `${rootfs}.record`;
  await unpack({ image, dest: rootfs, record });
  return { image, layout, rootfs, record };
}

const blobsOf = (layout: string): string[] =>
  readdirSync(join(layout, "blobs", "sha256")).map((name) => join(layout, "blobs", "sha256", name));
const intact = (file: string): boolean =>
  createHash("sha256").update(readFileSync(file)).digest("hex") === file.split("/").pop();

describe("outputs inside what the command reads", () => {
  it(
    "diff -o UPPER/out.tar is refused (its own temporary file would go into the layer); " +
      "nothing is left in UPPER",
    async () => {
      const { rootfs } = await unpacked();
      const lower = fresh("lower");
      mkdirSync(lower);
      expectRefused(
        strata(["diff", lower, rootfs, "-o", join(rootfs, "out.tar")]),
        "STRATA_BAD_DESTINATION",
      );
      expectRefused(
        strata(["diff", lower, rootfs, "-o", join(rootfs, "etc", "..", "etc", "out.tar")]),
        "STRATA_BAD_DESTINATION",
      );
      expect(readdirSync(rootfs).sort()).toEqual(["etc"]);
      expect(readdirSync(join(rootfs, "etc"))).toEqual(["a"]);
    },
  );

  it(
    "diff -o - redirected into UPPER leaves that file out of the layer, as GNU tar leaves " +
      "out its archive",
    async () => {
      const { rootfs } = await unpacked();
      const lower = fresh("lower");
      mkdirSync(lower);
      const out = openSync(join(rootfs, "out.tar"), "w");
      const run = strata(["diff", lower, rootfs, "-o", "-"], out);
      closeSync(out);
      expect(run.status, run.stderr).toBe(0);
      const listed = spawnSync("tar", ["-tf", join(rootfs, "out.tar")], {
        encoding: "utf8",
      }).stdout.split("\n");
      expect(listed).toContain("etc/a");
      expect(listed).not.toContain("out.tar");
    },
  );

  it(
    "export -o onto the image's own blob (or into its layout) is refused; stdout appended to " +
      "a blob is refused too; every blob stays intact",
    async () => {
      const { image, layout } = await unpacked();
      for (const blob of blobsOf(layout))
        expectRefused(strata(["export", image, "-o", blob]), "STRATA_BAD_DESTINATION");
      expectRefused(
        strata(["export", image, "-o", join(layout, "blobs", "new.tar")]),
        "STRATA_BAD_DESTINATION",
      );
      const blob = blobsOf(layout)[0] as string;
      const appended = openSync(blob, "a");
      const run = strata(["export", image, "-o", "-"], appended);
      closeSync(appended);
      expectRefused(run, "STRATA_BAD_DESTINATION");
      for (const file of blobsOf(layout)) expect(intact(file), file).toBe(true);
      expect(readdirSync(join(layout, "blobs"))).toEqual(["sha256"]);
    },
  );

  it("repack into a layout inside ROOTFS is refused before anything is written", async () => {
    const { image, rootfs } = await unpacked();
    await expect(
      repack({ image, rootfs, destination: `oci:${join(rootfs, "out")}:t` }),
    ).rejects.toMatchObject({ code: "STRATA_BAD_DESTINATION" });
    expect(existsSync(join(rootfs, "out"))).toBe(false);
  });
});

describe("records that are not records", () => {
  it(
    "--record naming a FIFO or /dev/zero is STRATA_BAD_RECORD at once, not a hang or a " +
      "growing read",
    async () => {
      const { image, rootfs } = await unpacked();
      const fifo = fresh("fifo");
      spawnSync("mkfifo", [fifo]);
      for (const record of [fifo, "/dev/zero", fresh("missing")]) {
        const started = Date.now();
        await expect(
          repack({ image, rootfs, destination: `oci:${fresh("out")}:t`, record }),
        ).rejects.toMatchObject({ code: "STRATA_BAD_RECORD" });
        expect(Date.now() - started, record).toBeLessThan(5000);
      }
    },
  );

  it(
    "a record whose names are '.', '..', empty or hold NUL is refused: repack never writes " +
      ".wh.. or etc/.wh.",
    async () => {
      const { record } = await unpacked();
      const text = readFileSync(record, "latin1");
      const hex = (name: string): string => Buffer.from(name, "latin1").toString("hex");
      const forged = (name: string): string => `${text}f 99 99 1 /${hex(name)}\n`;
      for (const name of ["etc/.", "etc/..", "etc//x", "etc/", "etc/a\0b", "/etc"]) {
        const file = fresh("forged");
        writeFileSync(file, forged(name), "latin1");
        expect(() => readTreeRecord(file), JSON.stringify(name)).toThrow(
          expect.objectContaining({ code: "STRATA_BAD_RECORD" }),
        );
      }
      const twice = fresh("twice");
      writeFileSync(twice, `${text}${text.split("\n").slice(1).join("\n")}`, "latin1");
      expect(() => readTreeRecord(twice)).toThrow(
        expect.objectContaining({ code: "STRATA_BAD_RECORD" }),
      );
      // The genuine one reads.
      expect(readTreeRecord(record).size).toBe(3);
    },
  );
});

describe("SOURCE_DATE_EPOCH", () => {
  it(
    "a value that is no time (garbage, negative, exponent, beyond a Date) is STRATA_BAD_OPTION " +
      "from the command's parser and from the library's sourceDateEpoch; whole seconds work",
    async () => {
      const { image, rootfs } = await unpacked();
      for (const value of ["abc", "-5", "1e9", "1.5", " 12", "99999999999999999", "8640000000001"])
        expect(() => parseSourceDateEpoch(value), value).toThrow(
          expect.objectContaining({ code: "STRATA_BAD_OPTION" }),
        );
      for (const epoch of [-5, 1.5, Number.NaN, 8640000000001, 2 ** 60]) {
        await expect(
          squash({ image, destination: `oci:${fresh("squashed")}:t`, sourceDateEpoch: epoch }),
          String(epoch),
        ).rejects.toMatchObject({ code: "STRATA_BAD_OPTION" });
        await expect(
          repack({
            image,
            rootfs,
            destination: `oci:${fresh("repacked")}:t`,
            sourceDateEpoch: epoch,
          }),
          String(epoch),
        ).rejects.toMatchObject({ code: "STRATA_BAD_OPTION" });
      }
      expect(parseSourceDateEpoch("1700000000")).toBe(1700000000);
      expect(parseSourceDateEpoch("")).toBeUndefined();
      const a = await squash({
        image,
        destination: `oci:${fresh("squashed")}:t`,
        sourceDateEpoch: 17e8,
      });
      const b = await squash({
        image,
        destination: `oci:${fresh("squashed")}:t`,
        sourceDateEpoch: 17e8,
      });
      expect(a.manifest.digest).toBe(b.manifest.digest);
      await squash({ image, destination: `oci:${fresh("squashed")}:t`, sourceDateEpoch: 8.64e12 });
    },
  );

  it("the command reads SOURCE_DATE_EPOCH and refuses a malformed one", async () => {
    const { image } = await unpacked();
    const bin = join(import.meta.dirname, "..", "..", "strata", "bin", "strata");
    const run = (value: string, out: string) =>
      spawnSync(bin, ["squash", "-q", image, `oci:${out}:t`], {
        encoding: "utf8",
        env: { ...process.env, SOURCE_DATE_EPOCH: value },
      });
    const [a, b] = [fresh("cli-a"), fresh("cli-b")];
    expect(run("1700000000", a).status).toBe(0);
    expect(run("1700000000", b).status).toBe(0);
    const digest = (dir: string) => readFileSync(join(dir, "index.json"), "utf8");
    expect(digest(a)).toBe(digest(b));
    const bad = run("1e9", fresh("cli-c"));
    expect(bad.stderr).toContain("STRATA_BAD_OPTION");
    expect(bad.status).toBe(1);
  });
});
