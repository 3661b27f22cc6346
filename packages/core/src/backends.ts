import { defaultZstdBackend, isalAddon, type AddonOrigin } from "@strata-oci/layer";
import { nativeAddon } from "@strata-oci/merge";

/** Where one native part comes from, or why it is not in use. */
export type NativeState =
  { readonly state: AddonOrigin } | { readonly state: "unavailable"; readonly reason: string };

/** What strata runs on here: each can be missing on a machine without it, and strata falls back. */
export interface Backends {
  /**
   * gzip on the reader thread: ISA-L (about 2x zlib) where its addon loads and libisal.so.2 is
   * installed, else Node's zlib.
   */
  readonly gzip: "isal" | "zlib";
  readonly isal: NativeState;
  /** zstd: the zstd-napi binding, else fzstd (pure JS, slower). */
  readonly zstd: "native" | "zlib" | "js";
  /** xattrs, mknod: without them, xattrs, devices and fifos are skipped with warnings. */
  readonly nativeCalls: NativeState;
}

function stateOf(
  load: { readonly origin: AddonOrigin } | { readonly reason: string },
): NativeState {
  return "reason" in load ? { state: "unavailable", reason: load.reason } : { state: load.origin };
}

/** The backends this process uses (each is loaded on first use, here if not before). */
export function backends(): Backends {
  const isal = stateOf(isalAddon());
  return {
    gzip: isal.state === "unavailable" ? "zlib" : "isal",
    isal,
    zstd: defaultZstdBackend(),
    nativeCalls: stateOf(nativeAddon()),
  };
}
