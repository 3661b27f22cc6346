import { readFileSync } from "node:fs";
import { backends, type NativeState } from "@strata-oci/core";
import { packageRoot } from "@strata-oci/layer";

/** strata's version, from its package wherever this code was bundled; read only when asked for. */
export function version(): string {
  try {
    const root = packageRoot(
      "@strata-oci/strata",
      import.meta.url,
      new URL("../../", import.meta.url),
    );
    return (JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { version: string })
      .version;
  } catch {
    return "(version unknown: its package.json is not beside this code)";
  }
}

const shown = (state: NativeState): string =>
  state.state === "unavailable" ? `unavailable (${state.reason})` : state.state;

/**
 * The version, and which backend does each job on this machine (and why a faster one is not in
 * use).
 */
export function versionReport(): string {
  const b = backends();
  const gzip = b.gzip === "isal" ? `ISA-L, ${shown(b.isal)}` : `zlib (ISA-L ${shown(b.isal)})`;
  const zstd =
    b.zstd === "native"
      ? "native (zstd-napi)"
      : b.zstd === "zlib"
        ? "Node's zlib (npm install zstd-napi: about 1.6x faster)"
        : "JS (fzstd; npm install zstd-napi, or Node 22.15+, for 5-7x faster zstd)";
  const calls =
    b.nativeCalls.state === "unavailable"
      ? `${shown(b.nativeCalls)}: xattrs, devices and fifos are skipped with warnings`
      : `${b.nativeCalls.state} (xattrs, mknod)`;
  return [
    `strata ${version()} (node ${process.version}, ${process.platform}-${process.arch})`,
    `gzip          ${gzip}`,
    `zstd          ${zstd}`,
    `native calls  ${calls}`,
    "",
  ].join("\n");
}
