import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GrowingFile, SizeMismatchError, type BlobFile, type Layer } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import type { Image } from "@strata-oci/image";

/**
 * Layers downloaded at once, at most (unpack's `downloads`). Those after the
 * layer being applied start only once applying, not downloading, holds it
 * back (#mayLookAhead). Default one: through a 25 MB/s link (30k-entry
 * image, tmpfs) one at a time took 7.86-7.88 s, three 7.89-8.33 s (8.85-8.94
 * s before #mayLookAhead), skopeo's download alone 7.43 s; from a loopback
 * registry one took 4.29-4.64 s, three 4.70-4.80 s.
 */
export const PREFETCH_CONCURRENCY = 1;

/**
 * The reader of the layer being applied must have gone this long without waiting for a download
 * ahead to start.
 */
const LOOKAHEAD_AFTER_MS = 200;
const LOOKAHEAD_POLL_MS = 20;

interface Download {
  readonly file: GrowingFile;
  /** The file exists: it can be read as it grows. */
  readonly created: Promise<void>;
  /** The file is complete (not yet verified: readLayer does that). */
  readonly done: Promise<string>;
}

/**
 * Downloads the blobs of streamed layers (a registry's) into files in `dir`,
 * in manifest order, `concurrency` at a time, and lets each be read while it
 * downloads: the layer being applied follows its download, the next ones
 * arrive meanwhile (started only while the one being applied does not wait
 * for bytes),
 * each read on the blob worker (ISA-L, hashing off the main thread). Memory stays flat: bytes go to
 * disk as they come. Nothing is
 * trusted here: readLayer checks each blob's size and digest over every byte
 * it reads, and the caller applies into staging that a mismatch discards.
 */
