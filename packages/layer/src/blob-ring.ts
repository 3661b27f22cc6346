import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DigestMismatchError, SizeMismatchError } from "./errors.js";
import { AbortedError, ImageError, StrataError, type ErrorContext } from "@strata-oci/errors";
import { notRegularFile } from "./regular-file.js";
import type { Compression } from "./media-type.js";
import { parseDigest } from "./verify-stream.js";
import { isalAddon, isalAddonFile } from "./decompress.js";
import { layerPackageRoot } from "./native-addon.js";
import { builtin } from "./lazy-builtin.js";
import type { GrowingFile } from "./growing-file.js";

// The shared buffer's layout: one module, which the workers import too.
import {
  BLOB_READ_OFFSET,
  CANCEL,
  CONTROL_BYTES,
  DONE,
  HASH_READ,
  MAIN_READ,
  RELEASED,
  WAITING,
  WRITTEN,
} from "../worker/ring-protocol.mjs";

/**
 * Ring capacity: how far the worker may inflate ahead of the writer, to ride
 * out runs of small files (where the writer is slowest per byte). Measured
 * on tmpfs, 7 and 5 rounds: 2, 4, 8, 16 MiB gave Debian minbase medians of
 * 0.733, 0.722, 0.744, 0.705 s and the 30k image 1.859, 1.795, 1.797, 1.745 s.
 */
export const RING_SIZE = 16 << 20; // a power of two: positions are masked

/**
 * The longest the event loop goes without a turn while the ring keeps delivering (timers, signals,
 * abort).
 */
const MAX_BUSY_MS = 50;

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

type WorkerMessage =
  | { type: "ready" }
  | { type: "data" }
  | { type: "end"; blobBytes: number; blobHex: string | undefined; tarBytes: number }
  | { type: "hashed"; tarBytes: number; tarHex: string }
  | {
      type: "error";
      name?: string;
      code?: string;
      message: string;
      strataKind?: string;
      bytes?: number;
    };

/** What the workers say about a job (everything but their start-up). */
type JobMessage = Exclude<WorkerMessage, { type: "ready" }>;

const workerUrl = (): URL => new URL("worker/blob-worker.mjs", layerPackageRoot());
// Loaded with the first worker pair: a command that reads only small blobs (on its own thread)
// never pays for it.
const newWorker = (data: object): import("node:worker_threads").Worker =>
  new (builtin("node:worker_threads").Worker)(workerUrl(), { workerData: data });

/**
 * Two workers sharing one ring, reused across layers while healthy: the
 * writer (read blob, hash it, inflate, fill the ring) and the hasher (hash
 * the tar from the ring). Hashing the tar on a third thread keeps it off both
 * the inflater and the file writer: on tmpfs the 30k image went from 1.675
 * to 1.618 s (median of 7), Debian minbase from 0.711 to 0.705 s (of 9).
 */
class RingWorkers {
  // Each worker's role is fixed at creation; its jobs say only what to do.
  // The writer loads the ISA-L addon this thread found as it starts (before a caller drops
  // privileges).
  readonly writer = newWorker({ role: "write", isalAddon: isalAddonFile() });
  readonly hasher = newWorker({ role: "hash" });
  readonly buffer = new SharedArrayBuffer(CONTROL_BYTES + RING_SIZE);
  readonly control = new Int32Array(this.buffer, 0, CONTROL_BYTES / 4);
  readonly progress = new Float64Array(this.buffer, BLOB_READ_OFFSET, 1);
  /** Both workers have loaded their code (and the ISA-L addon): no more file is read after this. */
  readonly ready: Promise<void>;
  #listener: ((message: JobMessage) => void) | undefined;
  #failure: Error | undefined;
  #busy = false;

