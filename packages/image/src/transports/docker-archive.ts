// `docker-archive:FILE[:REF]`: a tarball from `docker save` or skopeo.
import { resolve } from "node:path";
import { openDockerArchive } from "../docker-archive.js";
import { dockerArchiveDestination } from "./docker-archive-destination.js";
import { pathAndTag, type ImageReference, type ImageTransport } from "../transport.js";

export function dockerArchiveReference(path: string, tag: string | undefined): ImageReference {
  const written = (file: string): string =>
    `docker-archive:${file}${tag === undefined ? "" : `:${tag}`}`;
  return {
    transport: "docker-archive",
    files: [path],
    format: () => written(path),
    canonical: () => written(resolve(path)),
    // No referrers: an archive holds one manifest per image and nothing attached to it.
    open: () => openDockerArchive(path, written(path), { tag }),
    // Written as docker load reads it: one image, tagged REF.
    destination: () => dockerArchiveDestination(path, tag, written(path)),
  };
}

export const dockerArchiveTransport: ImageTransport = {
  name: "docker-archive",
  syntax: "FILE[:REF]",
  parse(rest) {
    const { path, tag } = pathAndTag(rest);
    return dockerArchiveReference(path, tag);
  },
};
