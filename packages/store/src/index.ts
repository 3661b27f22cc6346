export { STORE_ERROR_CODES } from "./error-codes.js";
export { defaultStore, LayerStore } from "./layer-store.js";
export type { MountRecord, StoredImage, StoredLayer } from "./records.js";
export {
  keptName,
  openForStore,
  storeImage,
  unpackToStore,
  type StoreUnpackOptions,
  type StoreUnpackResult,
} from "./unpack-to-store.js";
export { mountImage, unmountImage, type MountOptions, type MountResult } from "./mounts.js";
export {
  storeGc,
  storeList,
  storeRemove,
  storeUsage,
  type StoreListing,
  type StoreUsage,
} from "./admin.js";
export { mountsAt, mountSource, parseMountSource, type MountEntry } from "./mount-table.js";
