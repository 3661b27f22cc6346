import { COMMON_ERROR_CODES, type StrataErrorCode } from "@strata-oci/errors";
import { LAYER_ERROR_CODES } from "@strata-oci/layer";
import { IMAGE_ERROR_CODES } from "@strata-oci/image";
import { MERGE_ERROR_CODES } from "@strata-oci/merge";
import { CORE_ERROR_CODES } from "@strata-oci/core";
import { BUILD_ERROR_CODES } from "@strata-oci/build";
import { STORE_ERROR_CODES } from "@strata-oci/store";
import { BUNDLE_ERROR_CODES } from "@strata-oci/bundle";

/**
 * Every stable error code strata throws, each declared by the package that throws it first (the
 * README explains each; a test keeps the two in step).
 */
export const STRATA_ERROR_CODES: readonly StrataErrorCode[] = [
  ...COMMON_ERROR_CODES,
  ...LAYER_ERROR_CODES,
  ...IMAGE_ERROR_CODES,
  ...MERGE_ERROR_CODES,
  ...CORE_ERROR_CODES,
  ...BUILD_ERROR_CODES,
  ...STORE_ERROR_CODES,
  ...BUNDLE_ERROR_CODES,
];
