import { ImageError } from "@strata-oci/errors";
import type { Referrer } from "./image.js";
import { parseImageReference } from "./image-reference.js";
import { layoutReferrers } from "./oci-layout.js";
import { openImage, type OpenImageRequest } from "./open-image.js";
import { registryReferrers } from "./registry/registry-source.js";

export interface ReferrersRequest extends OpenImageRequest {
  /** Only referrers of this artifact type. */
  readonly artifactType?: string;
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
  if (ref.transport === "docker-archive") {
    throw new ImageError("STRATA_BAD_REFERENCE", "docker-archive tarballs carry no referrers", {
      hint: "give an OCI layout (oci:DIR[:TAG]) or a registry (docker://...)",
    });
  }
  const image = await openImage(request);
  const subjects = [
    ...image.indexes.filter((level) => level.where !== "index.json").map((level) => level.where),
    ...(image.manifest === undefined ? [] : [image.manifest.digest]),
  ];
  const found =
    ref.transport === "oci"
      ? { ...layoutReferrers(ref.path, new Set(subjects)), via: "layout" as const }
      : {
          ...(await registryReferrers(
            ref.registry,
            subjects,
            image.reference,
            request.signal === undefined
              ? request.registry
              : { ...request.registry, signal: request.signal },
          )),
          skipped: [],
        };
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
