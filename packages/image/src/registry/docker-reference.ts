import { parseDigest } from "@strata-oci/layer";
import { ImageError } from "@strata-oci/errors";

/** A registry image reference (`docker://...`), normalised as Docker does. */
export interface DockerReference {
  /** The registry as written or implied: `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Where the API is: docker.io's is registry-1.docker.io. */
  readonly apiHost: string;
  /** `library/debian`, `org/app`. */
  readonly repository: string;
  /** `latest` when neither a tag nor a digest was given. */
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

// The distribution-spec's grammar: path components, tags.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
// A domain (labels of letters, digits and inner hyphens) or a bracketed IPv6 address, then a port.
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?$`);

function badReference(text: string, detail: string): ImageError {
  return new ImageError("STRATA_BAD_REFERENCE", `${JSON.stringify(`docker:${text}`)}: ${detail}`, {
    hint: "write docker://[HOST[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], as skopeo does",
  });
}

/**
 * Parses what follows `docker:` (`//HOST/REPO:TAG@DIGEST`) with Docker's
 * normalisation: no host -> docker.io, a one-part name on docker.io ->
 * library/NAME, neither tag nor digest -> latest. The first component is a
 * host when it has a `.` or a `:`, or is `localhost`.
 */
export function parseDockerReference(text: string): DockerReference {
  if (!text.startsWith("//"))
    throw badReference(text, "a registry reference starts with docker://");
  let rest = text.slice(2);
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch {
      throw badReference(text, `${JSON.stringify(digest)} is not a digest`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw badReference(text, `${JSON.stringify(tag)} is not a valid tag`);
  }
  const parts = rest.split("/");
  const first = parts[0] ?? "";
  const hasHost =
    parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasHost ? first : "docker.io";
  if (hasHost) parts.shift();
  if (hasHost && !HOST.test(registry))
    throw badReference(text, `${JSON.stringify(registry)} is not a registry host`);
  if (registry === "docker.io" && parts.length === 1) parts.unshift("library");
  for (const part of parts) {
    if (!COMPONENT.test(part))
      throw badReference(
        text,
        `${JSON.stringify(part)} is not a valid repository name component (lowercase letters, ` +
          `digits, separators)`,
      );
  }
  const repository = parts.join("/");
  if (repository.length > 255)
    throw badReference(text, "the repository name is longer than 255 characters");
  return {
    registry,
    apiHost:
      registry === "docker.io" || registry === "index.docker.io"
        ? "registry-1.docker.io"
        : registry,
    repository,
    tag: tag ?? (digest === undefined ? "latest" : undefined),
    digest,
  };
}

export function formatDockerReference(ref: DockerReference): string {
  return (
    `docker://${ref.registry}/${ref.repository}` +
    `${ref.tag === undefined ? "" : `:${ref.tag}`}` +
    `${ref.digest === undefined ? "" : `@${ref.digest}`}`
  );
}

/**
 * True for hosts on this machine, where plain HTTP is allowed without --tls-verify=false (as
 * containerd allows for localhost).
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:[0-9]+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}
