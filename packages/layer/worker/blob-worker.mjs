// @ts-check
// Reads one layer blob from a file, hashes it, decompresses it, hashes the
// tar, and copies the tar bytes into a ring shared with the main thread. Plain
// JavaScript, no imports from src/: it must load the same way under vitest
// (which runs the TypeScript sources) and from dist/. The layout of the
// shared buffers is ring-protocol.mjs, which the main thread imports too.
//
// Why a worker: on the main thread, zlib needs that thread's event loop for
// every output chunk, so inflation stalled whenever the thread was busy
// writing files. Here inflation never waits for the writer (only for room in
// the ring), and the writer reads the ring without a hand-off per chunk.
import { createHash } from "node:crypto";
import { closeSync, constants as fs, fstatSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";
import { constants, createGunzip } from "node:zlib";

import {
  BLOB_READ_OFFSET,
  CANCEL,
  COMPLETE as GROWN,
  CONTROL_BYTES,
  DONE,
  FAILED as GROWTH_FAILED,
  GROWING_CHANGES,
  GROWING_LENGTH,
  GROWING_STATE,
  GROWING_WAITING_OFFSET,
  HASH_READ,
  MAIN_READ,
  RELEASED,
  WAITING,
  WRITTEN,
} from "./ring-protocol.mjs";

const CHUNK_SIZE = 1 << 20;

class Cancelled extends Error {}

/**
 * The writer: blob file -> blob hash -> decompression -> ring.
 * @param {{ path: string, start: number, end: number | undefined, growing: SharedArrayBuffer |
 * undefined, compression: "gzip" | "zstd" | "none",
 *           blobAlgorithm: string | undefined, hashed: boolean, maxBlobBytes: number | undefined,
 * gzipBackend: "isal" | "zlib" | undefined, isalAddon: string | undefined, origin: number,
 *           buffer: SharedArrayBuffer }} job
 */
async function write(job) {
  const control = new Int32Array(job.buffer, 0, CONTROL_BYTES / 4);
  const progress = new Float64Array(job.buffer, BLOB_READ_OFFSET, 1);
  const ring = new Uint8Array(job.buffer, CONTROL_BYTES);
  const size = ring.length;
  let written = job.origin | 0;
  let tarBytes = 0;
  let blobBytes = 0;
  const blobHash = job.blobAlgorithm === undefined ? undefined : createHash(job.blobAlgorithm);

  /**
   * The free stretch of the ring after what was written, waiting until there is one. @returns
   * {[number, number]}
   */
  const room = () => {
    for (;;) {
      if (Atomics.load(control, CANCEL) !== 0) throw new Cancelled();
      // Room is what the slower of the two readers has released.
      const released = Atomics.load(control, RELEASED);
      const behind = (written - Atomics.load(control, MAIN_READ)) | 0;
      const used = job.hashed
        ? Math.max(behind, (written - Atomics.load(control, HASH_READ)) | 0)
        : behind;
      if (used < size) {
        const at = written & (size - 1);
        return [at, Math.min(size - used, size - at)];
      }
      Atomics.wait(control, RELEASED, released, 1000);
    }
  };
  /** Publishes `n` bytes written at the start of the last room. @param {number} n */
  const commit = (n) => {
    tarBytes += n;
    written = (written + n) | 0;
    Atomics.store(control, WRITTEN, written);
    Atomics.notify(control, WRITTEN);
    if (Atomics.exchange(control, WAITING, 0) === 1) parentPort?.postMessage({ type: "data" });
  };
  /** @param {Uint8Array} chunk */
  const put = (chunk) => {
    for (let from = 0; from < chunk.length;) {
      const [at, length] = room();
      const step = Math.min(chunk.length - from, length);
      ring.set(chunk.subarray(from, from + step), at);
      from += step;
      commit(step);
    }
  };

  const fd = openRegular(job.path);
  try {
    const gunzip =
      job.compression === "zstd"
        ? zstdRing()
        : job.compression !== "gzip"
          ? undefined
          : job.gzipBackend === "isal"
            ? isalGunzip(job.isalAddon)
            : syncGunzip();
    if (job.compression === "none" || gunzip !== undefined) {
      const blobChunk = Buffer.allocUnsafe(CHUNK_SIZE);
      for (let n; (n = readBlob(fd, job, blobChunk, blobBytes, control)) > 0;) {
        const data = blobChunk.subarray(0, n);
        count(data);
        if (gunzip === undefined) put(data);
        else gunzip.inflate(data, false, ring, room, commit);
      }
      gunzip?.inflate(Buffer.alloc(0), true, ring, room, commit);
    } else {
      await inflate(
        createGunzip({ chunkSize: CHUNK_SIZE, highWaterMark: 4 * CHUNK_SIZE }),
        fd,
        job,
        control,
        count,
        put,
      );
    }
  } finally {
    closeSync(fd);
    // Lets the hasher finish (or stop) instead of waiting for bytes that will not come.
    Atomics.store(control, DONE, 1);
    Atomics.notify(control, WRITTEN);
  }
  parentPort?.postMessage({ type: "end", blobBytes, blobHex: blobHash?.digest("hex"), tarBytes });

  /** @param {Buffer} chunk */
  function count(chunk) {
    blobBytes += chunk.length;
    progress[0] = blobBytes;
    // A blob longer than its descriptor says fails at once: a lying size cannot make us read
    // forever.
    if (job.maxBlobBytes !== undefined && blobBytes > job.maxBlobBytes) {
      throw Object.assign(new Error("blob is larger than its descriptor says"), {
        strataKind: "size",
        bytes: blobBytes,
      });
    }
    blobHash?.update(chunk);
  }
}

/**
 * Opens a blob without blocking (a FIFO in place of a blob blocked forever;
 * issue #9) and refuses anything but a regular file.
 * @param {string} path
 */
function openRegular(path) {
  const fd = openSync(path, fs.O_RDONLY | fs.O_NONBLOCK);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw Object.assign(new Error(`${path} is not a regular file`), { strataKind: "not-regular" });
  }
  return fd;
}

