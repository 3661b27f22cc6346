/**
 * Where an error happened: the image reference, the layer digest and the entry
 * path inside the layer. Every field is optional; the message shows those set.
 */
export interface ErrorContext {
  readonly image?: string;
  readonly layer?: string;
  /** A blob that is not a layer (index, manifest, config), as "config sha256:..". */
  readonly blob?: string;
  readonly entry?: string;
}

/** Every stable error code strata throws (the README explains each; a test keeps the two in step). */
export const STRATA_ERROR_CODES = [
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
  "STRATA_PARENT_NOT_DIRECTORY",
  "STRATA_ROOT_NOT_DIRECTORY",
  "STRATA_SYMLINK_LOOP",
  "STRATA_LIMIT_EXCEEDED",
  "STRATA_BAD_IMAGE",
  "STRATA_BAD_REFERENCE",
  "STRATA_MANIFEST_NOT_FOUND",
  "STRATA_AMBIGUOUS_MANIFEST",
  "STRATA_BLOB_NOT_FOUND",
  "STRATA_IMAGE_UNREADABLE",
  "STRATA_PLATFORM_MISMATCH",
  "STRATA_NOT_AN_IMAGE",
  "STRATA_PATH_NOT_FOUND",
  "STRATA_NOT_A_FILE",
  "STRATA_BAD_RECORD",
  "STRATA_BAD_OPTION",
  "STRATA_RECORD_MISMATCH",
  "STRATA_STORE_MISMATCH",
  "STRATA_STORE_DAMAGED",
  "STRATA_STORE_UNTRUSTED",
  "STRATA_UNREPRESENTABLE",
  "STRATA_MOUNT_FAILED",
  "STRATA_REGISTRY_UNREACHABLE",
  "STRATA_REGISTRY_DENIED",
  "STRATA_REGISTRY_ERROR",
  "STRATA_RESOURCE_LIMIT",
  "STRATA_BAD_XATTR",
  "STRATA_DEST_NOT_EMPTY",
  "STRATA_BAD_DESTINATION",
  "STRATA_NATIVE_UNAVAILABLE",
  "STRATA_INSTALL_INCOMPLETE",
  "STRATA_FS_ERROR",
  "STRATA_TREE_CHANGED",
  "STRATA_NO_SPACE",
  "STRATA_ABORTED",
  "STRATA_UNKNOWN_USER",
  "STRATA_BAD_RUNTIME_CONFIG",
] as const;

export type StrataErrorCode = (typeof STRATA_ERROR_CODES)[number];

/** Hostile names can be kilobytes long: keep messages readable. */
function shorten(text: string): string {
  return text.length <= 160 ? text : `${text.slice(0, 80)}…(${text.length} bytes)…${text.slice(-60)}`;
}

function describe(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.image !== undefined) parts.push(`image ${context.image}`);
  if (context.layer !== undefined) parts.push(`layer ${context.layer}`);
  if (context.blob !== undefined) parts.push(context.blob);
  if (context.entry !== undefined) parts.push(shorten(context.entry));
  return parts.length === 0 ? "" : `${parts.join(": ")}: `;
}

/**
 * Base class of every error strata throws on purpose. `code` is stable across
 * releases; match on it (or on the subclass), never on the message.
 */
export class StrataError extends Error {
  readonly code: StrataErrorCode;
  readonly context: ErrorContext;
  /** The problem alone, without the context prefix. */
  readonly detail: string;
  /** What the user can do about it, when there is something. */
  readonly hint: string | undefined;

