import {
  hostPlatform,
  outputLayout,
  isRegistryReference,
  parseImageReference,
  parsePlatform,
  pullToLayout,
  type Platform,
  type PullProgress,
  type PullResult,
  type RegistryOptions,
} from "@strata-oci/image";
import { ImageError } from "@strata-oci/errors";

export interface PullOptions {
  /** A `docker://` reference. */
  readonly image: string;
  /** The OCI image layout to copy into: `oci:DIR[:TAG]` or DIR (made when missing). */
  readonly layout: string;
  /** `os/arch[/variant]`; default the host's. */
  readonly platform?: string | Platform | undefined;
  readonly registry?: RegistryOptions | undefined;
  readonly onProgress?: ((progress: PullProgress) => void) | undefined;
  /** Stops the copy: the blob being written is removed, index.json is not touched. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Copies a registry image into an OCI image layout, verified, sharing blobs
 * with what the layout holds: `unpack({ image: "oci:DIR:TAG" })` then works
 * offline. The tag is the layout's `:TAG`, else the reference's, else latest.
 */
export async function pull(
  options: PullOptions,
): Promise<PullResult & { readonly layout: string; readonly tag: string }> {
  const source = parseImageReference(options.image);
  if (!isRegistryReference(source)) {
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `pull copies registry images (docker://...), not ${source.transport}:`,
      { hint: "give docker://[HOST/]REPO[:TAG]" },
    );
  }
  const target = outputLayout(options.layout, "pull");
  const dir = target.path;
  const tag = target.tag ?? source.registry.tag ?? "latest";
  const platform =
    options.platform === undefined
      ? hostPlatform()
      : typeof options.platform === "string"
        ? parsePlatform(options.platform)
        : options.platform;
  const result = await pullToLayout(source.registry, options.image, dir, tag, platform, {
    ...options.registry,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { ...result, layout: dir, tag };
}
