// oci-archive:FILE[:TAG] (#22): a tarball of an OCI layout, as skopeo and
// buildah write it, read in place and written whole (renamed over FILE when
// complete), checked against skopeo both ways.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspect, unpack } from "@strata-oci/core";
import { copyImage } from "@strata-oci/image";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";
import { tempDir } from "../../../test/support/layers.js";

const skopeo = spawnSync("sh", ["-c", "command -v skopeo"]).status === 0;
const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const work = tempDir("strata-oci-archive-");
afterAll(() => work.remove());

async function tree(image: string): Promise<ReturnType<typeof snapshotDisk>> {
  const dest = join(work.path, `tree-${Math.random().toString(36).slice(2)}`);
  await unpack({ image, dest });
  return snapshotDisk(dest);
}

describe.skipIf(!skopeo)("oci-archive", () => {
  it("reads skopeo's oci-archive in place: the same tree as the layout, the same manifest", async () => {
    const file = join(work.path, "by-skopeo.tar");
    const made = spawnSync("skopeo", ["copy", SAMPLE, `oci-archive:${file}:v1`], {
      encoding: "utf8",
    });
    expect(made.status, made.stderr).toBe(0);
    const image = `oci-archive:${file}:v1`;
    expect(diffSnapshots(await tree(SAMPLE), await tree(image))).toEqual([]);
    const summary = await inspect({ image });
    expect(summary.transport).toBe("oci-archive");
    expect(summary.manifest?.digest).toBe((await inspect({ image: SAMPLE })).manifest?.digest);
  });

  it("writes an oci-archive skopeo reads, and leaves nothing beside it", async () => {
    const file = join(work.path, "by-strata.tar");
    const copied = await copyImage({ image: SAMPLE, destination: `oci-archive:${file}:out` });
    expect(copied.sent).toBe(4);
    const read = spawnSync("skopeo", ["inspect", `oci-archive:${file}:out`], { encoding: "utf8" });
    expect(read.status, read.stderr).toBe(0);
    expect(diffSnapshots(await tree(SAMPLE), await tree(`oci-archive:${file}:out`))).toEqual([]);
    expect(readdirSync(work.path).filter((name) => name.includes(".strata-"))).toEqual([]);
  });

  it("a damaged layer in the archive is refused; a failed copy leaves no archive and no staging", async () => {
    const file = join(work.path, "damaged.tar");
    await copyImage({ image: SAMPLE, destination: `oci-archive:${file}:d` });
    const bytes = readFileSync(file);
    // The last layer's gzip trailer sits just before the archive's end blocks and padding.
    const manifest = (await inspect({ image: `oci-archive:${file}:d` })).layers.at(-1);
    const at = bytes.indexOf(Buffer.from(`blobs/sha256/${manifest?.digest?.slice(7)}`));
    expect(at).toBeGreaterThan(-1);
    bytes[at + 512 + 20] = (bytes[at + 512 + 20] as number) ^ 0xff;
    writeFileSync(file, bytes);
    await expect(
      unpack({ image: `oci-archive:${file}:d`, dest: join(work.path, "x") }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/DIGEST_MISMATCH|CORRUPT_LAYER/) });
    const target = join(work.path, "never.tar");
    await expect(
      copyImage({ image: `oci:${work.path}/no-layout:x`, destination: `oci-archive:${target}` }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^STRATA_/) });
    expect(readdirSync(work.path).filter((name) => name.includes("never"))).toEqual([]);
    // An archive in a directory that does not exist: typed, not an internal error.
    await expect(
      copyImage({ image: SAMPLE, destination: `oci-archive:${work.path}/no-such-dir/a.tar` }),
    ).rejects.toMatchObject({ code: "STRATA_FS_ERROR" });
  });
});
