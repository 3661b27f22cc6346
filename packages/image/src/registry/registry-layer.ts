// A registry layer: its blob fetched when opened, and resumed from the byte
// reached where the connection breaks.
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { Layer } from "@strata-oci/layer";
import { ImageError, StrataError, type ErrorContext } from "@strata-oci/errors";
import type { Descriptor } from "../descriptor.js";
import { isTransient, type RegistryClient } from "./registry-client.js";

export function registryLayer(
  client: RegistryClient,
  descriptor: Descriptor,
  diffId: string | undefined,
  reference: string,
): Layer {
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    mediaType: descriptor.mediaType,
    diffId,
    open: async (): Promise<Readable> => {
      const context = { image: reference, layer: descriptor.digest };
      const path = `${client.repository}/blobs/${descriptor.digest}`;
      const response = await client.get(path, {}, context);
      if (response === undefined)
        throw new ImageError(
          "STRATA_BLOB_NOT_FOUND",
          `the registry has no layer ${descriptor.digest}`,
          { hint: "the image in the registry is incomplete", context },
        );
      return Readable.from(resumingBody(client, path, response, context), { objectMode: false });
    },
  };
}

const MAX_RESUMES = 5;

/**
 * A blob's bytes; where the connection breaks, asked for again from the byte
 * reached (Range), so an interrupted download goes on. A registry that sends
 * the whole blob again instead (200) has the bytes already passed on skipped.
 * readLayer's digest still covers every byte.
 */
async function* resumingBody(
  client: RegistryClient,
  path: string,
  first: IncomingMessage,
  context: ErrorContext,
): AsyncGenerator<Buffer> {
  const blob = path.slice(path.lastIndexOf("/") + 1);
  let response = first;
  let received = 0;
  let skip = 0;
  for (let resumes = 0; ; resumes++) {
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        if (skip >= chunk.length) {
          skip -= chunk.length;
          continue;
        }
        const fresh = skip > 0 ? chunk.subarray(skip) : chunk;
        skip = 0;
        received += fresh.length;
        yield fresh;
      }
      return;
    } catch (error) {
      if (error instanceof StrataError) throw error;
      if (!isTransient(error) || resumes >= MAX_RESUMES) {
        throw new ImageError(
          "STRATA_REGISTRY_UNREACHABLE",
          `the download of ${blob} broke ${resumes + 1} time${resumes === 0 ? "" : "s"}`,
          {
            hint: "the network or the registry is unreliable; try again",
            context,
            cause: error,
          },
        );
      }
    }
    const next = await client.get(path, { range: `bytes=${received}-` }, context);
    if (next === undefined)
      throw new ImageError("STRATA_BLOB_NOT_FOUND", `the registry no longer has ${blob}`, {
        context,
      });
    if (next.statusCode === 206) {
      const start = /^bytes (\d+)-/.exec(next.headers["content-range"] ?? "")?.[1];
      if (Number(start) !== received) {
        next.destroy();
        throw new ImageError(
          "STRATA_REGISTRY_ERROR",
          `the registry resumed ${blob} at byte ${start ?? "?"}, not ${received}`,
          { context },
        );
      }
    } else {
      skip = received;
    }
    response = next;
  }
}
