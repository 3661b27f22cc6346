import { DigestMismatchError, SizeMismatchError } from "./errors.js";
import { AbortedError, ImageError, type ErrorContext } from "@strata-oci/errors";
import { notRegularFile } from "./regular-file.js";
import type { Compression } from "./media-type.js";
import { parseDigest } from "./verify-stream.js";
import { isalAddon, isalAddonFile } from "./decompress.js";
import {
  returnWorkers,
  ringOriginNow,
  RING_SIZE,
  takeWorkers,
  type RingWorkers,
  type WorkerMessage,
} from "./ring-workers.js";
import type { GrowingFile } from "./growing-file.js";

// The shared buffer's layout: one module, which the workers import too.
import {
  CANCEL,
  CONTROL_BYTES,
  DONE,
  HASH_READ,
  MAIN_READ,
  RELEASED,
  WAITING,
  WRITTEN,
} from "../worker/ring-protocol.mjs";
import { EventLoopTurns } from "./event-loop-turns.js";

/**
 * A blob stored in a file: bytes `start` up to `end` (exclusive; the file's end when undefined).
 */
export interface BlobFile {
  readonly path: string;
  readonly start: number;
  readonly end: number | undefined;
  /**
   * Set while the file is still being written (a download): read as it grows, its writer's failure
   * failing the read.
   */
  readonly growing?: GrowingFile;
}

/** Which library inflates gzip on the worker: ISA-L (strata's addon, when built) or Node's zlib. */
export type GzipBackend = "isal" | "zlib";

export interface BlobJob {
  readonly file: BlobFile;
  readonly compression: Compression;
  /** Checked over every byte of the blob; undefined checks the size only. */
  readonly digest: string | undefined;
  readonly size: number;
  /** Checked over every byte of the tar. */
  readonly diffId: string | undefined;
  readonly context: ErrorContext;
  readonly signal?: AbortSignal;
  readonly onBlobBytes?: (bytes: number) => void;
  /**
   * Hand out views of the ring that stay valid only until the next chunk is
   * asked for (the consumer writes them at once). Otherwise every chunk is
   * copied out.
   */
  readonly borrow: boolean;
  readonly gzipBackend: GzipBackend;
}

/**
 * A worker's failure as the error the in-thread pipeline would raise (readLayer types zlib errors).
 */
function workerError(message: Extract<WorkerMessage, { type: "error" }>, job: BlobJob): unknown {
  if (message.strataKind === "size")
    return new SizeMismatchError(job.size, message.bytes ?? 0, job.context);
  if (message.strataKind === "not-regular") return notRegularFile(job.file.path, job.context);
  if (message.strataKind === "source-failed" && job.file.growing?.failure !== undefined)
    return job.file.growing.failure;
  return Object.assign(new Error(message.message), {
    name: message.name ?? "Error",
    code: message.code,
  });
}

function checkDigest(
  expected: string | undefined,
  actualHex: string | undefined,
  what: string,
  context: ErrorContext,
): void {
  if (expected === undefined) return;
  const { algorithm, hex } = parseDigest(expected);
  if (actualHex !== hex)
    throw new DigestMismatchError(expected, `${algorithm}:${actualHex}`, what, context);
}

/** ISA-L asked for where its addon does not load: refused before a ring is taken. */
function refuseMissingIsal(job: BlobJob): void {
  if (job.gzipBackend !== "isal" || job.compression !== "gzip" || isalAddonFile() !== undefined)
    return;
  const load = isalAddon();
  throw new ImageError(
    "STRATA_NATIVE_UNAVAILABLE",
    `gzip through ISA-L was asked for, and strata's ISA-L addon does ` +
      `not load: ${"reason" in load ? load.reason : ""}`,
    {
      hint:
        "leave the gzip backend unset (zlib is used where ISA-L is missing), or " +
        "install libisal2",
    },
  );
}

/** The ring's counters reset to `origin`, and the job given to its writer and hasher. */
function startJob(
  ring: RingWorkers,
  job: BlobJob,
  origin: number,
  blobAlgorithm: string | undefined,
  tarAlgorithm: string | undefined,
): void {
  const { control } = ring;
  for (const index of [WAITING, CANCEL, RELEASED, DONE]) Atomics.store(control, index, 0);
  for (const index of [WRITTEN, MAIN_READ, HASH_READ]) Atomics.store(control, index, origin);
  ring.progress[0] = 0;
  ring.busy(true);
  // A stored blob whose tar is hashed too: the hasher hashes the blob as well (reading the file
  // itself), the writer only reads and inflates. A download (growing) stays with the writer.
  const blobInHasher =
    tarAlgorithm !== undefined && blobAlgorithm !== undefined && job.file.growing === undefined;
  ring.writer.postMessage({
    path: job.file.path,
    start: job.file.start,
    end: job.file.end,
    growing: job.file.growing?.shared,
    compression: job.compression,
    blobAlgorithm: blobInHasher ? undefined : blobAlgorithm,
    hashed: tarAlgorithm !== undefined,
    maxBlobBytes: job.size,
    gzipBackend: job.gzipBackend,
    // The worker loads the addon file this thread found (built here or prebuilt).
    isalAddon: job.gzipBackend === "isal" ? isalAddonFile() : undefined,
    origin,
    buffer: ring.buffer,
  });
  if (tarAlgorithm !== undefined)
    ring.hasher.postMessage({
      algorithm: tarAlgorithm,
      origin,
      buffer: ring.buffer,
      ...(blobInHasher
        ? {
            blob: {
              path: job.file.path,
              start: job.file.start,
              end: job.file.end,
              algorithm: blobAlgorithm,
            },
          }
        : {}),
    });
}

