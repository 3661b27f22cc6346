import { openImage, formatPlatform, type Platform, type RegistryOptions } from "@strata-oci/image";

/** What `strata inspect` shows: the index's choices, the chosen manifest, config and layers. */
export interface ImageSummary {
  readonly reference: string;
  readonly transport: string;
  readonly choices: ReadonlyArray<{ tag: string | undefined; digest: string; platform: string | undefined }>;
  readonly manifest: { digest: string; mediaType: string | undefined; size: number } | undefined;
  readonly config: { digest: string | undefined; os: string | undefined; architecture: string | undefined; variant: string | undefined; runtime: Readonly<Record<string, unknown>> };
  readonly layers: ReadonlyArray<{ digest: string | undefined; diffId: string | undefined; mediaType: string | undefined; size: number }>;
  readonly totalSize: number;
}

export interface InspectOptions {
  readonly image: string;
  readonly platform?: string | Platform;
  /** For `docker://` images: credentials, TLS verification, timeouts. */
  readonly registry?: RegistryOptions;
}

/** Resolves an image and summarises it; reads only its JSON blobs, never its layers. */
export async function inspect(options: InspectOptions): Promise<ImageSummary> {
  const image = await openImage({
    image: options.image,
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });
  return {
    reference: image.reference,
    transport: image.transport,
    choices: image.choices.map((c) => ({ tag: c.tag, digest: c.descriptor.digest, platform: c.platform === undefined ? undefined : formatPlatform(c.platform) })),
    manifest: image.manifest === undefined ? undefined : { digest: image.manifest.digest, mediaType: image.manifest.mediaType, size: image.manifest.size },
    config: {
      digest: image.configDigest,
      os: image.config.os,
      architecture: image.config.architecture,
      variant: image.config.variant,
      runtime: image.config.runtime,
    },
    layers: image.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, mediaType: l.mediaType, size: l.size })),
    totalSize: image.layers.reduce((sum, l) => sum + l.size, 0),
  };
}
