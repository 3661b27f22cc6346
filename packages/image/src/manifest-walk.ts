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

export function kindOf(mediaType: string | undefined, json: Record<string, unknown>): "index" | "manifest" {
  if (mediaType !== undefined && INDEX_TYPES.has(mediaType)) return "index";
  if (mediaType !== undefined && MANIFEST_TYPES.has(mediaType)) return "manifest";
  if (mediaType !== undefined) throw new ImageError("STRATA_BAD_IMAGE", `unsupported manifest media type ${JSON.stringify(mediaType)}`);
  // Manifests may omit mediaType: tell them apart by shape.
  if (Array.isArray(json.manifests)) return "index";
  if (json.config !== undefined && Array.isArray(json.layers)) return "manifest";
  throw bad("blob is neither an image index nor a manifest");
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

