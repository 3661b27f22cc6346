// What every request to a registry shares: typed errors, abortable waits,
// bounded bodies, which failures are worth another try.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { LimitExceededError, parseDigest } from "@strata-oci/layer";
import { AbortedError, ImageError, StrataError, type ErrorContext } from "@strata-oci/errors";

export function registryError(
  code: "STRATA_REGISTRY_UNREACHABLE" | "STRATA_REGISTRY_DENIED" | "STRATA_REGISTRY_ERROR",
  detail: string,
  hint: string,
  cause?: unknown,
  context: ErrorContext = {},
): ImageError {
  return new ImageError(code, detail, { hint, context, ...(cause === undefined ? {} : { cause }) });
}

/** A wait that `signal` ends at once (a Retry-After of an hour must not outlast Ctrl-C). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new AbortedError(signal.reason));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A small document (manifest, config, token) must arrive whole within this many response timeouts:
 * a trickle is not an answer.
 */
export const WHOLE_BODY_TIMEOUTS = 10;

/**
 * A connection that broke or timed out: worth another try. A refused one, a bad certificate or an
 * abort is not.
 */
export function isTransient(error: unknown): boolean {
  // The typed error a request reports a connection as: transient where the connection broke under
  // it (reset, hang-up), not where it timed out (that wait was the try) or never opened.
  if (error instanceof StrataError)
    return error.code === "STRATA_REGISTRY_UNREACHABLE" && brokeUnderway(error.cause);
  const code =
    (error as { cause?: NodeJS.ErrnoException }).cause?.code ??
    (error as NodeJS.ErrnoException).code;
  return (
    code === "ETIMEDOUT" ||
    code === "EAI_AGAIN" ||
    brokeUnderway(error) ||
    /stopped sending|no answer from|aborted/.test(messageOf(error))
  );
}

const messageOf = (error: unknown): string => String((error as Error | undefined)?.message ?? "");

/** A connection reset or hung up while a request was under way. */
export function brokeUnderway(error: unknown): boolean {
  const code =
    (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code ??
    (error as NodeJS.ErrnoException | undefined)?.code;
  return (
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    code === "ECONNABORTED" ||
    /socket hang up/.test(messageOf(error))
  );
}

/**
 * Reads a response body whole, refusing one longer than `max` bytes or one
 * that takes longer than `deadlineMs` to arrive (a body trickled a byte at a
 * time never trips the silence timeout).
 */
export async function readBody(
  response: IncomingMessage,
  max: number,
  what: string,
  deadlineMs = WHOLE_BODY_TIMEOUTS * 30_000,
): Promise<Buffer> {
  const declared = Number(response.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) {
    response.destroy();
    throw new LimitExceededError("maxJsonSize", declared, max, { blob: what });
  }
  const deadline = setTimeout(() => {
    response.destroy(
      new ImageError(
        "STRATA_REGISTRY_UNREACHABLE",
        `${what} did not arrive whole within ${deadlineMs / 1000} s`,
        {
          hint: "the registry trickles its answer; try again, or another registry",
          context: { blob: what },
        },
      ),
    );
  }, deadlineMs);
  const parts: Buffer[] = [];
  let length = 0;
  try {
    for await (const part of response) {
      length += (part as Buffer).length;
      if (length > max) {
        response.destroy();
        throw new LimitExceededError("maxJsonSize", length, max, { blob: what });
      }
      parts.push(part as Buffer);
    }
  } finally {
    clearTimeout(deadline);
  }
  return Buffer.concat(parts);
}

/** The digest of `data` in the algorithm that `like` (a digest) names, sha256 without one. */
export function digestOf(data: Buffer, like?: string): string {
  const algorithm = like === undefined ? "sha256" : parseDigest(like).algorithm;
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}
