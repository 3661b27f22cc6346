// Choosing a manifest: what every image source does once it has an index or
// a manifest in hand (OCI layout, registry).
import { ImageError } from "@strata-oci/layer";
import { parseDescriptor, bad, type Descriptor } from "./descriptor.js";
import type { ManifestChoice } from "./image.js";
import { INDEX_TYPES, MANIFEST_TYPES, REF_NAME_ANNOTATION } from "./media-types.js";
import { formatPlatform, platformMatches, type Platform } from "./platform.js";

export interface OpenImageOptions {
  /** Platform to pick from an index; default the host's. */
  readonly platform: Platform;
  /** `org.opencontainers.image.ref.name` to pick; default: the only manifest. */
  readonly tag: string | undefined;
}

export function descriptorList(value: unknown, what: string): Descriptor[] {
  if (!Array.isArray(value)) throw bad(`${what} is not a list`);
  return value.map((d, i) => parseDescriptor(d, `${what}[${i}]`));
}

/** An image-spec rule broken: the message quotes it. */
export function specViolation(detail: string, rule: string): ImageError {
  return new ImageError("STRATA_BAD_IMAGE", `${detail} (image-spec: ${rule})`, { hint: "the image breaks the OCI image-spec; rebuild it with a current tool" });
}

/**
 * Whether a manifest-or-index document is an index or a manifest, by its
 * media type (the descriptor's, else its own) or, without one, its shape;
 * and the rules every such document must follow: schemaVersion 2, one shape
 * only (a document that is both an index and a manifest is the ambiguity
 * behind CVE-2021-41190), a manifest's config and layers, an index's
 * manifests, string annotations.
 */
export function kindOf(mediaType: string | undefined, json: Record<string, unknown>, what = "document"): "index" | "manifest" {
  if (json.schemaVersion !== 2) throw specViolation(`${what} has schemaVersion ${JSON.stringify(json.schemaVersion ?? null)}`, "schemaVersion MUST be 2");
  const indexShaped = json.manifests !== undefined;
  const manifestShaped = json.config !== undefined || json.layers !== undefined;
  if (indexShaped && manifestShaped) throw specViolation(`${what} has both manifests and config/layers`, "a document is an image index or an image manifest, never both (CVE-2021-41190)");
  let kind: "index" | "manifest";
  if (mediaType !== undefined && INDEX_TYPES.has(mediaType)) kind = "index";
  else if (mediaType !== undefined && MANIFEST_TYPES.has(mediaType)) kind = "manifest";
  else if (mediaType !== undefined) throw new ImageError("STRATA_BAD_IMAGE", `unsupported manifest media type ${JSON.stringify(mediaType)}`);
  // Manifests may omit mediaType: tell them apart by shape.
  else if (indexShaped) kind = "index";
  else if (manifestShaped) kind = "manifest";
  else throw bad(`${what} is neither an image index nor a manifest`);
  if (kind === "index" && manifestShaped) throw specViolation(`${what} is typed as an index but has config or layers`, "an image index has manifests, not config or layers (CVE-2021-41190)");
  if (kind === "index" && !Array.isArray(json.manifests)) throw specViolation(`${what} has no manifests list`, "an image index MUST have manifests");
  if (kind === "manifest" && indexShaped) throw specViolation(`${what} is typed as a manifest but has manifests`, "an image manifest has config and layers, not manifests (CVE-2021-41190)");
  if (kind === "manifest" && (json.config === undefined || !Array.isArray(json.layers))) {
    throw specViolation(`${what} lacks ${json.config === undefined ? "config" : "a layers list"}`, "an image manifest MUST have config and layers");
  }
  checkAnnotations(json.annotations, what);
  return kind;
}

/** annotations: a map of string to string, when present. */
export function checkAnnotations(annotations: unknown, what: string): void {
  if (annotations === undefined) return;
  if (typeof annotations !== "object" || annotations === null || Array.isArray(annotations) || Object.values(annotations).some((v) => typeof v !== "string")) {
    throw specViolation(`${what} has annotations that are not strings`, "annotations MUST be a map of string to string");
  }
}

export function choicesOf(manifests: readonly Descriptor[]): ManifestChoice[] {
  return manifests.map((descriptor) => ({ descriptor, tag: descriptor.annotations[REF_NAME_ANNOTATION], platform: descriptor.platform }));
}

export function describeChoices(choices: readonly ManifestChoice[]): string {
  return choices
    .map((c) => `${c.tag ?? "(untagged)"} ${c.descriptor.digest.slice(0, 19)}${c.platform === undefined ? "" : ` ${formatPlatform(c.platform)}`}`)
    .join(", ");
}

/** Picks the top-level entry: by tag, or the only one, or by platform when entries differ only by platform. */
export function pickTopLevel(choices: readonly ManifestChoice[], options: OpenImageOptions, reference: string): Descriptor {
  if (options.tag !== undefined) {
    const tagged = choices.filter((c) => c.tag === options.tag);
    const match = tagged[0];
    // One tag on several manifests (one per platform): the platform decides, never the order.
    if (tagged.length > 1) return pickPlatform(tagged.map((c) => c.descriptor), options.platform, reference);
    if (match === undefined) {
      throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `no manifest tagged ${JSON.stringify(options.tag)} in ${reference}`, {
        hint: `available: ${describeChoices(choices) || "none"}`,
      });
    }
    return match.descriptor;
  }
  const only = choices[0];
  if (choices.length === 1 && only !== undefined) return only.descriptor;
  if (choices.length === 0) throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `index of ${reference} lists no manifests`);
  const tags = new Set(choices.map((c) => c.tag));
  if (tags.size === 1 && choices.every((c) => c.platform !== undefined)) return pickPlatform(choices.map((c) => c.descriptor), options.platform, reference);
  throw new ImageError("STRATA_AMBIGUOUS_MANIFEST", `${reference} holds ${choices.length} manifests; say which`, {
    hint: `name one as oci:DIR:TAG; available: ${describeChoices(choices)}`,
  });
}

export function pickPlatform(manifests: readonly Descriptor[], platform: Platform, reference: string): Descriptor {
  const match = manifests.find((d) => platformMatches(d.platform, platform));
  if (match === undefined) {
    const offered = manifests.map((d) => (d.platform === undefined ? "(none)" : formatPlatform(d.platform))).join(", ");
    throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `no manifest for platform ${formatPlatform(platform)} in ${reference}`, {
      hint: `offered: ${offered}; choose one with --platform`,
    });
  }
  return match;
}

