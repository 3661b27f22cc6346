import { registryReference } from "../transports/docker.js";
import { type Layer } from "@strata-oci/layer";
import { AbortedError, ImageError } from "@strata-oci/errors";
import type { Descriptor } from "../descriptor.js";
import type { Image } from "../image.js";
import { hasBlob, prepareLayout, tagInIndex, writeAtomically, writeBlob } from "../layout-store.js";
import { blobPath } from "../oci-layout.js";
import type { Platform } from "../platform.js";
import type { DockerReference } from "./docker-reference.js";
import type { RegistryOptions } from "./registry-client.js";
import { resolveRegistryImage } from "./registry-source.js";
import { asOciManifest } from "../copy.js";

export interface PullResult {
  readonly image: Image;
  /** The manifest now tagged in the layout. */
  readonly manifest: Descriptor;
  /** Blobs written, and blobs the layout already had (shared with its other images). */
  readonly written: number;
  readonly reused: number;
  readonly bytes: number;
}

export interface PullProgress {
  readonly digest: string;
  /** Bytes of this blob received so far, and its size. */
  readonly bytes: number;
  readonly size: number;
}

/** Streams a layer's blob into the layout, checking its size and digest before it gets its name. */
async function storeLayer(
  layout: string,
  layer: Layer & { readonly digest: string },
  onProgress: ((progress: PullProgress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<number> {
  const body = await layer.open();
  const stop = (): void => {
    body.destroy(new AbortedError(signal?.reason));
  };
  signal?.addEventListener("abort", stop, { once: true });
  let bytes = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      bytes += (chunk as Buffer).length;
      onProgress?.({ digest: layer.digest, bytes, size: layer.size });
      yield chunk as Buffer;
    }
  }
  try {
    if (signal?.aborted === true) stop();
    return (
      await writeBlob(layout, counted(), {
        digest: layer.digest,
        size: layer.size,
        context: { layer: layer.digest },
      })
    ).size;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

/**
 * Copies the image `ref` names (the manifest for `platform`, its config and
 * layers) into the OCI image layout `layout` as `tag`: blobs first, each
 * verified and renamed into place whole, those the layout has already kept;
 * index.json last, replaced atomically. Later unpacks of `oci:LAYOUT:TAG`
 * need no network.
 */
export async function pullToLayout(
  ref: DockerReference,
  reference: string,
  layout: string,
  tag: string,
  platform: Platform,
  options: RegistryOptions & {
    onProgress?: ((progress: PullProgress) => void) | undefined;
    signal?: AbortSignal | undefined;
  } = {},
): Promise<PullResult> {
  const resolved = await resolveRegistryImage(ref, reference, platform, options);
  const { image, configDescriptor, configBody } = resolved;
  // An OCI layout holds OCI documents: a Docker manifest is converted (its blobs keep their bytes).
  const { descriptor: manifest, body: manifestBody } = asOciManifest(
    image.manifest as Descriptor,
    resolved.manifestBody,
  );
  prepareLayout(layout);
  let written = 0;
  let reused = 0;
  let bytes = 0;
  const checkAborted = (): void => {
    if (options.signal?.aborted === true) throw new AbortedError(options.signal.reason);
  };
  for (const layer of image.layers) {
    checkAborted();
    if (layer.digest === undefined)
      throw new ImageError("STRATA_BAD_IMAGE", "a layer of the manifest has no digest");
    if (hasBlob(layout, layer.digest, layer.size)) {
      reused++;
      continue;
    }
    bytes += await storeLayer(
      layout,
      { ...layer, digest: layer.digest },
      options.onProgress,
      options.signal,
    );
    written++;
  }
  checkAborted();
  for (const [descriptor, body] of [
    [configDescriptor, configBody],
    [manifest, manifestBody],
  ] as const) {
    if (hasBlob(layout, descriptor.digest, descriptor.size)) {
      reused++;
      continue;
    }
    writeAtomically(blobPath(layout, descriptor.digest), body);
    written++;
    bytes += body.length;
  }
  tagInIndex(layout, manifest, tag, manifest.platform);
  return {
    image: { ...image, source: registryReference(ref) },
    manifest,
    written,
    reused,
    bytes,
  };
}
