// One shape for every --json result (README, "JSON results"; the JSON Schema
// is schema/result.schema.json): `schemaVersion`, `command`, the `image` it
// read where it read one, then what the command made or found. Descriptors
// are always objects ({mediaType, digest, size}), layers always a list of
// objects, so a script reads `.image.manifest.digest` and `.manifest.digest`
// the same way whichever command printed them.
import type { Image } from "@strata-oci/core";
import { formatPlatform, type Descriptor } from "@strata-oci/image";

/** A descriptor as every result prints it. */
export function descriptorJson(
  descriptor: Pick<Descriptor, "digest" | "size"> & { readonly mediaType?: string | undefined },
): { mediaType: string | null; digest: string; size: number } {
  return {
    mediaType: descriptor.mediaType ?? null,
    digest: descriptor.digest,
    size: descriptor.size,
  };
}

/** The image a command read: where from, for which platform, its manifest, config and layers. */
export function imageJson(image: Image): Record<string, unknown> {
  const { os, architecture, variant } = image.config;
  return {
    reference: image.reference,
    transport: image.transport,
    platform:
      os === undefined || architecture === undefined
        ? null
        : formatPlatform(
            variant === undefined ? { os, architecture } : { os, architecture, variant },
          ),
    manifest: image.manifest === undefined ? null : descriptorJson(image.manifest),
    config: image.configDigest ?? null,
    layers: image.layers.map((layer) => ({
      mediaType: layer.mediaType ?? null,
      digest: layer.digest ?? null,
      size: layer.size,
      diffId: layer.diffId ?? null,
    })),
  };
}

/**
 * The version of the result schema (schema/result.schema.json): raised when a field changes
 * meaning or goes away, not when one is added.
 */
export const RESULT_SCHEMA_VERSION = 1;

/** The first fields of every result. */
export function resultHead(command: string): { schemaVersion: number; command: string } {
  return { schemaVersion: RESULT_SCHEMA_VERSION, command };
}

/** Prints a result that reads no one image (store, inspect): `{ schemaVersion, command, ... }`. */
export function printJson(command: string, body: object): void {
  process.stdout.write(`${JSON.stringify({ ...resultHead(command), ...body }, null, 2)}\n`);
}

/** Prints a command's result: `{ schemaVersion, command, image, ...made }`. */
export function printResult(command: string, image: Image, made: Record<string, unknown>): void {
  printJson(command, { image: imageJson(image), ...made });
}
