import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeTar, type TarMember } from "@strata-oci/layer";
import { diffSnapshots, snapshotDisk } from "@strata-oci/testing";
import { openImage } from "@strata-oci/image";
import { unpack } from "@strata-oci/core";
import { tempDir } from "../../../test/support/layers.js";

const work = tempDir("strata-archive-");
afterAll(() => work.remove());

function hex(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hasSkopeo(): boolean {
  try {
    execFileSync("skopeo", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A docker-archive as `docker save` before Docker 25 writes it: <id>/layer.tar and <hex>.json. */
function legacyArchive(
  file: string,
  images: Array<{ tags: string[]; layers: TarMember[][] }>,
  extra: TarMember[] = [],
): void {
  const members: TarMember[] = [...extra];
  const manifest = images.map((image, n) => {
    const tars = image.layers.map((l) => writeTar(l));
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: {},
        rootfs: { type: "layers", diff_ids: tars.map((t) => `sha256:${hex(t)}`) },
        n,
      }),
    );
    const layerNames = tars.map(
      (t, i) => `${hex(Buffer.concat([t, Buffer.from([n, i])]))}/layer.tar`,
    );
    tars.forEach((t, i) => members.push({ name: layerNames[i] ?? "", type: "file", data: t }));
    members.push({ name: `${hex(config)}.json`, type: "file", data: config });
    return { Config: `${hex(config)}.json`, RepoTags: image.tags, Layers: layerNames };
  });
  members.push({ name: "manifest.json", type: "file", data: JSON.stringify(manifest) });
  writeFileSync(file, writeTar(members));
}

describe("docker-archive", () => {
  it.skipIf(!hasSkopeo())(
    "unpacks an archive written by skopeo to the same tree as the OCI layout it came from",
    async () => {
      const archive = join(work.path, "sample.tar");
      execFileSync("skopeo", [
        "copy",
        "--quiet",
        "oci:fixtures/sample/oci:sample",
        `docker-archive:${archive}:strata/sample:latest`,
      ]);
      await unpack({ image: `docker-archive:${archive}`, dest: join(work.path, "from-archive") });
      await unpack({
        image: "oci:fixtures/sample/oci:sample",
        dest: join(work.path, "from-layout"),
      });
      expect(
        diffSnapshots(
          snapshotDisk(join(work.path, "from-layout")),
          snapshotDisk(join(work.path, "from-archive")),
        ),
      ).toEqual([]);
    },
  );

  it(
    "reads legacy <id>/layer.tar archives, picks by RepoTag, and lists the tags when " +
      "ambiguous",
    async () => {
      const file = join(work.path, "two.tar");
      legacyArchive(file, [
        { tags: ["a:1"], layers: [[{ name: "one", type: "file", data: "1" }]] },
        {
          tags: ["b:2"],
          layers: [[{ name: "two", type: "file", data: "2" }], [{ name: ".wh.two", type: "file" }]],
        },
      ]);
      await expect(openImage({ image: file })).rejects.toMatchObject({
        code: "STRATA_AMBIGUOUS_MANIFEST",
        hint: expect.stringContaining("b:2"),
      });
      const image = await openImage({ image: `docker-archive:${file}:b:2` });
      expect(image.layers).toHaveLength(2);
      expect(image.layers[0]?.digest).toBeUndefined();
      const dest = join(work.path, "b");
      await unpack({ image: `docker-archive:${file}:b:2`, dest });
      expect([...snapshotDisk(dest).keys()]).toEqual([""]);
    },
  );

  it("ignores a broken index.json inside a Docker 25 archive and reads manifest.json", async () => {
    const file = join(work.path, "broken-index.tar");
    legacyArchive(
      file,
      [{ tags: ["c:3"], layers: [[{ name: "f", type: "file", data: "x" }]] }],
      [
        { name: "oci-layout", type: "file", data: '{"imageLayoutVersion":"1.0.0"}' },
        { name: "index.json", type: "file", data: "{ broken" },
      ],
    );
    const image = await openImage({ image: `docker-archive:${file}` });
    expect(image.layers).toHaveLength(1);
  });

  it("checks the layer against its diff_id", async () => {
    const file = join(work.path, "lying.tar");
    legacyArchive(file, [{ tags: ["d:4"], layers: [[{ name: "f", type: "file", data: "x" }]] }]);
    const image = await openImage({ image: file });
    const layer = image.layers[0];
    if (layer === undefined) throw new Error("no layer");
    const lying = { ...layer, diffId: `sha256:${"0".repeat(64)}` };
    const { readLayer } = await import("@strata-oci/layer");
    const drain = async () => {
      for await (const entry of readLayer(lying)) void entry;
    };
    await expect(drain()).rejects.toMatchObject({ code: "STRATA_DIGEST_MISMATCH" });
  });

  it(
    "#9, #26.13: a config whose bytes do not match the digest its name carries opens under " +
      "the digest of its bytes, with a warning",
    async () => {
      const file = join(work.path, "bad-config.tar");
      legacyArchive(file, [
        { tags: ["a:1"], layers: [[{ name: "one", type: "file", data: "1" }]] },
      ]);
      const tar = readFileSync(file);
      // Change one byte of the config's JSON ("n":0 -> "n":1) without renaming it.
      const at = tar.indexOf(Buffer.from('"n":0'));
      tar[at + 4] = "1".charCodeAt(0);
      writeFileSync(file, tar);
      const image = await openImage({ image: file });
      expect(image.sourceWarnings).toHaveLength(1);
      expect(image.configDigest).not.toBe(
        `sha256:${/"Config":"([0-9a-f]{64})\.json"/.exec(tar.toString("latin1"))?.[1]}`,
      );
    },
  );

  it(
    "#9: takes the config digest from the content when the name is not a digest; follows a " +
      "linked layer.tar",
    async () => {
      const layerTar = writeTar([{ name: "shared", type: "file", data: "s" }]);
      const config = Buffer.from(
        JSON.stringify({
          architecture: "amd64",
          os: "linux",
          rootfs: {
            type: "layers",
            diff_ids: [`sha256:${hex(layerTar)}`, `sha256:${hex(layerTar)}`],
          },
        }),
      );
      const file = join(work.path, "linked.tar");
      writeFileSync(
        file,
        writeTar([
          { name: "aaa/layer.tar", type: "file", data: layerTar },
          { name: "bbb/layer.tar", type: "symlink", linkname: "../aaa/layer.tar" },
          { name: "config-not-a-digest.json", type: "file", data: config },
          {
            name: "manifest.json",
            type: "file",
            data: JSON.stringify([
              {
                Config: "config-not-a-digest.json",
                RepoTags: ["x:1"],
                Layers: ["aaa/layer.tar", "bbb/layer.tar"],
              },
            ]),
          },
        ]),
      );
      const image = await openImage({ image: file });
      expect(image.configDigest).toBe(`sha256:${hex(config)}`);
      const dest = join(work.path, "linked");
      await unpack({ image: file, dest });
      expect([...snapshotDisk(dest).keys()].sort()).toEqual(["", "shared"]);
    },
  );

  it("#9: a file that is not a tar is refused with a typed error", async () => {
    const file = join(work.path, "not-a-tar");
    writeFileSync(file, "this is not a tar archive at all\n".repeat(40));
    await expect(openImage({ image: file })).rejects.toMatchObject({ code: "STRATA_BAD_IMAGE" });
  });
});

// Issue #26.13: go-containerregistry's source_image_with_empty_layer_history.tar names its config
// for a
// digest its bytes do not hash to; skopeo and docker load take it (file names are not verified
// claims).
describe("docker-archive file names are not claims", () => {
  it(
    "a config named for another digest opens, with the digest of its bytes and " + "a warning",
    async () => {
      const file = join(work.path, "misnamed.tar");
      const tar = writeTar([{ name: "hello", type: "file", data: "hi" }]);
      const config = Buffer.from(
        JSON.stringify({
          architecture: "amd64",
          os: "linux",
          config: {},
          rootfs: { type: "layers", diff_ids: [`sha256:${hex(tar)}`] },
        }),
      );
      const wrong = "0".repeat(64);
      writeFileSync(
        file,
        writeTar([
          { name: `blobs/sha256/${wrong}`, type: "file", data: config },
          { name: `blobs/sha256/${hex(tar)}`, type: "file", data: tar },
          {
            name: "manifest.json",
            type: "file",
            data: JSON.stringify([
              {
                Config: `blobs/sha256/${wrong}`,
                RepoTags: ["x:1"],
                Layers: [`blobs/sha256/${hex(tar)}`],
              },
            ]),
          },
        ]),
      );
      const image = await openImage({ image: `docker-archive:${file}` });
      expect(image.configDigest).toBe(`sha256:${hex(config)}`);
      expect(image.sourceWarnings?.map((w) => w.detail)).toEqual([
        expect.stringContaining(`named for sha256:${wrong}`),
      ]);
      const unpacked = await unpack({
        image: `docker-archive:${file}`,
        dest: join(work.path, "misnamed-dest"),
      });
      expect(unpacked.warnings.map((w) => w.kind)).toContain("spec-deviation");
      expect(readFileSync(join(work.path, "misnamed-dest", "hello"), "utf8")).toBe("hi");
    },
  );
});
