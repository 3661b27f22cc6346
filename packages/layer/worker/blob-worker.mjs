// @ts-check
// Reads one layer blob from a file, hashes it, decompresses it, hashes the
// tar, and copies the tar bytes into a ring shared with the main thread. Plain
// JavaScript, no imports from src/: it must load the same way under vitest
// (which runs the TypeScript sources) and from dist/. The main thread
// (src/blob-ring.ts) owns the protocol; this file only follows it.
//
// Why a worker: on the main thread, zlib needs that thread's event loop for
// every output chunk, so inflation stalled whenever the thread was busy
// writing files. Here inflation never waits for the writer (only for room in
// the ring), and the writer reads the ring without a hand-off per chunk.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { parentPort } from "node:worker_threads";
import { createGunzip } from "node:zlib";

// Must match src/blob-ring.ts.
const FILLED = 0;
const WAITING = 1;
const CANCEL = 2;
const CONTROL_BYTES = 64;
const BLOB_READ_OFFSET = 32;
const CHUNK_SIZE = 1 << 20;

class Cancelled extends Error {}

/**
 * @param {{ path: string, start: number, end: number | undefined, compression: "gzip" | "zstd" | "none",
 *           blobAlgorithm: string | undefined, tarAlgorithm: string | undefined, maxBlobBytes: number | undefined,
 *           buffer: SharedArrayBuffer }} job
 */
async function run(job) {
  const control = new Int32Array(job.buffer, 0, CONTROL_BYTES / 4);
  const progress = new Float64Array(job.buffer, BLOB_READ_OFFSET, 1);
  const ring = new Uint8Array(job.buffer, CONTROL_BYTES);
  const size = ring.length;
  let writeAt = 0;
  let tarBytes = 0;
  let blobBytes = 0;
  const blobHash = job.blobAlgorithm === undefined ? undefined : createHash(job.blobAlgorithm);
  const tarHash = job.tarAlgorithm === undefined ? undefined : createHash(job.tarAlgorithm);

  /** @param {Uint8Array} chunk */
  const put = (chunk) => {
    tarHash?.update(chunk);
    tarBytes += chunk.length;
    let from = 0;
    while (from < chunk.length) {
      if (Atomics.load(control, CANCEL) !== 0) throw new Cancelled();
      const filled = Atomics.load(control, FILLED);
      if (filled === size) {
        // Full: block until the main thread consumes (it notifies FILLED).
        Atomics.wait(control, FILLED, size, 1000);
        continue;
      }
      const step = Math.min(chunk.length - from, size - filled, size - writeAt);
      ring.set(chunk.subarray(from, from + step), writeAt);
      writeAt = (writeAt + step) % size;
      from += step;
      Atomics.add(control, FILLED, step);
      if (Atomics.exchange(control, WAITING, 0) === 1) parentPort?.postMessage({ type: "data" });
    }
  };

  const fd = openSync(job.path, "r");
  try {
    if (job.compression === "none") {
      const blobChunk = Buffer.allocUnsafe(CHUNK_SIZE);
      for (let n; (n = readBlob(fd, job, blobChunk, blobBytes)) > 0; ) {
        const data = blobChunk.subarray(0, n);
        count(data);
        put(data);
      }
    } else {
      await inflate(decompressor(job.compression), fd, job, count, put);
    }
  } finally {
    closeSync(fd);
  }
  parentPort?.postMessage({
    type: "end",
    blobBytes,
    blobHex: blobHash?.digest("hex"),
    tarBytes,
    tarHex: tarHash?.digest("hex"),
  });

  /** @param {Buffer} chunk */
  function count(chunk) {
    blobBytes += chunk.length;
    progress[0] = blobBytes;
    // A blob longer than its descriptor says fails at once: a lying size cannot make us read forever.
    if (job.maxBlobBytes !== undefined && blobBytes > job.maxBlobBytes) {
      throw Object.assign(new Error("blob is larger than its descriptor says"), { strataKind: "size", bytes: blobBytes });
    }
    blobHash?.update(chunk);
  }
}

/**
 * Reads the next piece of the blob at `offset` bytes into it; 0 at its end.
 * @param {number} fd @param {{ start: number, end: number | undefined }} job @param {Buffer} into @param {number} offset
 */
function readBlob(fd, job, into, offset) {
  const position = job.start + offset;
  const length = job.end === undefined ? into.length : Math.min(into.length, job.end - position);
  return length <= 0 ? 0 : readSync(fd, into, 0, length, position);
}

/** @param {"gzip" | "zstd"} compression @returns {import("node:stream").Transform} */
function decompressor(compression) {
  if (compression === "gzip") return createGunzip({ chunkSize: CHUNK_SIZE, highWaterMark: 4 * CHUNK_SIZE });
  return new (createRequire(import.meta.url)("zstd-napi").DecompressStream)();
}

/**
 * Feeds the blob through a decompressing stream. The stream works on the
 * libuv pool and this thread's event loop, which nothing else uses.
 * (Node has no public synchronous streaming inflate; `_processChunk` closes
 * the stream after one call.)
 * @param {import("node:stream").Transform} stream @param {number} fd @param {any} job
 * @param {(chunk: Buffer) => void} count @param {(chunk: Uint8Array) => void} put
 */
async function inflate(stream, fd, job, count, put) {
  let offset = 0;
  const feeding = (async () => {
    try {
      for (;;) {
        // A fresh buffer per read: the stream holds on to what it is given.
        const into = Buffer.allocUnsafeSlow(CHUNK_SIZE);
        const n = readBlob(fd, job, into, offset);
        if (n === 0) break;
        offset += n;
        const data = into.subarray(0, n);
        count(data);
        if (!stream.write(data)) await new Promise((resolve) => stream.once("drain", resolve));
      }
      stream.end();
    } catch (error) {
      stream.destroy(/** @type {Error} */ (error));
    }
  })();
  try {
    for await (const chunk of stream) put(chunk);
    await feeding;
  } finally {
    stream.destroy();
  }
}

parentPort?.on("message", (job) => {
  run(job).catch((/** @type {any} */ error) => {
    parentPort?.postMessage({
      type: "error",
      cancelled: error instanceof Cancelled,
      name: error?.name,
      code: error?.code,
      message: String(error?.message ?? error),
      strataKind: error?.strataKind,
      bytes: error?.bytes,
    });
  });
});
