// One layer of a layer store, written as the kernel's overlayfs reads it:
// stacked on the layers below (already stored), the mount must show the
// same tree as a flat unpack of the same layers. The layer's entries are
// written by a DiskTarget into the layer's own directory at the paths the
// merged tree resolves them to (a parent that is a symlink in a lower layer
// is followed, as the flat unpack follows it); then the directory is made
// to say what changed in overlay terms: names gone from the merged view
// become whiteouts (character devices 0/0), a directory whose content is
// all this layer's becomes opaque, and every directory in it carries the
// attributes the merged tree gives it (overlayfs shows the uppermost
// copy's), implied parents included.
import type { LayerEntry } from "@strata-oci/layer";
import type { MergedTree } from "./merged-tree.js";
import {
  diskTargetFor,
  storable,
  type OverlayLayerOptions,
  type OverlayLayerStats,
} from "./overlay-entry.js";
import { UpperLayerWriter } from "./overlay-upper-layer.js";

export {
  copyNodeAttributes,
  type OverlayLayerOptions,
  type OverlayLayerStats,
} from "./overlay-entry.js";

/**
 * Writes a bottom layer (nothing below it) into the empty directory `dir`:
 * with nothing to hide or resolve through, its overlay directory is its
 * flat unpack (whiteouts and opaque markers remove nothing of the layer's
 * own), written by the disk target alone.
 */
export async function writeBottomLayer(
  dir: string,
  entries: AsyncIterable<LayerEntry>,
  options: OverlayLayerOptions,
): Promise<OverlayLayerStats> {
  const disk = diskTargetFor(dir, options);
  async function* stripped(): AsyncGenerator<LayerEntry> {
    for await (const entry of entries) yield storable(entry, entry.path, options);
  }
  await disk.applyLayer(stripped());
  disk.finish();
  return { ...disk.stats, whiteouts: 0, opaque: 0, copiedUp: 0 };
}

/**
 * Writes the next layer of `tree` (the merged view of the layers below,
 * stored in `lowers`, bottom first: usually a tree over StoredLayers that
 * loads what this layer touches) into the empty directory `dir`.
 */
export function writeOverlayLayer(
  tree: MergedTree,
  dir: string,
  lowers: readonly string[],
  entries: AsyncIterable<LayerEntry>,
  options: OverlayLayerOptions,
): Promise<OverlayLayerStats> {
  return new UpperLayerWriter(tree, dir, lowers, options).write(entries);
}
