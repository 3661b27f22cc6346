// Choosing a manifest: what every image source does once it has an index or
// a manifest in hand (OCI layout, registry).
import { LAYER_MEDIA_TYPE_NAMES } from "@strata-oci/layer";
import { ImageError } from "@strata-oci/errors";
import {
  parseAnnotations,
  parseDescriptor,
  bad,
  specViolation,
  type Descriptor,
} from "./descriptor.js";
import type { IndexLevel, ManifestChoice, ManifestDetails, SpecWarning } from "./image.js";
import {
  DOCKER_CONFIG,
  DOCKER_MANIFEST,
  INDEX_TYPES,
  MANIFEST_TYPES,
  OCI_CONFIG,
  OCI_MANIFEST,
  REF_NAME_ANNOTATION,
} from "./media-types.js";
import { formatPlatform, platformMatches, type Platform } from "./platform.js";

/** Indexes inside indexes, at most: a cycle of indexes must end. */
export const MAX_INDEX_DEPTH = 8;

export interface OpenImageOptions {
  /** Platform to pick from an index; default the host's. */
  readonly platform: Platform;
  /** `org.opencontainers.image.ref.name` to pick; default: the only manifest. */
  readonly tag: string | undefined;
  /** Manifests to take by digest instead of by platform, one per index level (copy --all). */
  readonly manifest?: string | readonly string[] | undefined;
  /** No manifest for the platform: the index's first (copy --all). */
  readonly anyPlatform?: boolean | undefined;
}

export function descriptorList(value: unknown, what: string): Descriptor[] {
  if (!Array.isArray(value)) throw bad(`${what} is not a list`);
  return value.map((d, i) => parseDescriptor(d, `${what}[${i}]`));
}

/**
 * Whether a manifest-or-index document is an index or a manifest, by its
 * media type (the descriptor's, else its own) or, without one, its shape;
 * and the rules every such document must follow: schemaVersion 2, one shape
 * only (a document that is both an index and a manifest is the ambiguity
 * behind CVE-2021-41190), a manifest's config and layers, an index's
 * manifests, string annotations.
 */
export function kindOf(
  descriptorType: string | undefined,
  json: Record<string, unknown>,
  what = "document",
): "index" | "manifest" {
  const own = json.mediaType;
  if (own !== undefined && typeof own !== "string")
    throw specViolation(`${what} has a non-string mediaType`, "mediaType is a string");
  // The type that led here and the type the document claims must agree: a
  // reader trusting one and a signer the other see different images.
  if (own !== undefined && descriptorType !== undefined && own !== descriptorType) {
    throw specViolation(
      `${what} says it is ${JSON.stringify(own)}, the descriptor that led to it says ` +
        `${JSON.stringify(descriptorType)}`,
      "a document's mediaType MUST match its descriptor's (CVE-2021-41190)",
    );
  }
  const mediaType = descriptorType ?? own;
  if (json.schemaVersion !== 2)
    throw specViolation(
      `${what} has schemaVersion ${JSON.stringify(json.schemaVersion ?? null)}`,
      "schemaVersion MUST be 2",
    );
  const indexShaped = json.manifests !== undefined;
  const manifestShaped = json.config !== undefined || json.layers !== undefined;
  if (indexShaped && manifestShaped)
    throw specViolation(
      `${what} has both manifests and config/layers`,
      "a document is an image index or an image manifest, never both (CVE-2021-41190)",
    );
  let kind: "index" | "manifest";
  if (mediaType !== undefined && INDEX_TYPES.has(mediaType)) kind = "index";
  else if (mediaType !== undefined && MANIFEST_TYPES.has(mediaType)) kind = "manifest";
  else if (mediaType !== undefined)
    throw new ImageError(
      "STRATA_BAD_IMAGE",
      `unsupported manifest media type ${JSON.stringify(mediaType)}`,
    );
  // Manifests may omit mediaType: tell them apart by shape.
  else if (indexShaped) kind = "index";
  else if (manifestShaped) kind = "manifest";
  else throw bad(`${what} is neither an image index nor a manifest`);
  if (kind === "index" && manifestShaped)
    throw specViolation(
      `${what} is typed as an index but has config or layers`,
      "an image index has manifests, not config or layers (CVE-2021-41190)",
    );
  if (kind === "index" && !Array.isArray(json.manifests))
    throw specViolation(`${what} has no manifests list`, "an image index MUST have manifests");
  if (kind === "manifest" && indexShaped)
    throw specViolation(
      `${what} is typed as a manifest but has manifests`,
      "an image manifest has config and layers, not manifests (CVE-2021-41190)",
    );
  if (kind === "manifest" && (json.config === undefined || !Array.isArray(json.layers))) {
    throw specViolation(
      `${what} lacks ${json.config === undefined ? "config" : "a layers list"}`,
      "an image manifest MUST have config and layers",
    );
  }
  parseAnnotations(json.annotations, what);
  return kind;
}

