// Where images go: a destination takes blobs, then the manifest, then the
// tag, in that order, so that a reader never sees a tag whose blobs are
// missing. Transports that can be written give one (ImageReference.destination).
import type { Descriptor } from "./descriptor.js";
import type { Platform } from "./platform.js";

/** A blob to store: its bytes in hand, or opened (afresh for each try) from the source. */
export type BlobBody =
  | Buffer
  | { readonly size: number; open(): Promise<AsyncIterable<Buffer> | NodeJS.ReadableStream> };

export interface ImageDestination {
  /** As messages name it (`oci:DIR:TAG`, `docker://HOST/REPO:TAG`). */
  readonly name: string;
  /** "oci": holds OCI documents only (a Docker manifest is converted first); "any": as they are. */
  readonly documents: "oci" | "any";
  /** How many blobs it takes at once (default 1: one after another). */
  readonly parallelBlobs?: number;
  /** Whether the blob is there already (then it is not sent). */
  hasBlob(descriptor: Descriptor): Promise<boolean>;
  /**
   * Takes the blob from another repository of the same registry, without its bytes; false where it
   * cannot (then it is sent).
   */
  mountBlob?(descriptor: Descriptor, fromRepository: string, fromHost: string): Promise<boolean>;
  /** Stores a blob, verified against its descriptor (size and digest) before it is kept. */
  putBlob(descriptor: Descriptor, body: BlobBody): Promise<void>;
  /**
   * Stores a blob being made (a new layer), its digest and size learned as it passes. Where absent,
   * the blob is spooled to a temporary file first, then put (new-blob.ts).
   */
  putNewBlob?(chunks: AsyncIterable<Buffer>): Promise<{ digest: string; size: number }>;
  /** false where it holds container images only (docker-archive): artifacts are refused. */
  readonly holdsArtifacts?: boolean;
  /** Whether it can hold an index and the manifests it lists (copy --all). */
  readonly holdsIndexes?: boolean;
  /**
   * Stores the manifest (its blobs are all there). `byDigest`: one an index lists, stored by its
   * digest now, never tagged (a registry puts a tagged manifest by its tag, as the last step).
   */
  putManifest(
    descriptor: Descriptor,
    body: Buffer,
    options?: { readonly byDigest?: boolean },
  ): Promise<void>;
  /** Points the destination's tag at the manifest: the last step. */
  tag(descriptor: Descriptor, platform: Platform | undefined): Promise<void>;
  /** The copy failed before its tag: what was staged for it is removed (where there is any). */
  abandon?(): void;
}

/** Options a destination is made with. */
export interface DestinationOptions {
  readonly registry: import("./registry/registry-client.js").RegistryOptions | undefined;
  /** The tag for a reference that names none, where the transport tags (squash: "squashed"). */
  readonly defaultTag?: string | undefined;
}
