// Pushing to a registry (the distribution-spec's push): each blob checked
// with HEAD, mounted from another repository of the same registry where it
// is there, else uploaded whole (POST, then PUT with its digest); the
// manifest PUT by digest, then by tag.
import type { ImageDestination } from "../destination.js";
import type { Descriptor } from "../descriptor.js";
import type { DockerReference } from "./docker-reference.js";
import { pushDestination } from "./pull-sources.js";
import { RegistryClient, type RegistryOptions } from "./registry-client.js";

export function registryDestination(
  reference: DockerReference,
  name: string,
  given: RegistryOptions | undefined,
): ImageDestination {
  // registries.conf: its location for the registry (and whether insecure); blocked is refused.
  const { ref, options } = pushDestination(reference, given);
  const client = new RegistryClient(ref, options, "push");
  let manifest: Buffer | undefined;
  const repo = ref.repository;
  const context = (descriptor: Descriptor): { image: string; blob: string } => ({
    image: name,
    blob: descriptor.digest,
  });
  /** The upload URL of a started upload (202 and its Location), else the answer's error. */
  const uploadUrl = async (path: string, descriptor: Descriptor): Promise<URL | "mounted"> => {
    const started = await client.request("POST", path, { context: context(descriptor) });
    started.resume();
    const status = started.statusCode ?? 0;
    if (status === 201) return "mounted";
    const location = started.headers.location;
    if (status !== 202 || location === undefined)
      throw client.refused(status, `an upload of ${descriptor.digest}`, context(descriptor));
    return new URL(location, `https://${ref.apiHost}/v2/`);
  };
  return {
    name,
    documents: "any",
    async hasBlob(descriptor) {
      const answer = await client.request("HEAD", `${repo}/blobs/${descriptor.digest}`, {
        context: context(descriptor),
      });
      answer.resume();
      return answer.statusCode === 200;
    },
    async mountBlob(descriptor, fromRepository, fromHost) {
      if (fromHost !== ref.apiHost || fromRepository === repo) return false;
      const query = new URLSearchParams({ mount: descriptor.digest, from: fromRepository });
      return (await uploadUrl(`${repo}/blobs/uploads/?${query}`, descriptor)) === "mounted";
    },
    async putBlob(descriptor, body) {
      const url = await uploadUrl(`${repo}/blobs/uploads/`, descriptor);
      if (url === "mounted") return;
      url.searchParams.set("digest", descriptor.digest);
      const done = await client.request("PUT", url, {
        headers: { "content-type": "application/octet-stream" },
        body,
        context: context(descriptor),
      });
      done.resume();
      if (done.statusCode !== 201)
        throw client.refused(done.statusCode ?? 0, `the upload of ${descriptor.digest}`);
    },
    async putManifest(descriptor, body) {
      // Under a tag, the manifest is PUT once, by the tag, as the last step (below).
      manifest = body;
      if (ref.tag === undefined)
        await putManifest(client, `${repo}/manifests/${descriptor.digest}`, descriptor, body);
    },
    async tag(descriptor) {
      if (ref.tag === undefined || manifest === undefined) return;
      await putManifest(client, `${repo}/manifests/${ref.tag}`, descriptor, manifest);
    },
  };
}

async function putManifest(
  client: RegistryClient,
  path: string,
  descriptor: Descriptor,
  body: Buffer,
): Promise<void> {
  const done = await client.request("PUT", path, {
    headers: {
      "content-type": descriptor.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
    },
    body,
  });
  done.resume();
  if (done.statusCode !== 201) throw client.refused(done.statusCode ?? 0, `PUT ${path}`);
}
