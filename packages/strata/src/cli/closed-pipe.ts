// `strata ls -R IMAGE | head`: the reader goes away and the next write fails
// with EPIPE. GNU tools die of SIGPIPE there (status 141) without a word;
// strata stops the same way rather than printing Node's error dump, but
// through the command's own ending, so that what it made on the way (diff's
// unpacked LOWER) is removed first.

export const SIGPIPE_STATUS = 128 + 13;
let watching = false;
let closed = false;
let failure: NodeJS.ErrnoException | undefined;

/** The reader of stdout went away: stop producing output, and end with status 141. */
export function pipeClosed(): boolean {
  return closed;
}

/** Writing to stdout failed otherwise (a full disk under a redirect): the error, if so. */
export function stdoutFailure(): NodeJS.ErrnoException | undefined {
  return failure;
}

/** From now on a failed write to stdout or stderr is recorded here instead of crashing Node. */
export function stopOnClosedPipe(): void {
  if (watching) return;
  watching = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") {
        closed = true;
        // After the command ended (its summary was the last write), this is its status.
        process.exitCode = SIGPIPE_STATUS;
      } else if (stream === process.stdout) {
        failure ??= error;
        process.exitCode = 1;
      }
    });
  }
}

/** Resolves when stdout can take more, or will never again. */
export function stdoutDrained(): Promise<void> {
  if (closed || process.stdout.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off("drain", done);
      process.stdout.off("close", done);
      process.stdout.off("error", done);
      resolve();
    };
    process.stdout.on("drain", done);
    process.stdout.on("close", done);
    process.stdout.on("error", done);
  });
}