function optionalString(
  json: Record<string, unknown>,
  key: string,
  what: string,
): string | undefined {
  const value = json[key];
  if (value !== undefined && typeof value !== "string")
    throw specViolation(`${what} has a non-string ${key}`, `${key} is a string`);
  return value as string | undefined;
}

/** An index as walked: its descriptors (checked), annotations, subject and artifact type. */
export function indexLevel(
  json: Record<string, unknown>,
  where: string,
  mediaType: string | undefined,
): IndexLevel {
  const subject =
    json.subject === undefined ? undefined : parseDescriptor(json.subject, `${where} subject`);
  const artifactType = optionalString(json, "artifactType", where);
  return {
    where,
    mediaType,
    annotations: parseAnnotations(json.annotations, where),
    manifests: descriptorList(json.manifests, `${where} manifests`),
    ...(subject === undefined ? {} : { subject }),
    ...(artifactType === undefined ? {} : { artifactType }),
  };
}

const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([OCI_CONFIG, DOCKER_CONFIG]);
const LAYER_TYPES: ReadonlySet<string> = new Set(LAYER_MEDIA_TYPE_NAMES);

/**
 * Producers seen writing Docker layer media types into OCI manifests: every
 * reader strata knows of applies them as the OCI types (podman refuses to
 * mix them).
 */
const MIXED_LAYER_TYPE_PRODUCERS =
  ".NET SDK containers (dotnet/sdk#48639) and Bazel rules_img before #518";

/**
 * A manifest's fields, checked: config and layer descriptors, subject,
 * artifactType, annotations; whether it is an artifact rather than a
 * container image (an artifactType, a config that is not an image config, or
 * layers none of which is a layer); and the harmless deviations accepted.
 */
export function manifestDetails(
  json: Record<string, unknown>,
  descriptor: Descriptor,
  what: string,
): ManifestDetails {
  const config = parseDescriptor(json.config, `${what} config`);
  const layers = descriptorList(json.layers, `${what} layers`);
  const subject =
    json.subject === undefined ? undefined : parseDescriptor(json.subject, `${what} subject`);
  const artifactType = optionalString(json, "artifactType", what);
  const mediaType = descriptor.mediaType ?? (json.mediaType as string | undefined);
  const warnings: SpecWarning[] = [];
  let artifact: string | undefined;
  if (artifactType !== undefined) artifact = `an artifact of type ${artifactType}`;
  else if (config.mediaType !== undefined && !IMAGE_CONFIG_TYPES.has(config.mediaType))
    artifact = `an artifact whose config is ${config.mediaType}`;
  else if (
    layers.length > 0 &&
    layers.every((layer) => layer.mediaType !== undefined && !LAYER_TYPES.has(layer.mediaType))
  ) {
    const types = [...new Set(layers.map((layer) => layer.mediaType))];
    artifact = `an artifact whose layers are ${types.join(", ")}`;
  }
  if (
    mediaType === OCI_MANIFEST &&
    layers.some(
      (layer) => layer.mediaType?.startsWith("application/vnd.docker.image.rootfs.") === true,
    )
  ) {
    warnings.push({
      rule: "an OCI manifest's layers use the OCI layer media types",
      detail: `${what} lists Docker layer media types (read as their OCI equivalents)`,
      producers: MIXED_LAYER_TYPE_PRODUCERS,
    });
  }
  if (mediaType === DOCKER_MANIFEST && artifactType !== undefined) {
    warnings.push({
      rule: "artifactType belongs to OCI manifests",
      detail: `${what} is a Docker manifest with an artifactType`,
    });
  }
  return {
    mediaType,
    config,
    layers,
    annotations: parseAnnotations(json.annotations, what),
    ...(subject === undefined ? {} : { subject }),
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(artifact === undefined ? {} : { artifact }),
    warnings,
  };
}

export function choicesOf(manifests: readonly Descriptor[]): ManifestChoice[] {
  return manifests.map((descriptor) => ({
    descriptor,
    tag: descriptor.annotations[REF_NAME_ANNOTATION],
    platform: descriptor.platform,
  }));
}

