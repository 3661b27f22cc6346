// `docker://[HOST/]REPO[:TAG][@DIGEST]`: an image in a registry (the OCI
// distribution API).
import {
  formatDockerReference,
  parseDockerReference,
  type DockerReference,
} from "../registry/docker-reference.js";
import { openRegistryImage, registryReferrers } from "../registry/registry-source.js";
import { registryDestination } from "../registry/registry-destination.js";
import type { ImageReference, ImageTransport } from "../transport.js";

export interface RegistryReference extends ImageReference {
  readonly transport: "docker";
  readonly registry: DockerReference;
}

export function registryReference(registry: DockerReference): RegistryReference {
  const text = formatDockerReference(registry);
  return {
    transport: "docker",
    registry,
    files: [],
    format: () => text,
    canonical: () => text,
    open: (request) =>
      openRegistryImage(registry, text, request.platform, request.registry, {
        manifest: request.manifest,
        anyPlatform: request.anyPlatform,
      }),
    destination: (options) => registryDestination(registry, text, options.registry),
    referrers: async (subjects, request) => ({
      ...(await registryReferrers(registry, subjects, request.reference, request.registry)),
      skipped: [],
    }),
  };
}

export const registryTransport: ImageTransport = {
  name: "docker",
  syntax: "//[HOST/]REPO[:TAG][@DIGEST]",
  parse: (rest) => registryReference(parseDockerReference(rest)),
};

/** Whether `ref` names an image in a registry (and so has its DockerReference). */
export function isRegistryReference(ref: ImageReference): ref is RegistryReference {
  return ref.transport === "docker" && "registry" in ref;
}
