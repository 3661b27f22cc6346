import { createReadStream, createWriteStream } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SizeMismatchError, type BlobFile, type Layer } from "@strata-oci/layer";

/** Layers downloaded at once, ahead of the one being applied. */
export const PREFETCH_CONCURRENCY = 3;

/**
 * Downloads the blobs of streamed layers (a registry's) into files in `dir`,
 * in manifest order, `concurrency` at a time, while earlier layers are
 * applied: layer N+1 arrives while N is written to disk, and each is then
 * read from its file on the blob worker (ISA-L, hashing off the main thread).
 * Memory stays flat: bytes go to disk as they come. Nothing is trusted here:
 * readLayer checks each file's size and digest as it reads it.
 */
export class LayerPrefetch {
  readonly layers: readonly Layer[];
  readonly #downloads: Array<Promise<string> | undefined> = [];
  readonly #streams = new Set<Readable>();
  #started = 0;
  #running = 0;
  #stopped = false;
  #received = 0;

  constructor(
    readonly dir: string,
    sources: readonly Layer[],
    readonly concurrency = PREFETCH_CONCURRENCY,
    readonly onReceived?: (received: number) => void,
  ) {
    this.layers = sources.map((source, index) => ({
      ...source,
      open: async () => createReadStream(await this.#file(index, sources)),
      locate: async (): Promise<BlobFile> => ({ path: await this.#file(index, sources), start: 0, end: undefined }),
    }));
    this.#pump(sources);
  }

  /** Stops the downloads still running (their files go with `dir`). */
  stop(): void {
    this.#stopped = true;
    for (const stream of this.#streams) stream.destroy();
  }

  #file(index: number, sources: readonly Layer[]): Promise<string> {
    // Layers are read in order, so this one has started; if a caller reads out of order, start it now.
    while (this.#started <= index) this.#start(sources);
    return this.#downloads[index] as Promise<string>;
  }

  #pump(sources: readonly Layer[]): void {
    while (!this.#stopped && this.#running < this.concurrency && this.#started < sources.length) this.#start(sources);
  }

  #start(sources: readonly Layer[]): void {
    const index = this.#started++;
    const layer = sources[index] as Layer;
    this.#running++;
    const download = this.#download(layer, join(this.dir, `layer-${index}`)).finally(() => {
      this.#running--;
      this.#pump(sources);
    });
    // Failures surface when the layer is read; until then they must not be unhandled.
    download.catch(() => {});
    this.#downloads[index] = download;
  }

  async #download(layer: Layer, path: string): Promise<string> {
    const stream = await layer.open();
    this.#streams.add(stream);
    let bytes = 0;
    // A lying registry cannot fill the disk: the descriptor's size bounds the file.
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      this.#received += chunk.length;
      this.onReceived?.(this.#received);
      if (bytes > layer.size) stream.destroy(new SizeMismatchError(layer.size, bytes, layer.digest === undefined ? {} : { layer: layer.digest }));
    });
    try {
      await pipeline(stream, createWriteStream(path, { flags: "wx", mode: 0o600 }));
    } finally {
      this.#streams.delete(stream);
    }
    return path;
  }
}
