import { openDockerArchive } from "./docker-archive.js";
import type { Image } from "./image.js";
import { formatImageReference, parseImageReference } from "./image-reference.js";
import { openOciLayout } from "./oci-layout.js";
import { hostPlatform, parsePlatform, type Platform } from "./platform.js";

export interface OpenImageRequest {
  /** `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`, or a path. */
  readonly image: string;
  /** `os/arch[/variant]` or a Platform; default the host's. */
  readonly platform?: string | Platform;
}

/** Resolves an image reference down to its config and layers. Reads only small JSON blobs. */
export async function openImage(request: OpenImageRequest): Promise<Image> {
  const ref = parseImageReference(request.image);
  const platform = request.platform === undefined ? hostPlatform() : typeof request.platform === "string" ? parsePlatform(request.platform) : request.platform;
  const name = formatImageReference(ref);
  switch (ref.transport) {
    case "oci":
      return openOciLayout(ref.path, name, { platform, tag: ref.tag });
    case "docker-archive":
      return openDockerArchive(ref.path, name, { tag: ref.tag });
  }
}
