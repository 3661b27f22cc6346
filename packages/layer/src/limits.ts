/** Bounds that stop a hostile layer from exhausting memory, disk or time. */
export interface LayerLimits {
  /** Entries per layer. Default 5,000,000. */
  readonly maxEntries: number;
  /** Uncompressed bytes of entry data per layer. Default 256 GiB. */
  readonly maxTotalBytes: number;
  /** Bytes of one file. Default 64 GiB. */
  readonly maxFileSize: number;
  /** Bytes of one cleaned path. Default 4096 (PATH_MAX). */
  readonly maxPathLength: number;
  /**
   * Components of one path. Default 256: resolving each entry's parents
   * fresh costs O(depth^2) syscalls per chain, so depth is what a hostile
   * layer would inflate (512 nested directories took 4.6 s).
   */
  readonly maxDepth: number;
  /** Bytes of one PAX or GNU long-name header. Default 1 MiB. */
  readonly maxHeaderSize: number;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = Object.freeze({
  maxEntries: 5_000_000,
  maxTotalBytes: 256 * 2 ** 30,
  maxFileSize: 64 * 2 ** 30,
  maxPathLength: 4096,
  maxDepth: 256,
  maxHeaderSize: 2 ** 20,
});

/** Fills unset limits with the defaults. */
export function resolveLimits(partial: Partial<LayerLimits> | undefined): LayerLimits {
  return { ...DEFAULT_LAYER_LIMITS, ...partial };
}
