import { join } from "node:path";
import { readLayer, type Layer, type LayerLimits } from "@strata-oci/layer";
import { withErrorContext } from "@strata-oci/errors";
import {
  chainIds,
  formatPlatform,
  parseImageReference,
  type Image,
  type ImageReference,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import {
  MergedTree,
  StoredLayers,
  ownershipFor,
  resolveRootless,
  writeBottomLayer,
  writeOverlayLayer,
  type UnpackWarning,
} from "@strata-oci/merge";
import {
  collectWarnings,
  layerProgress,
  openContainerImage,
  prefetchedImage,
  type UnpackProgress,
} from "@strata-oci/core";
import { defaultStore, LayerStore } from "./layer-store.js";
import { withStoreLock } from "./lock.js";
import type { StoredImage } from "./records.js";

export interface StoreUnpackOptions {
  readonly image: string;
  /** The store (default: defaultStore()). */
  readonly store?: string | undefined;
  readonly platform?: string | Platform | undefined;
  readonly registry?: RegistryOptions | undefined;
  /**
   * Owners in user.rootlesscontainers, user.overlay.* markers (for userxattr mounts). Default: when
   * not root.
   */
  readonly rootless?: boolean | undefined;
  readonly limits?: Partial<LayerLimits> | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onWarning?: ((warning: UnpackWarning) => void) | undefined;
  /** Each layer stored as it is read (layer-start, bytes, layer-done): for a display. */
  readonly onProgress?: ((event: UnpackProgress) => void) | undefined;
  /** Called when each layer is stored (`written`) or found stored already. */
  readonly onLayer?: (event: {
    index: number;
    count: number;
    chainId: string;
    written: boolean;
  }) => void;
}

export interface StoreUnpackResult {
  readonly image: Image;
  readonly store: string;
  /** The platform the image is kept under (`os/arch[/variant]` of its config). */
  readonly platform: string;
  readonly chainIds: readonly string[];
  /** Layers this call extracted, and those it found stored. */
  readonly written: number;
  readonly reused: number;
  /** The mount's lowerdir option, relative to the store directory (top layer first). */
  readonly lowerdir: string;
  readonly warnings: readonly UnpackWarning[];
}

/**
 * The name an image is kept under: a layout or archive by its absolute path, so that the working
 * directory does not matter.
 */
export function keptName(image: string | ImageReference): string {
  return (typeof image === "string" ? parseImageReference(image) : image).canonical();
}

/** The platform an image is kept under: its config's, else the one asked for. */
export function keptPlatform(image: Image, asked: string | Platform | undefined): string {
  const { os, architecture, variant } = image.config;
  if (os !== undefined && architecture !== undefined)
    return formatPlatform(
      variant === undefined ? { os, architecture } : { os, architecture, variant },
    );
  return asked === undefined ? "" : typeof asked === "string" ? asked : formatPlatform(asked);
}

/**
 * Stores IMAGE's layers that the store lacks, each stacked on those below
 * it, and keeps the image (what `storeGc` keeps), by reference and
 * platform. Layers stored already are read back from their directories
 * (headers only), never from the image. Holds the store's lock shared: a gc
 * waits until this call is done.
 */
export async function unpackToStore(options: StoreUnpackOptions): Promise<StoreUnpackResult> {
  const { image, store } = await openForStore(options);
  return withStoreLock(store.root, "shared", options.signal, () =>
    storeImage(store, image, options),
  );
}

/**
 * The image opened and the store opened (made when missing) for it: what every store command does
 * first.
 */
export async function openForStore(
  options: StoreUnpackOptions,
): Promise<{ image: Image; store: LayerStore }> {
  const image = await openContainerImage(options);
  const rootless = resolveRootless(options.rootless);
  return { image, store: LayerStore.create(options.store ?? defaultStore(), rootless) };
}

/** unpackToStore's work, with the store's lock held by the caller. */
export async function storeImage(
  store: LayerStore,
  image: Image,
  options: StoreUnpackOptions,
): Promise<StoreUnpackResult> {
  const chain = chainIds(image.config.diffIds);
  const { warnings, warn } = collectWarnings(image, options.onWarning);
  const platform = keptPlatform(image, options.platform);
  // Kept before its layers are looked at, and put back as it was if this call fails.
  const kept: StoredImage = {
    reference: keptName(image.source),
    platform,
    manifest: image.manifest?.digest,
    config: image.configDigest,
    chainIds: chain,
  };
  const previous = store
    .images()
    .find((i) => i.reference === kept.reference && i.platform === kept.platform);
  store.keepImage(kept);
  let written = 0;
  // Registry layers the store lacks download ahead and are read on the blob worker (as unpack
  // reads them); those it has are not downloaded at all.
  const missing = chain.flatMap((chainId, index) =>
    store.layer(chainId) === undefined ? [index] : [],
  );
  const prefetched = prefetchedImage(
    { ...image, layers: missing.map((index) => image.layers[index] as Layer) },
    { parent: join(store.root, "staging") },
  );
  const reading = {
    ...image,
    layers: image.layers.map((layer, index) => {
      const at = missing.indexOf(index);
      return at === -1 ? layer : (prefetched.image.layers[at] as Layer);
    }),
  };
  try {
    const lowers: string[] = [];
    for (const [index, chainId] of chain.entries()) {
      const added =
        store.layer(chainId) === undefined &&
        (await storeLayer(store, reading, chain, index, lowers, warn, options));
      if (added) written++;
      options.onLayer?.({ index, count: chain.length, chainId, written: added });
      lowers.push(store.diffDir(chainId));
    }
  } catch (error) {
    if (previous === undefined) store.forgetImage(kept);
    else store.keepImage(previous);
    throw error;
  } finally {
    prefetched.close();
  }
  const lowerdir = store.lowerdir(chain);
  return {
    image,
    store: store.root,
    platform,
    chainIds: chain,
    written,
    reused: image.layers.length - written,
    lowerdir,
    warnings,
  };
}

/**
 * Writes layer `index` over the merged view of the stored layers below it,
 * which a fresh merged tree loads only where this layer touches it: the
 * layers below are never read whole (an image whose base is stored costs its
 * own layers), and nothing accumulates in memory.
 */
async function storeLayer(
  store: LayerStore,
  image: Image,
  chain: readonly string[],
  index: number,
  lowers: readonly string[],
  warn: (w: UnpackWarning) => void,
  options: StoreUnpackOptions,
): Promise<boolean> {
  const layer = image.layers[index];
  if (layer === undefined) return false;
  const progress = layerProgress(layer, index, chain.length, options.onProgress);
  const entries = progress.counted(
    readLayer(layer, {
      transientChunks: true,
      context: { image: image.reference },
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(progress.onBlobBytes === undefined ? {} : { onBlobBytes: progress.onBlobBytes }),
    }),
  );
  const writeOptions = {
    policy: ownershipFor(store.rootless),
    xattrs: store.xattrs,
    onWarning: warn,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const below = [...lowers];
  try {
    const added = await store.add(
      {
        chainId: chain[index] as string,
        diffId: image.config.diffIds[index] as string,
        parent: chain[index - 1],
      },
      (diff) =>
        below.length === 0
          ? writeBottomLayer(diff, entries, writeOptions)
          : writeOverlayLayer(
              new MergedTree({
                lower: new StoredLayers(below, store.xattrs, store.rootless),
                layers: below.length,
              }),
              diff,
              below,
              entries,
              writeOptions,
            ),
    );
    progress.done();
    return added;
  } catch (error) {
    throw withErrorContext(error, {
      image: image.reference,
      layer: layer.digest ?? layer.diffId ?? `#${index}`,
    });
  }
}
