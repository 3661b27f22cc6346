import { ImageError, parseDigest } from "@strata-oci/layer";
import type { Platform } from "./platform.js";

/** An OCI content descriptor, checked. */
export interface Descriptor {
  readonly mediaType: string | undefined;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly platform: Platform | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function bad(detail: string, hint?: string): ImageError {
  return new ImageError("STRATA_BAD_IMAGE", detail, hint === undefined ? {} : { hint });
}

export function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw bad(`${what} is not a JSON object`);
  return value;
}

export function parseJson(data: Buffer, what: string): unknown {
  try {
    return JSON.parse(data.toString("utf8")) as unknown;
  } catch (cause) {
    throw new ImageError("STRATA_BAD_IMAGE", `${what} is not valid JSON`, { cause, hint: "the image is corrupt" });
  }
}

/** Checks one descriptor object from an index or manifest. */
export function parseDescriptor(value: unknown, what: string): Descriptor {
  const record = asRecord(value, what);
  const { mediaType, digest, size, annotations, platform } = record;
  if (typeof digest !== "string") throw bad(`${what} has no digest`);
  parseDigest(digest);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw bad(`${what} has no valid size`);
  if (mediaType !== undefined && typeof mediaType !== "string") throw bad(`${what} has a non-string mediaType`);
  const notes: Record<string, string> = {};
  if (annotations !== undefined) {
    for (const [k, v] of Object.entries(asRecord(annotations, `${what} annotations`))) {
      if (typeof v !== "string") throw bad(`${what} has annotation ${JSON.stringify(k)} that is not a string (image-spec: annotations MUST be a map of string to string)`);
      notes[k] = v;
    }
  }
  let parsedPlatform: Platform | undefined;
  if (platform !== undefined) {
    const p = asRecord(platform, `${what} platform`);
    if (typeof p.os === "string" && typeof p.architecture === "string") {
      parsedPlatform = typeof p.variant === "string" ? { os: p.os, architecture: p.architecture, variant: p.variant } : { os: p.os, architecture: p.architecture };
    }
  }
  return { mediaType, digest, size, annotations: notes, platform: parsedPlatform };
}
