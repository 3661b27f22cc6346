// OCI layouts with every field of the image-spec (issue #14): nested indexes
// with platforms, annotations on every level, a config with volumes, ports,
// labels, stop signal and history, and artifacts whose subject is the image.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { writeTar } from "@strata-oci/layer";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const EMPTY = "application/vnd.oci.empty.v1+json";
export const SPDX = "application/spdx+json";
export const SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json";

export interface Blob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly data: Buffer;
}

export function blob(mediaType: string, data: Buffer | string | object): Blob {
  const bytes = Buffer.isBuffer(data)
    ? data
    : Buffer.from(typeof data === "string" ? data : JSON.stringify(data));
  return {
    mediaType,
    digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    size: bytes.length,
    data: bytes,
  };
}

export const descriptorOf = (
  b: Blob,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  mediaType: b.mediaType,
  digest: b.digest,
  size: b.size,
  ...extra,
});

/** An artifact manifest (empty config, one blob) whose subject is `subject`. */
export function artifact(
  artifactType: string,
  content: string,
  subject: Blob,
  annotations: Record<string, string>,
): { manifest: Blob; blobs: Blob[] } {
  const config = blob(EMPTY, "{}");
  const layer = blob(artifactType, content);
  const manifest = blob(OCI_MANIFEST, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: descriptorOf(config),
    layers: [
      descriptorOf(layer, { annotations: { "org.opencontainers.image.title": "content.json" } }),
    ],
    subject: descriptorOf(subject),
    annotations,
  });
  return { manifest, blobs: [config, layer] };
}

export interface FullLayout {
  readonly dir: string;
  /** The amd64 image: its manifest, config and layer. */
  readonly manifest: Blob;
  readonly config: Blob;
  readonly layer: Blob;
  /** The nested index that offers amd64, arm64/v8 and a Windows build. */
  readonly platforms: Blob;
  /** Artifacts whose subject is the amd64 manifest, and one whose subject is the nested index. */
  readonly sbom: Blob;
  readonly signature: Blob;
  readonly indexSignature: Blob;
  /** Every blob written (to push them elsewhere). */
  readonly blobs: readonly Blob[];
}

export const MANIFEST_ANNOTATIONS = {
  "org.opencontainers.image.created": "2026-11-01T10:00:00Z",
  "org.opencontainers.image.source": "https://example.com/app.git",
  "org.opencontainers.image.revision": "0123456789abcdef",
  "org.opencontainers.image.title": "app",
  "com.example.team": "runtime",
};

/**
 * index.json tags `app` (a nested index: amd64, arm64/v8, windows with
 * os.version and os.features), `sbom` (an SPDX artifact about the amd64
 * image) and `sig` (a signature of the nested index); the amd64 signature is
 * reachable only through an index tagged `attached`.
 */
