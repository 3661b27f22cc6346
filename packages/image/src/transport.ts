// Where images come from: a transport parses what follows `NAME:` in a
// reference into an ImageReference, which knows where its image lives and
// how to open it. Commands never branch on a transport's name: a new
// transport is one file and one line in transports/index.ts (or, from a
// library user, one registerTransport call).
import type { DestinationOptions, ImageDestination } from "./destination.js";
import type { Referrer, SourceImage } from "./image.js";
import type { Platform } from "./platform.js";
import type { RegistryOptions } from "./registry/registry-client.js";

/** What opening an image needs besides its reference. */
export interface TransportOpenRequest {
  /** The platform to choose from an index (the host's when none was asked for). */
  readonly platform: Platform;
  /** For transports that reach a registry: credentials, TLS, timeouts, the AbortSignal. */
  readonly registry: RegistryOptions | undefined;
  /**
   * The manifests to take by digest instead of by platform (copy --all), one per index level from
   * the top: a digest alone is the top index's.
   */
  readonly manifest?: string | readonly string[] | undefined;
  /**
   * Where an index offers no manifest for the platform (and none is named), take its first: copy
   * --all reads the index, not one image of it.
   */
  readonly anyPlatform?: boolean | undefined;
}

/** What a transport found attached to an image (signatures, SBOMs). */
export interface TransportReferrers {
  readonly referrers: Referrer[];
  /** Where they were found: a layout's manifests, a registry's referrers API or tag schema. */
  readonly via: "layout" | "referrers API" | "tag schema";
  /** Documents that break a rule and were skipped (they belong to other images). */
  readonly skipped: readonly string[];
}

/** An image's place, as its transport parsed it. */
export interface ImageReference {
  /** The transport's name: `oci`, `docker-archive`, `docker`, or a registered one. */
  readonly transport: string;
  /** Local files and directories the image is read from (none for a registry). */
  readonly files: readonly string[];
  /** The reference written out (`oci:DIR:TAG`), as messages show it. */
  format(): string;
  /** The same, independent of the working directory: what the layer store keeps it under. */
  canonical(): string;
  /** The image resolved to its config and layers: JSON read and checked, layers not read. */
  open(request: TransportOpenRequest): Promise<SourceImage> | SourceImage;
  /** Where the image can be written to; absent where the transport is read-only. */
  destination?(options: DestinationOptions): ImageDestination;
  /** The manifests whose subject is one of `subjects`; absent where the transport holds none. */
  referrers?(
    subjects: readonly string[],
    request: { readonly registry: RegistryOptions | undefined; readonly reference: string },
  ): Promise<TransportReferrers> | TransportReferrers;
}

/** One way of naming images: `NAME:` and what follows. */
export interface ImageTransport {
  /** The prefix before the colon. */
  readonly name: string;
  /** How what follows is written, for help and errors (`DIR[:TAG]`). */
  readonly syntax: string;
  /** What follows `NAME:` as a reference; STRATA_BAD_REFERENCE where it cannot be one. */
  parse(rest: string): ImageReference;
}

/** `path` split at its first colon into a path and an optional tag (`DIR[:TAG]`). */
export function pathAndTag(rest: string): { path: string; tag: string | undefined } {
  const colon = rest.indexOf(":");
  return colon === -1
    ? { path: rest, tag: undefined }
    : { path: rest.slice(0, colon), tag: rest.slice(colon + 1) || undefined };
}
