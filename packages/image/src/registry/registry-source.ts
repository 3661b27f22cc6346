import {
  DigestMismatchError,
  LimitExceededError,
  parseDigest,
  SizeMismatchError,
} from "@strata-oci/layer";
import { ImageError, StrataError, type ErrorContext } from "@strata-oci/errors";
import { asRecord, bad, parseJson, type Descriptor } from "../descriptor.js";
import { emptyImageConfig, parseImageConfig } from "../image-config.js";
import type { IndexLevel, ManifestChoice, Referrer, SourceImage } from "../image.js";
import {
  choicesOf,
  indexLevel,
  kindOf,
  manifestDetails,
  type ManifestSelection,
  pickManifest,
  MAX_INDEX_DEPTH,
} from "../manifest-walk.js";
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from "../media-types.js";
import { MAX_JSON_BLOB } from "../oci-layout.js";
import type { Platform } from "../platform.js";
import type { DockerReference } from "./docker-reference.js";
import { fromPullSources } from "./pull-sources.js";
import { registryLayer } from "./registry-layer.js";
import {
  digestOf,
  isTransient,
  readBody,
  RegistryClient,
  type RegistryOptions,
} from "./registry-client.js";

const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1\+(prettyjws|json)$/;
/** All four manifest types, best first: the registry answers with one of them. */
const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ");

interface FetchedManifest {
  readonly descriptor: Descriptor;
  readonly json: Record<string, unknown>;
  /** The bytes as received (their digest is the descriptor's). */
  readonly body: Buffer;
}

/**
 * An image resolved from a registry, with the manifest and config bytes as received (for copying
 * it).
 */
export interface ResolvedRegistryImage {
  readonly image: SourceImage;
  readonly manifestBody: Buffer;
  readonly configDescriptor: Descriptor;
  readonly configBody: Buffer;
}

/**
 * Resolves a `docker://` reference through the distribution API down to its
 * config and layers, as the OCI layout source does: index -> platform ->
 * manifest -> config. Manifests and the config are read whole (capped) and
 * verified; a by-digest reference must match the bytes received. Layers are
 * streamed from the registry when read, and verified by readLayer.
 */
export async function openRegistryImage(
  ref: DockerReference,
  reference: string,
  platform: Platform,
  options: RegistryOptions = {},
  pick: Omit<ManifestSelection, "platform"> = {},
): Promise<SourceImage> {
  return (await resolveRegistryImage(ref, reference, { ...pick, platform }, options)).image;
}

/**
 * openRegistryImage, keeping the manifest and config bytes. registries.conf decides where from:
 * its mirrors in order, then the registry's location (ref rewritten); the first that answers
 * serves the whole image.
 */
export async function resolveRegistryImage(
  ref: DockerReference,
  reference: string,
  choice: ManifestSelection,
  options: RegistryOptions = {},
): Promise<ResolvedRegistryImage> {
  return fromPullSources(ref, options, (source, settings) =>
    resolveAt(source, reference, choice, settings),
  );
}

