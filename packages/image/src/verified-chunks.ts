// A blob's bytes checked against its descriptor as they pass: more bytes than
// its size fail at once; a short or different blob fails at the end. What
// the bytes were written to is the caller's to discard.
import { createHash, type Hash } from "node:crypto";
import type { ErrorContext } from "@strata-oci/errors";
import { DigestMismatchError, parseDigest, SizeMismatchError } from "@strata-oci/layer";

export class BlobVerifier {
  readonly #hash: Hash;
  readonly #algorithm: string;
  #size = 0;

  /** `expected` absent: the bytes are only hashed (sha256), for their digest. */
  constructor(
    readonly expected: { readonly digest: string; readonly size: number } | undefined,
    readonly context?: ErrorContext,
  ) {
    this.#algorithm = expected === undefined ? "sha256" : parseDigest(expected.digest).algorithm;
    this.#hash = createHash(this.#algorithm);
  }

  get algorithm(): string {
    return this.#algorithm;
  }

  add(chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.expected !== undefined && this.#size > this.expected.size)
      throw new SizeMismatchError(this.expected.size, this.#size, this.context);
    this.#hash.update(chunk);
  }

  /** The blob's digest and size, once they are checked. */
  finish(): { digest: string; size: number } {
    const digest = `${this.#algorithm}:${this.#hash.digest("hex")}`;
    const { expected } = this;
    if (expected !== undefined && this.#size !== expected.size)
      throw new SizeMismatchError(expected.size, this.#size, this.context);
    if (expected !== undefined && digest !== expected.digest)
      throw new DigestMismatchError(expected.digest, digest, "blob", this.context);
    return { digest, size: this.#size };
  }
}

/** `chunks` passed on, checked against `expected` (the last one passes before the end's check). */
export async function* verifiedChunks(
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  expected: { readonly digest: string; readonly size: number },
  context: ErrorContext | undefined,
): AsyncGenerator<Buffer> {
  const verifier = new BlobVerifier(expected, context);
  for await (const chunk of chunks) {
    verifier.add(chunk);
    yield chunk;
  }
  verifier.finish();
}
