// Writing into an OCI layout: blobs verified and renamed into place whole,
// index.json replaced last (layout-store.ts).
import { Readable } from "node:stream";
import type { BlobBody, ImageDestination } from "../destination.js";
import type { Descriptor } from "../descriptor.js";
import { hasBlob, prepareLayout, tagInIndex, writeBlob } from "../layout-store.js";

export function ociDestination(
  layout: string,
  tag: string | undefined,
  name: string,
  /** false: a staging layout (oci-archive's), whose blobs are not fsynced. */
  durable = true,
): ImageDestination {
  let prepared = false;
  const ready = (): void => {
    if (!prepared) prepareLayout(layout);
    prepared = true;
  };
  const put = async (descriptor: Descriptor, body: BlobBody): Promise<void> => {
    ready();
    const chunks = Buffer.isBuffer(body)
      ? [body]
      : ((await body.open()) as AsyncIterable<Buffer> | Readable);
    await writeBlob(
      layout,
      chunks as AsyncIterable<Buffer>,
      {
        digest: descriptor.digest,
        size: descriptor.size,
        context: { image: name, blob: descriptor.digest },
      },
      { durable },
    );
  };
  return {
    name,
    documents: "oci",
    parallelBlobs: 3,
    holdsIndexes: true,
    hasBlob: async (descriptor) => hasBlob(layout, descriptor.digest, descriptor.size),
    putBlob: put,
    putNewBlob: async (chunks) => {
      ready();
      return await writeBlob(layout, chunks, undefined, { durable });
    },
    putManifest: put,
    tag: async (descriptor, platform) => {
      ready();
      tagInIndex(layout, descriptor, tag ?? "latest", platform);
    },
  };
}
