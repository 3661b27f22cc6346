// The codes unpack, inspect, the merged view and the tree record throw, declared here
// (StrataErrorCodes in @strata-oci/errors).
export const CORE_ERROR_CODES = [
  "STRATA_NOT_AN_IMAGE",
  "STRATA_PATH_NOT_FOUND",
  "STRATA_NOT_A_FILE",
  "STRATA_BAD_RECORD",
  "STRATA_RECORD_MISMATCH",
] as const;

declare module "@strata-oci/errors" {
  interface StrataErrorCodes extends Record<(typeof CORE_ERROR_CODES)[number], true> {}
}
