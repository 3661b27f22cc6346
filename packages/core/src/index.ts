export { CORE_ERROR_CODES } from "./error-codes.js";
export { unpack, type UnpackOptions, type UnpackProgress, type UnpackResult } from "./unpack.js";
export {
  chainIdOf,
  collectWarnings,
  imageRequest,
  openContainerImage,
  refuseArtifact,
  type ImageSource,
} from "./prologue.js";
export {
  inspect,
  PREDEFINED_ANNOTATIONS,
  summarise,
  type DescriptorSummary,
  type HistorySummary,
  type ImageSummary,
  type IndexSummary,
  type InspectOptions,
} from "./inspect.js";
export { backends, type Backends, type NativeState } from "./backends.js";
export { layerProgress, type LayerProgress } from "./layer-progress.js";
export { pull, type PullOptions, type PullProgress, type PullResult } from "./pull.js";
export { prefetchedImage, type PrefetchedImage } from "./prefetch.js";
export { StrataError, type StrataErrorCode } from "@strata-oci/errors";
export { DEFAULT_LAYER_LIMITS, type LayerLimits } from "@strata-oci/layer";
export type { UnpackWarning } from "@strata-oci/merge";
export type { Image, Platform, RegistryOptions, SpecWarning } from "@strata-oci/image";
export {
  findReferrers as referrers,
  type ReferrersRequest,
  type ReferrersResult,
  type Referrer,
} from "@strata-oci/image";
export {
  cat,
  list,
  listing,
  mergedTree,
  mergeLayers,
  type CatOptions,
  type MergeHooks,
  type ListedEntry,
  type ListOptions,
  type MergedTreeOptions,
} from "./merged.js";
export {
  readTreeRecord,
  recordTree,
  saveTreeRecord,
  checkRecordWritable,
  TreeRecord,
  type RecordedEntry,
  type RecordedKind,
} from "./tree-record.js";
export { chainIds } from "@strata-oci/image";
export {
  analyseImage,
  type AnalyseOptions,
  type ImageAnalysis,
  type LayerAnalysis,
  type LayerFigures,
  type RepeatedPath,
  type SummaryNode,
  type WastedPath,
} from "./analyse.js";
