import { pipeline, Readable } from "node:stream";
import * as zlib from "node:zlib";
import { createGunzip, type ZlibOptions } from "node:zlib";
import { Decompress as FzstdDecompress } from "fzstd";
import { layerPackageRoot, loadAddon, requireFromLayer, type AddonLoad } from "./native-addon.js";
import type { Compression } from "./media-type.js";
import type { GzipBackend } from "./blob-ring.js";

/** 1 MiB zlib chunks: measured 2x faster than the 16 KiB default here. */
export const CHUNK_SIZE = 1 << 20;

/**
 * How far decompression may run ahead of the writer. With the default 16 KiB
 * the inflater and the writer took turns instead of overlapping.
 */
export const READ_AHEAD = 2 << 20;

/**
 * Which zstd implementation decompresses: zstd-napi's binding where the user installed it (the
 * fastest: 200 MB in 0.12 s here), else Node's own zlib where this Node has zstd (22.15 and
 * later: 0.20 s), else pure JS (fzstd: 0.9 s).
 */
export type ZstdBackend = "native" | "zlib" | "js";

type ZstdStreamFactory = (options: ZlibOptions) => NodeJS.ReadWriteStream;

/** Node's zlib zstd decoder, where this Node has one. */
function zlibZstdDecoder(): ZstdStreamFactory | undefined {
  return (zlib as { createZstdDecompress?: ZstdStreamFactory }).createZstdDecompress;
}

/**
 * One step of zstd's streaming decoder (zstd-napi's binding): `[hint, produced, consumed]`; hint 0
 * = a frame just ended.
 */
interface ZstdDecoder {
  decompressStream(output: Uint8Array, input: Uint8Array): [number, number, number];
}

interface ZstdBinding {
  DCtx: new () => ZstdDecoder;
}

let nativeZstd: ZstdBinding | null | undefined;

function loadNativeZstd(): ZstdBinding | null {
  if (nativeZstd === undefined) {
    try {
      nativeZstd = requireFromLayer("zstd-napi/binding") as ZstdBinding;
    } catch {
      nativeZstd = null;
    }
  }
  return nativeZstd;
}

/** The zstd backend `createDecompressor` uses when none is forced. */
export function defaultZstdBackend(): ZstdBackend {
  if (loadNativeZstd() !== null) return "native";
  return zlibZstdDecoder() === undefined ? "js" : "zlib";
}

function truncatedZstd(): Error {
  return Object.assign(new Error("unexpected end of file in zstd data"), { code: "Z_BUF_ERROR" });
}

/**
 * zstd decoded in steps of at most CHUNK_SIZE output, each handed on before
 * the next is made: zstd-napi's stream class decoded a whole input chunk at
 * once (a 36 KB bomb buffered 2.1 GB before any limit could act; issue #9).
 */
async function* nativeZstdChunks(
  source: AsyncIterable<Buffer>,
  binding: ZstdBinding,
): AsyncGenerator<Buffer> {
  const decoder = new binding.DCtx();
  let hint = 0;
  for await (const chunk of source) {
    let input: Buffer = chunk;
    for (;;) {
      const output = Buffer.allocUnsafe(CHUNK_SIZE);
      const [next, produced, consumed] = decoder.decompressStream(output, input);
      if (produced > 0 || consumed > 0) hint = next;
      input = input.subarray(consumed);
      if (produced > 0) yield output.subarray(0, produced);
      if (produced < CHUNK_SIZE && (input.length === 0 || (produced === 0 && consumed === 0)))
        break;
    }
  }
  if (hint !== 0) throw truncatedZstd();
}

/**
 * Pure-JS zstd (fzstd), fed a small slice at a time: fzstd decodes all it is
 * given in one call, and a zstd block of a few bytes can stand for 128 KiB,
 * so 1 KiB slices keep one call's output to tens of MB at worst.
 */
async function* jsZstdChunks(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  const decoder = new FzstdDecompress((chunk) =>
    pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
  );
  let sawInput = false;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; at += JS_ZSTD_SLICE) {
      sawInput = true;
      decoder.push(chunk.subarray(at, at + JS_ZSTD_SLICE));
      if (pending.length > 0) {
        const out = pending;
        pending = [];
        yield* out;
      }
    }
  }
  if (sawInput) decoder.push(new Uint8Array(0), true);
  yield* pending;
}

const JS_ZSTD_SLICE = 1024;

let isal: AddonLoad<unknown> | undefined;

/**
 * strata's ISA-L addon (native/strata_gzip.c), loaded once: where it came from, or why it is
 * unavailable.
 */
export function isalAddon(): AddonLoad<unknown> {
  isal ??= loadAddon(layerPackageRoot(), "strata_gzip");
  return isal;
}

/**
 * The gzip decoder the worker thread uses when none is forced: ISA-L when
 * strata's addon loads (it needs libisal.so.2 on the machine), else Node's
 * zlib. (On this thread, gzip always goes through zlib streams.)
 */
/** The file of the ISA-L addon that loads here, for the worker thread to load too. */
export function isalAddonFile(): string | undefined {
  const load = isalAddon();
  return "file" in load ? load.file : undefined;
}

export function defaultGzipBackend(): GzipBackend {
  return "reason" in isalAddon() ? "zlib" : "isal";
}

/** `source` through one of Node's zlib decoders, in 1 MiB chunks, 2 MiB ahead at most. */
function zlibStream(
  create: ZstdStreamFactory,
  source: AsyncIterable<Buffer>,
): AsyncIterable<Buffer> {
  const decoder = create({ chunkSize: CHUNK_SIZE, highWaterMark: READ_AHEAD } as ZlibOptions);
  // An error of the source destroys the decoder with it, so the consumer sees it.
  pipeline(
    Readable.from(source, { objectMode: false, highWaterMark: READ_AHEAD }),
    decoder,
    () => {},
  );
  return decoder as unknown as AsyncIterable<Buffer>;
}

/**
 * Turns compressed layer bytes into tar bytes, pulling from `source` only as
 * the consumer pulls: memory stays flat whatever the ratio.
 */
export function decompressChunks(
  compression: Compression,
  source: AsyncIterable<Buffer>,
  zstdBackend: ZstdBackend = defaultZstdBackend(),
): AsyncIterable<Buffer> {
  switch (compression) {
    case "none":
      return source;
    case "gzip":
      return zlibStream(createGunzip, source);
    case "zstd": {
      const binding = zstdBackend === "native" ? loadNativeZstd() : null;
      if (binding !== null) return nativeZstdChunks(source, binding);
      const decoder = zstdBackend === "zlib" ? zlibZstdDecoder() : undefined;
      return decoder === undefined ? jsZstdChunks(source) : zlibStream(decoder, source);
    }
  }
}
