export { unpack, type UnpackOptions, type UnpackProgress, type UnpackResult } from "./unpack.js";
export { inspect, type ImageSummary, type InspectOptions } from "./inspect.js";
export { backends, type Backends, type NativeState } from "./backends.js";
export { pull, type PullOptions } from "./pull.js";
export { STRATA_ERROR_CODES, StrataError, type StrataErrorCode, type LayerLimits, DEFAULT_LAYER_LIMITS } from "@strata-oci/layer";
export { ReferenceModel, snapshotDisk, snapshotModel, diffSnapshots, type UnpackWarning } from "@strata-oci/overlay";
export type { Image, Platform, PullProgress, PullResult, RegistryOptions } from "@strata-oci/image";
