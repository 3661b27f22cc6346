import {
  type Descriptor,
  type Image,
  type ImageDestination,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import { exportImage, spooledTree } from "./export.js";
import {
  checkedEpoch,
  outputDestination,
  writeImage,
  writeLayerBlob,
  type LayerCompression,
} from "./image-output.js";
import type { MergedTreeOptions, UnpackProgress } from "@strata-oci/core";

export interface SquashOptions {
  readonly image: string;
  /**
   * Where the image goes: `oci:DIR[:TAG]` or DIR (a layout, made when missing), `oci-archive:`,
   * `docker-archive:`, `docker://`, or an ImageDestination of the caller's own. Tag default
   * `squashed` where the transport tags.
   */
  readonly destination: string | ImageDestination;
  readonly platform?: string | Platform | undefined;
  readonly registry?: RegistryOptions | undefined;
  /** The new layer's compression. Default gzip. */
  readonly compress?: LayerCompression | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Seconds since 1970 for the config's times (reproducible builds; the command passes
   * SOURCE_DATE_EPOCH). Default: the image's own `created`.
   */
  readonly sourceDateEpoch?: number | undefined;
  /** Each layer read (once: the tree and the files' bytes together). */
  readonly onProgress?: ((event: UnpackProgress) => void) | undefined;
}

export interface SquashResult {
  /** The image squashed. */
  readonly image: Image;
  /** Where it went, as messages name it (`oci:DIR:TAG`). */
  readonly destination: string;
  readonly manifest: Descriptor;
  readonly layer: {
    readonly digest: string;
    readonly size: number;
    readonly diffId: string;
    readonly mediaType: string;
  };
  /** Layers of the source image folded into the one. */
  readonly squashed: number;
}

/**
 * An image as a one-layer image, written to a destination (an OCI layout by default): the layer
 * is `export`'s tar (so unpacking it gives the same tree), gzipped unless asked otherwise; the
 * config is the image's with rootfs.diff_ids and history replaced (its `created` kept, or
 * `sourceDateEpoch` when given), so the same image gives the same digests. Blobs are written
 * first, the manifest and tag last (a layout's other tags kept).
 */
export async function squash(options: SquashOptions): Promise<SquashResult> {
  const source = {
    image: options.image,
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  };
  const epoch = checkedEpoch(options.sourceDateEpoch);
  // Named first: a destination that cannot be written fails before anything is read.
  const destination = outputDestination(options.destination, "squashed", options);
  try {
    return await squashInto(destination, source, options.compress ?? "gzip", epoch);
  } catch (error) {
    destination.abandon?.();
    throw error;
  }
}

async function squashInto(
  destination: ImageDestination,
  source: MergedTreeOptions,
  compression: LayerCompression,
  epoch: number | undefined,
): Promise<SquashResult> {
  // Resolved first: a bad image fails before anything is written.
  const merged = await spooledTree(source);
  const { image } = merged;
  let written: Awaited<ReturnType<typeof writeLayerBlob>>;
  try {
    written = await writeLayerBlob(destination, exportImage(source, merged), compression);
  } finally {
    merged.close();
  }
  const { tarBytes: _tarBytes, ...layer } = written;
  const raw = image.config.raw;
  const created =
    epoch !== undefined
      ? new Date(epoch * 1000).toISOString()
      : typeof raw.created === "string"
        ? raw.created
        : undefined;
  const config = {
    ...raw,
    ...(created === undefined ? {} : { created }),
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
    history: [
      {
        ...(created === undefined ? {} : { created }),
        created_by: `strata squash ${image.reference}`,
        comment: `${image.layers.length} layers squashed into one`,
      },
    ],
  };
  const manifest = await writeImage(destination, config, [layer], image.config);
  return {
    image,
    destination: destination.name,
    manifest,
    layer,
    squashed: image.layers.length,
  };
}
