// The shared buffer's layout: one module, which the blob worker imports too.
import {
  COMPLETE,
  FAILED,
  GROWING,
  GROWING_CHANGES as CHANGES,
  GROWING_LENGTH as LENGTH,
  GROWING_STATE as STATE,
  GROWING_WAITING_OFFSET as WAITING_OFFSET,
} from "../worker/ring-protocol.mjs";

/**
 * A file still being written (a blob downloading), read while it grows: the
 * writer says how far it has got, the readers (the blob worker, through the
 * shared buffer) wait for more instead of taking the current end for the
 * blob's end. A layer is thus applied while it downloads; its size and
 * digest are still checked over every byte once it is complete, and a
 * failed download fails the reader with the writer's error.
 */
export class GrowingFile {
  /**
   * Shared with the blob worker: state and change counter (Int32 0-1), length (Float64 1), reader
   * waiting (Int32 4).
   */
  readonly shared = new SharedArrayBuffer(24);
  readonly #flags = new Int32Array(this.shared, 0, 2);
  readonly #length = new Float64Array(this.shared, 0, 2);
  readonly #waiting = new Int32Array(this.shared, WAITING_OFFSET, 1);
  #failure: unknown;
  #waiters: Array<() => void> = [];

  constructor(readonly path: string) {}

  get length(): number {
    return this.#length[LENGTH] ?? 0;
  }

  get state(): "growing" | "complete" | "failed" {
    const state = Atomics.load(this.#flags, STATE);
    return state === GROWING ? "growing" : state === COMPLETE ? "complete" : "failed";
  }

  /** A reader has read all there is and waits for more: the download, not the reader, is behind. */
  get readerWaiting(): boolean {
    return Atomics.load(this.#waiting, 0) === 1;
  }

  /** The writer's error, once it failed. */
  get failure(): unknown {
    return this.#failure;
  }

  /** The file now holds `length` bytes (written, not just queued). */
  grew(length: number): void {
    this.#length[LENGTH] = length;
    this.#changed();
  }

  complete(): void {
    Atomics.store(this.#flags, STATE, COMPLETE);
    this.#changed();
  }

  fail(error: unknown): void {
    if (this.state !== "growing") return;
    this.#failure = error;
    Atomics.store(this.#flags, STATE, FAILED);
    this.#changed();
  }

  /** Resolves once the file holds `bytes` bytes or will not grow any more. */
  async atLeast(bytes: number): Promise<void> {
    while (this.length < bytes && this.state === "growing")
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #changed(): void {
    Atomics.add(this.#flags, CHANGES, 1);
    Atomics.notify(this.#flags, CHANGES);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
