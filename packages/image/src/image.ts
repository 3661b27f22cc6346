import type { Layer } from "@strata-oci/layer";
import type { Descriptor } from "./descriptor.js";
import type { ImageConfig } from "./image-config.js";
import type { ImageReference } from "./transport.js";
import type { Platform } from "./platform.js";

/** One manifest an index offers, for listing and choosing. */
export interface ManifestChoice {
  readonly descriptor: Descriptor;
  readonly tag: string | undefined;
  readonly platform: Platform | undefined;
}

/** A rule of the image-spec that a producer breaks harmlessly: accepted, and said. */
export interface SpecWarning {
  readonly rule: string;
  readonly detail: string;
  /** Who is known to write it. */
  readonly producers?: string;
}

/** An image index as walked from the top (index.json or the reference) to the manifest. */
export interface IndexLevel {
  /** `index.json`, or the index's digest. */
  readonly where: string;
  readonly mediaType: string | undefined;
  readonly annotations: Readonly<Record<string, string>>;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
}

/** The chosen manifest's own fields. */
export interface ManifestDetails {
  readonly mediaType: string | undefined;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations: Readonly<Record<string, string>>;
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  /** Set when the manifest is not a container image (what it is instead). */
  readonly artifact?: string;
  readonly warnings: readonly SpecWarning[];
}

/** An image resolved down to its layers: what `unpack` and `inspect` work from. */
export interface Image {
  /** The reference as the user wrote it (for messages). */
  readonly reference: string;
  /** The reference parsed, once (openImage): where the image lives. */
  readonly source: ImageReference;
  /** The transport it was read through (`oci`, `docker-archive`, `docker`, or a registered one). */
  readonly transport: string;
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
  /** The indexes walked, top first (none for docker-archive or a reference to a manifest). */
  readonly indexes: readonly IndexLevel[];
  /**
   * The manifest's fields (docker-archive: of the Docker schema-2 manifest made of its blobs, as
   * skopeo makes one); undefined where a source has none.
   */
  readonly details: ManifestDetails | undefined;
  /**
   * Deviations of the source itself, accepted (a docker-archive whose config file name is not its
   * digest).
   */
  readonly sourceWarnings?: readonly SpecWarning[];
  /**
   * The chosen manifest's and its config's bytes as stored, verified: what a copy writes
   * (docker-archive: the manifest made of its blobs). Absent where a source cannot give them.
   */
  readonly documents?: () => Promise<{ readonly manifest: Buffer; readonly config: Buffer }>;
  /**
   * A manifest or index stored beside this image (its layout, its repository) by its descriptor,
   * size and digest verified: how copy --all reads a nested index. Absent where a source has none.
   */
  readonly readDocument?: (descriptor: Descriptor) => Promise<Buffer>;
  /** The index the reference named, as stored (where it named one): what copy --all writes. */
  readonly index?: { readonly descriptor: Descriptor; readonly body: Buffer } | undefined;
}

/** An image as a source opens it; openImage adds where it came from. */
export type SourceImage = Omit<Image, "source">;

/** A manifest (or index) whose `subject` is an image: a signature, an SBOM, an attestation. */
export interface Referrer {
  /** The digest it refers to (the image's index or manifest). */
  readonly subject: string;
  /** Its descriptor: mediaType, digest, size, artifactType, annotations. */
  readonly descriptor: Descriptor;
}