/**
 * zstd decoded by the native library straight into the ring, at most one
 * free stretch per call: zstd-napi's stream class decoded a whole input
 * chunk at once and buffered twice the output (2.1 GB from a 36 KB bomb).
 */
function zstdRing() {
  const decoder = new (loadZstd().DCtx)();
  let hint = 0;
  return {
    /**
     * @param {Buffer} input @param {boolean} finish @param {Uint8Array} ring
     * @param {() => [number, number]} room @param {(n: number) => void} commit
     */
    inflate(input, finish, ring, room, commit) {
      let offset = 0;
      for (;;) {
        const [at, length] = room();
        const [next, produced, consumed] = decoder.decompressStream(
          ring.subarray(at, at + length),
          input.subarray(offset),
        );
        if (produced > 0 || consumed > 0) hint = next;
        if (produced > 0) commit(produced);
        offset += consumed;
        if (produced < length && (offset >= input.length || (produced === 0 && consumed === 0)))
          break;
      }
      // hint 0: the last frame ended exactly here.
      if (finish && hint !== 0)
        throw Object.assign(new Error("unexpected end of file in zstd data"), {
          code: "Z_BUF_ERROR",
        });
    },
  };
}

/**
 * Reads the next piece of the blob at `offset` bytes into it; 0 at its end.
 * A growing blob (a download) is waited for here, blocking this worker.
 * @param {number} fd @param {BlobPlace} job @param {Buffer} into @param {number} offset @param
 * {Int32Array} control
 */
function readBlob(fd, job, into, offset, control) {
  for (;;) {
    const [length, seen] = readable(job, into.length, offset, control);
    if (length >= 0) return length === 0 ? 0 : readSync(fd, into, 0, length, job.start + offset);
    const waiting = readerWaiting(job);
    Atomics.store(waiting, 0, 1);
    Atomics.wait(growingFlags(job), GROWING_CHANGES, seen, 250);
    Atomics.store(waiting, 0, 0);
  }
}

