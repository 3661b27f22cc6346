// copy --all: an index with every manifest it lists, as skopeo's --all. Each
// manifest's blobs, then the manifest itself stored by its digest; the index
// last, and the tag on it. Nothing is converted unless the destination or
// --format asks for it; then each manifest converted is listed in the index
// under its new digest, and the index becomes one of the same family.
import { ImageError } from "@strata-oci/errors";
import {
  copyBlobs,
  formatFor,
  sourceManifest,
  stopIfAborted,
  type BlobCounts,
} from "./copy-blobs.js";
import type { CopyRequest, CopyResult } from "./copy.js";
import type { Descriptor } from "./descriptor.js";
import type { ImageDestination } from "./destination.js";
import type { Image } from "./image.js";
import { inFormat, type ManifestFormat } from "./manifest-format.js";
import { descriptorList } from "./manifest-walk.js";
import { DOCKER_MANIFEST_LIST, INDEX_TYPES, OCI_INDEX } from "./media-types.js";
import { openImage } from "./open-image.js";
import { digestOf } from "./registry/registry-http.js";

/** The index's JSON with `replaced` manifests' descriptors, in `format`'s family. */
function rewrittenIndex(
  body: Buffer,
  replaced: ReadonlyMap<string, Descriptor>,
  format: ManifestFormat | undefined,
): Buffer | undefined {
  const json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
  const family =
    format === "oci" ? OCI_INDEX : format === "v2s2" ? DOCKER_MANIFEST_LIST : json.mediaType;
  if (replaced.size === 0 && family === json.mediaType) return undefined;
  const manifests = (json.manifests as Array<Record<string, unknown>>).map((entry) => {
    const now = replaced.get(entry.digest as string);
    const kept =
      now === undefined
        ? entry
        : { ...entry, mediaType: now.mediaType, digest: now.digest, size: now.size };
    // A Docker manifest list has no annotations.
    if (family !== DOCKER_MANIFEST_LIST) return kept;
    const { annotations: _dropped, ...rest } = kept;
    return rest;
  });
  const { annotations, ...fields } = json;
  return Buffer.from(
    JSON.stringify({
      ...fields,
      mediaType: family,
      manifests,
      ...(family === DOCKER_MANIFEST_LIST || annotations === undefined ? {} : { annotations }),
    }),
  );
}

export async function copyIndex(
  destination: ImageDestination,
  request: CopyRequest,
  top: Image,
): Promise<CopyResult> {
  const index = top.index as NonNullable<Image["index"]>;
  if (destination.holdsIndexes !== true)
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `${destination.name} holds one image, not an index: it cannot take --all`,
      { hint: "copy one platform (--platform), or copy --all to a registry or an OCI layout" },
    );
  const format = formatFor(destination, request.format);
  const counts: BlobCounts = { sent: 0, present: 0, mounted: 0, bytes: 0 };
  const replaced = new Map<string, Descriptor>();
  const listed = (JSON.parse(index.body.toString("utf8")) as { manifests?: unknown }).manifests;
  for (const child of descriptorList(listed, `index ${index.descriptor.digest} manifests`)) {
    if (child.mediaType !== undefined && INDEX_TYPES.has(child.mediaType))
      throw new ImageError(
        "STRATA_BAD_IMAGE",
        `${top.reference} nests an index: --all copies one level`,
        {
          hint: "copy the nested index by its digest",
        },
      );
    stopIfAborted(request.signal);
    const image =
      child.digest === top.manifest?.digest
        ? top
        : await openImage({ ...request, manifest: child.digest });
    const source = await sourceManifest(image);
    await copyBlobs(destination, image, source.config, request, counts);
    const { descriptor, body } = inFormat(source.descriptor, source.body, format);
    if (descriptor !== source.descriptor) replaced.set(child.digest, descriptor);
    await destination.putManifest(descriptor, body, { byDigest: true });
  }
  const rewritten = rewrittenIndex(index.body, replaced, format);
  const written: Descriptor =
    rewritten === undefined
      ? index.descriptor
      : {
          ...index.descriptor,
          mediaType: JSON.parse(rewritten.toString("utf8")).mediaType as string,
          digest: digestOf(rewritten),
          size: rewritten.length,
        };
  await destination.putManifest(written, rewritten ?? index.body);
  await destination.tag(written, undefined);
  return {
    image: top,
    destination: destination.name,
    manifest: written,
    converted: rewritten !== undefined,
    ...counts,
  };
}
