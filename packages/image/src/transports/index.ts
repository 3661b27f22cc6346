// The transports strata knows, by name, and the parsing of a reference that
// picks one. A new transport registers here (one line) or through
// registerTransport.
import { statSync } from "node:fs";
import { ImageError } from "@strata-oci/errors";
import { parseDockerReference } from "../registry/docker-reference.js";
import type { ImageReference, ImageTransport } from "../transport.js";
import { dockerArchiveReference, dockerArchiveTransport } from "./docker-archive.js";
import { registryTransport } from "./docker.js";
import { ociArchiveTransport } from "./oci-archive.js";
import { ociReference, ociTransport } from "./oci.js";

const TRANSPORTS = new Map<string, ImageTransport>(
  [ociTransport, ociArchiveTransport, dockerArchiveTransport, registryTransport].map((t) => [
    t.name,
    t,
  ]),
);

/**
 * Adds a transport: references written `NAME:...` go to it. A name already taken is refused (the
 * built-in transports cannot be replaced from outside).
 */
export function registerTransport(transport: ImageTransport): void {
  if (!/^[a-z][a-z0-9-]*$/.test(transport.name) || TRANSPORTS.has(transport.name))
    throw new ImageError(
      "STRATA_BAD_OPTION",
      `cannot register a transport named ${JSON.stringify(transport.name)}`,
      { hint: "a transport's name is lower-case letters, digits and '-', and not one in use" },
    );
  TRANSPORTS.set(transport.name, transport);
}

/** The transports in use, built-in ones first. */
export function imageTransports(): ImageTransport[] {
  return [...TRANSPORTS.values()];
}

/** How every transport is written, for hints. */
function syntaxList(): string {
  return imageTransports()
    .map((t) => `${t.name}:${t.syntax}`)
    .join(", ");
}

/** A hint for `debian:bookworm`: what it most likely meant. */
function guess(text: string): string {
  try {
    parseDockerReference(`//${text}`);
    return `a registry image is written docker://${text}; the transports are ${syntaxList()}`;
  } catch {
    return `use one of ${syntaxList()}, or a path`;
  }
}

/**
 * Parses `NAME:REST` with the transport NAME, or a bare path: a directory is an OCI layout, a file
 * a docker-archive tarball.
 */
export function parseImageReference(text: string): ImageReference {
  const name = /^([a-z][a-z0-9-]*):/.exec(text)?.[1];
  const transport = name === undefined ? undefined : TRANSPORTS.get(name);
  if (transport !== undefined && name !== undefined)
    return transport.parse(text.slice(name.length + 1));
  const stats = statSync(text, { throwIfNoEntry: false });
  if (name !== undefined && stats === undefined) {
    throw new ImageError(
      "STRATA_BAD_REFERENCE",
      `unsupported transport ${JSON.stringify(name)} in ${JSON.stringify(text)}`,
      { hint: guess(text) },
    );
  }
  if (stats === undefined) {
    throw new ImageError("STRATA_BAD_REFERENCE", `no image at ${JSON.stringify(text)}`, {
      hint:
        "give an OCI layout directory (oci:DIR[:TAG]) or a docker-archive tarball " +
        "(docker-archive:FILE)",
    });
  }
  return stats.isDirectory()
    ? ociReference(text, undefined)
    : dockerArchiveReference(text, undefined);
}
