// The codes the layer store throw, declared here (StrataErrorCodes in @strata-oci/errors).
export const STORE_ERROR_CODES = [
  "STRATA_STORE_MISMATCH",
  "STRATA_STORE_DAMAGED",
  "STRATA_STORE_UNTRUSTED",
  "STRATA_MOUNT_FAILED",
] as const;

declare module "@strata-oci/errors" {
  interface StrataErrorCodes extends Record<(typeof STORE_ERROR_CODES)[number], true> {}
}
