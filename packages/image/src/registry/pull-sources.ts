// Trying the places registries.conf gives for a pull, in order: each mirror,
// then the registry. A mirror that fails in any way (down, missing the image,
// serving wrong bytes) hands over to the next; the registry's own failure is
// the one reported. An abort ends the whole try at once.
import { AbortedError } from "@strata-oci/errors";
import type { DockerReference } from "./docker-reference.js";
import { loadRegistriesConf, pullSources, pushTarget } from "./registries-conf.js";
import type { RegistryOptions } from "./registry-client.js";

/** `options` for one source: an insecure registry or mirror is reached as with TLS unverified. */
function settingsFor(options: RegistryOptions, insecure: boolean): RegistryOptions {
  return insecure ? { ...options, tlsVerify: false } : options;
}

export async function fromPullSources<T>(
  ref: DockerReference,
  options: RegistryOptions,
  attempt: (source: DockerReference, options: RegistryOptions) => Promise<T>,
): Promise<T> {
  const sources = pullSources(loadRegistriesConf(options.registriesConf), ref);
  for (const [index, source] of sources.entries()) {
    try {
      return await attempt(source.ref, settingsFor(options, source.insecure));
    } catch (error) {
      if (error instanceof AbortedError || index === sources.length - 1) throw error;
    }
  }
  throw new Error("no pull source (unreachable: the registry itself is always one)");
}

/** The reference and options a push of `ref` uses: the registry's location, never a mirror. */
export function pushDestination(
  ref: DockerReference,
  options: RegistryOptions | undefined,
): { ref: DockerReference; options: RegistryOptions } {
  const target = pushTarget(loadRegistriesConf(options?.registriesConf), ref);
  return { ref: target.ref, options: settingsFor(options ?? {}, target.insecure) };
}