/**
 * readBlob for the zlib stream, whose output needs this worker's event loop
 * while a growing blob is waited for.
 * @param {number} fd @param {BlobPlace} job @param {Buffer} into @param {number} offset @param
 * {Int32Array} control
 */
async function readBlobAsync(fd, job, into, offset, control) {
  for (;;) {
    const [length, seen] = readable(job, into.length, offset, control);
    if (length >= 0) return length === 0 ? 0 : readSync(fd, into, 0, length, job.start + offset);
    const waiting = readerWaiting(job);
    Atomics.store(waiting, 0, 1);
    const wait = Atomics.waitAsync(growingFlags(job), GROWING_CHANGES, seen, 250);
    if (wait.async) await wait.value;
    Atomics.store(waiting, 0, 0);
  }
}

/**
 * How many bytes to read at `offset` (at most `room`; 0 at the blob's end),
 * or -1 with the change count to wait on while a growing blob has none yet.
 * Mirrors src/growing-file.ts: state and change count (Int32 0-1), length (Float64 1), reader
 * waiting (Int32 4).
 * @param {BlobPlace} job @param {number} room @param {number} offset @param {Int32Array} control
 * @returns {[number, number]}
 */
function readable(job, room, offset, control) {
  const position = job.start + offset;
  const limit = job.end === undefined ? room : Math.min(room, job.end - position);
  if (job.growing === undefined || limit <= 0) return [Math.max(limit, 0), 0];
  const flags = growingFlags(job);
  // Count, then state, then length: a change after any of them makes the wait return at once.
  const seen = Atomics.load(flags, GROWING_CHANGES);
  const state = Atomics.load(flags, GROWING_STATE);
  const available = (new Float64Array(job.growing, 0, 2)[GROWING_LENGTH] ?? 0) - position;
  if (available > 0) return [Math.min(limit, available), seen];
  if (state === GROWN) return [0, seen];
  if (state === GROWTH_FAILED)
    throw Object.assign(new Error("the blob's download failed"), { strataKind: "source-failed" });
  if (Atomics.load(control, CANCEL) !== 0) throw new Cancelled();
  return [-1, seen];
}

/**
 * Set while this reader waits: the main thread then gives the link to this blob's download. @param
 * {BlobPlace} job
 */
function readerWaiting(job) {
  return new Int32Array(/** @type {SharedArrayBuffer} */ (job.growing), GROWING_WAITING_OFFSET, 1);
}

/** @param {BlobPlace} job */
function growingFlags(job) {
  return new Int32Array(/** @type {SharedArrayBuffer} */ (job.growing), 0, 2);
}

/**
 * @typedef {{ start: number, end: number | undefined, growing: SharedArrayBuffer | undefined }}
 * BlobPlace
 */

/** @type {any} */
let zstd;

/** zstd-napi's low-level binding (the main thread sends zstd here only when it loads). */
function loadZstd() {
  zstd ??= createRequire(import.meta.url)("zstd-napi/binding");
  return zstd;
}

/** @type {Map<string, any>} */
const isalAddons = new Map();

/** strata's ISA-L addon (native/strata_gzip.c) from the file the main thread found and loaded. */
function loadIsal(/** @type {string | undefined} */ file) {
  if (file === undefined)
    throw new Error("the main thread asked for ISA-L without naming strata_gzip.node");
  let addon = isalAddons.get(file);
  if (addon === undefined) {
    addon = createRequire(import.meta.url)(file);
    isalAddons.set(file, addon);
  }
  return addon;
}

/**
 * What a synchronous gzip decoder does in one call: decode `input` from
 * `offset` (`left` bytes) into the ring at `at` (room for `length`), and say
 * how many bytes it took and gave, and whether the gzip data has ended (what
 * follows is then hashed as part of the blob but not inflated, as with the
 * stream).
 * @typedef {(input: Buffer, offset: number, left: number, ring: Uint8Array, at: number, length:
 * number, finish: boolean)
 *   => { consumed: number, produced: number, ended: boolean }} GunzipStep
 */

/**
 * A gzip decoder that writes straight into the ring: each call of `step`
 * fills at most one free stretch, and is repeated while it fills it whole
 * (more output may be pending).
 * @param {GunzipStep} step
 */