  constructor() {
    pairsStarted++;
    let starting = 2;
    let started: () => void = () => {};
    this.ready = new Promise((resolve) => (started = resolve));
    for (const worker of [this.writer, this.hasher]) {
      worker.on("message", (message: WorkerMessage) => {
        if (message.type !== "ready") this.#listener?.(message);
        else if (--starting === 0) {
          // Starting workers keep the process alive (someone may await `ready`); idle ones do not.
          if (!this.#busy) this.busy(false);
          started();
        }
      });
      worker.on("error", (error) => {
        this.#failure = error;
        this.#listener?.({ type: "error", name: error.name, message: error.message });
      });
    }
  }

  get healthy(): boolean {
    return this.#failure === undefined;
  }

  listen(listener: ((message: JobMessage) => void) | undefined): void {
    this.#listener = listener;
  }

  /**
   * While a job runs the workers keep the process alive (this thread may be waiting only on them).
   */
  busy(busy: boolean): void {
    this.#busy = busy;
    for (const worker of [this.writer, this.hasher]) {
      if (busy) worker.ref();
      else worker.unref();
    }
  }

  stop(): void {
    Atomics.store(this.control, CANCEL, 1);
    Atomics.notify(this.control, RELEASED);
    Atomics.notify(this.control, WRITTEN);
    void this.writer.terminate();
    void this.hasher.terminate();
  }
}

/** Workers kept for the next layer; more run only while layers are read concurrently. */
const MAX_IDLE = 2;
const idle: RingWorkers[] = [];

let ringOrigin = 0;
let pairsStarted = 0;

/** How many worker pairs this process started (each costs two Node isolates): for tests. */
export function blobWorkerPairsStarted(): number {
  return pairsStarted;
}

/**
 * Where the ring's running byte counters start for the next reads. They wrap
 * at 2^31 after 2 GiB of tar; tests start them just below to cross the wrap
 * with small layers. Not for production use.
 */
export function setRingOriginForTests(origin: number): void {
  ringOrigin = origin;
}

function takeWorkers(): RingWorkers {
  return idle.pop() ?? newRingWorkers();
}

/**
 * A new pair of workers, once their file is known to be there: a bundler that
 * inlined strata leaves it behind, and the failure showed as a damaged blob.
 */
function newRingWorkers(): RingWorkers {
  const file = fileURLToPath(workerUrl());
  if (!existsSync(file)) {
    throw new StrataError("STRATA_INSTALL_INCOMPLETE", `strata's blob reader ${file} is missing`, {
      hint:
        "strata reads its worker and native files from its installed packages: a bundle " +
        "that inlines strata needs @strata-oci/* installed where it runs (or keep them " +
        "external: esbuild --packages=external), or reinstall",
    });
  }
  return new RingWorkers();
}

/**
 * Starts a pair of blob workers ahead of the first layer, so that their
 * start-up overlaps loading the rest of the program. Harmless when no layer
 * uses them: idle workers do not keep the process alive. Resolves once they
 * have loaded their code: a program that drops privileges after loading
 * strata awaits it first, as the workers read files of strata's own.
 */
export function prepareBlobWorkers(): Promise<void> {
  let prepared = idle.at(-1);
  if (prepared === undefined) {
    // Where the workers cannot start, the first layer says why, as a typed error.
    if (!existsSync(fileURLToPath(workerUrl()))) return Promise.resolve();
    prepared = new RingWorkers();
    idle.push(prepared);
  }
  return prepared.ready;
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
  if (job.gzipBackend === "isal" && job.compression === "gzip" && isalAddonFile() === undefined) {
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
  for (const index of [WAITING, CANCEL, RELEASED, DONE]) Atomics.store(control, index, 0);
  // The byte counters start at `origin` (0, or near 2^31 in tests of the wrap-around).
  const origin = ringOrigin | 0;
  for (const index of [WRITTEN, MAIN_READ, HASH_READ]) Atomics.store(control, index, origin);
  ring.progress[0] = 0;
  ring.busy(true);
  ring.writer.postMessage({
    path: job.file.path,
    start: job.file.start,
    end: job.file.end,
    growing: job.file.growing?.shared,
    compression: job.compression,
    blobAlgorithm: blob,
    hashed: tar !== undefined,
    maxBlobBytes: job.size,
    gzipBackend: job.gzipBackend,
    // The worker loads the addon file this thread found (built here or prebuilt).
    isalAddon: job.gzipBackend === "isal" ? isalAddonFile() : undefined,
    origin,
    buffer: ring.buffer,
  });
  if (tar !== undefined) ring.hasher.postMessage({ algorithm: tar, origin, buffer: ring.buffer });
  let read = origin;
  let lent = 0;
  let reported = 0;
  let turn = performance.now();
  let finished = false;
  const release = (bytes: number): void => {
    read = (read + bytes) | 0;
    Atomics.store(control, MAIN_READ, read);
    Atomics.add(control, RELEASED, 1);
    Atomics.notify(control, RELEASED);
  };
  const report = (): void => {
    const read = ring.progress[0] ?? 0;
    if (read > reported && job.onBlobBytes !== undefined) job.onBlobBytes(read - reported);
    reported = read;
  };
  try {
    for (;;) {
      if (lent > 0) {
        release(lent);
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
          release(length);
          yield copy;
        }
        if (performance.now() - turn > MAX_BUSY_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          turn = performance.now();
        }
        continue;
      }
      if (outcome?.type === "error") throw workerError(outcome, job);
      if (outcome?.type === "end" && (tar === undefined || hashed !== undefined)) {
        report();
        if (outcome.blobBytes !== job.size)
          throw new SizeMismatchError(job.size, outcome.blobBytes, job.context);
        checkDigest(job.digest, outcome.blobHex, "blob", job.context);
        checkDigest(job.diffId, hashed?.tarHex, "uncompressed layer (diff_id)", job.context);
        finished = true;
        return;
      }
      // Nothing to read: ask the writer to say when it adds bytes, unless it just did.
      Atomics.store(control, WAITING, 1);
      if (((Atomics.load(control, WRITTEN) - read) | 0) > 0) {
        Atomics.store(control, WAITING, 0);
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      turn = performance.now();
    }
  } finally {
    ring.listen(undefined);
    if (finished && ring.healthy && idle.length < MAX_IDLE) {
      ring.busy(false);
      idle.push(ring);
    } else {
      // Stopped early or failed: the worker may still be inflating; a fresh one is cheaper than a
      // handshake.
      ring.stop();
    }
  }
}
