export { BUILD_ERROR_CODES } from "./error-codes.js";
export { exportImage, spooledTree, type ExportOptions, type SpooledTree } from "./export.js";
export { squash, type SquashOptions, type SquashResult } from "./squash.js";
export { diffTrees, type DiffOptions, type DiffProgress } from "./diff.js";
export { repack, type RepackOptions, type RepackProgress, type RepackResult } from "./repack.js";
export { parseSourceDateEpoch, type LayerCompression } from "./image-output.js";
