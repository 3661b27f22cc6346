export { MERGE_ERROR_CODES } from "./error-codes.js";
export {
  DiskTarget,
  type ApplyStats,
  type DiskTargetOptions,
  type UnpackWarning,
} from "./disk-target.js";
export {
  ownershipFor,
  ownedAttributes,
  resolveRootless,
  type OwnershipPolicy,
} from "./ownership.js";
export {
  decodeRootlessOwner,
  encodeRootlessOwner,
  ROOTLESS_OWNER_XATTR,
} from "./rootless-owner.js";
export {
  isPlainDirectory,
  MAX_SYMLINK_FOLLOWS,
  onDisk,
  resolveParentInRoot,
  resolvePathInRoot,
  type ResolvedPath,
} from "./resolve-in-root.js";
export {
  checkDestination,
  commitStaging,
  createStaging,
  discardStaging,
  leftoverStagings,
  removeLeftoverStagings,
} from "./staging.js";
export { kindOfStats, type NodeKind } from "./node-kind.js";
export { native, nativeAddon, nativeCalls, type NativeCalls } from "./native.js";
export type { LayerTarget } from "./layer-target.js";
export {
  MergedTree,
  type GaveWay,
  type LowerSource,
  type MergedEntry,
  type MergeObserver,
} from "./merged-tree.js";
export {
  isOverlayXattr,
  LowerStack,
  opaqueXattr,
  StoredLayers,
  type OverlayXattrs,
} from "./lower-stack.js";
export {
  copyNodeAttributes,
  writeBottomLayer,
  writeOverlayLayer,
  type OverlayLayerOptions,
  type OverlayLayerStats,
} from "./overlay-layer-writer.js";
