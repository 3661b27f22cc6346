export {
  AbortedError,
  BadEntryError,
  CorruptLayerError,
  ImageError,
  MediaTypeError,
  StrataError,
  TargetError,
  withErrorContext,
  type ErrorContext,
} from "./strata-error.js";
export { COMMON_ERROR_CODES } from "./error-codes.js";

/**
 * The codes strata throws, by name: each package adds its own by augmenting
 * this interface from its error-codes.ts (declared here, in the module the
 * packages import, so that their augmentations merge with it).
 */
export interface StrataErrorCodes {}

/** A stable error code (`STRATA_...`): the README explains each. */
export type StrataErrorCode = keyof StrataErrorCodes & string;
