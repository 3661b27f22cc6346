// What every command that reads an image does first: the image opened with
// the caller's platform, registry settings and AbortSignal; artifacts
// refused where a container image is needed; the image's own warnings
// gathered with those of the work that follows.
import {
  chainIds,
  openImage,
  type Image,
  type OpenImageRequest,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import { ImageError } from "@strata-oci/errors";
import type { UnpackWarning } from "@strata-oci/merge";

/** Where an image is and how to reach it: the options every command that reads one takes. */
export interface ImageSource {
  /**
   * `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`, `docker://[HOST/]REPO[:TAG][@DIGEST]`, or a path.
   */
  readonly image: string;
  /** Platform to pick from an index; default the host's. */
  readonly platform?: string | Platform | undefined;
  /** For `docker://` images: credentials, TLS verification, timeouts. */
  readonly registry?: RegistryOptions | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The openImage request of `source` (unset fields left out). */
export function imageRequest(source: ImageSource): OpenImageRequest {
  return {
    image: source.image,
    ...(source.platform === undefined ? {} : { platform: source.platform }),
    ...(source.registry === undefined ? {} : { registry: source.registry }),
    ...(source.signal === undefined ? {} : { signal: source.signal }),
  };
}

/** The image of `source`, refused when it is an artifact rather than a container image. */
export async function openContainerImage(source: ImageSource): Promise<Image> {
  const image = await openImage(imageRequest(source));
  refuseArtifact(image);
  return image;
}

/**
 * The warnings of an unpack, into any output: gathered for the result and
 * told to `onWarning` as they come, the image's own (another platform than
 * the host's, spec deviations accepted) first.
 */
export function collectWarnings(
  image: Image,
  onWarning: ((warning: UnpackWarning) => void) | undefined,
): { warnings: UnpackWarning[]; warn: (warning: UnpackWarning) => void } {
  const warnings: UnpackWarning[] = [];
  const warn = (warning: UnpackWarning): void => {
    warnings.push(warning);
    onWarning?.(warning);
  };
  if (image.platformMismatch !== undefined)
    warn({ kind: "platform-mismatch", path: "", detail: image.platformMismatch });
  for (const deviation of [...(image.sourceWarnings ?? []), ...(image.details?.warnings ?? [])]) {
    const by = deviation.producers === undefined ? "" : `; written by ${deviation.producers}`;
    warn({
      kind: "spec-deviation",
      path: "",
      detail: `${deviation.detail}: accepted, though the image-spec says ${deviation.rule}${by}`,
    });
  }
  return { warnings, warn };
}

/** The chain ID that names the tree of `diffIds` (what a record is of). */
export function chainIdOf(diffIds: readonly string[]): string {
  return chainIds(diffIds).at(-1) ?? "none";
}

/** Signatures, SBOMs, charts: stored like images, never unpacked as one. */
export function refuseArtifact(image: Image): void {
  const artifact = image.details?.artifact;
  if (artifact === undefined) return;
  throw new ImageError(
    "STRATA_NOT_AN_IMAGE",
    `${image.reference} (${image.manifest?.digest ?? "manifest"}) is ` +
      `${artifact}, not a container image`,
    {
      hint:
        "`strata inspect` shows what it is; `strata referrers IMAGE` lists the artifacts " +
        "attached to an image",
    },
  );
}
