import { escapeText } from "@strata-oci/layer";
import type { UnpackWarning } from "@strata-oci/core";

/** One line per kind of workaround taken (devices replaced, xattrs refused). */
export function printWarnings(warnings: readonly UnpackWarning[]): void {
  const kinds = new Map<string, number>();
  for (const w of warnings) {
    if (w.kind === "platform-mismatch")
      process.stderr.write(`warning: ${escapeText(w.detail)}; it may not run here\n`);
    else if (w.kind === "spec-deviation")
      process.stderr.write(`warning: ${escapeText(w.detail)}\n`);
    else kinds.set(w.kind, (kinds.get(w.kind) ?? 0) + 1);
  }
  for (const [kind, count] of kinds) {
    const why =
      kind === "overlay-xattr-dropped"
        ? "the image's own trusted.overlay.*/user.overlay.* xattrs, which overlayfs would " +
          "obey; not stored"
        : "rootless or filesystem limits";
    process.stderr.write(`warning: ${count} × ${kind} (${why})\n`);
  }
}
