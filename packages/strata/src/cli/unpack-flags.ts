// What unpack and bundle share: their flags, progress on a terminal, Ctrl-C.
import type { UnpackOptions } from "@strata-oci/core";
import { prepareBlobWorkers } from "@strata-oci/layer";
import { UsageError, type Flag, type FlagSection, type FlagValues } from "./command.js";
import { limits, limitsOf, PLATFORM, REGISTRY, registryOf, text } from "./flags.js";
import { progressDisplay } from "./progress.js";
import { interruptibly } from "./signals.js";

export const UNPACK_FLAGS: readonly Flag[] = [
  { name: "store", kind: "string", value: "DIR", help: "fill the layer store DIR (no DEST)" },
  {
    ...PLATFORM,
    help:
      "pick this platform from a multi-platform index (default: this machine's, e.g. " +
      "linux/amd64); an image for another platform is refused " +
      "(STRATA_PLATFORM_MISMATCH), or only warned about when no --platform is given",
  },
  ...REGISTRY,
  {
    name: "downloads",
    kind: "string",
    value: "N",
    help:
      "registry layers downloaded at once (default 1: each is applied while it " +
      "downloads, in order; more helps where every connection is slow on its own, not " +
      "on a shared link)",
  },
  {
    name: "rootless",
    kind: "boolean",
    help:
      "do not chown: record owners in the user.rootlesscontainers xattr (as umoci does) " +
      "and write devices as empty files. Implied when not running as root",
  },
  {
    name: "record",
    kind: "string",
    value: "FILE",
    help:
      "also write the record of DEST (each entry's inode and change time) to FILE, " +
      "outside DEST: strata repack --record FILE then reads only what changed in DEST " +
      "since",
  },
  { name: "json", kind: "boolean", help: "print the result as JSON" },
];

export const UNPACK_LIMITS: FlagSection = limits(
  "Per layer; SIZE is a number with an optional K, M, G or T. A layer that exceeds " +
    "one is refused with STRATA_LIMIT_EXCEEDED; raise a limit only for images you " +
    "trust",
);

/** The options unpack and bundle take from the same flags. */
export type SharedUnpackOptions = Pick<
  UnpackOptions,
  "signal" | "limits" | "platform" | "rootless" | "onProgress" | "registry" | "downloads" | "record"
>;

function downloadsOf(values: FlagValues): number | undefined {
  const value = text(values, "downloads");
  if (value === undefined) return undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 16)
    throw new UsageError("--downloads takes a number from 1 to 16");
  return count;
}

/**
 * Runs an unpack or a bundle with their shared flags, progress on a terminal (unless --quiet or
 * --json), and Ctrl-C.
 */
export async function withUnpackFlags<T>(
  values: FlagValues,
  run: (shared: SharedUnpackOptions) => Promise<T>,
): Promise<T> {
  const progress = progressDisplay(values);
  const registry = registryOf(values);
  const downloads = downloadsOf(values);
  const platform = text(values, "platform");
  const record = text(values, "record");
  try {
    return await interruptibly((signal) =>
      run({
        signal,
        limits: limitsOf(values),
        ...(downloads === undefined ? {} : { downloads }),
        ...(platform === undefined ? {} : { platform }),
        ...(values.rootless === true ? { rootless: true } : {}),
        ...(record === undefined ? {} : { record }),
        ...(registry === undefined ? {} : { registry }),
        ...(progress.onProgress === undefined ? {} : { onProgress: progress.onProgress }),
      }),
    );
  } finally {
    progress.done();
  }
}

/**
 * A flat unpack reads every layer of the image, big ones on the worker pair:
 * started now, it boots while the image is opened. The store does not start
 * it ahead: an image whose base is stored reads a small new layer or none
 * (on this thread), and readLayer starts the pair for a big one.
 */
export function startBlobWorkers(): void {
  void prepareBlobWorkers();
}
