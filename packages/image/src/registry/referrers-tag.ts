// A manifest with a `subject` pushed to a registry without the referrers API
// (its PUT answered without OCI-Subject) is listed in the subject's fallback
// tag, `ALGORITHM-HEX`, as the distribution-spec says: an image index read,
// the descriptor added where missing, written back. Readers that ask the tag
// (strata referrers, skopeo, oras) then find it.
import type { Descriptor } from "../descriptor.js";
import { OCI_INDEX } from "../media-types.js";
import { readBody } from "./registry-http.js";
import type { RegistryClient } from "./registry-client.js";

/** The subject a manifest names, and what its referrers list says of it; undefined without one. */
export function referrerOf(
  descriptor: Descriptor,
  body: Buffer,
): { subject: string; entry: Record<string, unknown> } | undefined {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const subject = (json.subject as { digest?: unknown } | undefined)?.digest;
  if (typeof subject !== "string") return undefined;
  const config = json.config as { mediaType?: unknown } | undefined;
  const artifactType = json.artifactType ?? config?.mediaType;
  return {
    subject,
    entry: {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(typeof artifactType === "string" ? { artifactType } : {}),
      ...(typeof json.annotations === "object" ? { annotations: json.annotations } : {}),
    },
  };
}

/** Adds `entry` to the fallback tag of `subject` in `repository` (made when missing). */
export async function addToReferrersTag(
  client: RegistryClient,
  repository: string,
  subject: string,
  entry: Record<string, unknown>,
): Promise<void> {
  const tag = subject.replace(":", "-").slice(0, 128);
  const path = `${repository}/manifests/${tag}`;
  const found = await client.get(path, { accept: OCI_INDEX });
  const index = (
    found === undefined
      ? { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }
      : JSON.parse((await readBody(found, 4 << 20, `referrers of ${subject}`)).toString("utf8"))
  ) as { manifests?: Array<{ digest?: unknown }> };
  const manifests = Array.isArray(index.manifests) ? index.manifests : [];
  if (manifests.some((m) => m.digest === entry.digest)) return;
  const body = Buffer.from(JSON.stringify({ ...index, manifests: [...manifests, entry] }));
  const done = await client.request("PUT", path, { headers: { "content-type": OCI_INDEX }, body });
  done.resume();
  if (done.statusCode !== 201) throw client.refused(done.statusCode ?? 0, `PUT ${path}`);
}
