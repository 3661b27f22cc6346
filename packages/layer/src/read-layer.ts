import { closeSync, createReadStream, readSync } from "node:fs";
import { PassThrough, pipeline, Readable } from "node:stream";
import { readBlobOffThread, type BlobFile, type GzipBackend } from "./blob-ring.js";
import {
  decompressChunks,
  defaultGzipBackend,
  defaultZstdBackend,
  READ_AHEAD,
  type ZstdBackend,
} from "./decompress.js";
import {
  AbortedError,
  CorruptLayerError,
  MediaTypeError,
  StrataError,
  withErrorContext,
  type ErrorContext,
} from "@strata-oci/errors";
import { displayPath, type LayerEntry } from "./layer-entry.js";
import { resolveLimits, type LayerLimits } from "./limits.js";
import { compressionOf, sniffCompression, type Compression } from "./media-type.js";
import { normaliseEntry } from "./normalise-entry.js";
import { openImageFile } from "./regular-file.js";
import { readTar } from "./tar-reader.js";
import { VerifyStream } from "./verify-stream.js";

/** What an image says about one layer. */
export interface LayerDescriptor {
  /**
   * Digest of the blob as stored (compressed). Undefined where the source does
   * not name the blob (docker-archive from Docker before 25 names layers by
   * directory): then only the size and the diff_id are checked.
   */
  readonly digest: string | undefined;
  /** Size of the blob in bytes. */
  readonly size: number;
  /** Media type from the manifest; undefined where the source has none (docker-archive). */
  readonly mediaType: string | undefined;
  /** Digest of the uncompressed tar, from the image config's rootfs.diff_ids. */
  readonly diffId: string | undefined;
}

/** A layer that can be read: its descriptor plus a way to open its blob. */
export interface Layer extends LayerDescriptor {
  /** A fresh stream of the blob's stored bytes on every call. */
  open(): Promise<Readable>;
  /**
   * Where the blob's bytes lie in a file, when they do: such a layer is read,
   * verified and decompressed on a worker thread. Throws what `open` would
   * for a missing blob.
   */
  locate?(): Promise<BlobFile>;
}

export interface ReadLayerOptions {
  /** Bounds for hostile input; unset fields take DEFAULT_LAYER_LIMITS. */
  readonly limits?: Partial<LayerLimits> | undefined;
  /** Named in errors (image reference); the layer digest is added. */
  readonly context?: ErrorContext | undefined;
  /** Stops reading between entries and chunks. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the number of blob bytes read, as they are read. */
  readonly onBlobBytes?: ((bytes: number) => void) | undefined;
  /** Called with the number of uncompressed (tar) bytes read, as they are read. */
  readonly onTarBytes?: ((bytes: number) => void) | undefined;
  /** Forces a zstd backend (benchmarks); default native when it loads. */
  readonly zstdBackend?: ZstdBackend | undefined;
  /**
   * Forces the gzip decoder of the worker thread (tests, benchmarks): ISA-L
   * (when its addon was built; default) or Node's zlib.
   */
  readonly gzipBackend?: GzipBackend | undefined;
  /**
   * Decompress on a worker thread when the layer can say where its blob lies
   * (`Layer.locate`): true always, false never. Unset: on a worker unless the
   * blob is complete and smaller than OFF_THREAD_MIN_BYTES (and no
   * gzipBackend is forced: those are the worker's decoders).
   */
  readonly offThread?: boolean | undefined;
  /**
   * File body chunks stay valid only until the next chunk or entry is asked
   * for: for consumers that write each chunk at once (the disk target), which
   * saves a copy. Default false: every chunk is the consumer's to keep.
   */
  readonly transientChunks?: boolean | undefined;
}

/**
 * Below this size a stored blob is read on this thread: starting the worker
 * pair costs tens of milliseconds of CPU (two Node isolates), more than
 * hashing and inflating a small blob here, and a short command (a layer
 * store's second image: one small new layer) paid it before its first byte.
 */
