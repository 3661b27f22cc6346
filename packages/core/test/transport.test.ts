// A new transport is one file and one registration: this one reads skopeo's
// `dir:` format (manifest.json, and each blob named by its hex digest) with
// the image package's public API only, and every command that takes an
// IMAGE then takes `dir:DIR` (unpack, the merged view, inspect), with the
// same digest checks as any other transport.
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  openImage,
  parseImageConfig,
  registerTransport,
  writeOciLayout,
  type ImageReference,
  type ImageTransport,
} from "@strata-oci/image";
import { writeTar, type Layer } from "@strata-oci/layer";
import { inspect, list, unpack } from "@strata-oci/core";
import { tempDir } from "../../../test/support/layers.js";

/** `DIR/HEX` for a blob `sha256:HEX`, as skopeo's dir: transport stores it. */
const blobFile = (dir: string, digest: string): string => join(dir, digest.split(":")[1] as string);

function dirReference(dir: string): ImageReference {
  const text = `dir:${dir}`;
  return {
    transport: "dir",
    files: [dir],
    format: () => text,
    canonical: () => `dir:${resolve(dir)}`,
    open() {
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      const configData = readFileSync(blobFile(dir, manifest.config.digest));
      const config = parseImageConfig(configData, manifest.layers.length);
      const layers: Layer[] = manifest.layers.map(
        (d: { digest: string; size: number; mediaType: string }, i: number) => ({
          digest: d.digest,
          size: d.size,
          mediaType: d.mediaType,
          diffId: config.diffIds[i],
          open: async () => createReadStream(blobFile(dir, d.digest)),
          locate: async () => ({ path: blobFile(dir, d.digest), start: 0, end: undefined }),
        }),
      );
      return {
        reference: text,
        transport: "dir",
        choices: [],
        manifest: undefined,
        configDigest: manifest.config.digest,
        config,
        layers,
        indexes: [],
        details: undefined,
      };
    },
  };
}

const dirTransport: ImageTransport = {
  name: "dir",
  syntax: "DIR",
  parse: (rest) => dirReference(rest),
};

const work = tempDir("strata-dir-transport-");
const dir = join(work.path, "image");
afterAll(() => work.remove());

beforeAll(() => {
  registerTransport(dirTransport);
  // An image in skopeo's dir: format, made from an OCI layout's blobs.
  const layout = join(work.path, "layout");
  const tar = writeTar([
    { name: "etc/", type: "dir" },
    { name: "etc/hostname", type: "file", data: "dir-transport\n" },
  ]);
  writeOciLayout(layout, { tag: "t", layers: [{ tar }] });
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const manifestDigest: string = index.manifests[0].digest;
  const blobs = join(layout, "blobs", "sha256");
  const manifest = readFileSync(join(blobs, manifestDigest.slice(7)));
  mkdirSync(dir);
  writeFileSync(join(dir, "manifest.json"), manifest);
  writeFileSync(join(dir, "version"), "Directory Transport Version: 1.1\n");
  const parsed = JSON.parse(manifest.toString());
  for (const digest of [parsed.config.digest, ...parsed.layers.map((l: Layer) => l.digest)])
    writeFileSync(blobFile(dir, digest), readFileSync(join(blobs, digest.slice(7))));
});

describe("a transport registered from outside: dir:", () => {
  it("openImage, unpack, ls and inspect take dir:DIR", async () => {
    const image = await openImage({ image: `dir:${dir}` });
    expect(image.source.transport).toBe("dir");
    expect(image.layers).toHaveLength(1);
    const dest = join(work.path, "rootfs");
    await unpack({ image: `dir:${dir}`, dest });
    expect(readFileSync(join(dest, "etc/hostname"), "utf8")).toBe("dir-transport\n");
    const listed = await list({ image: `dir:${dir}`, recursive: true });
    const names = listed.entries.map((e) => e.path);
    expect(names).toContain("etc/hostname");
    expect((await inspect({ image: `dir:${dir}` })).transport).toBe("dir");
  });

  it("a damaged blob is refused as from any other transport", async () => {
    const damaged = join(work.path, "damaged");
    mkdirSync(damaged);
    for (const name of ["manifest.json", "version"])
      writeFileSync(join(damaged, name), readFileSync(join(dir, name)));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    writeFileSync(
      blobFile(damaged, manifest.config.digest),
      readFileSync(blobFile(dir, manifest.config.digest)),
    );
    const layer = readFileSync(blobFile(dir, manifest.layers[0].digest));
    layer[layer.length - 9] = (layer[layer.length - 9] as number) ^ 0xff;
    writeFileSync(blobFile(damaged, manifest.layers[0].digest), layer);
    await expect(
      unpack({ image: `dir:${damaged}`, dest: join(work.path, "x") }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/^STRATA_(DIGEST_MISMATCH|CORRUPT_LAYER)$/),
    });
  });

  it("a name in use cannot be registered again", () => {
    expect(() => registerTransport({ ...dirTransport, name: "oci" })).toThrow(/cannot register/);
    expect(() => registerTransport(dirTransport)).toThrow(/cannot register/);
  });
});
