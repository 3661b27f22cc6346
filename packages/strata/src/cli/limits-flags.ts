import type { LayerLimits } from "@strata-oci/core";

/** CLI flag -> LayerLimits field, for `strata unpack`. */
export const LIMIT_FLAGS: Readonly<Record<string, keyof LayerLimits>> = {
  "max-entries": "maxEntries",
  "max-total-bytes": "maxTotalBytes",
  "max-file-size": "maxFileSize",
  "max-path-length": "maxPathLength",
  "max-depth": "maxDepth",
  "max-header-size": "maxHeaderSize",
};

const SUFFIXES: Readonly<Record<string, number>> = {
  "": 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
};

/** Parses `123`, `64K`, `512M`, `2G` (binary units). Throws on anything else. */
export function parseSize(text: string): number {
  const match = /^(\d+)([kmgt]?)(i?b)?$/i.exec(text.trim());
  const scale = SUFFIXES[(match?.[2] ?? "").toLowerCase()];
  if (match === null || scale === undefined)
    throw new Error("write a whole number with an optional K, M, G or T (binary units)");
  const value = Number(match[1]) * scale;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error("a limit must be at least 1 (and below 2^53)");
  return value;
}

/** Limits from parsed flag values (only those given). */
export function limitsFromFlags(
  values: Readonly<Record<string, string | boolean | string[] | undefined>>,
): Partial<LayerLimits> {
  const limits: Partial<Record<keyof LayerLimits, number>> = {};
  for (const [flag, field] of Object.entries(LIMIT_FLAGS)) {
    const value = values[flag];
    if (typeof value !== "string") continue;
    try {
      limits[field] = parseSize(value);
    } catch (error) {
      throw new Error(`--${flag} ${JSON.stringify(value)}: ${(error as Error).message}`);
    }
  }
  return limits;
}
