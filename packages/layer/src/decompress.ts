import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { createGunzip, type ZlibOptions } from "node:zlib";
import { Decompress as FzstdDecompress } from "fzstd";
import type { Compression } from "./media-type.js";
import type { GzipBackend } from "./blob-ring.js";

/** 1 MiB zlib chunks: measured 2x faster than the 16 KiB default here. */
export const CHUNK_SIZE = 1 << 20;

/**
 * How far decompression may run ahead of the writer. With the default 16 KiB
 * the inflater and the writer took turns instead of overlapping.
 */
export const READ_AHEAD = 2 << 20;

/** Which zstd implementation decompresses: the native binding, or pure JS when it cannot load. */
export type ZstdBackend = "native" | "js";

interface NativeZstd {
  DecompressStream: new () => Transform;
}

let nativeZstd: NativeZstd | null | undefined;

function loadNativeZstd(): NativeZstd | null {
  if (nativeZstd === undefined) {
    try {
      nativeZstd = createRequire(import.meta.url)("zstd-napi") as NativeZstd;
    } catch {
      nativeZstd = null;
    }
  }
  return nativeZstd;
}

/** The zstd backend `createDecompressor` uses when none is forced. */
export function defaultZstdBackend(): ZstdBackend {
  return loadNativeZstd() === null ? "js" : "native";
}

/** Pure-JS zstd (fzstd) as a Transform. */
class JsZstdStream extends Transform {
  readonly #decoder = new FzstdDecompress((chunk) => {
    this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  #sawInput = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.#sawInput ||= chunk.length > 0;
      this.#decoder.push(chunk);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.#sawInput) this.#decoder.push(new Uint8Array(0), true);
      done();
    } catch (error) {
      done(error as Error);
    }
  }
}

let isalBuilt: boolean | undefined;

/**
 * The gzip decoder the worker thread uses when none is forced: ISA-L when
 * strata's addon (native/strata_gzip.c, needs libisal-dev) was built, else
 * Node's zlib. (On this thread, gzip always goes through zlib streams.)
 */
export function defaultGzipBackend(): GzipBackend {
  if (isalBuilt === undefined) {
    try {
      createRequire(import.meta.url)(fileURLToPath(new URL("../native/build/strata_gzip.node", import.meta.url)));
      isalBuilt = true;
    } catch {
      isalBuilt = false;
    }
  }
  return isalBuilt ? "isal" : "zlib";
}

/** A Transform that turns compressed layer bytes into tar bytes. */
export function createDecompressor(compression: Compression, zstdBackend: ZstdBackend = defaultZstdBackend()): Transform {
  switch (compression) {
    case "none":
      return new PassThrough({ highWaterMark: READ_AHEAD });
    case "gzip":
      return createGunzip({ chunkSize: CHUNK_SIZE, highWaterMark: READ_AHEAD } as ZlibOptions);
    case "zstd": {
      const native = zstdBackend === "native" ? loadNativeZstd() : null;
      return native === null ? new JsZstdStream() : new native.DecompressStream();
    }
  }
}