export const OFF_THREAD_MIN_BYTES = 1 << 20;

function resolveCompression(
  declared: Compression | "sniff",
  head: Buffer,
  mediaType: string | undefined,
): Compression {
  const seen = sniffCompression(head);
  if (declared === "sniff" || declared === seen || head.length === 0)
    return declared === "sniff" ? seen : declared;
  throw new MediaTypeError(
    "STRATA_MEDIA_TYPE_MISMATCH",
    `media type ${JSON.stringify(mediaType)} says ${declared}, but the blob's bytes are ` +
      `${seen === "none" ? "not compressed" : seen}`,
    { hint: "the manifest lies about this layer; the image is broken" },
  );
}

/** Maps zlib and zstd failures to typed layer errors. */
function typed(error: unknown): unknown {
  if (error instanceof StrataError) return error;
  const code = (error as { code?: unknown }).code;
  if (code === "Z_BUF_ERROR" || /unexpected end|truncat|ended in middle/i.test(String(error))) {
    return new CorruptLayerError("STRATA_TRUNCATED_LAYER", "compressed layer data ends early", {
      cause: error,
      hint: "the layer blob is incomplete; fetch the image again",
    });
  }
  if ((error as { name?: unknown }).name === "AbortError") return new AbortedError(error);
  return new CorruptLayerError(
    "STRATA_CORRUPT_LAYER",
    `cannot decompress layer: ${String((error as Error).message ?? error)}`,
    {
      cause: error,
      hint: "the layer blob is damaged; fetch the image again",
    },
  );
}

/**
 * Errors met while decompressing surface wherever the tar bytes are pulled:
 * often inside a file's body, in the consumer's hands. Typed here, so that
 * they never reach the user as raw zlib or zstd errors (issue #9).
 */
async function* typedChunks(
  source: AsyncIterable<Buffer>,
  onTarBytes: ((bytes: number) => void) | undefined,
): AsyncGenerator<Buffer> {
  try {
    if (onTarBytes === undefined) yield* source;
    else
      for await (const chunk of source) {
        onTarBytes(chunk.length);
        yield chunk;
      }
  } catch (error) {
    throw typed(error);
  }
}

/** A located blob's bytes, streamed on this thread: the same bytes the worker would read. */
function openLocated(file: BlobFile, context: ErrorContext): Readable {
  if (file.end !== undefined && file.end <= file.start) return Readable.from([]);
  const { fd } = openImageFile(file.path, context);
  return createReadStream("", {
    fd,
    start: file.start,
    ...(file.end === undefined ? {} : { end: file.end - 1 }),
    highWaterMark: READ_AHEAD,
  });
}

/** The blob's first bytes, to check its compression against its media type. */
function readHead(file: BlobFile, size: number, context: ErrorContext): Buffer {
  const head = Buffer.alloc(Math.min(4, size, file.end === undefined ? 4 : file.end - file.start));
  if (head.length === 0) return head;
  const { fd } = openImageFile(file.path, context);
  try {
    return head.subarray(0, readSync(fd, head, 0, head.length, file.start));
  } finally {
    closeSync(fd);
  }
}

