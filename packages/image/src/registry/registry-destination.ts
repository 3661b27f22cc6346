// Pushing to a registry (the distribution-spec's push): each blob checked
// with HEAD, mounted from another repository of the same registry where it
// is there, else uploaded (registry-upload.ts: whole, or in chunks); the
// manifest PUT by digest, then by tag, only after every blob is confirmed.
import type { ImageDestination } from "../destination.js";
import type { Descriptor } from "../descriptor.js";
import type { DockerReference } from "./docker-reference.js";
import { pushDestination } from "./pull-sources.js";
import { RegistryClient, type RegistryOptions } from "./registry-client.js";
import { BlobUpload } from "./registry-upload.js";
import { addToReferrersTag, referrerOf } from "./referrers-tag.js";

export function registryDestination(
  reference: DockerReference,
  name: string,
  given: RegistryOptions | undefined,
): ImageDestination {
  // registries.conf: its location for the registry (and whether insecure); blocked is refused.
  const { ref, options } = pushDestination(reference, given);
  const client = new RegistryClient(ref, options, "push");
  const uploads = options.upload;
  let manifest: Buffer | undefined;
  // Uploads a declined mount opened instead (202, as the spec lets a registry answer): the blob's
  // upload goes there, not to one more POST that would leave this one open until it expires.
  const opened = new Map<string, URL>();
  const repo = ref.repository;
  const context = (descriptor: Descriptor): { image: string; blob: string } => ({
    image: name,
    blob: descriptor.digest,
  });
  return {
    name,
    documents: "any",
    parallelBlobs: 3,
    holdsIndexes: true,
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
      const upload = new BlobUpload(client, repo, descriptor, context(descriptor), uploads);
      const started = await upload.start(`?${query}`);
      if (started === "mounted") return true;
      opened.set(descriptor.digest, started);
      return false;
    },
    async putBlob(descriptor, body) {
      const upload = new BlobUpload(client, repo, descriptor, context(descriptor), uploads);
      const at = opened.get(descriptor.digest);
      opened.delete(descriptor.digest);
      await upload.send(body, at);
    },
    async putManifest(descriptor, body, options) {
      if (options?.byDigest === true) {
        await putManifest(client, repo, `${repo}/manifests/${descriptor.digest}`, descriptor, body);
        return;
      }
      // Under a tag, the manifest is PUT once, by the tag, as the last step (below).
      manifest = body;
      if (ref.tag === undefined)
        await putManifest(client, repo, `${repo}/manifests/${descriptor.digest}`, descriptor, body);
    },
    async tag(descriptor) {
      if (ref.tag === undefined || manifest === undefined) return;
      await putManifest(client, repo, `${repo}/manifests/${ref.tag}`, descriptor, manifest);
    },
  };
}

/**
 * PUTs a manifest; one with a subject, to a registry that did not take it as a referrer (no
 * OCI-Subject in the answer), is also listed in the subject's fallback tag.
 */
async function putManifest(
  client: RegistryClient,
  repository: string,
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
  const referrer = referrerOf(descriptor, body);
  if (referrer !== undefined && done.headers["oci-subject"] === undefined)
    await addToReferrersTag(client, repository, referrer.subject, referrer.entry);
}
