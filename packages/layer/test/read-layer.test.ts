import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Readable } from "node:stream";
import { compress as zstdCompress } from "zstd-napi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultGzipBackend,
  GrowingFile,
  readLayer,
  SizeMismatchError,
  RING_SIZE,
  setRingOriginForTests,
  writeTar,
  type GzipBackend,
  type Layer,
  type LayerEntry,
  type ReadLayerOptions,
  type TarMember,
  type ZstdBackend,
} from "@strata-oci/layer";
import { fileLayer, memoryLayer, sha256, tempDir } from "../../../test/support/layers.js";

const members: TarMember[] = [
  { name: "dir/", type: "dir", mode: 0o755 },
  { name: "dir/file", type: "file", data: "hello world\n".repeat(500) },
  { name: "dir/.wh.gone", type: "file" },
  { name: "dir/sub/.wh..wh..opq", type: "file" },
  { name: "dir/.wh..wh.plnk", type: "file" },
  { name: "link", type: "symlink", linkname: "dir/file" },
];
const tar = writeTar(members);

const blobs = tempDir("strata-read-layer-");
afterAll(() => blobs.remove());
let blobCount = 0;

/**
 * How the tests hand blobs to readLayer: streamed from memory (this thread) or stored in a file
 * (worker thread).
 */
type Source = "memory" | "file" | "file-zlib";
let source: Source = "memory";
/** The gzip decoder the worker is told to use: the default (ISA-L when built) or zlib. */
const backend = (): { gzipBackend?: GzipBackend; offThread?: boolean } =>
  source === "file-zlib" ? { gzipBackend: "zlib" } : source === "file" ? { offThread: true } : {};

async function sourced(layer: Layer): Promise<Layer> {
  return source === "memory" ? layer : fileLayer(layer, join(blobs.path, `blob-${blobCount++}`));
}

async function entries(
  layer: Layer,
  options: { zstdBackend?: ZstdBackend } = {},
): Promise<Array<{ kind: string; path: string; body?: string }>> {
  const out = [];
  for await (const entry of readLayer(await sourced(layer), { ...options, ...backend() }))
    out.push(await summarise(entry));
  return out;
}

async function summarise(
  entry: LayerEntry,
): Promise<{ kind: string; path: string; body?: string }> {
  if (entry.kind !== "file") return { kind: entry.kind, path: entry.path.toString() };
  const parts: Buffer[] = [];
  for await (const part of entry.body) parts.push(Buffer.from(part));
  return { kind: entry.kind, path: entry.path.toString(), body: Buffer.concat(parts).toString() };
}

function zstdLayer(data: Buffer): Layer {
  const blob = zstdCompress(data);
  return memoryLayer(data, {
    compression: "none",
    blob,
    mediaType: "application/vnd.oci.image.layer.v1.tar+zstd",
  });
}

const expected = [
  { kind: "dir", path: "dir" },
  { kind: "file", path: "dir/file", body: "hello world\n".repeat(500) },
  { kind: "whiteout", path: "dir/gone" },
  { kind: "opaque", path: "dir/sub" },
  { kind: "symlink", path: "link" },
];

