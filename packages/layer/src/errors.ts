// The failures of reading one layer that carry fields of their own: the
// digest and size a blob was to have, and the limit crossed.
import { StrataError, type ErrorContext } from "@strata-oci/errors";

/** A blob or uncompressed layer whose digest is not the one its descriptor or config names. */
export class DigestMismatchError extends StrataError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
    context: ErrorContext = {},
  ) {
    super(
      "STRATA_DIGEST_MISMATCH",
      `${what} digest mismatch: expected ${expected}, got ${actual}`,
      {
        context,
        hint: "the image is corrupt or was tampered with; fetch it again",
      },
    );
  }
}

/** A blob whose byte count is not the descriptor's size. */
export class SizeMismatchError extends StrataError {
  constructor(
    readonly expected: number,
    readonly actual: number,
    context: ErrorContext = {},
  ) {
    super("STRATA_SIZE_MISMATCH", `blob size mismatch: expected ${expected} bytes, got ${actual}`, {
      context,
      hint: "the image is corrupt or truncated; fetch it again",
    });
  }
}

/**
 * What each limit counts, and the flag that raises it (null: fixed by the kernel or the format).
 */
const LIMITS: Readonly<Record<string, { what: string; flag: string | null; option?: string }>> = {
  maxEntries: { what: "entries in one layer", flag: "--max-entries" },
  maxMergedEntries: {
    what: "entries in the image's merged view (ls, cat, export hold it in memory)",
    flag: "--max-entries",
    option: "maxEntries",
  },
  maxTotalBytes: { what: "bytes of file data in one layer", flag: "--max-total-bytes" },
  maxFileSize: { what: "bytes in one file", flag: "--max-file-size" },
  maxPathLength: { what: "bytes in one path", flag: "--max-path-length" },
  maxDepth: { what: "components in one path", flag: "--max-depth" },
  maxHeaderSize: {
    what: "bytes of extended (PAX, long-name) headers for one entry",
    flag: "--max-header-size",
  },
  maxNameLength: { what: "bytes in one name (NAME_MAX)", flag: null },
  maxJsonSize: { what: "bytes in one index, manifest or config", flag: null },
};

/**
 * A configured limit (entries, bytes, path length, depth, PAX size) was
 * exceeded. `limit` is the LayerLimits field; the message names the CLI flag.
 */
export class LimitExceededError extends StrataError {
  constructor(
    readonly limit: string,
    readonly value: number,
    readonly max: number,
    context: ErrorContext = {},
  ) {
    const known = LIMITS[limit];
    const flag = known?.flag;
    super(
      "STRATA_LIMIT_EXCEEDED",
      `too many ${known?.what ?? limit}: ${value} > ${max}${flag ? ` (${flag})` : ""}`,
      {
        context,
        hint:
          flag === null
            ? "this limit is fixed; the image is malformed or hostile"
            : `if this image is trusted, raise the ` +
              `limit with ${flag ?? limit} (library: limits.${known?.option ?? limit})`,
      },
    );
  }
}
