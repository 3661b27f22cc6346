// The pairs of blob workers (a writer that reads, hashes and inflates a blob
// into a shared ring, and a hasher of the tar) and the pool that keeps them
// between layers. blob-ring.ts runs jobs on them.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { StrataError } from "@strata-oci/errors";
import { isalAddonFile } from "./decompress.js";
import { builtin } from "./lazy-builtin.js";
import { layerPackageRoot } from "./native-addon.js";
import {
  BLOB_READ_OFFSET,
  CANCEL,
  CONTROL_BYTES,
  RELEASED,
  WRITTEN,
} from "../worker/ring-protocol.mjs";

/**
 * Ring capacity: how far the worker may inflate ahead of the writer, to ride
 * out runs of small files (where the writer is slowest per byte). Measured
 * on tmpfs, 7 and 5 rounds: 2, 4, 8, 16 MiB gave Debian minbase medians of
 * 0.733, 0.722, 0.744, 0.705 s and the 30k image 1.859, 1.795, 1.797, 1.745 s.
 */
export const RING_SIZE = 16 << 20; // a power of two: positions are masked

export type WorkerMessage =
  | { type: "ready" }
  | { type: "data" }
  | { type: "end"; blobBytes: number; blobHex: string | undefined; tarBytes: number }
  | { type: "hashed"; tarBytes: number; tarHex: string; blobHex?: string }
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
export class RingWorkers {
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

/** Gives a healthy pair back for the next layer; stops it where enough are kept. */
export function returnWorkers(ring: RingWorkers, finished: boolean): void {
  if (finished && ring.healthy && idle.length < MAX_IDLE) {
    ring.busy(false);
    idle.push(ring);
  } else {
    // Stopped early or failed: the worker may still be inflating; a fresh one is cheaper than a
    // handshake.
    ring.stop();
  }
}

/**
 * Stops the workers kept for a next layer: for a command that has read its last layer and goes
 * on with other work (export writing its tar), their two isolates and ring are memory it needs
 * no more.
 */
export function stopIdleWorkers(): void {
  for (let ring = idle.pop(); ring !== undefined; ring = idle.pop()) ring.stop();
}

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

/** Where the ring's byte counters start (0, or near 2^31 in tests of the wrap-around). */
export function ringOriginNow(): number {
  return ringOrigin | 0;
}

export function takeWorkers(): RingWorkers {
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
