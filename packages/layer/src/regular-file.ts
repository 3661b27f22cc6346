import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { LimitExceededError } from "./errors.js";
import { ImageError, StrataError, type ErrorContext } from "@strata-oci/errors";

/** The error for an image file that is a FIFO, device, socket or directory. */
export function notRegularFile(path: string, context: ErrorContext = {}): ImageError {
  return new ImageError("STRATA_BAD_IMAGE", `${path} is not a regular file`, {
    context,
    hint:
      "image files (blobs, index.json, archives) must be regular files; a fifo or device " +
      "is refused, not read",
  });
}

/**
 * Opens a file of an image for reading. Never blocks (a FIFO opened
 * plainly blocked forever; issue #9) and refuses anything but a regular
 * file. ENOENT and ENOTDIR are thrown as they are, for the caller to name
 * what is missing; other failures become typed errors.
 */
export function openImageFile(
  path: string,
  context: ErrorContext = {},
): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw openError(error, path, context);
  }
  const stats = fstatSync(fd);
  if (!stats.isFile()) {
    closeSync(fd);
    throw notRegularFile(path, context);
  }
  return { fd, size: stats.size };
}

function openError(error: unknown, path: string, context: ErrorContext): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return error;
  if (code === "EACCES" || code === "EPERM") {
    return new ImageError("STRATA_IMAGE_UNREADABLE", `cannot read ${path}: permission denied`, {
      cause: error,
      context,
      hint: "the image's files must be readable by the user running strata",
    });
  }
  if (code === "EMFILE" || code === "ENFILE") {
    return new StrataError(
      "STRATA_RESOURCE_LIMIT",
      `cannot open ${path}: too many open files (${code})`,
      {
        cause: error,
        context,
        hint: "raise the open-file limit (ulimit -n); strata needs a few dozen descriptors",
      },
    );
  }
  return new ImageError(
    "STRATA_IMAGE_UNREADABLE",
    `cannot read ${path}: ${code ?? String(error)}`,
    { cause: error, context },
  );
}

/**
 * Reads a small image file (index.json, oci-layout, a manifest) whole,
 * refusing it before reading when it is larger than `maxBytes`: a
 * `/dev/zero` or a sparse 1 GB file used to be read whole first.
 */
export function readImageFile(path: string, maxBytes: number, context: ErrorContext = {}): Buffer {
  const { fd, size } = openImageFile(path, context);
  try {
    if (size > maxBytes) throw new LimitExceededError("maxJsonSize", size, maxBytes, context);
    // One byte more than allowed tells a file that grew while we read it.
    const data = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
    let done = 0;
    for (let n; done < data.length && (n = readSync(fd, data, done, data.length - done, done)) > 0;)
      done += n;
    if (done > maxBytes) throw new LimitExceededError("maxJsonSize", done, maxBytes, context);
    return data.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}
