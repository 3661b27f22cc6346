import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { readLayer, type Layer, type LayerLimits, type ZstdBackend } from "@strata-oci/layer";
import { AbortedError, TargetError, withErrorContext } from "@strata-oci/errors";
import { layerProgress } from "./layer-progress.js";
import { LayerPrefetch, PREFETCH_CONCURRENCY, streamed } from "./prefetch.js";
import { chainIdOf, collectWarnings, imageRequest, refuseArtifact } from "./prologue.js";
import { checkRecordWritable, recordTree, saveTreeRecord } from "./tree-record.js";
import {
  openImage,
  type Image,
  type ImageReference,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import {
  checkDestination,
  commitStaging,
  createStaging,
  discardStaging,
  DiskTarget,
  ownershipFor,
  resolveRootless,
  removeLeftoverStagings,
  type UnpackWarning,
} from "@strata-oci/merge";

/** Progress of an unpack, reported as it goes. */
export type UnpackProgress =
  | { readonly kind: "image"; readonly image: Image }
  | {
      readonly kind: "layer-start";
      readonly index: number;
      readonly count: number;
      readonly digest: string;
      readonly size: number;
    }
  | {
      readonly kind: "bytes";
      readonly index: number;
      readonly read: number;
      readonly size: number;
      readonly entries: number;
    }
  | {
      readonly kind: "layer-done";
      readonly index: number;
      readonly entries: number;
    }
  /** Registry images: bytes of the layers downloading ahead, all of them together. */
  | { readonly kind: "download"; readonly received: number; readonly total: number };

export interface UnpackOptions {
  /**
   * `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`, `docker://[HOST/]REPO[:TAG][@DIGEST]`, or a path.
   */
  readonly image: string;
  /** Directory to create; absent or empty. Filled atomically: it appears only when complete. */
  readonly dest: string;
  /** Platform to pick from an index; default the host's. */
  readonly platform?: string | Platform | undefined;
  /** For `docker://` images: credentials, TLS verification, timeouts. */
  readonly registry?: RegistryOptions | undefined;
  /**
   * Registry layers downloaded at once (default PREFETCH_CONCURRENCY). The
   * layer being applied follows its own download; more at once helps where
   * each connection is slow on its own, and hurts on a shared link.
   */
  readonly downloads?: number | undefined;
  /**
   * Keep ownership in `user.rootlesscontainers` and turn devices into empty files. Default: true
   * unless root.
   */
  readonly rootless?: boolean | undefined;
  /** Bounds for hostile layers; unset fields take the defaults. */
  readonly limits?: Partial<LayerLimits> | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: UnpackProgress) => void) | undefined;
  /** Workarounds taken (devices replaced, xattrs the filesystem refused). */
  readonly onWarning?: ((warning: UnpackWarning) => void) | undefined;
  /** Force a zstd implementation (benchmarks). */
  readonly zstdBackend?: ZstdBackend | undefined;
  /**
   * Also write the record of the unpacked tree to this file (each entry's
   * inode and ctime), so that `repack` can later find what changed in DEST
   * without unpacking the image again or reading unchanged files.
   */
  readonly record?: string | undefined;
}

export interface UnpackResult {
  readonly image: Image;
  readonly dest: string;
  readonly layers: number;
  readonly entries: number;
  /** Bytes of file data written. */
  readonly bytes: number;
  readonly warnings: readonly UnpackWarning[];
}

/** Unpacking into the layout being read would mix the rootfs with the image's blobs. */
function refuseDestinationInImage(ref: ImageReference, dest: string): void {
  for (const file of ref.files) {
    const layout = realpathSync.native(file);
    if (dest === layout || dest.startsWith(`${layout}/`)) {
      throw new TargetError(
        "STRATA_BAD_DESTINATION",
        `destination ${dest} lies inside the image layout ${layout}`,
        { hint: "unpack somewhere outside the image's own directory" },
      );
    }
  }
}

