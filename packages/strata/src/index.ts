export { unpack, type UnpackOptions, type UnpackProgress, type UnpackResult } from "./unpack.js";
export { inspect, type ImageSummary, type InspectOptions } from "./inspect.js";
export { StrataError, type StrataErrorCode, type LayerLimits, DEFAULT_LAYER_LIMITS } from "@strata/layer";
export { ReferenceModel, snapshotDisk, snapshotModel, diffSnapshots, type UnpackWarning } from "@strata/overlay";
export type { Image, Platform } from "@strata/image";