const SOURCES = {
  memory: "streamed from memory",
  file: "in a file (worker thread, default gzip decoder)",
  "file-zlib": "in a file (worker thread, zlib)",
};
for (const from of ["memory", "file", "file-zlib"] as const)
  describe(`readLayer, blob ${SOURCES[from]}`, () => {
    beforeAll(() => {
      source = from;
    });

    for (const [name, layer] of [
      ["tar+gzip", memoryLayer(tar)],
      ["tar+gzip in 1-byte chunks", memoryLayer(tar, { chunkSize: 1 })],
      ["uncompressed tar", memoryLayer(tar, { compression: "none" })],
      [
        "docker media type",
        memoryLayer(tar, { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip" }),
      ],
    ] as const) {
      it(
        `reads ${name}, classifying whiteouts and opaque dirs and skipping ` + `aufs metadata`,
        async () => {
          expect(await entries(layer)).toEqual(expected);
        },
      );
    }

    for (const backend of ["native", "js"] as const) {
      it(`reads tar+zstd with the ${backend} backend`, async () => {
        expect(await entries(zstdLayer(tar), { zstdBackend: backend })).toEqual(expected);
      });
    }

    for (const backend of ["native", "js"] as const) {
      it(`refuses a truncated zstd stream with the ${backend} backend`, async () => {
        const blob = zstdCompress(tar).subarray(0, 60);
        const layer = memoryLayer(tar, {
          blob,
          mediaType: "application/vnd.oci.image.layer.v1.tar+zstd",
        });
        await expect(entries(layer, { zstdBackend: backend })).rejects.toMatchObject({
          code: expect.stringMatching(/STRATA_(TRUNCATED|CORRUPT)_LAYER/),
        });
      });
    }

    it("sniffs the compression when the source gives no media type (docker-archive)", async () => {
      expect(await entries({ ...memoryLayer(tar), mediaType: undefined })).toEqual(expected);
    });

    it("checks the blob digest", async () => {
      await expect(
        entries({ ...memoryLayer(tar), digest: sha256(Buffer.from("other")) }),
      ).rejects.toMatchObject({ code: "STRATA_DIGEST_MISMATCH" });
    });

    it("checks the blob size, both ways", async () => {
      const layer = memoryLayer(tar);
      await expect(entries({ ...layer, size: layer.size - 1 })).rejects.toMatchObject({
        code: "STRATA_SIZE_MISMATCH",
      });
      await expect(entries({ ...layer, size: layer.size + 1 })).rejects.toMatchObject({
        code: "STRATA_SIZE_MISMATCH",
      });
    });

    it("checks the diff_id of the uncompressed tar", async () => {
      await expect(
        entries({ ...memoryLayer(tar), diffId: sha256(Buffer.from("other")) }),
      ).rejects.toMatchObject({ code: "STRATA_DIGEST_MISMATCH" });
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

    it(
      "reads multi-member gzip, ignores zero padding after it, and refuses other " +
        "trailing bytes",
      async () => {
        const half = Math.floor(tar.length / 1024) * 512;
        const members = Buffer.concat([
          gzipSync(tar.subarray(0, half)),
          gzipSync(tar.subarray(half)),
        ]);
        const withBlob = (blob: Buffer): Layer => ({
          ...memoryLayer(tar, { blob }),
          digest: sha256(blob),
          size: blob.length,
        });
        expect(await entries(withBlob(members))).toEqual(expected);
        expect(await entries(withBlob(Buffer.concat([members, Buffer.alloc(3000)])))).toEqual(
          expected,
        );
        await expect(
          entries(withBlob(Buffer.concat([members, Buffer.from("garbage")]))),
        ).rejects.toMatchObject({ code: "STRATA_CORRUPT_LAYER" });
      },
    );

    it("refuses bytes that are not what the media type says", async () => {
      await expect(
        entries(
          memoryLayer(tar, {
            compression: "none",
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          }),
        ),
      ).rejects.toMatchObject({
        code: "STRATA_MEDIA_TYPE_MISMATCH",
      });
      await expect(
        entries(memoryLayer(tar, { mediaType: "application/vnd.oci.image.layer.v1.tar" })),
      ).rejects.toMatchObject({ code: "STRATA_MEDIA_TYPE_MISMATCH" });
    });

    it("refuses an unknown media type", async () => {
      await expect(
        entries(memoryLayer(tar, { mediaType: "application/x-rar" })),
      ).rejects.toMatchObject({ code: "STRATA_UNSUPPORTED_MEDIA_TYPE" });
    });

    it("names the layer and the entry in errors", async () => {
      const layer = memoryLayer(writeTar([{ name: "../evil", type: "file" }]));
      await expect(entries(layer)).rejects.toMatchObject({
        code: "STRATA_UNSAFE_PATH",
        context: { layer: layer.digest, entry: "../evil" },
      });
    });

    it("enforces maxEntries", async () => {
      const many = writeTar(
        Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, type: "file" as const })),
      );
      const run = async () => {
        for await (const entry of readLayer(await sourced(memoryLayer(many)), {
          limits: { maxEntries: 10 },
          ...backend(),
        }))
          void entry;
      };
      await expect(run()).rejects.toMatchObject({ code: "STRATA_LIMIT_EXCEEDED" });
    });

    it.runIf(from === "memory")(
      "reads a blob opened fresh on every call (open() is called once per read)",
      async () => {
        let opened = 0;
        const base = memoryLayer(tar);
        const layer: Layer = {
          ...base,
          open: async () => {
            opened++;
            return Readable.from([gzipSync(tar)]);
          },
        };
        await expect(
          entries({ ...layer, digest: sha256(gzipSync(tar)), size: gzipSync(tar).length }),
        ).resolves.toEqual(expected);
        expect(opened).toBe(1);
      },
    );
  });

/** A layer of many files of varied sizes, several times larger than the worker's ring. */
function bigLayer(): { tar: Buffer; files: Map<string, string> } {
  const members: TarMember[] = [];
  const files = new Map<string, string>();
  let total = 0;
  for (let i = 0; total < 2.5 * RING_SIZE; i++) {
    // Odd sizes, so that headers and bodies straddle the ring's end; one file larger than the ring.
    const size =
      i === 5 ? RING_SIZE + 12_345 : i % 50 === 0 ? 3 * (1 << 20) + 7 : (i * 7919) % 70_001;
    const data = randomBytes(size);
    members.push({ name: `d${i % 13}/f${i}`, type: "file", data });
    files.set(`d${i % 13}/f${i}`, sha256(data));
    total += size + 512;
  }
  return { tar: writeTar(members), files };
}

describe("readLayer on the worker thread", () => {
  const { tar: big, files } = bigLayer();
  const gzipped = memoryLayer(big);

  async function hashes(
    layer: Layer,
    options: ReadLayerOptions & { keepChunks?: boolean } = {},
  ): Promise<Map<string, string>> {
    const seen = new Map<string, string>();
    for await (const entry of readLayer(layer, options)) {
      if (entry.kind !== "file") continue;
      const parts: Buffer[] = [];
      // keepChunks: hold every chunk uncopied until the file ends (only safe without
      // transientChunks).
      for await (const part of entry.body)
        parts.push(options.keepChunks === true ? part : Buffer.from(part));
      seen.set(entry.path.toString(), sha256(Buffer.concat(parts)));
    }
    return seen;
  }

  it.runIf(existsSync("/usr/include/isa-l/igzip_lib.h"))(
    "uses ISA-L for gzip where libisal-dev is installed",
    () => {
      expect(defaultGzipBackend()).toBe("isal");
    },
  );

  it(
    "reads a layer larger than its ring exactly, whether chunks are kept or written at once, " +
      "with either gzip decoder",
    async () => {
      const layer = await fileLayer(gzipped, join(blobs.path, "big.gz"));
      expect(await hashes(layer, { keepChunks: true })).toEqual(files);
      expect(await hashes(layer, { transientChunks: true })).toEqual(files);
      expect(await hashes(layer, { transientChunks: true, gzipBackend: "zlib" })).toEqual(files);
      expect(await hashes(layer, { keepChunks: true, gzipBackend: "isal" })).toEqual(files);
      expect(
        await hashes(
          await fileLayer(memoryLayer(big, { compression: "none" }), join(blobs.path, "big.tar")),
        ),
      ).toEqual(files);
    },
  );

  /**
   * The blob of `layer` written into a GrowingFile piece by piece, a few milliseconds apart, as a
   * download writes it.
   */
  function growingLayer(
    layer: Layer,
    name: string,
    blob: Buffer,
    failAt?: number,
  ): { layer: Layer; file: GrowingFile; written: Promise<void> } {
    const path = join(blobs.path, name);
    writeFileSync(path, "");
    const file = new GrowingFile(path);
    const written = (async () => {
      const piece = Math.ceil(blob.length / 40);
      for (let at = 0; at < blob.length; at += piece) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (failAt !== undefined && at >= failAt) {
          file.fail(new SizeMismatchError(blob.length, at, { layer: "the download" }));
          return;
        }
        appendFileSync(path, blob.subarray(at, at + piece));
        file.grew(Math.min(at + piece, blob.length));
      }
      file.complete();
    })();
    return {
      layer: { ...layer, locate: async () => ({ path, start: 0, end: undefined, growing: file }) },
      file,
      written,
    };
  }

  // Registry layers are applied while they download (#11): the worker waits
  // for the file to grow instead of taking its current end for the blob's.
  for (const [name, compression, gzipBackend] of [
    ["gzip (default decoder)", "gzip", undefined],
    ["gzip (zlib stream)", "gzip", "zlib"],
    ["zstd", "zstd", undefined],
    ["uncompressed", "none", undefined],
  ] as const) {
    it(
      `reads a ${name} blob while it is still being written, entries coming out before it ` +
        `is complete`,
      async () => {
        const blob =
          compression === "gzip" ? gzipSync(big) : compression === "zstd" ? zstdCompress(big) : big;
        const suffix = compression === "none" ? "" : `+${compression}`;
        const mediaType = `application/vnd.oci.image.layer.v1.tar${suffix}`;
        const source = memoryLayer(big, { compression: "none", blob, mediaType });
        const { layer, file, written } = growingLayer(
          source,
          `growing-${compression}-${gzipBackend ?? "default"}`,
          blob,
        );
        let early = 0;
        const seen = new Map<string, string>();
        for await (const entry of readLayer(
          layer,
          gzipBackend === undefined ? {} : { gzipBackend },
        )) {
          if (file.state === "growing") early++;
          if (entry.kind !== "file") continue;
          const parts: Buffer[] = [];
          for await (const part of entry.body) parts.push(Buffer.from(part));
          seen.set(entry.path.toString(), sha256(Buffer.concat(parts)));
        }
        await written;
        expect(seen).toEqual(files);
        expect(early).toBeGreaterThan(0);
      },
    );
  }

  it(
    "fails a growing blob with its writer's error when the download fails, after the entries " +
      "before it",
    async () => {
      const blob = gzipSync(big);
      const { layer, written } = growingLayer(
        memoryLayer(big),
        "growing-failed",
        blob,
        Math.floor(blob.length / 2),
      );
      let seen = 0;
      const read = async (): Promise<void> => {
        for await (const entry of readLayer(layer)) {
          if (entry.kind === "file") for await (const part of entry.body) void part;
          seen++;
        }
      };
      await expect(read()).rejects.toMatchObject({
        code: "STRATA_SIZE_MISMATCH",
        message: expect.stringContaining("the download") as unknown,
      });
      await written;
      expect(seen).toBeGreaterThan(0);
    },
  );

  // The worker counts the blob's bytes as it reads them: a descriptor that
  // understates the size fails on the first read, not after decompressing
  // everything (a lying size must not buy unbounded work, issue #9).
  it(
    "fails a blob longer than its descriptor on the first read, before its " + "entries come out",
    async () => {
      const layer = await fileLayer(gzipped, join(blobs.path, "understated.gz"));
      let seen = 0;
      const read = async (): Promise<void> => {
        for await (const entry of readLayer({ ...layer, size: 1000 }, { offThread: true })) {
          if (entry.kind === "file") for await (const part of entry.body) void part;
          seen++;
        }
      };
      await expect(read()).rejects.toMatchObject({ code: "STRATA_SIZE_MISMATCH" });
      expect(seen).toBeLessThan(files.size / 10);
    },
  );

  it(
    "reads a blob that is a range inside a larger file (docker-archive), and an " + "empty range",
    async () => {
      const blob = gzipSync(big);
      const path = join(blobs.path, "archive");
      writeFileSync(path, Buffer.concat([randomBytes(1000), blob, randomBytes(1000)]));
      const layer: Layer = {
        ...gzipped,
        locate: async () => ({ path, start: 1000, end: 1000 + blob.length }),
      };
      expect(await hashes(layer)).toEqual(files);
      const empty: Layer = {
        digest: sha256(Buffer.alloc(0)),
        size: 0,
        mediaType: undefined,
        diffId: sha256(Buffer.alloc(0)),
        open: gzipped.open,
        locate: async () => ({ path, start: 5, end: 5 }),
      };
      expect(await hashes(empty, { offThread: true })).toEqual(new Map());
    },
  );

  it(
    "reads across the point where the ring's byte counters wrap (as after 2 " + "GiB of tar)",
    async () => {
      const layer = await fileLayer(gzipped, join(blobs.path, "wrap.gz"));
      setRingOriginForTests(2 ** 31 - 5 * 2 ** 20 - 333);
      try {
        expect(await hashes(layer, { transientChunks: true })).toEqual(files);
        expect(await hashes(layer, { keepChunks: true, gzipBackend: "zlib" })).toEqual(files);
      } finally {
        setRingOriginForTests(0);
      }
    },
  );

  it("reports every blob byte as progress", async () => {
    const layer = await fileLayer(gzipped, join(blobs.path, "progress.gz"));
    let read = 0;
    await hashes(layer, { onBlobBytes: (n) => (read += n) });
    expect(read).toBe(layer.size);
  });

  it("stops cleanly when the consumer stops early, and reads again afterwards", async () => {
    const layer = await fileLayer(gzipped, join(blobs.path, "early.gz"));
    let seen = 0;
    for await (const entry of readLayer(layer)) {
      void entry;
      if (++seen === 3) break;
    }
    expect(seen).toBe(3);
    expect(await hashes(layer)).toEqual(files);
  });

  it("stops on abort with AbortedError", async () => {
    const layer = await fileLayer(gzipped, join(blobs.path, "abort.gz"));
    const controller = new AbortController();
    const run = async () => {
      let seen = 0;
      for await (const entry of readLayer(layer, { signal: controller.signal })) {
        void entry;
        if (++seen === 10) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ code: "STRATA_ABORTED" });
    expect(await hashes(layer)).toEqual(files);
  });

  it("reads several layers at once", async () => {
    const a = await fileLayer(gzipped, join(blobs.path, "a.gz"));
    const b = await fileLayer(memoryLayer(big, { compression: "none" }), join(blobs.path, "b.tar"));
    const [first, second, third] = await Promise.all([
      hashes(a),
      hashes(b, { transientChunks: true }),
      hashes(a, { keepChunks: true }),
    ]);
    expect(first).toEqual(files);
    expect(second).toEqual(files);
    expect(third).toEqual(files);
  });

  it(
    "reads multi-member gzip whose members end anywhere relative to the " + "worker's reads",
    async () => {
      // Member boundaries at odd offsets, one of them past the first 1 MiB read.
      const cut = [0, 777_777, 1_500_001, 5_000_003, big.length];
      const blob = Buffer.concat(
        cut.slice(1).map((end, i) => gzipSync(big.subarray(cut[i], end), { level: 1 })),
      );
      const layer = await fileLayer(
        {
          ...gzipped,
          digest: sha256(blob),
          size: blob.length,
          open: async () => Readable.from([blob]),
        },
        join(blobs.path, "members.gz"),
      );
      expect(await hashes(layer)).toEqual(files);
      expect(await hashes(layer, { gzipBackend: "zlib" })).toEqual(files);
    },
  );

  for (const gzipBackend of ["isal", "zlib"] as const) {
    it.runIf(gzipBackend === "zlib" || defaultGzipBackend() === "isal")(
      `fails a large blob whose CRC is damaged, after the entries before ` +
        `the damage (${gzipBackend})`,
      async () => {
        const blob = gzipSync(big);
        // The last byte of the gzip trailer's CRC-32.
        blob[blob.length - 5] = (blob[blob.length - 5] ?? 0) ^ 0xff;
        const layer = await fileLayer(
          { ...memoryLayer(big, { blob }) },
          join(blobs.path, `damaged-${gzipBackend}.gz`),
        );
        let seen = 0;
        const run = async () => {
          for await (const entry of readLayer(layer, { gzipBackend }))
            if (entry.kind === "file") seen++;
        };
        await expect(run()).rejects.toMatchObject({ code: "STRATA_CORRUPT_LAYER" });
        expect(seen).toBe(files.size);
      },
    );
  }
});