function ringGunzip(step) {
  let ended = false;
  return {
    /**
     * @param {Buffer} input @param {boolean} finish @param {Uint8Array} ring
     * @param {() => [number, number]} room @param {(n: number) => void} commit
     */
    inflate(input, finish, ring, room, commit) {
      let offset = 0;
      let left = input.length;
      while (!ended) {
        const [at, length] = room();
        const done = step(input, offset, left, ring, at, length, finish);
        if (done.produced > 0) commit(done.produced);
        offset += done.consumed;
        left -= done.consumed;
        ended = done.ended;
        if (ended || done.produced < length) break;
      }
    },
  };
}

/** gzip inflated by ISA-L straight into the ring: about twice as fast as zlib here. */
function isalGunzip(/** @type {string | undefined} */ file) {
  const addon = loadIsal(file);
  const state = addon.create();
  const result = new Uint32Array(3);
  return ringGunzip((input, offset, left, ring, at, length, finish) => {
    addon.inflate(state, input, offset, left, ring, at, length, result);
    const [consumed = 0, produced = 0, padded = 0] = result;
    // Zero padding after a member ends the data, as with zlib.
    if (padded === 1 || produced === length) return { consumed, produced, ended: padded === 1 };
    if (left > consumed) throw new Error("gzip decompression stopped with input left");
    if (finish && !addon.finished(state))
      throw Object.assign(new Error("unexpected end of file"), { code: "Z_BUF_ERROR" });
    return { consumed, produced, ended: finish };
  });
}

/**
 * gzip inflated synchronously, straight into the ring: no hop to the libuv
 * pool and back per chunk, no output buffers to copy and collect (they held
 * 30-60 MB of garbage outside the heap between collections). This drives
 * the zlib handle the way zlib.gunzipSync does (`_handle.writeSync` and
 * `_writeState`, Node internals that have not changed since Node 10);
 * undefined where they are missing, and the stream is used instead.
 */
function syncGunzip() {
  const stream = /** @type {any} */ (createGunzip());
  const handle = stream._handle;
  const state = stream._writeState;
  if (typeof handle?.writeSync !== "function" || !(state instanceof Uint32Array)) return undefined;
  stream.on("error", () => {}); // reported through `errored` below
  return ringGunzip((input, offset, left, ring, at, length, finish) => {
    handle.writeSync(
      finish ? constants.Z_FINISH : constants.Z_NO_FLUSH,
      input,
      offset,
      left,
      ring,
      at,
      length,
    );
    if (stream.errored) throw stream.errored;
    const [outLeft = 0, inLeft = 0] = state;
    // Input left over with room to spare: the gzip data has ended (multi-member
    // gzip is followed by the native code).
    return {
      consumed: left - inLeft,
      produced: length - outLeft,
      ended: outLeft > 0 && (inLeft > 0 || finish),
    };
  });
}

/**
 * Feeds the blob through a decompressing stream. The stream works on the
 * libuv pool and this thread's event loop, which nothing else uses.
 * (Node has no public synchronous streaming inflate; `_processChunk` closes
 * the stream after one call.)
 * @param {import("node:stream").Transform} stream @param {number} fd @param {any} job @param
 * {Int32Array} control
 * @param {(chunk: Buffer) => void} count @param {(chunk: Uint8Array) => void} put
 */
