// One layer's progress events, the same wherever a layer is read (unpack,
// the merged tree, the store): layer-start when it
// begins, bytes as its blob is read (with the entries so far), layer-done.
import type { Layer } from "@strata-oci/layer";
import type { UnpackProgress } from "./unpack.js";

export interface LayerProgress {
  /** readLayer's onBlobBytes: undefined where nobody listens (readLayer then counts nothing). */
  readonly onBlobBytes: ((n: number) => void) | undefined;
  /** `source` passed on, its entries counted (as it is, where nobody listens). */
  counted<T>(source: AsyncIterable<T>): AsyncIterable<T>;
  /** layer-done, with the entries read. */
  done(): void;
}

/**
 * Starts layer `index` of `count` (layer-start now). `entries` says how many entries have been
 * read where the caller counts them itself; else `counted` counts them.
 */
export function layerProgress(
  layer: Layer,
  index: number,
  count: number,
  onProgress: ((event: UnpackProgress) => void) | undefined,
  options: { readonly entries?: () => number } = {},
): LayerProgress {
  let counter = 0;
  const entries = options.entries ?? (() => counter);
  const { size } = layer;
  const digest = layer.digest ?? layer.diffId ?? "";
  onProgress?.({ kind: "layer-start", index, count, digest, size });
  let read = 0;
  return {
    onBlobBytes:
      onProgress === undefined
        ? undefined
        : (n) => {
            read += n;
            onProgress({ kind: "bytes", index, read, size, entries: entries() });
          },
    counted<T>(source: AsyncIterable<T>): AsyncIterable<T> {
      if (onProgress === undefined || options.entries !== undefined) return source;
      return (async function* () {
        for await (const entry of source) {
          counter++;
          yield entry;
        }
      })();
    },
    done() {
      onProgress?.({ kind: "layer-done", index, entries: entries() });
    },
  };
}
