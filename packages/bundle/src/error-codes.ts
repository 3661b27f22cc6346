// The codes runtime bundles throw, declared here (StrataErrorCodes in @strata-oci/errors).
export const BUNDLE_ERROR_CODES = ["STRATA_UNKNOWN_USER", "STRATA_BAD_RUNTIME_CONFIG"] as const;

declare module "@strata-oci/errors" {
  interface StrataErrorCodes extends Record<(typeof BUNDLE_ERROR_CODES)[number], true> {}
}
