import { statSync } from "node:fs";
import { ImageError } from "@strata-oci/errors";
import {
  formatDockerReference,
  parseDockerReference,
  type DockerReference,
} from "./registry/docker-reference.js";

/** Where an image lives, in skopeo's transport syntax. */
export type ImageReference =
  | { readonly transport: "oci"; readonly path: string; readonly tag: string | undefined }
  | {
      readonly transport: "docker-archive";
      readonly path: string;
      readonly tag: string | undefined;
    }
  | { readonly transport: "docker"; readonly registry: DockerReference };

function split(rest: string): { path: string; tag: string | undefined } {
  const colon = rest.indexOf(":");
  return colon === -1
    ? { path: rest, tag: undefined }
    : { path: rest.slice(0, colon), tag: rest.slice(colon + 1) || undefined };
}

/**
 * Parses `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`, or a bare path: a
 * directory is an OCI layout, a file a docker-archive tarball.
 */
export function parseImageReference(text: string): ImageReference {
  if (text.startsWith("docker:"))
    return { transport: "docker", registry: parseDockerReference(text.slice("docker:".length)) };
  if (text.startsWith("oci:")) return { transport: "oci", ...split(text.slice(4)) };
  if (text.startsWith("docker-archive:"))
    return { transport: "docker-archive", ...split(text.slice("docker-archive:".length)) };
  const transport = /^([a-z-]+):/.exec(text)?.[1];
  if (transport !== undefined && statSync(text, { throwIfNoEntry: false }) === undefined) {
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `unsupported transport ${JSON.stringify(transport)} in ${JSON.stringify(text)}`,
      {
        hint: "use oci:DIR[:TAG], docker-archive:FILE[:REF], docker://REPO[:TAG], or a path",
      },
    );
  }
  const stats = statSync(text, { throwIfNoEntry: false });
  if (stats === undefined) {
    throw new ImageError("STRATA_BAD_REFERENCE", `no image at ${JSON.stringify(text)}`, {
      hint:
        "give an OCI layout directory (oci:DIR[:TAG]) or a docker-archive tarball " +
        "(docker-archive:FILE)",
    });
  }
  return { transport: stats.isDirectory() ? "oci" : "docker-archive", path: text, tag: undefined };
}

export function formatImageReference(ref: ImageReference): string {
  if (ref.transport === "docker") return formatDockerReference(ref.registry);
  return `${ref.transport}:${ref.path}${ref.tag === undefined ? "" : `:${ref.tag}`}`;
}