/** The tar bytes of a layer, verified and decompressed on this thread (zlib on the libuv pool). */
async function readBlobHere(
  layer: Layer,
  open: () => Promise<Readable>,
  declared: Compression | "sniff",
  context: ErrorContext,
  options: ReadLayerOptions,
  streams: Readable[],
): Promise<AsyncIterable<Buffer>> {
  const source = await open();
  streams.push(source);
  const blobCheck = new VerifyStream({
    digest: layer.digest,
    size: layer.size,
    what: "blob",
    context,
    highWaterMark: READ_AHEAD,
  });
  const counted = options.onBlobBytes;
  if (counted !== undefined) blobCheck.on("data", (chunk: Buffer) => counted(chunk.length));
  streams.push(blobCheck);
  pipeline(source, blobCheck, () => {});
  const blobIterator = blobCheck[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head = await blobIterator.next();
  const compression = resolveCompression(
    declared,
    head.done === true ? Buffer.alloc(0) : head.value,
    layer.mediaType,
  );
  const tarBytes = decompressChunks(compression, prepend(head, blobIterator), options.zstdBackend);
  const tarCheck =
    layer.diffId === undefined
      ? new PassThrough({ highWaterMark: READ_AHEAD })
      : new VerifyStream({
          digest: layer.diffId,
          what: "uncompressed layer (diff_id)",
          context,
          highWaterMark: READ_AHEAD,
        });
  const tarSource = Readable.from(tarBytes, { objectMode: false, highWaterMark: READ_AHEAD });
  streams.push(tarSource, tarCheck);
  pipeline(tarSource, tarCheck, () => {});
  return tarCheck;
}

async function* prepend(
  head: IteratorResult<Buffer>,
  rest: AsyncIterator<Buffer>,
): AsyncGenerator<Buffer> {
  if (head.done === true) return;
  yield head.value;
  for (;;) {
    const next = await rest.next();
    if (next.done === true) return;
    yield next.value;
  }
}

/**
 * Streams a layer's entries in tar order. The blob's size and digest and the
 * tar's diff_id are checked over every byte (trailing bytes after the tar's
 * end included); a mismatch surfaces as an error from the iteration, after
 * the entries before it were yielded: a consumer must treat its work as
 * void unless the iteration completes.
 */
export async function* readLayer(
  layer: Layer,
  options: ReadLayerOptions = {},
): AsyncGenerator<LayerEntry> {
  const context: ErrorContext = {
    ...options.context,
    layer: layer.digest ?? layer.diffId ?? "(unnamed layer)",
  };
  const limits = resolveLimits(options.limits);
  // Destroyed when the iteration ends, however it ends.
  const streams: Readable[] = [];
  try {
    const declared = compressionOf(layer.mediaType);
    const file =
      options.offThread !== false && layer.locate !== undefined ? await layer.locate() : undefined;
    let tarBytes: AsyncIterable<Buffer> | undefined;
    if (
      file !== undefined &&
      options.offThread === undefined &&
      options.gzipBackend === undefined &&
      file.growing === undefined &&
      layer.size < OFF_THREAD_MIN_BYTES
    ) {
      tarBytes = await readBlobHere(
        layer,
        async () => openLocated(file, context),
        declared,
        context,
        options,
        streams,
      );
    } else if (file !== undefined) {
      if (file.growing !== undefined) {
        await file.growing.atLeast(Math.min(4, layer.size));
        if (file.growing.state === "failed") throw file.growing.failure;
      }
      const compression = resolveCompression(
        declared,
        readHead(file, layer.size, context),
        layer.mediaType,
      );
      // Pure-JS zstd stays here: the worker loads only native decoders.
      if (compression !== "zstd" || (options.zstdBackend ?? defaultZstdBackend()) === "native") {
        tarBytes = readBlobOffThread({
          file,
          compression,
          digest: layer.digest,
          size: layer.size,
          diffId: layer.diffId,
          context,
          borrow: options.transientChunks === true,
          gzipBackend: options.gzipBackend ?? defaultGzipBackend(),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.onBlobBytes === undefined ? {} : { onBlobBytes: options.onBlobBytes }),
        });
      }
    }
    tarBytes ??= await readBlobHere(layer, () => layer.open(), declared, context, options, streams);
    for await (const record of readTar(typedChunks(tarBytes, options.onTarBytes), limits)) {
      if (options.signal?.aborted === true) throw new AbortedError(options.signal.reason);
      let entry: LayerEntry | undefined;
      try {
        entry = normaliseEntry(record, limits);
      } catch (error) {
        throw withErrorContext(error, { entry: displayPath(record.name) });
      }
      if (entry !== undefined) yield entry;
    }
  } catch (error) {
    throw withErrorContext(typed(error), context);
  } finally {
    for (const stream of streams) stream.destroy();
  }
}