  constructor(
    code: StrataErrorCode,
    detail: string,
    options: { context?: ErrorContext; cause?: unknown; hint?: string } = {},
  ) {
    const context = options.context ?? {};
    super(`${describe(context)}${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = context;
    this.detail = detail;
    this.hint = options.hint;
  }

  /**
   * Fills in context fields that are not set yet (the innermost caller knows
   * the entry, an outer one the layer and image) and rewrites the message.
   */
  addContext(more: ErrorContext): this {
    const merged: ErrorContext = { ...more, ...this.context };
    (this as { context: ErrorContext }).context = merged;
    this.message = `${describe(merged)}${this.detail}`;
    return this;
  }
}

/** A blob or uncompressed layer whose digest is not the one its descriptor or config names. */
export class DigestMismatchError extends StrataError {
  constructor(readonly expected: string, readonly actual: string, what: string, context: ErrorContext = {}) {
    super("STRATA_DIGEST_MISMATCH", `${what} digest mismatch: expected ${expected}, got ${actual}`, {
      context,
      hint: "the image is corrupt or was tampered with; fetch it again",
    });
  }
}

/** A blob whose byte count is not the descriptor's size. */
export class SizeMismatchError extends StrataError {
  constructor(readonly expected: number, readonly actual: number, context: ErrorContext = {}) {
    super("STRATA_SIZE_MISMATCH", `blob size mismatch: expected ${expected} bytes, got ${actual}`, {
      context,
      hint: "the image is corrupt or truncated; fetch it again",
    });
  }
}

/** A media type strata cannot read, or bytes that are not what the media type says. */
export class MediaTypeError extends StrataError {}

/** A layer whose tar stream cannot be parsed, or ends early. */
export class CorruptLayerError extends StrataError {}

/** An entry that breaks the changeset contract: bad name, bad whiteout, bad link, unsafe path. */
export class BadEntryError extends StrataError {}

/** What each limit counts, and the flag that raises it (null: fixed by the kernel or the format). */
const LIMITS: Readonly<Record<string, { what: string; flag: string | null; option?: string }>> = {
  maxEntries: { what: "entries in one layer", flag: "--max-entries" },
  maxMergedEntries: { what: "entries in the image's merged view (ls, cat, export hold it in memory)", flag: "--max-entries", option: "maxEntries" },
  maxTotalBytes: { what: "bytes of file data in one layer", flag: "--max-total-bytes" },
  maxFileSize: { what: "bytes in one file", flag: "--max-file-size" },
  maxPathLength: { what: "bytes in one path", flag: "--max-path-length" },
  maxDepth: { what: "components in one path", flag: "--max-depth" },
  maxHeaderSize: { what: "bytes of extended (PAX, long-name) headers for one entry", flag: "--max-header-size" },
  maxNameLength: { what: "bytes in one name (NAME_MAX)", flag: null },
  maxJsonSize: { what: "bytes in one index, manifest or config", flag: null },
};

/**
 * A configured limit (entries, bytes, path length, depth, PAX size) was
 * exceeded. `limit` is the LayerLimits field; the message names the CLI flag.
 */
export class LimitExceededError extends StrataError {
  constructor(readonly limit: string, readonly value: number, readonly max: number, context: ErrorContext = {}) {
    const known = LIMITS[limit];
    const flag = known?.flag;
    super("STRATA_LIMIT_EXCEEDED", `too many ${known?.what ?? limit}: ${value} > ${max}${flag ? ` (${flag})` : ""}`, {
      context,
      hint:
        flag === null
          ? "this limit is fixed; the image is malformed or hostile"
          : `if this image is trusted, raise the limit with ${flag ?? limit} (library: limits.${known?.option ?? limit})`,
    });
  }
}

/** An image reference, layout or manifest that strata cannot use. */
export class ImageError extends StrataError {}

/** A filesystem operation on the target failed. */
export class TargetError extends StrataError {}

/** The operation was cancelled through its AbortSignal. */
export class AbortedError extends StrataError {
  constructor(cause?: unknown) {
    super("STRATA_ABORTED", "operation aborted", { cause });
  }
}

/** Adds context to a StrataError, or returns anything else unchanged. */
export function withErrorContext(error: unknown, context: ErrorContext): unknown {
  return error instanceof StrataError ? error.addContext(context) : error;
}
