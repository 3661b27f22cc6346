export { ReferenceModel, MAX_SYMLINK_FOLLOWS } from "./model.js";
export type { ModelNode, NodeAttributes } from "./model-node.js";
export { DiskTarget, type ApplyStats, type DiskTargetOptions, type UnpackWarning } from "./disk-target.js";
export { ownershipFor, ownedAttributes, type OwnershipPolicy } from "./ownership.js";
export { encodeRootlessOwner, ROOTLESS_OWNER_XATTR } from "./rootless-owner.js";
export { isPlainDirectory, onDisk, resolveParentInRoot, resolvePathInRoot, type ResolvedPath } from "./resolve-in-root.js";
export { checkDestination, commitStaging, createStaging, discardStaging, leftoverStagings, removeLeftoverStagings } from "./staging.js";
export { diffSnapshots, snapshotDisk, snapshotModel, type SnapshotNode, type TreeSnapshot } from "./tree-snapshot.js";
export { native, nativeAddon, nativeCalls, type NativeCalls } from "./native.js";
