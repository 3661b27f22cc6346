// @ts-check
// The layout of the buffers the main thread and the blob workers share: the
// ring's control words (src/blob-ring.ts, blob-worker.mjs) and a growing
// file's state (src/growing-file.ts, blob-worker.mjs). One module both
// threads import, plain JavaScript so that the worker loads it as it is,
// under vitest (TypeScript sources) and from dist alike.

// Ring control, Int32 indexes. Byte counts are running totals that wrap at
// 2^32 (differences taken with `| 0` stay right while the ring is < 2 GiB).
/** Bytes the writer has put in the ring. */
export const WRITTEN = 0;
/** 1 while the main thread waits for data: the writer then posts a message. */
export const WAITING = 1;
/** Set by the main thread to stop both workers. */
export const CANCEL = 2;
/** Bytes the main thread has consumed. */
export const MAIN_READ = 3;
/** Bytes the hasher has consumed. */
export const HASH_READ = 4;
/** Bumped by either reader after it consumes: the writer waits on it. */
export const RELEASED = 5;
/** The writer has written everything it will. */
export const DONE = 6;
/** Bytes of control words before the ring. */
export const CONTROL_BYTES = 64;
/** Byte offset of a Float64: blob bytes the writer has read. */
export const BLOB_READ_OFFSET = 32;

// A growing file's shared buffer (24 bytes).
/** Int32 index: GROWING, COMPLETE or FAILED. */
export const GROWING_STATE = 0;
/** Int32 index: bumped on every change; readers wait on it. */
export const GROWING_CHANGES = 1;
/** Float64 index (bytes 8-15): bytes written so far. */
export const GROWING_LENGTH = 1;
/** Byte offset of an Int32: 1 while a reader waits for more. */
export const GROWING_WAITING_OFFSET = 16;
/** Values of GROWING_STATE. */
export const GROWING = 0;
export const COMPLETE = 1;
export const FAILED = 2;
