import type { Layer } from "@strata-oci/layer";
import type { Descriptor } from "./descriptor.js";
import type { ImageConfig } from "./image-config.js";
import type { Platform } from "./platform.js";

/** One manifest an index offers, for listing and choosing. */
export interface ManifestChoice {
  readonly descriptor: Descriptor;
  readonly tag: string | undefined;
  readonly platform: Platform | undefined;
}

/** An image resolved down to its layers: what `unpack` and `inspect` work from. */
export interface Image {
  /** The reference as the user wrote it (for messages). */
  readonly reference: string;
  readonly transport: "oci" | "docker-archive" | "docker";
  /** The manifests the top-level index offered (docker-archive: its manifest.json entries). */
  readonly choices: readonly ManifestChoice[];
  /** The chosen manifest's descriptor; undefined for docker-archive (no manifest blob). */
  readonly manifest: Descriptor | undefined;
  readonly configDigest: string | undefined;
  readonly config: ImageConfig;
  /** Set when no platform was asked for and the config is for another one than the host's. */
  readonly platformMismatch?: string;
  /** Layers in manifest order, `layers[0]` applied first. */
  readonly layers: readonly Layer[];
}