/** Where the record goes, checked before any work: a bad one would fail the unpack at its end. */
function checkRecordPlace(record: string, dest: string, given: string): void {
  if (`${resolve(record)}/`.startsWith(`${resolve(dest)}/`)) {
    throw new TargetError(
      "STRATA_BAD_RECORD",
      `the record ${record} would be inside DEST ${given}`,
      {
        hint: "write the record beside DEST, not in it: it would be part of the tree it records",
      },
    );
  }
  checkRecordWritable(record);
}

/**
 * Streamed layers (a registry's) download into a second private directory
 * beside DEST (named like a staging one, so that a killed run's is cleaned
 * up by the next), each applied as it arrives, the next ones downloading
 * meanwhile.
 */
function startPrefetch(
  image: Image,
  dest: string,
  options: UnpackOptions,
): LayerPrefetch | undefined {
  if (!streamed(image.layers)) return undefined;
  const total = image.layers.reduce((sum, layer) => sum + layer.size, 0);
  return new LayerPrefetch(
    createStaging(dest),
    image.layers,
    options.downloads ?? PREFETCH_CONCURRENCY,
    (received) => options.onProgress?.({ kind: "download", received, total }),
  );
}

/** One layer read, verified and applied to the staging tree, with its progress events. */
async function applyLayer(
  target: DiskTarget,
  layer: Layer,
  index: number,
  image: Image,
  options: UnpackOptions,
): Promise<void> {
  if (options.signal?.aborted === true) throw new AbortedError(options.signal.reason);
  const before = target.stats.entries;
  const progress = layerProgress(layer, index, image.layers.length, options.onProgress, {
    entries: () => target.stats.entries - before,
  });
  const entries = readLayer(layer, {
    transientChunks: true,
    context: { image: image.reference },
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.zstdBackend === undefined ? {} : { zstdBackend: options.zstdBackend }),
    ...(progress.onBlobBytes === undefined ? {} : { onBlobBytes: progress.onBlobBytes }),
  });
  try {
    await target.applyLayer(entries);
  } catch (error) {
    throw withErrorContext(error, {
      image: image.reference,
      layer: layer.digest ?? layer.diffId ?? `#${index}`,
    });
  }
  progress.done();
}

/**
 * Unpacks an image into `dest`: layers applied in manifest order into a
 * private staging directory beside `dest`, renamed into place on success.
 * On any failure the staging directory is removed and `dest` is untouched.
 */
export async function unpack(options: UnpackOptions): Promise<UnpackResult> {
  const dest = checkDestination(options.dest);
  if (options.record !== undefined) checkRecordPlace(options.record, dest, options.dest);
  const image = await openImage(imageRequest(options));
  options.onProgress?.({ kind: "image", image });
  refuseArtifact(image);
  refuseDestinationInImage(image.source, dest);
  // A run killed with SIGKILL cannot clean up after itself; the next one does.
  removeLeftoverStagings(dest);
  const policy = ownershipFor(resolveRootless(options.rootless));
  const { warnings, warn } = collectWarnings(image, options.onWarning);
  const staging = createStaging(dest);
  const prefetch = startPrefetch(image, dest, options);
  const layers = prefetch?.layers ?? image.layers;
  try {
    const target = new DiskTarget(staging, {
      policy,
      onWarning: warn,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    for (const [index, layer] of layers.entries()) {
      await applyLayer(target, layer, index, image, options);
      prefetch?.release(index);
    }
    target.finish();
    commitStaging(staging, dest);
    if (options.record !== undefined)
      saveTreeRecord(recordTree(dest, chainIdOf(image.config.diffIds)), options.record);
    return {
      image,
      dest: options.dest,
      layers: image.layers.length,
      entries: target.stats.entries,
      bytes: target.stats.bytes,
      warnings,
    };
  } catch (error) {
    discardStaging(staging);
    throw error;
  } finally {
    if (prefetch !== undefined) {
      prefetch.stop();
      discardStaging(prefetch.dir);
    }
  }
}
