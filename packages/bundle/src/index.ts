export { BUNDLE_ERROR_CODES } from "./error-codes.js";
export {
  bundle,
  bundleFromStore,
  type BundleOptions,
  type BundleResult,
  type StoreBundleOptions,
  type StoreBundleResult,
} from "./bundle.js";
export {
  runtimeConfig,
  type BundleWarning,
  type IdMapping,
  type RuntimeConfig,
  type RuntimeOverrides,
} from "./runtime-config.js";
export type { Mount } from "./runtime-defaults.js";
export { resolveUser, type AccountFiles, type ResolvedUser } from "./user-spec.js";
export { parseGroup, parsePasswd, type GroupEntry, type PasswdEntry } from "./passwd.js";
export { readAccounts, readFileInRoot } from "./accounts.js";
export { BundleError } from "./errors.js";
