import { parseDigest } from "@strata-oci/layer";
import { ImageError } from "@strata-oci/errors";
import type { Platform } from "./platform.js";

/** An OCI content descriptor, checked. */
export interface Descriptor {
  /**
   * REQUIRED in a descriptor; undefined only where strata made the descriptor (a registry answer
   * without a type).
   */
  readonly mediaType: string | undefined;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly platform: Platform | undefined;
  /** The artifact type of what it points to (indexes and referrers lists carry it). */
  readonly artifactType?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function bad(detail: string, hint?: string): ImageError {
  return new ImageError("STRATA_BAD_IMAGE", detail, hint === undefined ? {} : { hint });
}

/** An image-spec rule broken: the message quotes it. */
export function specViolation(detail: string, rule: string): ImageError {
  return new ImageError("STRATA_BAD_IMAGE", `${detail} (image-spec: ${rule})`, {
    hint: "the image breaks the OCI image-spec; rebuild it with a current tool",
  });
}

/** annotations: a map of string to string, when present. */
export function parseAnnotations(annotations: unknown, what: string): Record<string, string> {
  if (annotations === undefined) return {};
  if (!isRecord(annotations) || Object.values(annotations).some((v) => typeof v !== "string")) {
    throw specViolation(
      `${what} has annotations that are not strings`,
      "annotations MUST be a map of string to string",
    );
  }
  return annotations as Record<string, string>;
}

const strings = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === "string");

export function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw bad(`${what} is not a JSON object`);
  return value;
}

export function parseJson(data: Buffer, what: string): unknown {
  try {
    return JSON.parse(data.toString("utf8")) as unknown;
  } catch (cause) {
    throw new ImageError("STRATA_BAD_IMAGE", `${what} is not valid JSON`, {
      cause,
      hint: "the image is corrupt",
    });
  }
}

/** Checks one descriptor object from an index or manifest. */
export function parseDescriptor(value: unknown, what: string): Descriptor {
  const record = asRecord(value, what);
  const { mediaType, digest, size, annotations, platform, artifactType } = record;
  if (typeof mediaType !== "string" || mediaType === "")
    throw specViolation(`${what} has no mediaType`, "a descriptor's mediaType is REQUIRED");
  if (typeof digest !== "string")
    throw specViolation(`${what} has no digest`, "a descriptor's digest is REQUIRED");
  try {
    parseDigest(digest);
  } catch (cause) {
    throw specViolation(
      `${what} has a malformed digest ${JSON.stringify(digest.slice(0, 100))}`,
      "a digest is algorithm:encoded, sha256 with 64 lowercase hex digits",
    );
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw specViolation(
      `${what} has no valid size (${JSON.stringify(size ?? null)})`,
      "a descriptor's size is REQUIRED, a non-negative int64 of bytes",
    );
  }
  if (artifactType !== undefined && typeof artifactType !== "string")
    throw specViolation(
      `${what} has a non-string artifactType`,
      "artifactType is a string, a media type",
    );
  const notes = parseAnnotations(annotations, what);
  let parsedPlatform: Platform | undefined;
  if (platform !== undefined) {
    const p = asRecord(platform, `${what} platform`);
    if (typeof p.os !== "string" || typeof p.architecture !== "string")
      throw specViolation(
        `${what} platform lacks os or architecture`,
        "platform.os and platform.architecture are REQUIRED",
      );
    const osVersion = p["os.version"];
    const osFeatures = p["os.features"];
    parsedPlatform = {
      os: p.os,
      architecture: p.architecture,
      ...(typeof p.variant === "string" ? { variant: p.variant } : {}),
      ...(typeof osVersion === "string" ? { osVersion } : {}),
      ...(strings(osFeatures) ? { osFeatures } : {}),
      ...(strings(p.features) ? { features: p.features } : {}),
    };
  }
  return {
    mediaType,
    digest,
    size,
    annotations: notes,
    platform: parsedPlatform,
    ...(typeof artifactType === "string" ? { artifactType } : {}),
  };
}
