// What squash and repack share when they write an image to a destination
// (a layout, an archive, a registry): SOURCE_DATE_EPOCH, the new layer blob
// (hashed as a tar, compressed, stored) and the config + manifest + tag
// written last.
import { createHash } from "node:crypto";
import { pipeline, Readable } from "node:stream";
import { createLayerCompressor, LAYER_TYPE_OF, type LayerCompression } from "@strata-oci/layer";
import { StrataError } from "@strata-oci/errors";
import {
  digestOf,
  OCI_CONFIG,
  OCI_LAYER_OF,
  OCI_MANIFEST,
  openDestination,
  putNewBlob,
  type Descriptor,
  type ImageConfig,
  type ImageDestination,
  type RegistryOptions,
} from "@strata-oci/image";

export type { LayerCompression };

/**
 * The latest time a JS Date (and so an image config's `created`) can say: 8.64e12 s after the
 * epoch.
 */
const MAX_EPOCH = 8.64e12;

function badEpoch(shown: string, hint: string): StrataError {
  return new StrataError(
    "STRATA_BAD_OPTION",
    `SOURCE_DATE_EPOCH=${shown} is not a time strata can use`,
    {
      hint,
    },
  );
}

const EPOCH_HINT =
  "set it to whole seconds since 1970 (date +%s), at most 8640000000000, or unset it";

/**
 * SOURCE_DATE_EPOCH as the command reads it from its environment: seconds, or undefined where
 * unset or empty. A malformed value fails the build (reproducible-builds.org: a build must not
 * quietly ignore it): decimal digits only, at most 8.64e12 (the last second a Date can hold).
 * The library never reads the environment: squash and repack take `sourceDateEpoch`.
 */
export function parseSourceDateEpoch(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,13}$/.test(text) || Number(text) > MAX_EPOCH)
    throw badEpoch(JSON.stringify(text.slice(0, 40)), EPOCH_HINT);
  return Number(text);
}

/** The `sourceDateEpoch` option checked: a whole number of seconds a Date can hold. */
export function checkedEpoch(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_EPOCH)
    throw badEpoch(String(value), "sourceDateEpoch takes whole seconds since 1970, 0 to 8.64e12");
  return value;
}

const GATHER = 256 * 1024;

export interface WrittenLayer {
  readonly digest: string;
  readonly size: number;
  readonly diffId: string;
  readonly mediaType: string;
  /** Bytes of the uncompressed tar. */
  readonly tarBytes: number;
}

/** Where squash and repack write: `oci:DIR[:TAG]` or DIR, any writable transport, or one's own. */
export function outputDestination(
  spec: string | ImageDestination,
  defaultTag: string,
  options: {
    readonly registry?: RegistryOptions | undefined;
    readonly signal?: AbortSignal | undefined;
  },
): ImageDestination {
  return openDestination(spec, { ...options, defaultTag, bareLayout: true });
}

/**
 * Stores a tar stream as a layer blob at `destination`: its diff_id hashed on the way, compressed
 * as asked.
 */
export async function writeLayerBlob(
  destination: ImageDestination,
  tar: AsyncIterable<Buffer>,
  compression: LayerCompression,
): Promise<WrittenLayer> {
  const tarHash = createHash("sha256");
  let tarBytes = 0;
  // Tar writers yield 512-byte headers and paddings one by one: handed to
  // the compressor one by one, each was a trip to the thread pool (gzip of
  // a 5.6 MB diff took 0.54 s instead of 0.18). Gathered into 256 KiB.
  async function* hashed(): AsyncGenerator<Buffer> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): Buffer => {
      const out =
        pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      tarHash.update(out);
      tarBytes += out.length;
      return out;
    };
    for await (const chunk of tar) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= GATHER) yield flush();
    }
    if (pendingBytes > 0) yield flush();
  }
  let blob: AsyncIterable<Buffer> = hashed();
  if (compression !== "none") {
    const compressor = createLayerCompressor(compression);
    // pipeline, not pipe: a failure while making the tar must fail the blob, not leave it waiting.
    pipeline(Readable.from(blob, { objectMode: false }), compressor, () => {});
    blob = compressor;
  }
  const mediaType = LAYER_TYPE_OF[compression];
  const { digest, size } = await putNewBlob(destination, blob, mediaType);
  return { digest, size, diffId: `sha256:${tarHash.digest("hex")}`, mediaType, tarBytes };
}

/**
 * Writes the config and an OCI manifest of `layers` (all at the destination already), then tags
 * it with the config's platform: the last step.
 */
export async function writeImage(
  destination: ImageDestination,
  config: Record<string, unknown>,
  layers: ReadonlyArray<{ mediaType: string | undefined; digest: string; size: number }>,
  platformOf: ImageConfig,
): Promise<Descriptor> {
  const configBlob = await putJson(destination, config, OCI_CONFIG);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
    // An OCI manifest lists OCI media types: a Docker base's layers keep their bytes, not names.
    layers: layers.map(({ mediaType, digest, size }) => ({
      mediaType: mediaType === undefined ? undefined : (OCI_LAYER_OF[mediaType] ?? mediaType),
      digest,
      size,
    })),
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const descriptor = described(body, OCI_MANIFEST);
  await destination.putManifest(descriptor, body);
  const { os, architecture, variant } = platformOf;
  await destination.tag(
    descriptor,
    os === undefined || architecture === undefined
      ? undefined
      : { os, architecture, ...(variant === undefined ? {} : { variant }) },
  );
  return descriptor;
}

function described(body: Buffer, mediaType: string): Descriptor {
  return {
    mediaType,
    digest: digestOf(body),
    size: body.length,
    annotations: {},
    platform: undefined,
  };
}

async function putJson(
  destination: ImageDestination,
  value: unknown,
  mediaType: string,
): Promise<Descriptor> {
  const body = Buffer.from(JSON.stringify(value));
  const descriptor = described(body, mediaType);
  if (!(await destination.hasBlob(descriptor))) await destination.putBlob(descriptor, body);
  return descriptor;
}
