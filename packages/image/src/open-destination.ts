// A destination named as users write it, or one of the caller's own: what
// copy, push, squash and repack write through.
import { ImageError } from "@strata-oci/errors";
import type { ImageDestination } from "./destination.js";
import type { RegistryOptions } from "./registry/registry-client.js";
import { editDistance } from "./edit-distance.js";
import { pathAndTag, type ImageReference } from "./transport.js";
import { ociReference } from "./transports/oci.js";
import { imageTransports, parseImageReference } from "./transports/index.js";

export interface DestinationRequest {
  /** How to reach a registry destination. */
  readonly registry?: RegistryOptions | undefined;
  readonly signal?: AbortSignal | undefined;
  /** The tag where the reference names none and its transport tags (oci:, oci-archive:). */
  readonly defaultTag?: string | undefined;
  /**
   * A name with no transport is an OCI layout, `DIR[:TAG]` (squash and repack); else it is
   * refused (copy: skopeo's rule, a destination names its transport).
   */
  readonly bareLayout?: boolean | undefined;
}

/** The reference a destination's name gives (a bare name is `oci:` where `bareLayout`). */
export function destinationReference(spec: string, bareLayout: boolean): ImageReference {
  const name = /^([a-z][a-z0-9-]*):/.exec(spec)?.[1];
  const known = imageTransports().some((transport) => transport.name === name);
  if (known || !bareLayout) return parseImageReference(spec);
  const meant = name === undefined ? undefined : misspeltTransport(name);
  if (meant !== undefined)
    // `docker-archve:out.tar` would otherwise be a layout directory docker-archve, tag out.tar.
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `${name}: is no transport strata knows (${spec})`,
      {
        hint:
          `did you mean ${meant}:? A layout directory of that name is written ` +
          `oci:${spec} or ./${spec}`,
      },
    );
  const { path, tag } = pathAndTag(spec);
  return ociReference(path, tag);
}

/** The transport `name` is one or two letters from (two for names of 6 letters or more). */
function misspeltTransport(name: string): string | undefined {
  return imageTransports()
    .map((transport) => transport.name)
    .find((known) => editDistance(name, known) <= (known.length >= 6 ? 2 : 1));
}

export function openDestination(
  spec: string | ImageDestination,
  request: DestinationRequest,
): ImageDestination {
  if (typeof spec !== "string") return spec;
  const target = destinationReference(spec, request.bareLayout === true);
  if (target.destination === undefined)
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `strata cannot write ${target.transport}: images (${spec})`,
      {
        hint:
          "write to oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] " +
          "or docker://HOST/REPO[:TAG]",
      },
    );
  const { registry: settings, signal, defaultTag } = request;
  const registry = signal === undefined ? settings : { ...settings, signal };
  return target.destination({ registry, defaultTag });
}
