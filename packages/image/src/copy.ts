// Copying an image from any source to any destination: layers and config
// first (each skipped where the destination has it, mounted where the same
// registry holds it in another repository), then the manifest, then the tag.
// A Docker manifest going into an OCI layout is converted on the way (the
// blobs keep their bytes and digests; only the manifest is rewritten), as
// skopeo's --format oci does: skopeo and umoci read only OCI documents there.
import { AbortedError, ImageError } from "@strata-oci/errors";
import type { Descriptor } from "./descriptor.js";
import type { ImageDestination } from "./destination.js";
import type { Image } from "./image.js";
import { DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER_OF, OCI_MANIFEST } from "./media-types.js";
import { openImage, type OpenImageRequest } from "./open-image.js";
import { digestOf } from "./registry/registry-client.js";
import { isRegistryReference } from "./transports/docker.js";
import { parseImageReference } from "./transports/index.js";
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

/** A Docker schema-2 manifest as an OCI one: same config and layers, OCI media types. */
export function ociManifestOf(manifest: Buffer): Buffer {
  const json = JSON.parse(manifest.toString("utf8")) as Record<string, unknown>;
  const config = json.config as Record<string, unknown>;
  const layers = json.layers as Array<Record<string, unknown>>;
  const converted = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { ...config, mediaType: OCI_CONFIG },
    layers: layers.map((layer) => ({
      ...layer,
      mediaType: OCI_LAYER_OF[layer.mediaType as string] ?? layer.mediaType,
    })),
    ...(json.annotations === undefined ? {} : { annotations: json.annotations }),
  };
  return Buffer.from(JSON.stringify(converted));
}

/**
 * The manifest as an OCI layout holds it: a Docker schema-2 one converted (`ociManifestOf`), with
 * the descriptor of the bytes written; any other as it is.
 */
export function asOciManifest(
  descriptor: Descriptor,
  body: Buffer,
): { descriptor: Descriptor; body: Buffer } {
  if (descriptor.mediaType !== DOCKER_MANIFEST) return { descriptor, body };
  const converted = ociManifestOf(body);
  return {
    descriptor: {
      ...descriptor,
      mediaType: OCI_MANIFEST,
      digest: digestOf(converted),
      size: converted.length,
    },
    body: converted,
  };
}

function destinationOf(request: CopyRequest): ImageDestination {
  if (typeof request.destination !== "string") return request.destination;
  const target = parseImageReference(request.destination);
  if (target.destination === undefined)
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `strata cannot write ${target.transport}: images (${request.destination})`,
      { hint: "copy to oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker://HOST/REPO[:TAG]" },
    );
  const settings = request.destinationRegistry ?? request.registry;
  const registry =
    request.signal === undefined ? settings : { ...settings, signal: request.signal };
  return target.destination({ registry });
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
  const image = await openImage(request);
  if (image.documents === undefined || image.details === undefined)
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `copying from ${image.transport}: is not supported (${image.reference} gives no manifest)`,
      { hint: "copy it with skopeo, or from an oci:, oci-archive:, docker-archive: or docker://" },
    );
  const documents = await image.documents();
  // A docker-archive holds no manifest: the one made of its blobs (details.mediaType says which).
  const source = image.manifest ?? {
    mediaType: image.details.mediaType,
    digest: digestOf(documents.manifest),
    size: documents.manifest.length,
    annotations: {},
    platform: undefined,
  };
  const { descriptor, body: manifest } =
    destination.documents === "oci"
      ? asOciManifest(source, documents.manifest)
      : { descriptor: source, body: documents.manifest };
  const converted = descriptor !== source;
  const counts = { sent: 0, present: 0, mounted: 0, bytes: 0 };
  const store = async (blob: Descriptor, body: Parameters<ImageDestination["putBlob"]>[1]) => {
    stopIfAborted(request.signal);
    const how = await storeBlob(destination, image, blob, body);
    counts[how]++;
    if (how === "sent") counts.bytes += blob.size;
    request.onBlob?.({ digest: blob.digest, size: blob.size, how });
  };
  for (const [index, layer] of image.layers.entries())
    await store(image.details.layers[index] as Descriptor, {
      size: layer.size,
      open: async () => reportingBytes(await layer.open(), layer.digest ?? "", layer.size, request),
    });
  await store(image.details.config, documents.config);
  stopIfAborted(request.signal);
  await destination.putManifest(descriptor, manifest);
  await destination.tag(descriptor, source.platform);
  return { image, destination: destination.name, manifest: descriptor, converted, ...counts };
}

function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortedError(signal.reason);
}

async function storeBlob(
  destination: ImageDestination,
  image: Image,
  blob: Descriptor,
  body: Parameters<ImageDestination["putBlob"]>[1],
): Promise<CopyBlobEvent["how"]> {
  if (await destination.hasBlob(blob)) return "present";
  const source = image.source;
  if (destination.mountBlob !== undefined && isRegistryReference(source)) {
    const { repository, apiHost } = source.registry;
    if (await destination.mountBlob(blob, repository, apiHost)) return "mounted";
  }
  await destination.putBlob(blob, body);
  return "sent";
}

/** `source`'s chunks, each told to `onProgress` as it passes (the bytes read, not written). */
async function* reportingBytes(
  source: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  digest: string,
  size: number,
  { onProgress, signal }: CopyRequest,
): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    stopIfAborted(signal);
    bytes += chunk.length;
    onProgress?.({ digest, bytes, size });
    yield chunk;
  }
}