async function resolveAt(
  ref: DockerReference,
  reference: string,
  choice: ManifestSelection,
  options: RegistryOptions,
): Promise<ResolvedRegistryImage> {
  const client = new RegistryClient(ref, options);
  const top = await fetchManifest(
    client,
    ref,
    ref.digest ?? (ref.tag as string),
    undefined,
    reference,
  );
  let current = top;
  let choices: ManifestChoice[] = [
    { descriptor: top.descriptor, tag: ref.tag, platform: undefined },
  ];
  const indexes: IndexLevel[] = [];
  let index: { descriptor: Descriptor; body: Buffer } | undefined;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) throw bad("image indexes nested too deeply");
    const what = `manifest ${current.descriptor.digest}`;
    if (kindOf(current.descriptor.mediaType, current.json, what) === "index") {
      const level = indexLevel(
        current.json,
        current.descriptor.digest,
        current.descriptor.mediaType,
      );
      indexes.push(level);
      if (depth === 0) {
        choices = choicesOf(level.manifests);
        index = { descriptor: current.descriptor, body: current.body };
      }
      const chosen = pickManifest(level.manifests, choice, reference, depth);
      current = await fetchManifest(client, ref, chosen.digest, chosen, reference);
      continue;
    }
    const details = manifestDetails(current.json, current.descriptor, what);
    // An artifact's config is not an image config: fetched (pull copies it), not parsed.
    const configData = await fetchSmallBlob(client, details.config, "config", reference);
    const config =
      details.artifact !== undefined
        ? emptyImageConfig()
        : parseImageConfig(configData, details.layers.length);
    const image: SourceImage = {
      reference,
      transport: "docker",
      choices,
      manifest: current.descriptor,
      configDigest: details.config.digest,
      config,
      layers: details.layers.map((d, i) => registryLayer(client, d, config.diffIds[i], reference)),
      indexes,
      details,
      ...(index === undefined ? {} : { index }),
      readDocument: async (document) =>
        (await fetchManifest(client, ref, document.digest, document, reference)).body,
      documents: async () => ({ manifest: current.body, config: configData }),
    };
    return {
      image,
      manifestBody: current.body,
      configDescriptor: details.config,
      configBody: configData,
    };
  }
}

/**
 * GETs a manifest by tag or digest; checks its type, size, and digest (against `expected` or the
 * by-digest reference).
 */
async function fetchManifest(
  client: RegistryClient,
  ref: DockerReference,
  tagOrDigest: string,
  expected: Descriptor | undefined,
  reference: string,
): Promise<FetchedManifest> {
  const context = { image: reference };
  const fetched = await readWhole(
    client,
    `${ref.repository}/manifests/${tagOrDigest}`,
    { accept: ACCEPT },
    MAX_JSON_BLOB,
    `manifest ${tagOrDigest}`,
    context,
  );
  if (fetched === undefined) {
    throw new ImageError(
      "STRATA_MANIFEST_NOT_FOUND",
      `${ref.registry} has no manifest ${tagOrDigest} in ${ref.repository}`,
      { hint: "check the repository name and the tag", context },
    );
  }
  const { body, contentType } = fetched;
  if (contentType !== undefined && SCHEMA1.test(contentType)) {
    throw new ImageError(
      "STRATA_BAD_IMAGE",
      `${reference} is a Docker schema 1 manifest, which strata does not read`,
      {
        hint:
          "schema 1 is deprecated and unsigned; push the image again with a current tool " +
          "(it becomes schema 2 or OCI)",
        context,
      },
    );
  }
  const digest = expected?.digest ?? (tagOrDigest.includes(":") ? tagOrDigest : digestOf(body));
  const actual = digestOf(body, digest);
  if (actual !== digest)
    throw new DigestMismatchError(digest, actual, "manifest", {
      ...context,
      blob: `manifest ${digest}`,
    });
  if (expected !== undefined && body.length !== expected.size)
    throw new SizeMismatchError(expected.size, body.length, {
      ...context,
      blob: `manifest ${digest}`,
    });
  const json = asRecord(parseJson(body, `manifest ${digest}`), `manifest ${digest}`);
  const own = typeof json.mediaType === "string" ? json.mediaType : undefined;
  // Where the descriptor that led here and the document disagree, kindOf refuses it
  // (CVE-2021-41190).
  const declared = expected?.mediaType ?? own ?? contentType;
  const descriptor: Descriptor = {
    mediaType: declared,
    digest,
    size: body.length,
    annotations: expected?.annotations ?? {},
    platform: expected?.platform,
  };
  return { descriptor, json, body };
}

