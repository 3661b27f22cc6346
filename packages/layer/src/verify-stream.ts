import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { DigestMismatchError, SizeMismatchError } from "./errors.js";
import { ImageError, type ErrorContext } from "@strata-oci/errors";

const ALGORITHMS: Readonly<Record<string, { node: string; hexLength: number }>> = {
  sha256: { node: "sha256", hexLength: 64 },
  sha512: { node: "sha512", hexLength: 128 },
};

/** Splits and checks `alg:hex`; throws ImageError for a malformed or unsupported digest. */
export function parseDigest(digest: string): { algorithm: string; hex: string } {
  const colon = digest.indexOf(":");
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const spec = ALGORITHMS[algorithm];
  if (
    colon <= 0 ||
    spec === undefined ||
    hex.length !== spec.hexLength ||
    !/^[0-9a-f]+$/.test(hex)
  ) {
    throw new ImageError(
      "STRATA_BAD_IMAGE",
      `malformed or unsupported digest ${JSON.stringify(digest)}`,
      {
        hint: "digests look like sha256:<64 lowercase hex digits>",
      },
    );
  }
  return { algorithm, hex };
}

export interface VerifyOptions {
  /** `alg:hex` the bytes must hash to; undefined checks the size only. */
  readonly digest: string | undefined;
  /** Exact byte count, when known. */
  readonly size?: number | undefined;
  /** "blob" or "uncompressed layer (diff_id)": named in the error. */
  readonly what: string;
  readonly context?: ErrorContext | undefined;
  /** Bytes buffered ahead of the reader. */
  readonly highWaterMark?: number | undefined;
}

/**
 * A pass-through that hashes and counts what flows through it and fails at
 * the end when the digest or size differs. A size overrun fails at once,
 * so a lying size cannot make it read forever.
 */
export class VerifyStream extends Transform {
  readonly #options: VerifyOptions;
  readonly #hash: Hash | undefined;
  readonly #expectedHex: string | undefined;
  #bytes = 0;

  constructor(options: VerifyOptions) {
    super({ highWaterMark: options.highWaterMark ?? 16 * 1024 });
    this.#options = options;
    if (options.digest !== undefined) {
      const { algorithm, hex } = parseDigest(options.digest);
      this.#expectedHex = hex;
      this.#hash = createHash(ALGORITHMS[algorithm]?.node ?? "sha256");
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    const { size } = this.#options;
    if (size !== undefined && this.#bytes > size) {
      done(new SizeMismatchError(size, this.#bytes, this.#options.context));
      return;
    }
    this.#hash?.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const { size, digest, what, context } = this.#options;
    if (size !== undefined && this.#bytes !== size) {
      done(new SizeMismatchError(size, this.#bytes, context));
      return;
    }
    const actual = this.#hash?.digest("hex");
    if (digest !== undefined && actual !== this.#expectedHex) {
      done(
        new DigestMismatchError(
          digest,
          `${digest.slice(0, digest.indexOf(":"))}:${actual}`,
          what,
          context,
        ),
      );
      return;
    }
    done();
  }
}
