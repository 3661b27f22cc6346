import type { Image } from "./image.js";
import { parseImageReference } from "./transports/index.js";
import {
  formatPlatform,
  hostPlatform,
  parsePlatform,
  platformMatches,
  type Platform,
} from "./platform.js";
import { ImageError } from "@strata-oci/errors";
import type { RegistryOptions } from "./registry/registry-client.js";

export interface OpenImageRequest {
  /**
   * `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`, `docker://[HOST/]REPO[:TAG][@DIGEST]`, or a path.
   */
  readonly image: string;
  /** `os/arch[/variant]` or a Platform; default the host's. */
  readonly platform?: string | Platform | undefined;
  /** For `docker://` references: credentials, TLS verification, timeouts. */
  readonly registry?: RegistryOptions | undefined;
  /**
   * Ends the registry's waits (see RegistryOptions.signal), and those of the image's layers when
   * read.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * The manifests to take by digest instead of by platform (copy --all), one per index level from
   * the top: a digest alone is the top index's.
   */
  readonly manifest?: string | readonly string[] | undefined;
  /**
   * Where an index offers no manifest for the platform (and none is named), take its first: copy
   * --all reads the index, not one image of it.
   */
  readonly anyPlatform?: boolean | undefined;
}

/**
 * Resolves an image reference down to its config and layers. Reads only
 * small JSON blobs. The chosen config's platform must be the one asked for
 * (STRATA_PLATFORM_MISMATCH); when none was asked for, a config for another
 * platform than the host's is accepted and `platformMismatch` says so.
 */
export async function openImage(request: OpenImageRequest): Promise<Image> {
  const ref = parseImageReference(request.image);
  const platform =
    request.platform === undefined
      ? hostPlatform()
      : typeof request.platform === "string"
        ? parsePlatform(request.platform)
        : request.platform;
  const name = ref.format();
  const registry =
    request.signal === undefined
      ? request.registry
      : { ...request.registry, signal: request.signal };
  const { manifest, anyPlatform } = request;
  const opened = await ref.open({ platform, registry, manifest, anyPlatform });
  const image: Image = { ...opened, source: ref };
  // Taken by digest, or for its index: whatever platform it is for.
  if (manifest !== undefined || anyPlatform === true) return image;
  const { os, architecture, variant } = image.config;
  if (os === undefined || architecture === undefined) return image;
  const offered = variant === undefined ? { os, architecture } : { os, architecture, variant };
  if (platformMatches(offered, platform)) return image;
  if (request.platform !== undefined) {
    const listed = image.indexes
      .flatMap((level) => level.manifests.map((m) => m.platform))
      .filter((p): p is Platform => p !== undefined);
    throw new ImageError(
      "STRATA_PLATFORM_MISMATCH",
      `${name} is an image for ${formatPlatform(offered)}, not ${formatPlatform(platform)}`,
      {
        hint:
          listed.length > 0
            ? `its index lists ${listed.map(formatPlatform).join(", ")}, and the config of ` +
              `the manifest chosen says ${formatPlatform(offered)}; choose another with --platform`
            : "this image offers no other platform; choose the platform it has with " +
              "--platform, or another image",
      },
    );
  }
  return {
    ...image,
    platformMismatch:
      `${name} is for ${formatPlatform(offered)}; this host is ` + `${formatPlatform(platform)}`,
  };
}
