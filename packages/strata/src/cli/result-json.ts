// One shape for every --json result of a command that acts on an image
// (README, "JSON results"): `command`, the `image` it read, then what the
// command made. Descriptors are always objects ({mediaType, digest, size}),
// layers always a list of objects, so a script reads `.image.manifest.digest`
// and `.manifest.digest` the same way whichever command printed them.
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

/** Prints a command's result: `{ command, image, ...made }`, two-space indented. */
export function printResult(command: string, image: Image, made: Record<string, unknown>): void {
  const result = { command, image: imageJson(image), ...made };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