async function inflate(stream, fd, job, control, count, put) {
  let offset = 0;
  // Input buffers come back once the stream has consumed them: fresh ones
  // per read piled up as garbage outside the heap (tens of MB of RSS).
  /** @type {Buffer[]} */
  const spare = [];
  const feeding = (async () => {
    try {
      for (;;) {
        const into = spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_SIZE);
        const n = await readBlobAsync(fd, job, into, offset, control);
        if (n === 0) break;
        offset += n;
        const data = into.subarray(0, n);
        count(data);
        if (!stream.write(data, () => spare.push(into)))
          await new Promise((resolve) => stream.once("drain", resolve));
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

/**
 * The hasher: reads the ring behind the writer and hashes the tar, on its own
 * thread so that neither the inflater nor the file writer carries it. With
 * `blob` (a stored blob, complete), it also hashes the blob, reading the file
 * itself whenever the ring has nothing for it: the writer then only reads and
 * inflates (its sha256 of the compressed bytes was a fifth of its time). The
 * tar's hash still binds what is inflated to the config; the blob's is of the
 * same bytes unless the file changes under both, which fails one of the two.
 * @param {{ algorithm: string, origin: number, buffer: SharedArrayBuffer,
 *   blob?: { path: string, start: number, end: number | undefined, algorithm: string } }} job
 */
function hash(job) {
  const control = new Int32Array(job.buffer, 0, CONTROL_BYTES / 4);
  const ring = new Uint8Array(job.buffer, CONTROL_BYTES);
  const size = ring.length;
  const digest = createHash(job.algorithm);
  const blob = job.blob === undefined ? undefined : blobHasher(job.blob, control);
  let read = job.origin | 0;
  let bytes = 0;
  try {
    for (;;) {
      if (Atomics.load(control, CANCEL) !== 0) throw new Cancelled();
      const done = Atomics.load(control, DONE) === 1;
      const written = Atomics.load(control, WRITTEN);
      const available = (written - read) | 0;
      if (available === 0) {
        if (done) break;
        // Nothing in the ring: a piece of the blob, else a wait for the writer.
        if (blob === undefined || !blob.step()) Atomics.wait(control, WRITTEN, written, 1000);
        continue;
      }
      const at = (read >>> 0) & (size - 1);
      const step = Math.min(available, size - at);
      digest.update(ring.subarray(at, at + step));
      bytes += step;
      read = (read + step) | 0;
      Atomics.store(control, HASH_READ, read);
      Atomics.add(control, RELEASED, 1);
      Atomics.notify(control, RELEASED);
    }
    while (blob?.step() === true) if (Atomics.load(control, CANCEL) !== 0) throw new Cancelled();
  } finally {
    blob?.close();
  }
  parentPort?.postMessage({
    type: "hashed",
    tarBytes: bytes,
    tarHex: digest.digest("hex"),
    blobHex: blob?.hex(),
  });
}

/**
 * A stored blob hashed a piece at a time from its file (`start` to `end`, or to the file's end:
 * trailing bytes included, as the writer reads it).
 * @param {{ path: string, start: number, end: number | undefined, algorithm: string }} place
 * @param {Int32Array} control
 */
function blobHasher(place, control) {
  const fd = openRegular(place.path);
  const digest = createHash(place.algorithm);
  const chunk = Buffer.allocUnsafe(CHUNK_SIZE);
  // The writer's own reader of the blob's range: a stored blob never waits, so `control` is unused.
  const range = { start: place.start, end: place.end, growing: undefined };
  let read = 0;
  let ended = false;
  return {
    /** Hashes the next piece; false at the end. */
    step() {
      if (ended) return false;
      const n = readBlob(fd, range, chunk, read, control);
      if (n === 0) {
        ended = true;
        return false;
      }
      digest.update(chunk.subarray(0, n));
      read += n;
      return true;
    },
    hex: () => digest.digest("hex"),
    close: () => closeSync(fd),
  };
}

parentPort?.on("message", (job) => {
  (workerData?.role === "hash" ? Promise.resolve().then(() => hash(job)) : write(job)).catch(
    (/** @type {any} */ error) => {
      parentPort?.postMessage({
        type: "error",
        name: error?.name,
        code: error?.code,
        message: String(error?.message ?? error),
        strataKind: error?.strataKind,
        bytes: error?.bytes,
      });
    },
  );
});

// Everything this thread will read from strata's files is loaded now (the
// writer's addon too, where built), so the caller may drop privileges once it hears this.
if (workerData?.role === "write") {
  if (workerData.isalAddon !== undefined) loadIsal(workerData.isalAddon);
  try {
    loadZstd();
  } catch {
    // Not built here: the main thread decodes zstd with fzstd then.
  }
}
parentPort?.postMessage({ type: "ready" });
