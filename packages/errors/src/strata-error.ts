// StrataError and what every package's errors share: the context (image,
// layer, blob, entry), the kinds of error, and the registry of codes. Each
// package declares the codes it throws beside its own code (its
// error-codes.ts adds them to StrataErrorCodes), so that a code is named
// where it is used and the compiler refuses one nobody declared; the strata
// package gathers every package's list for the README's table.

import type { StrataErrorCode } from "./index.js";

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

/** Hostile names can be kilobytes long: keep messages readable. */
function shorten(text: string): string {
  return text.length <= 160
    ? text
    : `${text.slice(0, 80)}…(${text.length} bytes)…${text.slice(-60)}`;
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
    super(
      `${describe(context)}${detail}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
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

/** A media type strata cannot read, or bytes that are not what the media type says. */
export class MediaTypeError extends StrataError {}

/** A layer whose tar stream cannot be parsed, or ends early. */
export class CorruptLayerError extends StrataError {}

/** An entry that breaks the changeset contract: bad name, bad whiteout, bad link, unsafe path. */
export class BadEntryError extends StrataError {}

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