export function writeFullLayout(dir: string): FullLayout {
  const blobs: Blob[] = [];
  const keep = (...items: Blob[]): void => {
    blobs.push(...items);
  };
  const layer = blob(
    "application/vnd.oci.image.layer.v1.tar+gzip",
    gzipSync(
      writeTar([
        { name: "etc/", type: "dir", mode: 0o755 },
        { name: "etc/app.conf", type: "file", data: "port=8080\n" },
      ]),
    ),
  );
  const diffId = `sha256:${createHash("sha256")
    .update(
      writeTar([
        { name: "etc/", type: "dir", mode: 0o755 },
        { name: "etc/app.conf", type: "file", data: "port=8080\n" },
      ]),
    )
    .digest("hex")}`;
  const configFor = (architecture: string, extra: Record<string, unknown> = {}): Blob =>
    blob("application/vnd.oci.image.config.v1+json", {
      created: "2026-11-01T10:00:00Z",
      author: "strata tests",
      architecture,
      os: "linux",
      ...extra,
      config: {
        User: "0:0",
        Env: ["PATH=/usr/bin:/bin"],
        Cmd: ["/bin/app"],
        WorkingDir: "/srv",
        Volumes: { "/data": {}, "/logs": {} },
        ExposedPorts: { "8080/tcp": {}, "53/udp": {} },
        Labels: { "org.example.tier": "web", maintainer: "ops@example.com" },
        StopSignal: "SIGQUIT",
      },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [
        {
          created: "2026-11-01T09:00:00Z",
          created_by: "ADD app.conf /etc/",
          comment: "the only layer",
        },
        {
          created: "2026-11-01T09:01:00Z",
          created_by: "ENV PATH=/usr/bin:/bin",
          empty_layer: true,
        },
        { created: "2026-11-01T09:02:00Z", created_by: 'CMD ["/bin/app"]', empty_layer: true },
      ],
    });
  const manifestFor = (config: Blob): Blob =>
    blob(OCI_MANIFEST, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptorOf(config),
      layers: [
        descriptorOf(layer, { annotations: { "org.opencontainers.image.title": "app.tar.gz" } }),
      ],
      annotations: MANIFEST_ANNOTATIONS,
    });
  const config = configFor("amd64");
  const manifest = manifestFor(config);
  const armConfig = configFor("arm64", { variant: "v8" });
  const armManifest = manifestFor(armConfig);
  const windowsConfig = configFor("amd64", { os: "windows", "os.version": "10.0.17763.5576" });
  const windowsManifest = manifestFor(windowsConfig);
  const platforms = blob(OCI_INDEX, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      descriptorOf(manifest, { platform: { os: "linux", architecture: "amd64" } }),
      descriptorOf(armManifest, {
        platform: { os: "linux", architecture: "arm64", variant: "v8" },
      }),
      descriptorOf(windowsManifest, {
        platform: {
          os: "windows",
          architecture: "amd64",
          "os.version": "10.0.17763.5576",
          "os.features": ["win32k"],
        },
      }),
    ],
    annotations: {
      "org.opencontainers.image.created": "2026-11-01T10:05:00Z",
      "org.opencontainers.image.url": "https://example.com/app",
    },
  });
  keep(layer, config, manifest, armConfig, armManifest, windowsConfig, windowsManifest, platforms);
  const sbom = artifact(SPDX, '{"spdxVersion":"SPDX-2.3"}', manifest, {
    "org.opencontainers.image.created": "2026-11-02T00:00:00Z",
    "org.example.tool": "syft",
  });
  const signature = artifact(SIGNATURE, '{"critical":{}}', manifest, {
    "dev.sigstore.cosign/signature": "MEUCIQ",
  });
  const indexSignature = artifact(SIGNATURE, '{"critical":{"index":true}}', platforms, {
    "dev.sigstore.cosign/signature": "MEYCIQ",
  });
  keep(
    sbom.manifest,
    ...sbom.blobs,
    signature.manifest,
    ...signature.blobs,
    indexSignature.manifest,
    ...indexSignature.blobs,
  );
  const attached = blob(OCI_INDEX, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [descriptorOf(signature.manifest, { artifactType: SIGNATURE })],
  });
  keep(attached);
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  for (const b of blobs) writeFileSync(join(dir, "blobs", "sha256", b.digest.slice(7)), b.data);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const ref = (name: string): Record<string, string> => ({
    "org.opencontainers.image.ref.name": name,
  });
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        descriptorOf(platforms, { annotations: ref("app") }),
        descriptorOf(sbom.manifest, { artifactType: SPDX, annotations: ref("sbom") }),
        descriptorOf(indexSignature.manifest, { artifactType: SIGNATURE, annotations: ref("sig") }),
        descriptorOf(attached, { annotations: ref("attached") }),
      ],
      annotations: { "org.opencontainers.image.vendor": "strata tests" },
    }),
  );
  return {
    dir,
    manifest,
    config,
    layer,
    platforms,
    sbom: sbom.manifest,
    signature: signature.manifest,
    indexSignature: indexSignature.manifest,
    blobs,
  };
}
