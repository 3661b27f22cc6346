// The codes the build loop (diff, repack) throw, declared here (StrataErrorCodes in
// @strata-oci/errors).
export const BUILD_ERROR_CODES = ["STRATA_TREE_CHANGED"] as const;

declare module "@strata-oci/errors" {
  interface StrataErrorCodes extends Record<(typeof BUILD_ERROR_CODES)[number], true> {}
}
