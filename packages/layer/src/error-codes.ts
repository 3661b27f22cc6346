// The codes the layer reader (blobs, decompression, tar, entry names, image files) throw, declared
// here (StrataErrorCodes in @strata-oci/errors).
export const LAYER_ERROR_CODES = [
  "STRATA_DIGEST_MISMATCH",
  "STRATA_SIZE_MISMATCH",
  "STRATA_UNSUPPORTED_MEDIA_TYPE",
  "STRATA_MEDIA_TYPE_MISMATCH",
  "STRATA_CORRUPT_LAYER",
  "STRATA_TRUNCATED_LAYER",
  "STRATA_BAD_ENTRY_NAME",
  "STRATA_BAD_WHITEOUT",
  "STRATA_BAD_HARDLINK",
  "STRATA_UNSAFE_PATH",
  "STRATA_ROOT_NOT_DIRECTORY",
  "STRATA_LIMIT_EXCEEDED",
  "STRATA_BAD_IMAGE",
  "STRATA_IMAGE_UNREADABLE",
  "STRATA_BAD_XATTR",
] as const;

declare module "@strata-oci/errors" {
  interface StrataErrorCodes extends Record<(typeof LAYER_ERROR_CODES)[number], true> {}
}
