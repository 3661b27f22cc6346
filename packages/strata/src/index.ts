// The package users install: the library (everything of @strata-oci/core,
// @strata-oci/store and @strata-oci/bundle) and the `strata` command, whose entry point is `main`.
export * from "@strata-oci/core";
export { analysisHtml } from "./report/analysis-html.js";
export {
  diffTrees,
  exportImage,
  repack,
  squash,
  type DiffOptions,
  type ExportOptions,
  type RepackOptions,
  type RepackResult,
  type SquashOptions,
  type SquashResult,
} from "@strata-oci/build";
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
export {
  AbortedError,
  BadEntryError,
  COMMON_ERROR_CODES,
  CorruptLayerError,
  ImageError,
  MediaTypeError,
  TargetError,
  type ErrorContext,
  type StrataErrorCodes,
} from "@strata-oci/errors";
export { DigestMismatchError, LimitExceededError, SizeMismatchError } from "@strata-oci/layer";
export {
  copyImage,
  registerTransport,
  type CopyBlobEvent,
  type CopyRequest,
  type CopyResult,
  type ImageDestination,
  type ImageReference,
  type ImageTransport,
} from "@strata-oci/image";
export { STRATA_ERROR_CODES } from "./error-codes.js";
export { main } from "./main.js";
