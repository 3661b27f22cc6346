// `oci:DIR[:TAG]`: an OCI image layout directory.
import { resolve } from "node:path";
import { layoutReferrers, openOciLayout } from "../oci-layout.js";
import { pathAndTag, type ImageReference, type ImageTransport } from "../transport.js";
import { ociDestination } from "./oci-destination.js";

/** An image in an OCI layout: the directory, and the tag (ref.name) chosen in its index. */
export interface OciReference extends ImageReference {
  readonly transport: "oci";
  readonly path: string;
  readonly tag: string | undefined;
}

export function ociReference(path: string, tag: string | undefined): OciReference {
  const written = (dir: string, named = tag): string =>
    `oci:${dir}${named === undefined ? "" : `:${named}`}`;
  return {
    transport: "oci",
    path,
    tag,
    files: [path],
    format: () => written(path),
    canonical: () => written(resolve(path)),
    open: ({ platform, manifest, anyPlatform }) =>
      openOciLayout(path, written(path), { platform, tag, manifest, anyPlatform }),
    destination: ({ defaultTag }) => {
      const named = tag ?? defaultTag;
      return ociDestination(path, named, written(path, named));
    },
    referrers: (subjects) => ({
      ...layoutReferrers(path, new Set(subjects)),
      via: "layout",
    }),
  };
}

export const ociTransport: ImageTransport = {
  name: "oci",
  syntax: "DIR[:TAG]",
  parse(rest) {
    const { path, tag } = pathAndTag(rest);
    return ociReference(path, tag);
  },
};
