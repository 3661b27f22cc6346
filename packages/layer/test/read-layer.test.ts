import { gzipSync } from "node:zlib";
import { Readable } from "node:stream";
import { compress as zstdCompress } from "zstd-napi";
import { describe, expect, it } from "vitest";
import { readLayer, writeTar, type Layer, type LayerEntry, type TarMember, type ZstdBackend } from "@strata/layer";
import { memoryLayer, sha256 } from "../../../test/support/layers.js";

const members: TarMember[] = [
  { name: "dir/", type: "dir", mode: 0o755 },
  { name: "dir/file", type: "file", data: "hello world\n".repeat(500) },
  { name: "dir/.wh.gone", type: "file" },
  { name: "dir/sub/.wh..wh..opq", type: "file" },
  { name: "dir/.wh..wh.plnk", type: "file" },
  { name: "link", type: "symlink", linkname: "dir/file" },
];
const tar = writeTar(members);

async function entries(layer: Layer, options: { zstdBackend?: ZstdBackend } = {}): Promise<Array<{ kind: string; path: string; body?: string }>> {
  const out = [];
  for await (const entry of readLayer(layer, options)) out.push(await summarise(entry));
  return out;
}

async function summarise(entry: LayerEntry): Promise<{ kind: string; path: string; body?: string }> {
  if (entry.kind !== "file") return { kind: entry.kind, path: entry.path.toString() };
  const parts: Buffer[] = [];
  for await (const part of entry.body) parts.push(Buffer.from(part));
  return { kind: entry.kind, path: entry.path.toString(), body: Buffer.concat(parts).toString() };
}

function zstdLayer(data: Buffer): Layer {
  const blob = zstdCompress(data);
  return memoryLayer(data, { compression: "none", blob, mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" });
}

const expected = [
  { kind: "dir", path: "dir" },
  { kind: "file", path: "dir/file", body: "hello world\n".repeat(500) },
  { kind: "whiteout", path: "dir/gone" },
  { kind: "opaque", path: "dir/sub" },
  { kind: "symlink", path: "link" },
];

describe("readLayer", () => {
  for (const [name, layer] of [
    ["tar+gzip", memoryLayer(tar)],
    ["tar+gzip in 1-byte chunks", memoryLayer(tar, { chunkSize: 1 })],
    ["uncompressed tar", memoryLayer(tar, { compression: "none" })],
    ["docker media type", memoryLayer(tar, { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip" })],
  ] as const) {
    it(`reads ${name}, classifying whiteouts and opaque dirs and skipping aufs metadata`, async () => {
      expect(await entries(layer)).toEqual(expected);
    });
  }

  for (const backend of ["native", "js"] as const) {
    it(`reads tar+zstd with the ${backend} backend`, async () => {
      expect(await entries(zstdLayer(tar), { zstdBackend: backend })).toEqual(expected);
    });
  }

  for (const backend of ["native", "js"] as const) {
    it(`refuses a truncated zstd stream with the ${backend} backend`, async () => {
      const blob = zstdCompress(tar).subarray(0, 60);
      const layer = memoryLayer(tar, { blob, mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" });
      await expect(entries(layer, { zstdBackend: backend })).rejects.toMatchObject({ code: expect.stringMatching(/STRATA_(TRUNCATED|CORRUPT)_LAYER/) });
    });
  }

  it("sniffs the compression when the source gives no media type (docker-archive)", async () => {
    expect(await entries({ ...memoryLayer(tar), mediaType: undefined })).toEqual(expected);
  });

  it("checks the blob digest", async () => {
    await expect(entries({ ...memoryLayer(tar), digest: sha256(Buffer.from("other")) })).rejects.toMatchObject({ code: "STRATA_DIGEST_MISMATCH" });
  });

  it("checks the blob size, both ways", async () => {
    const layer = memoryLayer(tar);
    await expect(entries({ ...layer, size: layer.size - 1 })).rejects.toMatchObject({ code: "STRATA_SIZE_MISMATCH" });
    await expect(entries({ ...layer, size: layer.size + 1 })).rejects.toMatchObject({ code: "STRATA_SIZE_MISMATCH" });
  });

  it("checks the diff_id of the uncompressed tar", async () => {
    await expect(entries({ ...memoryLayer(tar), diffId: sha256(Buffer.from("other")) })).rejects.toMatchObject({ code: "STRATA_DIGEST_MISMATCH" });
  });

  it("drains bytes after the end of the archive before comparing the diff_id", async () => {
    const padded = Buffer.concat([tar, Buffer.alloc(8192)]);
    expect(await entries(memoryLayer(padded))).toEqual(expected);
    const trailing = Buffer.concat([tar, Buffer.from("trailing garbage")]);
    const lying = { ...memoryLayer(trailing), diffId: sha256(tar) };
    await expect(entries(lying)).rejects.toMatchObject({ code: "STRATA_DIGEST_MISMATCH" });
  });

  it("refuses a truncated gzip stream", async () => {
    const blob = gzipSync(tar).subarray(0, 100);
    const layer = { ...memoryLayer(tar, { blob }), digest: sha256(blob), size: blob.length };
    await expect(entries(layer)).rejects.toMatchObject({ code: "STRATA_TRUNCATED_LAYER" });
  });

  it("refuses bytes that are not what the media type says", async () => {
    await expect(entries(memoryLayer(tar, { compression: "none", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }))).rejects.toMatchObject({
      code: "STRATA_MEDIA_TYPE_MISMATCH",
    });
    await expect(entries(memoryLayer(tar, { mediaType: "application/vnd.oci.image.layer.v1.tar" }))).rejects.toMatchObject({ code: "STRATA_MEDIA_TYPE_MISMATCH" });
  });

  it("refuses an unknown media type", async () => {
    await expect(entries(memoryLayer(tar, { mediaType: "application/x-rar" }))).rejects.toMatchObject({ code: "STRATA_UNSUPPORTED_MEDIA_TYPE" });
  });

  it("names the layer and the entry in errors", async () => {
    const layer = memoryLayer(writeTar([{ name: "../evil", type: "file" }]));
    await expect(entries(layer)).rejects.toMatchObject({ code: "STRATA_UNSAFE_PATH", context: { layer: layer.digest, entry: "../evil" } });
  });

  it("enforces maxEntries", async () => {
    const many = writeTar(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, type: "file" as const })));
    const run = async () => {
      for await (const entry of readLayer(memoryLayer(many), { limits: { maxEntries: 10 } })) void entry;
    };
    await expect(run()).rejects.toMatchObject({ code: "STRATA_LIMIT_EXCEEDED" });
  });

  it("reads a blob opened fresh on every call (open() is called once per read)", async () => {
    let opened = 0;
    const base = memoryLayer(tar);
    const layer: Layer = { ...base, open: async () => { opened++; return Readable.from([gzipSync(tar)]); } };
    await expect(entries({ ...layer, digest: sha256(gzipSync(tar)), size: gzipSync(tar).length })).resolves.toEqual(expected);
    expect(opened).toBe(1);
  });
});
