export { BUILD_ERROR_CODES } from "./error-codes.js";
export { exportImage } from "./export.js";
export { squash, type SquashOptions, type SquashResult } from "./squash.js";
export { diffTrees, type DiffOptions } from "./diff.js";
export { repack, type RepackOptions, type RepackResult } from "./repack.js";
export { sourceDateEpoch, type LayerCompression } from "./layout-output.js";
