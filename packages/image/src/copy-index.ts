// copy --all: an index with every manifest it lists, as skopeo's --all. Each
// manifest's blobs, then the manifest itself stored by its digest; a nested
// index the same way, depth first; the index last, and the tag on it.
// Nothing is converted unless the destination or --format asks for it; then
// each manifest converted is listed in the index under its new digest, and
// the index becomes one of the same family.
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
import { descriptorList, MAX_INDEX_DEPTH } from "./manifest-walk.js";
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

/** What every level of one copy --all shares. */
interface IndexCopy {
  readonly destination: ImageDestination;
  readonly request: CopyRequest;
  readonly top: Image;
  readonly format: ManifestFormat | undefined;
  readonly counts: BlobCounts;
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
  const copy: IndexCopy = { destination, request, top, format, counts };
  const written = await copyLevel(copy, [], index.descriptor, index.body);
  await destination.tag(written, undefined);
  return {
    image: top,
    destination: destination.name,
    manifest: written,
    converted: written !== index.descriptor,
    ...counts,
  };
}

/**
 * An index (`path`: the digests from the top one down to it) with everything it lists, nested
 * indexes included; then the index itself, by digest unless it is the top one. Returns its
 * descriptor as stored (another where it was converted).
 */
async function copyLevel(
  copy: IndexCopy,
  path: readonly string[],
  descriptor: Descriptor,
  body: Buffer,
): Promise<Descriptor> {
  const { destination, request, top, format } = copy;
  if (path.length > MAX_INDEX_DEPTH)
    throw new ImageError("STRATA_BAD_IMAGE", `${top.reference}: image indexes nested too deeply`, {
      hint: `strata follows at most ${MAX_INDEX_DEPTH} levels of indexes`,
    });
  const replaced = new Map<string, Descriptor>();
  const listed = (JSON.parse(body.toString("utf8")) as { manifests?: unknown }).manifests;
  for (const child of descriptorList(listed, `index ${descriptor.digest} manifests`)) {
    stopIfAborted(request.signal);
    const childPath = [...path, child.digest];
    const stored =
      child.mediaType !== undefined && INDEX_TYPES.has(child.mediaType)
        ? await copyLevel(copy, childPath, child, await nestedIndex(top, child))
        : await copyManifest(copy, childPath, child);
    if (stored !== child) replaced.set(child.digest, stored);
  }
  const rewritten = rewrittenIndex(body, replaced, format);
  const written: Descriptor =
    rewritten === undefined
      ? descriptor
      : {
          ...descriptor,
          mediaType: JSON.parse(rewritten.toString("utf8")).mediaType as string,
          digest: digestOf(rewritten),
          size: rewritten.length,
        };
  await destination.putManifest(
    written,
    rewritten ?? body,
    path.length === 0 ? undefined : { byDigest: true },
  );
  return written;
}

async function nestedIndex(top: Image, child: Descriptor): Promise<Buffer> {
  if (top.readDocument === undefined)
    throw new ImageError(
      "STRATA_BAD_IMAGE",
      `${top.reference} nests an index, and its transport cannot read one by digest`,
      { hint: "copy the nested index by its digest" },
    );
  return await top.readDocument(child);
}

/** One manifest of an index: its blobs, then itself by digest (converted where asked). */
async function copyManifest(
  { destination, request, top, format, counts }: IndexCopy,
  path: readonly string[],
  child: Descriptor,
): Promise<Descriptor> {
  const image =
    child.digest === top.manifest?.digest ? top : await openImage({ ...request, manifest: path });
  const source = await sourceManifest(image);
  await copyBlobs(destination, image, source.config, request, counts);
  const { descriptor, body } = inFormat(source.descriptor, source.body, format);
  await destination.putManifest(descriptor, body, { byDigest: true });
  return descriptor === source.descriptor ? child : descriptor;
}