/** The blob's size and digest, and the tar's diff_id, as the workers counted them. */
function checkOutcome(
  job: BlobJob,
  outcome: Extract<WorkerMessage, { type: "end" }>,
  hashed: Extract<WorkerMessage, { type: "hashed" }> | undefined,
): void {
  if (outcome.blobBytes !== job.size)
    throw new SizeMismatchError(job.size, outcome.blobBytes, job.context);
  checkDigest(job.digest, outcome.blobHex ?? hashed?.blobHex, "blob", job.context);
  checkDigest(job.diffId, hashed?.tarHex, "uncompressed layer (diff_id)", job.context);
}

/** Gives `bytes` read at `read` back to the writer; the new read position. */
function released(control: Int32Array, read: number, bytes: number): number {
  const next = (read + bytes) | 0;
  Atomics.store(control, MAIN_READ, next);
  Atomics.add(control, RELEASED, 1);
  Atomics.notify(control, RELEASED);
  return next;
}

/**
 * Nothing to read: asks the writer to say when it adds bytes, unless it just did (then false: read
 * them).
 */
function askToBeWoken(control: Int32Array, read: number): boolean {
  Atomics.store(control, WAITING, 1);
  if (((Atomics.load(control, WRITTEN) - read) | 0) <= 0) return true;
  Atomics.store(control, WAITING, 0);
  return false;
}

/**
 * The tar bytes of a blob stored in a file, read, verified and decompressed
 * on a worker thread. Errors the worker meets surface here in stream order,
 * after the bytes before them; size and digests are checked at the end, as
 * with the in-thread pipeline.
 */
export async function* readBlobOffThread(job: BlobJob): AsyncGenerator<Buffer> {
  const blob = job.digest === undefined ? undefined : parseDigest(job.digest).algorithm;
  const tar = job.diffId === undefined ? undefined : parseDigest(job.diffId).algorithm;
  // Before a ring is taken: nothing to give back.
  refuseMissingIsal(job);
  const ring = takeWorkers();
  const { control } = ring;
  const view = Buffer.from(ring.buffer, CONTROL_BYTES, RING_SIZE);
  let outcome: Extract<WorkerMessage, { type: "end" | "error" }> | undefined;
  let hashed: Extract<WorkerMessage, { type: "hashed" }> | undefined;
  let wake: (() => void) | undefined;
  ring.listen((message) => {
    if (message.type === "hashed") hashed = message;
    else if (message.type !== "data") outcome = message;
    wake?.();
  });
  // The byte counters start at `origin` (0, or near 2^31 in tests of the wrap-around).
  const origin = ringOriginNow();
  startJob(ring, job, origin, blob, tar);
  let read = origin;
  let lent = 0;
  let reported = 0;
  // The ring may keep delivering for seconds without a wait.
  const turns = new EventLoopTurns();
  let finished = false;
  const report = (): void => {
    const read = ring.progress[0] ?? 0;
    if (read > reported && job.onBlobBytes !== undefined) job.onBlobBytes(read - reported);
    reported = read;
  };
  try {
    for (;;) {
      if (lent > 0) {
        read = released(control, read, lent);
        lent = 0;
      }
      if (job.signal?.aborted === true) throw new AbortedError(job.signal.reason);
      const available = (Atomics.load(control, WRITTEN) - read) | 0;
      if (available > 0) {
        report();
        const at = read & (RING_SIZE - 1);
        const length = Math.min(available, RING_SIZE - at);
        const chunk = view.subarray(at, at + length);
        if (job.borrow) {
          lent = length;
          yield chunk;
        } else {
          const copy = Buffer.from(chunk);
          read = released(control, read, length);
          yield copy;
        }
        const turn = turns.due();
        if (turn !== undefined) await turn;
        continue;
      }
      if (outcome?.type === "error") throw workerError(outcome, job);
      if (outcome?.type === "end" && (tar === undefined || hashed !== undefined)) {
        report();
        checkOutcome(job, outcome, hashed);
        finished = true;
        return;
      }
      if (!askToBeWoken(control, read)) continue;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      turns.rested();
    }
  } finally {
    ring.listen(undefined);
    returnWorkers(ring, finished);
  }
}
