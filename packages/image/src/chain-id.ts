import { createHash } from "node:crypto";

/**
 * The chain IDs of a stack of layers (image-spec config.md): the first is
 * the first layer's diff_id, each next one sha256("<previous> <diff_id>").
 * The last names the whole merged tree: two images whose chain IDs agree
 * up to layer n have the same tree up to layer n.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const previous = out.at(-1);
    out.push(
      previous === undefined
        ? diffId
        : `sha256:${createHash("sha256").update(`${previous} ${diffId}`).digest("hex")}`,
    );
  }
  return out;
}
