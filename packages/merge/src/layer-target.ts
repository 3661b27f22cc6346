import type { LayerEntry } from "@strata-oci/layer";

/**
 * Where layers are applied: the flat rootfs on disk (DiskTarget), the
 * merged-tree index (MergedTree), the reference model. Each takes the
 * layers in manifest order, index 0 first, and applies the changeset rules
 * to its own kind of output; a new output implements this and touches none
 * of the others.
 */
export interface LayerTarget {
  /** Applies one layer's entries in tar order. A failure leaves the target unusable. */
  applyLayer(entries: AsyncIterable<LayerEntry>): Promise<void>;
  /** Called once, after the last layer (a disk target sets directory times then). */
  finish(): void;
}
