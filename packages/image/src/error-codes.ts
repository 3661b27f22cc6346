// The codes image sources (references, layouts, archives, registries) throw, declared here
// (StrataErrorCodes in @strata-oci/errors).
export const IMAGE_ERROR_CODES = [
  "STRATA_BAD_REFERENCE",
  "STRATA_MANIFEST_NOT_FOUND",
  "STRATA_AMBIGUOUS_MANIFEST",
  "STRATA_BLOB_NOT_FOUND",
  "STRATA_PLATFORM_MISMATCH",
  "STRATA_REGISTRY_UNREACHABLE",
  "STRATA_REGISTRY_DENIED",
  "STRATA_REGISTRY_ERROR",
] as const;

declare module "@strata-oci/errors" {
  interface StrataErrorCodes extends Record<(typeof IMAGE_ERROR_CODES)[number], true> {}
}
