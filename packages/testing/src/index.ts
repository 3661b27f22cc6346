// Property tests of layer ordering, for strata's own code and for users':
// fast-check arbitraries for layer entries and stacks, the reference model
// and strata's outputs as comparable outcomes, an image builder, and tree
// comparison. strata's own property tests use exactly these.
export {
  anyLayer,
  anyMember,
  anyStack,
  markers,
  relativePath,
  wellFormedLayer,
} from "./arbitraries.js";
export {
  applyToDirectory,
  diskOutcome,
  entriesOf,
  fileLayer,
  memoryLayer,
  mergedOutcome,
  modelOutcome,
  PRIVILEGED,
  sameOutcome,
  sha256,
  tempDir,
  type LayerInput,
  type Outcome,
} from "./outcomes.js";
export { writeStackImage } from "./image-builder.js";
export { ReferenceModel, MAX_SYMLINK_FOLLOWS } from "./model.js";
export type { ModelNode, NodeAttributes } from "./model-node.js";
export {
  diffSnapshots,
  snapshotDisk,
  snapshotMerged,
  snapshotModel,
  type SnapshotNode,
  type TreeSnapshot,
} from "./tree-snapshot.js";
export { ownershipFor, type OwnershipPolicy } from "@strata-oci/merge";
export { writeTar, type TarMember } from "@strata-oci/layer";
