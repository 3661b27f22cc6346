// A small stored blob is read on this thread: a short command (a layer
// store's second image, one small new layer) must not pay for starting the
// worker pair. Its own file, so that no other test has started workers.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import {
  blobWorkerPairsStarted,
  OFF_THREAD_MIN_BYTES,
  readLayer,
  writeTar,
  type Layer,
} from "@strata-oci/layer";
import { memoryLayer, sha256, tempDir } from "../../../test/support/layers.js";

const dir = tempDir("strata-small-blob-");
afterAll(() => dir.remove());

const tar = writeTar([
  { name: "etc/", type: "dir", mode: 0o755 },
  { name: "etc/hostname", type: "file", data: "small\n" },
  { name: "etc/.wh.motd", type: "file" },
]);
const blob = gzipSync(tar);

/**
 * The blob at `start` in a file with other bytes around it (a docker-archive member); open() would
 * fail: only the file may be read.
 */
function located(name: string, bytes: Buffer, size = bytes.length): Layer {
  const path = join(dir.path, name);
  writeFileSync(path, Buffer.concat([randomBytes(700), bytes, randomBytes(300)]));
  return {
    ...memoryLayer(tar, { blob: bytes }),
    size,
    open: () => Promise.reject(new Error("open() called: the located file should have been read")),
    locate: async () => ({ path, start: 700, end: 700 + bytes.length }),
  };
}

async function names(layer: Layer, options: { offThread?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of readLayer(layer, options)) {
    if (entry.kind === "file") for await (const part of entry.body) void part;
    out.push(`${entry.kind} ${entry.path.toString()}`);
  }
  return out;
}

describe("a stored blob under OFF_THREAD_MIN_BYTES", () => {
  it(
    "is read from its file on this thread, verified, with no worker started; offThread: true " +
      "still uses the workers",
    async () => {
      expect(blob.length).toBeLessThan(OFF_THREAD_MIN_BYTES);
      const layer = located("small.gz", blob);
      expect(await names(layer)).toEqual(["dir etc", "file etc/hostname", "whiteout etc/motd"]);
      expect(blobWorkerPairsStarted()).toBe(0);
      expect(await names(layer, { offThread: true })).toEqual([
        "dir etc",
        "file etc/hostname",
        "whiteout etc/motd",
      ]);
      expect(blobWorkerPairsStarted()).toBe(1);
    },
  );

  it("fails on its digest and on a size that understates it, as on the worker", async () => {
    const damaged = Buffer.from(blob);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 5) ^ 0xff, damaged.length - 5);
    const wrongDigest = {
      ...located("damaged.gz", damaged),
      digest: sha256(blob),
      diffId: undefined,
    };
    await expect(names(wrongDigest)).rejects.toMatchObject({
      code: expect.stringMatching(
        /^STRATA_(DIGEST_MISMATCH|CORRUPT_LAYER|TRUNCATED_LAYER)$/,
      ) as unknown,
    });
    let seen = 0;
    const understated = async (): Promise<void> => {
      for await (const entry of readLayer(located("understated.gz", blob, 20)))
        (void entry, seen++);
    };
    await expect(understated()).rejects.toMatchObject({ code: "STRATA_SIZE_MISMATCH" });
    expect(seen).toBe(0);
  });

  it("reads an empty range as an empty blob", async () => {
    const empty = Buffer.alloc(0);
    const layer: Layer = {
      digest: sha256(empty),
      size: 0,
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      diffId: sha256(empty),
      open: () => Promise.reject(new Error("open() called")),
      locate: async () => ({ path: join(dir.path, "small.gz"), start: 5, end: 5 }),
    };
    expect(await names(layer)).toEqual([]);
  });
});
