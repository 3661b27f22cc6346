// Starting the disk's work on a blob while it is still being written. A
// blob is fsynced before it is renamed into place; the fsync of a 151 MB
// layer on ext4 waited 0.44 s for writeback that could have run while the
// bytes were being read and hashed. An fdatasync in the thread pool every
// 16 MiB (one at a time) keeps writeback going, so the last fsync finds
// little left to do.
import { fdatasync } from "node:fs";

const EVERY = 16 << 20;

export class Writeback {
  readonly #fd: number;
  #unflushed = 0;
  #inFlight: Promise<void> | undefined;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** `bytes` more were written to the file. */
  wrote(bytes: number): void {
    this.#unflushed += bytes;
    if (this.#unflushed < EVERY || this.#inFlight !== undefined) return;
    this.#unflushed = 0;
    // A failure is the final fsync's to report.
    this.#inFlight = new Promise((resolve) =>
      fdatasync(this.#fd, () => {
        this.#inFlight = undefined;
        resolve();
      }),
    );
  }

  /** Waits for the flush under way: the descriptor must stay open until it ends. */
  async settled(): Promise<void> {
    await this.#inFlight;
  }
}
