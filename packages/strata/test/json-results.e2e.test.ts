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
import { checkedResult } from "../../../test/support/result-schema.js";

const BIN = join(import.meta.dirname, "..", "bin", "strata");
const SAMPLE = `oci:${join(import.meta.dirname, "..", "..", "..", "fixtures", "sample", "oci")}:sample`;
const work = tempDir("strata-json-");
afterAll(() => work.remove());

/** The command's --json result, checked against the schema (schema/result.schema.json). */
function json(...args: string[]): Record<string, any> {
  const run = spawnSync(BIN, [...args, "--json"], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  return checkedResult(run.stdout);
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

  it("every command's --json is one result the schema describes, schemaVersion 1 (#23.3)", () => {
    const root = process.getuid?.() === 0;
    const store = join(work.path, "store");
    const results = [
      json("inspect", SAMPLE),
      json("ls", SAMPLE),
      json("ls", "-R", SAMPLE, "/etc"),
      json("referrers", SAMPLE),
      json("unpack", "--store", store, SAMPLE),
      json("store", "ls", "--store", store),
      json("store", "du", "--store", store),
      json("store", "rm", "--store", store, SAMPLE),
      json("store", "gc", "--store", store),
    ];
    if (root) {
      // Mounts need the kernel's overlayfs (as root here; the store tests cover rootless).
      const target = join(work.path, "mnt");
      mkdirSync(target);
      results.push(json("mount", "--store", store, "--writable", SAMPLE, target));
      spawnSync(BIN, ["umount", target]);
      results.push(json("bundle", "--store", store, SAMPLE, join(work.path, "stored-bundle")));
      spawnSync(BIN, ["umount", join(work.path, "stored-bundle", "rootfs")]);
    }
    expect(results.map((r) => [r.command, r.schemaVersion])).toEqual([
      ["inspect", 1],
      ["ls", 1],
      ["ls", 1],
      ["referrers", 1],
      ["unpack", 1],
      ["store ls", 1],
      ["store du", 1],
      ["store rm", 1],
      ["store gc", 1],
      ...(root
        ? [
            ["mount", 1],
            ["bundle", 1],
          ]
        : []),
    ]);
    expect(results[1]?.entries.map((e: { path: string }) => e.path)).toContain("etc");
    expect(results[8]?.removed).toHaveLength(3);
  });

  it("the schema catches a result that drifts from it", () => {
    const result = json("unpack", SAMPLE, join(work.path, "drift"));
    for (const drifted of [
      { ...result, entries: "26" },
      { ...result, newField: 1 },
      { ...result, schemaVersion: 2 },
      { ...result, image: { ...result.image, manifest: result.image.manifest.digest } },
    ])
      expect(() => checkedResult(JSON.stringify(drifted))).toThrow();
  });
});
