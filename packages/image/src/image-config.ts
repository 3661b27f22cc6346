import { parseDigest } from "@strata-oci/layer";
import { asRecord, bad, parseJson } from "./descriptor.js";

/** The parts of an image config strata reads; `raw` keeps the rest. */
export interface ImageConfig {
  readonly architecture: string | undefined;
  readonly os: string | undefined;
  readonly variant: string | undefined;
  readonly diffIds: readonly string[];
  /** The runtime defaults (`config` object: User, Env, Entrypoint, Cmd, ...), as written. */
  readonly runtime: Readonly<Record<string, unknown>>;
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Parses and checks an image config: `rootfs.type` must be `layers`, with as many diff_ids as
 * layers.
 */
export function parseImageConfig(data: Buffer, layerCount: number): ImageConfig {
  const raw = asRecord(parseJson(data, "image config"), "image config");
  const rootfs = asRecord(raw.rootfs, "image config rootfs");
  if (rootfs.type !== "layers")
    throw bad(`image config rootfs.type is ${JSON.stringify(rootfs.type)}, not "layers"`);
  const diffIds = rootfs.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d): d is string => typeof d === "string")) {
    throw bad("image config rootfs.diff_ids is not a list of digests");
  }
  for (const d of diffIds) parseDigest(d);
  if (diffIds.length !== layerCount) {
    throw bad(
      `image config has ${diffIds.length} diff_ids for ${layerCount} layers`,
      "the config and manifest do not belong together",
    );
  }
  const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  return {
    architecture: text(raw.architecture),
    os: text(raw.os),
    variant: text(raw.variant),
    diffIds,
    runtime:
      raw.config === undefined || raw.config === null
        ? {}
        : asRecord(raw.config, "image config config"),
    raw,
  };
}

/**
 * The config of something that is not a container image (an artifact): no layers to apply, no
 * defaults.
 */
export function emptyImageConfig(): ImageConfig {
  return {
    architecture: undefined,
    os: undefined,
    variant: undefined,
    diffIds: [],
    runtime: {},
    raw: {},
  };
}
