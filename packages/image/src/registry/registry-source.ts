import type { Readable } from "node:stream";
import { DigestMismatchError, ImageError, SizeMismatchError, type Layer } from "@strata-oci/layer";
import { asRecord, bad, parseDescriptor, parseJson, type Descriptor } from "../descriptor.js";
import { parseImageConfig } from "../image-config.js";
import type { Image, ManifestChoice } from "../image.js";
import { choicesOf, descriptorList, kindOf, pickPlatform } from "../manifest-walk.js";
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from "../media-types.js";
import { MAX_JSON_BLOB } from "../oci-layout.js";
import type { Platform } from "../platform.js";
import type { DockerReference } from "./docker-reference.js";
import { digestOf, readBody, RegistryClient, type RegistryOptions } from "./registry-client.js";

const MAX_INDEX_DEPTH = 8;
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1\+(prettyjws|json)$/;
/** All four manifest types, best first: the registry answers with one of them. */
const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ");

interface FetchedManifest {
  readonly descriptor: Descriptor;
  readonly json: Record<string, unknown>;
}

/**
 * Resolves a `docker://` reference through the distribution API down to its
 * config and layers, as the OCI layout source does: index -> platform ->
 * manifest -> config. Manifests and the config are read whole (capped) and
 * verified; a by-digest reference must match the bytes received. Layers are
 * streamed from the registry when read, and verified by readLayer.
 */
export async function openRegistryImage(ref: DockerReference, reference: string, platform: Platform, options: RegistryOptions = {}): Promise<Image> {
  const client = new RegistryClient(ref, options);
  const top = await fetchManifest(client, ref, ref.digest ?? (ref.tag as string), undefined, reference);
  let current = top;
  let choices: ManifestChoice[] = [{ descriptor: top.descriptor, tag: ref.tag, platform: undefined }];
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) throw bad("image indexes nested too deeply");
    if (kindOf(current.descriptor.mediaType, current.json) === "index") {
      const manifests = descriptorList(current.json.manifests, `index ${current.descriptor.digest} manifests`);
      if (depth === 0) choices = choicesOf(manifests);
      const chosen = pickPlatform(manifests, platform, reference);
      current = await fetchManifest(client, ref, chosen.digest, chosen, reference);
      continue;
    }
    const configDescriptor = parseDescriptor(current.json.config, "manifest config");
    const layerDescriptors = descriptorList(current.json.layers, "manifest layers");
    const configData = await fetchSmallBlob(client, configDescriptor, "config", reference);
    const config = parseImageConfig(configData, layerDescriptors.length);
    return {
      reference,
      transport: "docker",
      choices,
      manifest: current.descriptor,
      configDigest: configDescriptor.digest,
      config,
      layers: layerDescriptors.map((d, i) => registryLayer(client, d, config.diffIds[i], reference)),
    };
  }
}

/** GETs a manifest by tag or digest; checks its type, size, and digest (against `expected` or the by-digest reference). */
async function fetchManifest(client: RegistryClient, ref: DockerReference, tagOrDigest: string, expected: Descriptor | undefined, reference: string): Promise<FetchedManifest> {
  const context = { image: reference };
  const response = await client.get(`${ref.repository}/manifests/${tagOrDigest}`, { accept: ACCEPT }, context);
  if (response === undefined) {
    throw new ImageError("STRATA_MANIFEST_NOT_FOUND", `${ref.registry} has no manifest ${tagOrDigest} in ${ref.repository}`, { hint: "check the repository name and the tag", context });
  }
  const contentType = response.headers["content-type"]?.split(";")[0]?.trim();
  if (contentType !== undefined && SCHEMA1.test(contentType)) {
    response.resume();
    throw new ImageError("STRATA_BAD_IMAGE", `${reference} is a Docker schema 1 manifest, which strata does not read`, {
      hint: "schema 1 is deprecated and unsigned; push the image again with a current tool (it becomes schema 2 or OCI)",
      context,
    });
  }
  const body = await readBody(response, MAX_JSON_BLOB, `manifest ${tagOrDigest}`);
  const digest = expected?.digest ?? (tagOrDigest.includes(":") ? tagOrDigest : digestOf(body));
  const actual = digestOf(body, digest);
  if (actual !== digest) throw new DigestMismatchError(digest, actual, "manifest", { ...context, blob: `manifest ${digest}` });
  if (expected !== undefined && body.length !== expected.size) throw new SizeMismatchError(expected.size, body.length, { ...context, blob: `manifest ${digest}` });
  const json = asRecord(parseJson(body, `manifest ${digest}`), `manifest ${digest}`);
  const own = typeof json.mediaType === "string" ? json.mediaType : undefined;
  const declared = expected?.mediaType ?? own ?? contentType;
  if (own !== undefined && declared !== undefined && own !== declared) {
    throw bad(`manifest ${digest} says it is ${JSON.stringify(own)}, but was served as ${JSON.stringify(declared)}`);
  }
  const descriptor: Descriptor = {
    mediaType: declared,
    digest,
    size: body.length,
    annotations: expected?.annotations ?? {},
    platform: expected?.platform,
  };
  return { descriptor, json };
}

async function fetchSmallBlob(client: RegistryClient, descriptor: Descriptor, what: string, reference: string): Promise<Buffer> {
  const context = { image: reference, blob: `${what} ${descriptor.digest}` };
  if (descriptor.size > MAX_JSON_BLOB) throw bad(`${what} ${descriptor.digest} of ${descriptor.size} bytes is too large for a config`);
  const response = await client.get(`${client.repository}/blobs/${descriptor.digest}`, {}, context);
  if (response === undefined) throw new ImageError("STRATA_BLOB_NOT_FOUND", `the registry has no blob ${descriptor.digest}`, { hint: "the image in the registry is incomplete", context });
  const data = await readBody(response, descriptor.size, `${what} ${descriptor.digest}`).catch((error: unknown) => {
    throw error instanceof ImageError ? error : new SizeMismatchError(descriptor.size, descriptor.size + 1, context);
  });
  if (data.length !== descriptor.size) throw new SizeMismatchError(descriptor.size, data.length, context);
  const actual = digestOf(data, descriptor.digest);
  if (actual !== descriptor.digest) throw new DigestMismatchError(descriptor.digest, actual, what, context);
  return data;
}

function registryLayer(client: RegistryClient, descriptor: Descriptor, diffId: string | undefined, reference: string): Layer {
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    mediaType: descriptor.mediaType,
    diffId,
    open: async (): Promise<Readable> => {
      const context = { image: reference, layer: descriptor.digest };
      const response = await client.get(`${client.repository}/blobs/${descriptor.digest}`, {}, context);
      if (response === undefined) throw new ImageError("STRATA_BLOB_NOT_FOUND", `the registry has no layer ${descriptor.digest}`, { hint: "the image in the registry is incomplete", context });
      return response;
    },
  };
}