export class LayerPrefetch {
  readonly layers: readonly Layer[];
  readonly #downloads: Download[] = [];
  readonly #streams = new Set<Readable>();
  #running = 0;
  #stopped = false;
  #received = 0;
  /** The layer being applied: the first not yet released. */
  #applying = 0;
  /** Since when the reader of the layer being applied has not been seen waiting. */
  #fedSince: number | undefined;
  #recheck: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly dir: string,
    readonly sources: readonly Layer[],
    readonly concurrency = PREFETCH_CONCURRENCY,
    readonly onReceived?: (received: number) => void,
  ) {
    this.layers = sources.map((source, index) => ({
      ...source,
      // Read whole (the in-thread reader): once complete.
      open: async () => createReadStream(await this.#download(index).done),
      // Read by the blob worker: as it grows.
      locate: async (): Promise<BlobFile> => {
        const download = this.#download(index);
        await download.created;
        return { path: download.file.path, start: 0, end: undefined, growing: download.file };
      },
    }));
    this.#pump();
  }

  /**
   * Layer `index` has been applied: its file is not needed any more (disk stays at about
   * `concurrency` layers), unless `keep` (the caller reads it again: cat).
   */
  release(index: number, keep = false): void {
    this.#applying = Math.max(this.#applying, index + 1);
    this.#fedSince = undefined;
    if (keep) return;
    const download = this.#downloads[index];
    if (download !== undefined && download.file.state !== "growing")
      rmSync(download.file.path, { force: true });
  }

  /** Stops the downloads still running (their files go with `dir`). */
  stop(): void {
    this.#stopped = true;
    if (this.#recheck !== undefined) clearTimeout(this.#recheck);
    for (const stream of this.#streams) stream.destroy();
  }

  #download(index: number): Download {
    // Layers are read in order, so this one has started; if a caller reads out of order, start it
    // now.
    while (this.#downloads.length <= index) this.#start();
    return this.#downloads[index] as Download;
  }

  #pump(): void {
    while (
      !this.#stopped &&
      this.#running < this.concurrency &&
      this.#downloads.length < this.sources.length
    ) {
      if (this.#downloads.length > this.#applying && !this.#mayLookAhead()) {
        // Look again soon: the reader may catch up, or the download finish.
        this.#recheck ??= setTimeout(() => {
          this.#recheck = undefined;
          this.#pump();
        }, LOOKAHEAD_POLL_MS);
        return;
      }
      this.#start();
    }
  }

  /**
   * Whether a download after the layer being applied may start: that layer
   * is downloaded, or its reader has not had to wait for bytes for a while
   * (applying, not the link, is the bottleneck). On a slow or shared link
   * layers thus download one after the other, each at the link's full speed
   * while it is applied; on a fast one several download at once.
   */
  #mayLookAhead(): boolean {
    const current = this.#downloads[this.#applying]?.file;
    if (current === undefined || current.state !== "growing") return true;
    const now = Date.now();
    if (current.readerWaiting || this.#fedSince === undefined) this.#fedSince = now;
    return now - this.#fedSince >= LOOKAHEAD_AFTER_MS;
  }

  #start(): void {
    const index = this.#downloads.length;
    const layer = this.sources[index] as Layer;
    const file = new GrowingFile(join(this.dir, `layer-${index}`));
    let created: () => void = () => {};
    const download: Download = {
      file,
      created: new Promise<void>((resolve) => (created = resolve)),
      done: this.#fetch(layer, file, () => created()).finally(() => {
        this.#running--;
        this.#pump();
      }),
    };
    this.#running++;
    // Failures surface when the layer is read; until then they must not be unhandled.
    download.done.catch((error: unknown) => {
      file.fail(error);
      created();
    });
    this.#downloads.push(download);
  }

  async #fetch(layer: Layer, file: GrowingFile, created: () => void): Promise<string> {
    const handle = await open(file.path, "wx", 0o600);
    created();
    let written = 0;
    // The file's length is published only once bytes are in it (a reader may be right behind).
    const sink = new Writable({
      highWaterMark: 1 << 20,
      writev: (chunks, callback) => {
        const buffers = chunks.map(({ chunk }) => chunk as Buffer);
        const length = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
        handle.writev(buffers).then(({ bytesWritten }) => {
          if (bytesWritten !== length)
            throw new TargetError(
              "STRATA_NO_SPACE",
              `short write to ${file.path} (${bytesWritten} of ${length} bytes)`,
              { hint: "free space beside DEST, where registry layers download" },
            );
          written += length;
          file.grew(written);
          callback();
        }, callback);
      },
    });
    try {
      const stream = await layer.open();
      this.#streams.add(stream);
      let bytes = 0;
      // A lying registry cannot fill the disk: the descriptor's size bounds the file.
      stream.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        this.#received += chunk.length;
        this.onReceived?.(this.#received);
        if (bytes > layer.size)
          stream.destroy(
            new SizeMismatchError(
              layer.size,
              bytes,
              layer.digest === undefined ? {} : { layer: layer.digest },
            ),
          );
      });
      try {
        await pipeline(stream, sink);
      } finally {
        this.#streams.delete(stream);
      }
      file.complete();
      return file.path;
    } finally {
      await handle.close();
    }
  }
}

/** Layers that come only as streams (a registry's): nothing locates their bytes in a file. */
export function streamed(layers: readonly Layer[]): boolean {
  return layers.length > 0 && layers.every((layer) => layer.locate === undefined);
}

/** An image whose layers may come from a prefetch, and the end of that prefetch. */
export interface PrefetchedImage {
  readonly image: Image;
  /** Layer `index` has been read once: the download of the next may go ahead. */
  read(index: number): void;
  /** Stops the downloads and removes their files; idempotent. */
  close(): void;
}

/**
 * `image` with its streamed layers (a registry's) downloaded ahead into a
 * private directory (made under `parent`, default the system's temporary
 * directory) and read on the blob worker as they grow, as unpack reads them:
 * for every command that reads a registry layer. Files stay until `close`
 * (or the process's exit), since cat reads a layer twice.
 */
export function prefetchedImage(
  image: Image,
  options: { readonly parent?: string; readonly downloads?: number } = {},
): PrefetchedImage {
  if (!streamed(image.layers)) return { image, read: () => {}, close: () => {} };
  // mkdtemp makes it 0700: nobody else reads or plants a layer there.
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), "strata-layers-"));
  const prefetch = new LayerPrefetch(dir, image.layers, options.downloads ?? PREFETCH_CONCURRENCY);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    prefetch.stop();
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", close);
  };
  process.on("exit", close);
  return {
    image: { ...image, layers: prefetch.layers },
    read: (index) => prefetch.release(index, true),
    close,
  };
}
