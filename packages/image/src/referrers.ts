import { ImageError } from "@strata-oci/errors";
import type { Referrer } from "./image.js";
import { parseImageReference } from "./transports/index.js";
import { openImage, type OpenImageRequest } from "./open-image.js";

export interface ReferrersRequest extends OpenImageRequest {
  /** Only referrers of this artifact type. */
  readonly artifactType?: string | undefined;
}

export interface ReferrersResult {
  /** The digests looked up: the indexes walked and the chosen manifest. */
  readonly subjects: readonly string[];
  readonly referrers: readonly Referrer[];
  /**
   * Where they were found: the layout's manifests, the registry's referrers API, or its
   * `sha256-HEX` tag.
   */
  readonly via: "layout" | "referrers API" | "tag schema";
  /** Documents of the layout that break a rule and were skipped (they belong to other images). */
  readonly warnings: readonly string[];
}

/**
 * What is attached to an image (signatures, SBOMs, attestations): the
 * manifests whose `subject` is the image's index or manifest. An OCI layout
 * is searched through everything index.json reaches; a registry is asked
 * through the referrers API, with the tag schema where it has none.
 */
export async function findReferrers(request: ReferrersRequest): Promise<ReferrersResult> {
  const ref = parseImageReference(request.image);
  if (ref.referrers === undefined) {
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `${ref.transport}: images carry no referrers (${ref.format()})`,
      { hint: "give an OCI layout (oci:DIR[:TAG]) or a registry (docker://...)" },
    );
  }
  const image = await openImage(request);
  const subjects = [
    ...image.indexes.filter((level) => level.where !== "index.json").map((level) => level.where),
    ...(image.manifest === undefined ? [] : [image.manifest.digest]),
  ];
  const registry =
    request.signal === undefined
      ? request.registry
      : { ...request.registry, signal: request.signal };
  const found = await ref.referrers(subjects, { registry, reference: image.reference });
  const wanted = request.artifactType;
  const referrers =
    wanted === undefined
      ? found.referrers
      : found.referrers.filter((r) => r.descriptor.artifactType === wanted);
  return {
    subjects,
    referrers,
    via: found.via,
    warnings: found.skipped.map((skipped) => `skipped ${skipped}`),
  };
}
