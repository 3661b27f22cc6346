// The codes the changeset rules and their targets throw, declared here (StrataErrorCodes in
// @strata-oci/errors).
export const MERGE_ERROR_CODES = [
  "STRATA_PARENT_NOT_DIRECTORY",
  "STRATA_SYMLINK_LOOP",
  "STRATA_UNREPRESENTABLE",
  "STRATA_DEST_NOT_EMPTY",
] as const;

declare module "@strata-oci/errors" {
  interface StrataErrorCodes extends Record<(typeof MERGE_ERROR_CODES)[number], true> {}
}