export function describeChoices(choices: readonly ManifestChoice[]): string {
  return choices
    .map(
      (c) =>
        `${c.tag ?? "(untagged)"} ${c.descriptor.digest.slice(0, 19)}` +
        `${c.platform === undefined ? "" : ` ${formatPlatform(c.platform)}`}`,
    )
    .join(", ");
}

/**
 * Picks the top-level entry: by tag, or the only one, or by platform when entries differ only by
 * platform.
 */
export function pickTopLevel(
  choices: readonly ManifestChoice[],
  options: OpenImageOptions,
  reference: string,
): Descriptor {
  if (options.tag !== undefined) {
    const tagged = choices.filter((c) => c.tag === options.tag);
    const match = tagged[0];
    // One tag on several manifests (one per platform): the platform decides, never the order.
    if (tagged.length > 1)
      return pickPlatform(
        tagged.map((c) => c.descriptor),
        options.platform,
        reference,
      );
    if (match === undefined) {
      throw new ImageError(
        "STRATA_MANIFEST_NOT_FOUND",
        `no manifest tagged ${JSON.stringify(options.tag)} in ${reference}`,
        {
          hint: `available: ${describeChoices(choices) || "none"}`,
        },
      );
    }
    return match.descriptor;
  }
  const only = choices[0];
  if (choices.length === 1 && only !== undefined) return only.descriptor;
  if (choices.length === 0)
    throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `index of ${reference} lists no manifests`);
  const tags = new Set(choices.map((c) => c.tag));
  if (tags.size === 1 && choices.every((c) => c.platform !== undefined))
    return pickPlatform(
      choices.map((c) => c.descriptor),
      options.platform,
      reference,
    );
  throw new ImageError(
    "STRATA_AMBIGUOUS_MANIFEST",
    `${reference} holds ${choices.length} manifests; say which`,
    {
      hint: `name one as oci:DIR:TAG; available: ${describeChoices(choices)}`,
    },
  );
}

/** The digest `manifest` names at index level `depth` (0: the top index), if any. */
function manifestAt(
  manifest: string | readonly string[] | undefined,
  depth: number,
): string | undefined {
  if (manifest === undefined) return undefined;
  return typeof manifest === "string" ? (depth === 0 ? manifest : undefined) : manifest[depth];
}

/**
 * The descriptor to follow at index level `depth`: the one `options.manifest` names there, else
 * the platform's.
 */
/** How a manifest is chosen from each index on the way down. */
export interface ManifestSelection {
  readonly platform: Platform;
  /** Digests to take instead of the platform's, one per index level (copy --all). */
  readonly manifest?: string | readonly string[] | undefined;
  /** No manifest for the platform: the index's first (copy --all). */
  readonly anyPlatform?: boolean | undefined;
}

export function pickManifest(
  manifests: readonly Descriptor[],
  options: ManifestSelection,
  reference: string,
  depth: number,
): Descriptor {
  const wanted = manifestAt(options.manifest, depth);
  if (wanted === undefined && options.anyPlatform === true)
    return platformMatch(manifests, options.platform) ?? (manifests[0] as Descriptor);
  if (wanted === undefined) return pickPlatform(manifests, options.platform, reference);
  const named = manifests.find((d) => d.digest === wanted);
  if (named === undefined)
    throw new ImageError(
      "STRATA_MANIFEST_NOT_FOUND",
      `the index of ${reference} lists no manifest ${wanted}`,
      { hint: "the index changed while it was read; try again" },
    );
  return named;
}
/**
 * The one that says exactly what was asked first (linux/arm64/v8 over linux/arm64), then any that
 * is the same platform.
 */
function platformMatch(
  manifests: readonly Descriptor[],
  platform: Platform,
): Descriptor | undefined {
  const exact = manifests.find(
    (d) => d.platform?.variant === platform.variant && platformMatches(d.platform, platform),
  );
  return exact ?? manifests.find((d) => platformMatches(d.platform, platform));
}

export function pickPlatform(
  manifests: readonly Descriptor[],
  platform: Platform,
  reference: string,
): Descriptor {
  const match = platformMatch(manifests, platform);
  if (match === undefined) {
    const offered = manifests
      .map((d) => (d.platform === undefined ? "(none)" : formatPlatform(d.platform)))
      .join(", ");
    throw new ImageError(
      "STRATA_MANIFEST_NOT_FOUND",
      `no manifest for platform ${formatPlatform(platform)} in ${reference}`,
      {
        hint: `offered: ${offered}; choose one with --platform`,
      },
    );
  }
  return match;
}
