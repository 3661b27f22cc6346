export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";

/** Docker's layer media types and the OCI ones for the same bytes (skopeo --format oci's). */
export const OCI_LAYER_OF: Readonly<Record<string, string>> = {
  "application/vnd.docker.image.rootfs.diff.tar.gzip":
    "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.docker.image.rootfs.diff.tar.zstd":
    "application/vnd.oci.image.layer.v1.tar+zstd",
};

export const INDEX_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_MANIFEST_LIST]);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
