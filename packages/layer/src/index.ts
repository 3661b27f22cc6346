export { LAYER_ERROR_CODES } from "./error-codes.js";
export { DigestMismatchError, LimitExceededError, SizeMismatchError } from "./errors.js";
export {
  assertNever,
  displayPath,
  pathFromKey,
  pathKey,
  type DeviceEntry,
  type DirectoryEntry,
  type EntryBody,
  type EntryAttributes,
  type EntryKind,
  type EntryPath,
  type FifoEntry,
  type FileEntry,
  type HardlinkEntry,
  type LayerEntry,
  type OpaqueEntry,
  type SymlinkEntry,
  type WhiteoutEntry,
} from "./layer-entry.js";
export { escapeName, escapeText, isUtf8, unescapeName } from "./name-spelling.js";
export {
  baseName,
  childPath,
  cleanEntryPath,
  isWithin,
  joinPath,
  parentPath,
  splitPath,
} from "./entry-path.js";
export { childNode, ensureChild, PathTree, type PathTreeNode } from "./path-tree.js";
export { classifyWhiteout, type Whiteout } from "./whiteout.js";
export { DEFAULT_LAYER_LIMITS, resolveLimits, type LayerLimits } from "./limits.js";
export {
  compressionOf,
  LAYER_MEDIA_TYPE_NAMES,
  sniffCompression,
  type Compression,
} from "./media-type.js";
export { createLayerCompressor, LAYER_TYPE_OF, type LayerCompression } from "./compress.js";
export {
  CHUNK_SIZE,
  decompressChunks,
  defaultGzipBackend,
  defaultZstdBackend,
  isalAddon,
  type ZstdBackend,
} from "./decompress.js";
export { builtin } from "./lazy-builtin.js";
export { loadAddon, packageRoot, type AddonLoad, type AddonOrigin } from "./native-addon.js";
export { parseDigest, VerifyStream, type VerifyOptions } from "./verify-stream.js";
export { readTar, type TarRecord } from "./tar-reader.js";
export {
  encodeHeader,
  encodeMember,
  writeTar,
  type TarHeaderFields,
  type TarMember,
  type TarWriteOptions,
} from "./tar-writer.js";
export {
  OFF_THREAD_MIN_BYTES,
  readLayer,
  type Layer,
  type LayerDescriptor,
  type ReadLayerOptions,
} from "./read-layer.js";
export { GrowingFile } from "./growing-file.js";
export { EventLoopTurns } from "./event-loop-turns.js";
export { type BlobFile, type GzipBackend } from "./blob-ring.js";
export {
  blobWorkerPairsStarted,
  prepareBlobWorkers,
  RING_SIZE,
  setRingOriginForTests,
  stopIdleWorkers,
} from "./ring-workers.js";
export {
  BLOCK,
  isZeroBlock,
  paddingOf,
  parseHeader,
  parsePaxRecords,
  TarFormatError,
  type RawTarHeader,
} from "./tar-header.js";
export { notRegularFile, openImageFile, readImageFile } from "./regular-file.js";
