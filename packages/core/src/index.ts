export { unpack, type UnpackOptions, type UnpackProgress, type UnpackResult } from "./unpack.js";
export { inspect, PREDEFINED_ANNOTATIONS, summarise, type DescriptorSummary, type HistorySummary, type ImageSummary, type IndexSummary, type InspectOptions } from "./inspect.js";
export { backends, type Backends, type NativeState } from "./backends.js";
export { pull, type PullOptions } from "./pull.js";
export { STRATA_ERROR_CODES, StrataError, type StrataErrorCode, type LayerLimits, DEFAULT_LAYER_LIMITS } from "@strata-oci/layer";
export { ReferenceModel, snapshotDisk, snapshotModel, diffSnapshots, type UnpackWarning } from "@strata-oci/overlay";
export type { Image, Platform, PullProgress, PullResult, RegistryOptions, SpecWarning } from "@strata-oci/image";
export { findReferrers as referrers, type ReferrersRequest, type ReferrersResult, type Referrer } from "@strata-oci/image";
export { cat, list, mergedTree, type CatOptions, type ListedEntry, type ListOptions, type MergedTreeOptions } from "./merged.js";
