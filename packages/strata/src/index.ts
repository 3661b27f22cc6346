// The package users install: the library (everything of @strata-oci/core,
// @strata-oci/store and @strata-oci/bundle) and the `strata` command, whose entry point is `main`.
export * from "@strata-oci/core";
export { diffTrees, exportImage, repack, squash, type DiffOptions, type RepackOptions, type RepackResult, type SquashOptions, type SquashResult } from "@strata-oci/build";
export {
  defaultStore,
  LayerStore,
  mountImage,
  storeGc,
  storeList,
  storeRemove,
  storeUsage,
  unmountImage,
  unpackToStore,
  type MountOptions,
  type MountResult,
  type StoredImage,
  type StoredLayer,
  type StoreListing,
  type StoreUnpackOptions,
  type StoreUnpackResult,
  type StoreUsage,
} from "@strata-oci/store";
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
