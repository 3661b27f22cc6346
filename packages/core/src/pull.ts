import {
  copyImage,
  outputLayout,
  isRegistryReference,
  ociDestination,
  parseImageReference,
  type BlobProgress,
  type Descriptor,
  type Image,
  type Platform,
  type RegistryOptions,
} from "@strata-oci/image";
import { ImageError } from "@strata-oci/errors";

/** How far a blob of a pull has come (the copy's progress). */
export type PullProgress = BlobProgress;

export interface PullResult {
  readonly image: Image;
  /** The manifest now tagged in the layout (a Docker one converted to OCI). */
  readonly manifest: Descriptor;
  /**
   * Blobs (layers and config) sent, found in the layout already (shared with its other images),
   * mounted (never, into a layout), and the bytes sent: copy's names, and the JSON result's.
   */
  readonly sent: number;
  readonly present: number;
  readonly mounted: number;
  readonly bytes: number;
  readonly layout: string;
  readonly tag: string;
}

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
 * Copies a registry image into an OCI image layout (copyImage with a layout destination),
 * verified, sharing blobs with what the layout holds: `unpack({ image: "oci:DIR:TAG" })` then
 * works offline. The tag is the layout's `:TAG`, else the reference's, else latest.
 */
export async function pull(options: PullOptions): Promise<PullResult> {
  const source = parseImageReference(options.image);
  if (!isRegistryReference(source)) {
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `pull copies registry images (docker://...), not ${source.transport}:`,
      { hint: "give docker://[HOST/]REPO[:TAG], or use copy for other sources" },
    );
  }
  const target = outputLayout(options.layout, "pull");
  const dir = target.path;
  const tag = target.tag ?? source.registry.tag ?? "latest";
  // The platform is read by copyImage's openImage, as for every source.
  const copied = await copyImage({
    image: options.image,
    destination: ociDestination(dir, tag, `oci:${dir}:${tag}`),
    platform: options.platform,
    registry: options.registry,
    signal: options.signal,
    onProgress: options.onProgress,
  });
  return {
    image: copied.image,
    manifest: copied.manifest,
    sent: copied.sent,
    present: copied.present,
    mounted: copied.mounted,
    bytes: copied.bytes,
    layout: dir,
    tag,
  };
}
