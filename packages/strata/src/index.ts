// The package users install: the library (everything of @strata-oci/core and
// @strata-oci/bundle) and the `strata` command, whose entry point is `main`.
export * from "@strata-oci/core";
export {
  bundle,
  bundleFromStore,
  BundleError,
  readAccounts,
  resolveUser,
  runtimeConfig,
  type AccountFiles,
  type BundleOptions,
  type BundleResult,
  type StoreBundleOptions,
  type StoreBundleResult,
  type BundleWarning,
  type IdMapping,
  type Mount,
  type ResolvedUser,
  type RuntimeConfig,
  type RuntimeOverrides,
} from "@strata-oci/bundle";
export { main } from "./main.js";
