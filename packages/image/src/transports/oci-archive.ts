// `oci-archive:FILE[:TAG]`: a tarball of an OCI layout, as skopeo and buildah
// write it. Read in place (its members' offsets; never extracted); written
// as a layout staged beside FILE, made into a tar (tar-file-writer.ts) and
// renamed over FILE when the tag is set, so that a reader never sees half an
// archive.
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { TargetError } from "@strata-oci/errors";
import type { ImageDestination } from "../destination.js";
import { archiveFiles } from "../layout-files.js";
import { layoutReferrers, openOciLayout } from "../oci-layout.js";
import { pathAndTag, type ImageReference, type ImageTransport } from "../transport.js";
import { TarFileWriter } from "../tar-file-writer.js";
import { ociDestination } from "./oci-destination.js";

export function ociArchiveReference(file: string, tag: string | undefined): ImageReference {
  const written = (path: string, named = tag): string =>
    `oci-archive:${path}${named === undefined ? "" : `:${named}`}`;
  return {
    transport: "oci-archive",
    files: [file],
    format: () => written(file),
    canonical: () => written(resolve(file)),
    open: ({ platform, manifest, anyPlatform }) => ({
      ...openOciLayout(archiveFiles(file), written(file), { platform, tag, manifest, anyPlatform }),
      transport: "oci-archive",
    }),
    destination: ({ defaultTag }) => {
      const named = tag ?? defaultTag;
      return ociArchiveDestination(file, named, written(file, named));
    },
    referrers: (subjects) => ({
      ...layoutReferrers(archiveFiles(file), new Set(subjects)),
      via: "layout",
    }),
  };
}

export const ociArchiveTransport: ImageTransport = {
  name: "oci-archive",
  syntax: "FILE[:TAG]",
  parse(rest) {
    const { path, tag } = pathAndTag(rest);
    return ociArchiveReference(path, tag);
  },
};

/** A layout staged in a private directory beside `file`, archived over it at the end. */
function ociArchiveDestination(
  file: string,
  tag: string | undefined,
  name: string,
): ImageDestination {
  const staging = stagingBeside(file);
  const layout = ociDestination(staging, tag, name, false);
  const atExit = (): void => rmSync(staging, { recursive: true, force: true });
  process.once("exit", atExit);
  const discard = (): void => {
    atExit();
    process.off("exit", atExit);
  };
  return {
    ...layout,
    abandon: discard,
    async tag(descriptor, platform) {
      try {
        await layout.tag(descriptor, platform);
        writeLayoutTar(staging, file);
      } finally {
        discard();
      }
    },
  };
}

/** A private directory beside `file` for its layout, or why there can be none. */
function stagingBeside(file: string): string {
  try {
    return mkdtempSync(join(dirname(resolve(file)), `.${basename(file)}.strata-`));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new TargetError("STRATA_FS_ERROR", `cannot write ${file}: ${code}`, {
      hint: "the archive's directory must exist and be writable by you",
      cause,
    });
  }
}

/** The layout `dir` as a tar over `file`, names in byte order (the same layout, the same tar). */
function writeLayoutTar(dir: string, file: string): void {
  const tar = new TarFileWriter(file);
  try {
    const walk = (relative: string): void => {
      for (const entry of readdirSync(join(dir, relative), { withFileTypes: true }).sort((a, b) =>
        a.name < b.name ? -1 : 1,
      )) {
        const name = relative === "" ? entry.name : `${relative}/${entry.name}`;
        if (entry.isDirectory()) {
          tar.header(`${name}/`, 0, "dir");
          walk(name);
        } else if (entry.isFile() && !entry.name.startsWith(".tmp-")) {
          tar.memberFromFile(name, join(dir, name), statSync(join(dir, name)).size);
        }
      }
    };
    walk("");
    tar.finish();
  } catch (error) {
    tar.discard();
    throw error;
  }
}
