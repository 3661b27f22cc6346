// One --json shape for every command that acts on an image (README, "JSON
// results"): `command`, the `image` read (manifest a descriptor object,
// layers a list of objects), then what the command made, its descriptors
// objects too. A script reads `.image.manifest.digest` the same way from
// each (#23: `.manifest` was a digest string in unpack and pull, an object
// elsewhere; `.layers` a number, a list of digests or of objects).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/layers.js";

const BIN = join(import.meta.dirname, "..", "bin", "strata");
const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const work = tempDir("strata-json-");
afterAll(() => work.remove());

function json(...args: string[]): Record<string, any> {
  const run = spawnSync(BIN, [...args, "--json"], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Record<string, any>;
}

const descriptor = {
  mediaType: expect.stringMatching(/^application\//),
  digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
  size: expect.any(Number),
};
const imageRead = {
  reference: SAMPLE,
  transport: "oci",
  platform: "linux/amd64",
  manifest: descriptor,
  config: expect.stringMatching(/^sha256:/),
  layers: [
    { ...descriptor, diffId: expect.stringMatching(/^sha256:/) },
    { ...descriptor, diffId: expect.stringMatching(/^sha256:/) },
    { ...descriptor, diffId: expect.stringMatching(/^sha256:/) },
  ],
};

describe("--json results", () => {
  it("unpack, bundle, squash, repack and copy print { command, image, ...what they made }", () => {
    const rootfs = join(work.path, "rootfs");
    expect(json("unpack", SAMPLE, rootfs)).toMatchObject({
      command: "unpack",
      image: imageRead,
      dest: rootfs,
      entries: expect.any(Number),
      warnings: expect.any(Array),
    });
    expect(json("bundle", SAMPLE, join(work.path, "bundle"))).toMatchObject({
      command: "bundle",
      image: imageRead,
      config: { ociVersion: expect.any(String), process: expect.any(Object) },
    });
    const squashed = json("squash", SAMPLE, `oci:${join(work.path, "squashed")}:s`);
    expect(squashed).toMatchObject({
      command: "squash",
      image: imageRead,
      destination: `oci:${join(work.path, "squashed")}:s`,
      manifest: descriptor,
      layer: { ...descriptor, diffId: expect.any(String) },
    });
    mkdirSync(join(rootfs, "new"));
    writeFileSync(join(rootfs, "new", "file"), "x\n");
    expect(json("repack", SAMPLE, rootfs, `oci:${join(work.path, "repacked")}:r`)).toMatchObject({
      command: "repack",
      image: imageRead,
      manifest: descriptor,
      layer: { ...descriptor, diffId: expect.any(String) },
    });
    expect(json("copy", SAMPLE, `oci:${join(work.path, "copied")}:c`)).toMatchObject({
      command: "copy",
      image: imageRead,
      manifest: descriptor,
      blobs: { sent: 4, present: 0, mounted: 0, bytes: expect.any(Number) },
    });
  });
});