async function fetchSmallBlob(
  client: RegistryClient,
  descriptor: Descriptor,
  what: string,
  reference: string,
): Promise<Buffer> {
  const context = { image: reference, blob: `${what} ${descriptor.digest}` };
  if (descriptor.size > MAX_JSON_BLOB)
    throw bad(`${what} ${descriptor.digest} of ${descriptor.size} bytes is too large for a config`);
  let fetched: { body: Buffer } | undefined;
  try {
    fetched = await readWhole(
      client,
      `${client.repository}/blobs/${descriptor.digest}`,
      {},
      descriptor.size,
      `${what} ${descriptor.digest}`,
      context,
    );
  } catch (error) {
    // Longer than its descriptor: the cap stopped it.
    if (error instanceof LimitExceededError)
      throw new SizeMismatchError(descriptor.size, error.value, context);
    throw error;
  }
  if (fetched === undefined)
    throw new ImageError("STRATA_BLOB_NOT_FOUND", `the registry has no blob ${descriptor.digest}`, {
      hint: "the image in the registry is incomplete",
      context,
    });
  const data = fetched.body;
  if (data.length !== descriptor.size)
    throw new SizeMismatchError(descriptor.size, data.length, context);
  const actual = digestOf(data, descriptor.digest);
  if (actual !== descriptor.digest)
    throw new DigestMismatchError(descriptor.digest, actual, what, context);
  return data;
}

const SMALL_READ_ATTEMPTS = 5;

/**
 * GETs a small document whole (at most `max` bytes), asking again where the connection breaks;
 * undefined on 404.
 */
async function readWhole(
  client: RegistryClient,
  path: string,
  headers: Record<string, string>,
  max: number,
  what: string,
  context: ErrorContext,
): Promise<{ body: Buffer; contentType: string | undefined } | undefined> {
  for (let attempt = 1; ; attempt++) {
    const response = await client.get(path, headers, context);
    if (response === undefined) return undefined;
    try {
      return {
        body: await readBody(response, max, what, client.wholeBodyMs),
        contentType: response.headers["content-type"]?.split(";")[0]?.trim(),
      };
    } catch (error) {
      if (error instanceof StrataError) throw error;
      if (!isTransient(error) || attempt >= SMALL_READ_ATTEMPTS) {
        throw new ImageError(
          "STRATA_REGISTRY_UNREACHABLE",
          `reading ${what} broke ${attempt} time${attempt === 1 ? "" : "s"}`,
          { hint: "the network or the registry is unreliable; try again", context, cause: error },
        );
      }
    }
  }
}

/**
 * The referrers of `digest` in the registry: from the referrers API
 * (`/v2/NAME/referrers/DIGEST`), or where the registry has none (404), from
 * the index tagged `sha256-HEX`, the distribution-spec's fallback.
 */
export async function registryReferrers(
  ref: DockerReference,
  digests: readonly string[],
  reference: string,
  options: RegistryOptions = {},
): Promise<{ referrers: Referrer[]; via: "referrers API" | "tag schema" }> {
  return fromPullSources(ref, options, (source, settings) =>
    referrersAt(source, digests, reference, settings),
  );
}

async function referrersAt(
  ref: DockerReference,
  digests: readonly string[],
  reference: string,
  options: RegistryOptions,
): Promise<{ referrers: Referrer[]; via: "referrers API" | "tag schema" }> {
  const client = new RegistryClient(ref, options);
  const context = { image: reference };
  const referrers: Referrer[] = [];
  let via: "referrers API" | "tag schema" = "referrers API";
  for (const digest of digests) {
    let fetched = await readWhole(
      client,
      `${ref.repository}/referrers/${digest}`,
      { accept: OCI_INDEX },
      MAX_JSON_BLOB,
      `referrers of ${digest}`,
      context,
    );
    if (fetched === undefined) {
      via = "tag schema";
      const { algorithm, hex } = parseDigest(digest);
      fetched = await readWhole(
        client,
        `${ref.repository}/manifests/${algorithm}-${hex}`,
        { accept: OCI_INDEX },
        MAX_JSON_BLOB,
        `referrers tag ${algorithm}-${hex}`,
        context,
      );
    }
    if (fetched === undefined) continue;
    const json = asRecord(
      parseJson(fetched.body, `referrers of ${digest}`),
      `referrers of ${digest}`,
    );
    kindOf(OCI_INDEX, json, `referrers of ${digest}`);
    for (const descriptor of indexLevel(json, `referrers of ${digest}`, OCI_INDEX).manifests)
      referrers.push({ subject: digest, descriptor });
  }
  return { referrers, via };
}
