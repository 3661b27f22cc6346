// What copying an image and copying an index share: the manifest as the
// source stores it, the blobs stored at the destination (each checked first,
// several at once where it takes them), the format to write.
import { AbortedError, ImageError } from "@strata-oci/errors";
import type { CopyBlobEvent, CopyRequest } from "./copy.js";
import type { Descriptor } from "./descriptor.js";
import type { ImageDestination } from "./destination.js";
import type { Image } from "./image.js";
import type { ManifestFormat } from "./manifest-format.js";
import { digestOf } from "./registry/registry-client.js";
import { isRegistryReference } from "./transports/docker.js";

/** The format to write: the one asked for, where the destination can hold it; OCI in a layout. */
export function formatFor(
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

/** Blobs sent, found at the destination, mounted; bytes sent. */
export interface BlobCounts {
  sent: number;
  present: number;
  mounted: number;
  bytes: number;
}

/** An image's manifest, as stored (docker-archive: the one made of its blobs), and its config. */
export async function sourceManifest(
  image: Image,
): Promise<{ descriptor: Descriptor; body: Buffer; config: Buffer }> {
  if (image.documents === undefined || image.details === undefined)
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `copying from ${image.transport}: is not supported (${image.reference} gives no manifest)`,
      { hint: "copy it with skopeo, or from an oci:, oci-archive:, docker-archive: or docker://" },
    );
  const documents = await image.documents();
  // A docker-archive holds no manifest: the one made of its blobs (details.mediaType says which).
  const descriptor = image.manifest ?? {
    mediaType: image.details.mediaType,
    digest: digestOf(documents.manifest),
    size: documents.manifest.length,
    annotations: {},
    platform: undefined,
  };
  return { descriptor, body: documents.manifest, config: documents.config };
}

/** What copying blobs is told of, and stopped by. */
export type BlobCopyRequest = Pick<CopyRequest, "signal" | "onBlob" | "onProgress">;

/** The image's layers and config stored at the destination (each checked first), counted. */
export async function copyBlobs(
  destination: ImageDestination,
  image: Image,
  config: Buffer,
  request: BlobCopyRequest,
  counts: BlobCounts,
): Promise<void> {
  await copyLayers(destination, image, request, counts);
  const details = image.details as NonNullable<Image["details"]>;
  await storeCounted(destination, image, details.config, config, request, counts);
  stopIfAborted(request.signal);
}

/**
 * The image's layers stored at the destination (each checked first, mounted where the same
 * registry has it), counted: what copy sends, and what repack carries over from its base.
 */
export async function copyLayers(
  destination: ImageDestination,
  image: Image,
  request: BlobCopyRequest,
  counts: BlobCounts,
): Promise<void> {
  const details = image.details as NonNullable<Image["details"]>;
  // Several at once where the destination takes it (a registry hashes and stores each on its own
  // core: skopeo sends three at a time too); an archive is one stream, one blob after another.
  await inParallel(destination.parallelBlobs ?? 1, image.layers, (layer, index) =>
    storeCounted(
      destination,
      image,
      details.layers[index] as Descriptor,
      {
        size: layer.size,
        open: async () =>
          reportingBytes(await layer.open(), layer.digest ?? "", layer.size, request),
      },
      request,
      counts,
    ),
  );
}

async function storeCounted(
  destination: ImageDestination,
  image: Image,
  blob: Descriptor,
  body: Parameters<ImageDestination["putBlob"]>[1],
  request: BlobCopyRequest,
  counts: BlobCounts,
): Promise<void> {
  stopIfAborted(request.signal);
  const how = await storeBlob(destination, image, blob, body);
  counts[how]++;
  if (how === "sent") counts.bytes += blob.size;
  request.onBlob?.({ digest: blob.digest, size: blob.size, how });
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

export function stopIfAborted(signal: AbortSignal | undefined): void {
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
  { onProgress, signal }: BlobCopyRequest,
): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    stopIfAborted(signal);
    bytes += chunk.length;
    onProgress?.({ digest, bytes, size });
    yield chunk;
  }
}
