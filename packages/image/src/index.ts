export { IMAGE_ERROR_CODES } from "./error-codes.js";
export { openImage, type OpenImageRequest } from "./open-image.js";
export type {
  Image,
  IndexLevel,
  ManifestChoice,
  ManifestDetails,
  SourceImage,
  SpecWarning,
} from "./image.js";
export type { Descriptor } from "./descriptor.js";
export { chainIds } from "./chain-id.js";
export type { ImageConfig } from "./image-config.js";
export { parseImageConfig } from "./image-config.js";
export {
  pathAndTag,
  type ImageReference,
  type ImageTransport,
  type TransportOpenRequest,
  type TransportReferrers,
} from "./transport.js";
export {
  copyImage,
  type BlobProgress,
  type CopyBlobEvent,
  type CopyRequest,
  type CopyResult,
} from "./copy.js";
export type { BlobBody, DestinationOptions, ImageDestination } from "./destination.js";
export {
  destinationReference,
  openDestination,
  type DestinationRequest,
} from "./open-destination.js";
export { putNewBlob } from "./new-blob.js";
export { replacedFile } from "./replaced-file.js";
export { editDistance } from "./edit-distance.js";
export { copyLayers, type BlobCopyRequest, type BlobCounts } from "./copy-blobs.js";
export { OCI_LAYER_OF } from "./media-types.js";
export { imageTransports, parseImageReference, registerTransport } from "./transports/index.js";
export { ociReference, type OciReference } from "./transports/oci.js";
export {
  isRegistryReference,
  registryReference,
  type RegistryReference,
} from "./transports/docker.js";
export { openOciLayout, MAX_JSON_BLOB } from "./oci-layout.js";
export type { OpenImageOptions } from "./manifest-walk.js";
export { openDockerArchive } from "./docker-archive.js";
export {
  formatPlatform,
  hostPlatform,
  normaliseArchitecture,
  normaliseVariant,
  parsePlatform,
  platformMatches,
  type Platform,
} from "./platform.js";
export {
  DOCKER_CONFIG,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  REF_NAME_ANNOTATION,
} from "./media-types.js";
export { writeOciLayout, type LayerSpec, type LayoutSpec } from "./layout-writer.js";
export {
  formatDockerReference,
  isLoopbackHost,
  parseDockerReference,
  type DockerReference,
} from "./registry/docker-reference.js";
export { digestOf } from "./registry/registry-http.js";
export { RegistryClient, type RegistryOptions } from "./registry/registry-client.js";
export { openRegistryImage } from "./registry/registry-source.js";
export {
  authFiles,
  credentialsFor,
  type AuthLookup,
  type Credentials,
} from "./registry/auth-files.js";
export { findReferrers, type ReferrersRequest, type ReferrersResult } from "./referrers.js";
export type { Referrer } from "./image.js";
export {
  hasBlob,
  outputLayout,
  prepareLayout,
  putJsonBlob,
  tagInIndex,
  writeBlob,
} from "./layout-store.js";
export { makeDirectories } from "./make-directories.js";
export { proxyFor, proxyFromEnvironment, type ProxySettings } from "./registry/registry-proxy.js";
export {
  loadRegistriesConf,
  pullSources,
  pushTarget,
  type PullSource,
  type RegistriesConf,
  type RegistryEntry,
  type RegistryMirror,
} from "./registry/registries-conf.js";
export { ociDestination } from "./transports/oci-destination.js";
export {
  dockerManifestOf,
  inFormat,
  ociManifestOf,
  type ManifestFormat,
} from "./manifest-format.js";
