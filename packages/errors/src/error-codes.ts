// The codes of failures any part of strata can meet: the environment and the
// caller, not an image (cancelled, out of descriptors or space, a native part
// missing, an option that cannot be used, a place that cannot be written to).
export const COMMON_ERROR_CODES = [
  "STRATA_ABORTED",
  "STRATA_RESOURCE_LIMIT",
  "STRATA_NATIVE_UNAVAILABLE",
  "STRATA_INSTALL_INCOMPLETE",
  "STRATA_FS_ERROR",
  "STRATA_NO_SPACE",
  "STRATA_BAD_OPTION",
  "STRATA_BAD_DESTINATION",
] as const;

declare module "./index.js" {
  interface StrataErrorCodes extends Record<(typeof COMMON_ERROR_CODES)[number], true> {}
}
