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
import { inFormat, type ManifestFormat } from "./manifest-format.js";
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
  /**
   * The manifest family to write (skopeo's --format): "oci" or "v2s2" (Docker schema 2); default
   * as the source has it, or OCI where the destination holds only OCI (a layout).
   */
  readonly format?: ManifestFormat | undefined;
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

/** The format to write: the one asked for, where the destination can hold it; OCI in a layout. */
function formatFor(
  destination: ImageDestination,
  asked: ManifestFormat | undefined,
): ManifestFormat | undefined {
  if (destination.documents !== "oci") return asked;
  if (asked === "v2s2")
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `${destination.name} holds OCI manifests only: it cannot take --format v2s2`,
      { hint: "copy to a registry or a docker-archive for Docker schema 2" },
    );
  return "oci";
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
  const format = formatFor(destination, request.format);
  const { descriptor, body: manifest } = inFormat(source, documents.manifest, format);
  const converted = descriptor !== source;
  const counts = { sent: 0, present: 0, mounted: 0, bytes: 0 };
  const store = async (blob: Descriptor, body: Parameters<ImageDestination["putBlob"]>[1]) => {
    stopIfAborted(request.signal);
    const how = await storeBlob(destination, image, blob, body);
    counts[how]++;
    if (how === "sent") counts.bytes += blob.size;
    request.onBlob?.({ digest: blob.digest, size: blob.size, how });
  };
  const { layers } = image.details;
  // Several at once where the destination takes it (a registry hashes and stores each on its own
  // core: skopeo sends three at a time too); an archive is one stream, one blob after another.
  await inParallel(destination.parallelBlobs ?? 1, image.layers, (layer, index) =>
    store(layers[index] as Descriptor, {
      size: layer.size,
      open: async () => reportingBytes(await layer.open(), layer.digest ?? "", layer.size, request),
    }),
  );
  await store(image.details.config, documents.config);
  stopIfAborted(request.signal);
  await destination.putManifest(descriptor, manifest);
  await destination.tag(descriptor, source.platform);
  return { image, destination: destination.name, manifest: descriptor, converted, ...counts };
}

/**
 * `work` for each item, at most `limit` at a time; after a failure no more are started, those
 * under way are awaited, and the first failure is thrown.
 */
async function inParallel<T>(
  limit: number,
  items: readonly T[],
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
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
