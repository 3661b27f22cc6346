// Test images that several suites run through strata's outputs: the #12
// tricky stack (gzip and zstd) and a two-platform index.
import { createHash } from "node:crypto";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compress as zstdCompress } from "zstd-napi";
import { writeOciLayout } from "@strata-oci/image";
import { writeTar, type TarMember } from "@strata-oci/layer";
import { writeStackImage } from "@strata-oci/testing";

/**
 * A layout from member lists, one layer each (zstd: compressed here; gzip: the testing package's
 * builder).
 */
export function stackLayout(
  dir: string,
  layers: readonly TarMember[][],
  compression: "gzip" | "zstd" = "gzip",
): string {
  if (compression === "gzip") return writeStackImage(dir, layers, "t");
  writeOciLayout(dir, {
    layers: layers.map((members) => ({
      tar: writeTar(members),
      compression: "zstd" as const,
      compress: (tar: Buffer) => zstdCompress(tar),
    })),
    tag: "t",
  });
  return `oci:${dir}:t`;
}

// The cases #12 names as hard for a layer store, here for the index that store will use.
export const TRICKY: TarMember[][] = [
  [
    { name: "usr/", type: "dir", mode: 0o755 },
    { name: "usr/lib/", type: "dir", mode: 0o750, uid: 7, gid: 8 },
    { name: "usr/lib/libc.so", type: "file", data: "libc v1", mode: 0o755 },
    { name: "lib", type: "symlink", linkname: "usr/lib" },
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/real.conf", type: "file", data: "real\n" },
    { name: "etc/gone", type: "file", data: "gone" },
    { name: "var/cache/", type: "dir", mode: 0o755 },
    { name: "var/cache/old", type: "file", data: "old" },
  ],
  [
    // Through a lower symlink: lands in usr/lib.
    { name: "lib/libm.so", type: "file", data: "libm", mode: 0o755 },
    // A hardlink to a lower layer's file.
    { name: "etc/real.hard", type: "hardlink", linkname: "etc/real.conf" },
    // A whiteout and a new entry of the same name in one layer: the entry stays.
    { name: "etc/.wh.gone", type: "file" },
    { name: "etc/gone", type: "file", data: "back" },
    // Implied parents: no entry for opt/ or opt/app/.
    { name: "opt/app/bin/tool", type: "file", data: "#!/bin/sh\n", mode: 0o755 },
    { name: "var/cache/.wh..wh..opq", type: "file" },
    { name: "var/cache/new", type: "file", data: "new" },
    { name: "link-abs", type: "symlink", linkname: "/etc/real.conf" },
    { name: "link-up", type: "symlink", linkname: "../../../../etc/real.conf" },
  ],
];

/** A two-platform image (amd64, arm64/v8) as one OCI layout with an index tagged `multi`. */
export function multiPlatformLayout(work: string): string {
  const layout = join(work, "multi");
  const arm = join(work, "multi-arm");
  writeOciLayout(layout, {
    layers: [{ tar: writeTar([{ name: "which", type: "file", data: "amd64" }]) }],
    architecture: "amd64",
  });
  writeOciLayout(arm, {
    layers: [{ tar: writeTar([{ name: "which", type: "file", data: "arm64" }]) }],
    architecture: "arm64",
    configOverrides: { variant: "v8" },
  });
  cpSync(join(arm, "blobs"), join(layout, "blobs"), { recursive: true });
  const manifestOf = (dir: string) =>
    (
      JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
        manifests: Array<Record<string, unknown>>;
      }
    ).manifests[0];
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { ...manifestOf(layout), platform: { os: "linux", architecture: "amd64" } },
        { ...manifestOf(arm), platform: { os: "linux", architecture: "arm64", variant: "v8" } },
      ],
    }),
  );
  const digest = createHash("sha256").update(index).digest("hex");
  writeFileSync(join(layout, "blobs", "sha256", digest), index);
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.index.v1+json",
          digest: `sha256:${digest}`,
          size: index.length,
          annotations: { "org.opencontainers.image.ref.name": "multi" },
        },
      ],
    }),
  );
  return layout;
}
