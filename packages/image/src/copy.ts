// Copying an image from any source to any destination: layers and config
// first (each skipped where the destination has it, mounted where the same
// registry holds it in another repository), then the manifest, then the tag.
// A Docker manifest going into an OCI layout is converted on the way (the
// blobs keep their bytes and digests; only the manifest is rewritten), as
// skopeo's --format oci does: skopeo and umoci read only OCI documents there.
import { ImageError } from "@strata-oci/errors";
import { copyBlobs, formatFor, sourceManifest } from "./copy-blobs.js";
import { copyIndex } from "./copy-index.js";
import type { Descriptor } from "./descriptor.js";
import type { ImageDestination } from "./destination.js";
import type { Image } from "./image.js";
import { inFormat, type ManifestFormat } from "./manifest-format.js";
import { openImage, type OpenImageRequest } from "./open-image.js";
import { openDestination } from "./open-destination.js";
import type { RegistryOptions } from "./registry/registry-client.js";

export interface CopyRequest extends OpenImageRequest {
  /**
   * Where to: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`,
   * `docker://HOST/REPO[:TAG]`, a registered transport's reference, or an ImageDestination of
   * the caller's own.
   */
  readonly destination: string | ImageDestination;
  /**
   * How to reach the destination's registry, where it differs from the source's (`registry`, used
   * for both ends otherwise): skopeo's --dest-creds and kin.
   */
  readonly destinationRegistry?: RegistryOptions | undefined;
  /** Told of each blob as it is stored or found there already. */
  readonly onBlob?: ((event: CopyBlobEvent) => void) | undefined;
  /**
   * Told of the bytes of each blob being sent, as they are read from the source (pull's events:
   * the blob, bytes so far, its size).
   */
  readonly onProgress?: ((event: BlobProgress) => void) | undefined;
  /**
   * The manifest family to write (skopeo's --format): "oci" or "v2s2" (Docker schema 2); default
   * as the source has it, or OCI where the destination holds only OCI (a layout).
   */
  readonly format?: ManifestFormat | undefined;
  /**
   * Where IMAGE names an index: copy it whole (every manifest it lists, then the index, tagged),
   * as skopeo's --all; else the one manifest for the platform.
   */
  readonly all?: boolean | undefined;
}

/** How far a blob has been read (copy's and pull's progress). */
export interface BlobProgress {
  readonly digest: string;
  /** Bytes of this blob read so far, and its size. */
  readonly bytes: number;
  readonly size: number;
}

export interface CopyBlobEvent {
  readonly digest: string;
  readonly size: number;
  /** Sent, already there, or mounted from another repository of the same registry. */
  readonly how: "sent" | "present" | "mounted";
}

export interface CopyResult {
  readonly image: Image;
  readonly destination: string;
  /** The manifest as the destination holds it (converted to OCI where it had to be). */
  readonly manifest: Descriptor;
  readonly converted: boolean;
  readonly sent: number;
  readonly present: number;
  readonly mounted: number;
  /** Bytes of the blobs sent. */
  readonly bytes: number;
}

function destinationOf(request: CopyRequest): ImageDestination {
  return openDestination(request.destination, {
    registry: request.destinationRegistry ?? request.registry,
    signal: request.signal,
  });
}

/** Copies the image `request.image` names (for its platform) to `request.destination`. */
export async function copyImage(request: CopyRequest): Promise<CopyResult> {
  const destination = destinationOf(request);
  try {
    return await copyInto(destination, request);
  } catch (error) {
    destination.abandon?.();
    throw error;
  }
}

async function copyInto(destination: ImageDestination, request: CopyRequest): Promise<CopyResult> {
  // --all reads the index: an index with no manifest for this platform is copied all the same.
  const image = await openImage(request.all === true ? { ...request, anyPlatform: true } : request);
  if (request.all === true && image.index !== undefined)
    return copyIndex(destination, request, image);
  const artifact = image.details?.artifact;
  if (artifact !== undefined && destination.holdsArtifacts === false)
    throw new ImageError(
      "STRATA_BAD_IMAGE",
      `${image.reference} is ${artifact}: ${destination.name} holds container images only`,
      { hint: "copy it to a registry, an oci: layout or an oci-archive:" },
    );
  const source = await sourceManifest(image);
  const format = formatFor(destination, request.format);
  const { descriptor, body: manifest } = inFormat(source.descriptor, source.body, format);
  const converted = descriptor !== source.descriptor;
  const counts = { sent: 0, present: 0, mounted: 0, bytes: 0 };
  await copyBlobs(destination, image, source.config, request, counts);
  await destination.putManifest(descriptor, manifest);
  await destination.tag(descriptor, source.descriptor.platform);
  return { image, destination: destination.name, manifest: descriptor, converted, ...counts };
}
