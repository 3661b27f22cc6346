// Property tests of layer ordering, for strata's own code and for users':
// fast-check arbitraries for layer entries and stacks, the reference model
// and strata's outputs as comparable outcomes, an image builder, and tree
// comparison. strata's own property tests use exactly these.
export { anyLayer, anyMember, anyStack, markers, relativePath, wellFormedLayer } from "./arbitraries.js";
export { applyToDirectory, diskOutcome, entriesOf, fileLayer, memoryLayer, mergedOutcome, modelOutcome, PRIVILEGED, sameOutcome, sha256, tempDir, type LayerInput, type Outcome } from "./outcomes.js";
export { writeStackImage } from "./image-builder.js";
export { diffSnapshots, ownershipFor, snapshotDisk, snapshotModel, type OwnershipPolicy, type TreeSnapshot } from "@strata-oci/overlay";
export { writeTar, type TarMember } from "@strata-oci/layer";
