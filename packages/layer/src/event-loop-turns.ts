// Work that never waits on I/O (bytes already in a ring, a tree walked in memory, writes made
// synchronously) keeps the event loop from running: no timer, no signal, no abort until it ends.
// Such a loop asks for a turn now and then.

/** The longest a loop runs without letting the event loop turn (timers, signals, abort). */
export const MAX_BUSY_MS = 50;

export class EventLoopTurns {
  #since = performance.now();

  /**
   * A turn of the event loop to await when the loop has been busy MAX_BUSY_MS; else undefined,
   * not a resolved promise: awaiting even that costs a hot loop a microtask each time.
   */
  due(): Promise<void> | undefined {
    if (performance.now() - this.#since <= MAX_BUSY_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.rested());
  }

  /** The loop has just waited (for data, for a turn): the busy time counts from now. */
  rested(): void {
    this.#since = performance.now();
  }
}
