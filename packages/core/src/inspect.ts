import {
  openImage,
  type Descriptor,
  type Image,
  type IndexLevel,
  type Platform,
  type SpecWarning,
} from "@strata-oci/image";
import { imageRequest, type ImageSource } from "./prologue.js";

/** The annotation keys the image-spec pre-defines (annotations.md), in its order. */
export const PREDEFINED_ANNOTATIONS: readonly string[] = [
  "org.opencontainers.image.created",
  "org.opencontainers.image.authors",
  "org.opencontainers.image.url",
  "org.opencontainers.image.documentation",
  "org.opencontainers.image.source",
  "org.opencontainers.image.version",
  "org.opencontainers.image.revision",
  "org.opencontainers.image.vendor",
  "org.opencontainers.image.licenses",
  "org.opencontainers.image.ref.name",
  "org.opencontainers.image.title",
  "org.opencontainers.image.description",
  "org.opencontainers.image.base.digest",
  "org.opencontainers.image.base.name",
];

/** A descriptor as `inspect` shows it. */
export interface DescriptorSummary {
  readonly mediaType: string | undefined;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly artifactType?: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface IndexSummary {
  /** `index.json`, or the index's digest. */
  readonly where: string;
  readonly mediaType: string | undefined;
  readonly artifactType?: string;
  readonly subject?: DescriptorSummary;
  readonly annotations: Readonly<Record<string, string>>;
  readonly manifests: readonly DescriptorSummary[];
}

export interface HistorySummary {
  readonly created: string | undefined;
  readonly createdBy: string | undefined;
  readonly comment: string | undefined;
  readonly author: string | undefined;
  /** True for steps that made no layer (ENV, CMD, ...). */
  readonly emptyLayer: boolean;
  /** The layer this step made (index into `layers`). */
  readonly layer: number | undefined;
}

/**
 * What `strata inspect` shows: every field of the indexes walked, the manifest, the config and the
 * layers.
 */
export interface ImageSummary {
  readonly reference: string;
  readonly transport: string;
  /** The manifests the top level offers (tag, digest, platform): what to choose from. */
  readonly choices: ReadonlyArray<{
    tag: string | undefined;
    digest: string;
    platform: string | undefined;
  }>;
  /** The indexes walked, top first, each with every manifest it lists. */
  readonly indexes: readonly IndexSummary[];
  readonly manifest:
    | (DescriptorSummary & {
        readonly artifactType?: string;
        readonly subject?: DescriptorSummary;
        /** Set when the manifest is not a container image (what it is). */
        readonly artifact?: string;
      })
    | undefined;
  readonly config: {
    readonly digest: string | undefined;
    readonly mediaType: string | undefined;
    readonly os: string | undefined;
    readonly architecture: string | undefined;
    readonly variant: string | undefined;
    readonly created: string | undefined;
    readonly author: string | undefined;
    /** The runtime defaults as written (User, Env, Entrypoint, Cmd, WorkingDir, ...). */
    readonly runtime: Readonly<Record<string, unknown>>;
    readonly volumes: readonly string[];
    readonly exposedPorts: readonly string[];
    readonly labels: Readonly<Record<string, string>>;
    readonly stopSignal: string | undefined;
    readonly history: readonly HistorySummary[];
  };
  readonly layers: ReadonlyArray<{
    digest: string | undefined;
    diffId: string | undefined;
    mediaType: string | undefined;
    size: number;
    annotations: Readonly<Record<string, string>>;
  }>;
  readonly totalSize: number;
  /** Harmless deviations from the image-spec that were accepted. */
  readonly warnings: readonly SpecWarning[];
}

/** What to inspect: an image source (image, platform, registry settings, signal). */
export type InspectOptions = ImageSource;

function describe(d: Descriptor): DescriptorSummary {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.platform === undefined ? {} : { platform: d.platform }),
    ...(d.artifactType === undefined ? {} : { artifactType: d.artifactType }),
    annotations: d.annotations,
  };
}

function describeIndex(level: IndexLevel): IndexSummary {
  return {
    where: level.where,
    mediaType: level.mediaType,
    ...(level.artifactType === undefined ? {} : { artifactType: level.artifactType }),
    ...(level.subject === undefined ? {} : { subject: describe(level.subject) }),
    annotations: level.annotations,
    manifests: level.manifests.map(describe),
  };
}

const text = (value: unknown): string | undefined =>
  typeof value === "string" ? value : undefined;
/** The keys of a `{ "key": {} }` set (Volumes, ExposedPorts), sorted. */
const keysOf = (value: unknown): string[] =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.keys(value).sort()
    : [];

function historyOf(raw: Readonly<Record<string, unknown>>): HistorySummary[] {
  if (!Array.isArray(raw.history)) return [];
  let layer = 0;
  return raw.history.map((entry: unknown) => {
    const step =
      typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>) : {};
    const emptyLayer = step.empty_layer === true;
    return {
      created: text(step.created),
      createdBy: text(step.created_by),
      comment: text(step.comment),
      author: text(step.author),
      emptyLayer,
      layer: emptyLayer ? undefined : layer++,
    };
  });
}

/** The summary of an opened image (every field `inspect` shows). */
export function summarise(image: Image): ImageSummary {
  const runtime = image.config.runtime;
  const labels = runtime.Labels;
  const details = image.details;
  return {
    reference: image.reference,
    transport: image.transport,
    choices: image.choices.map((c) => ({
      tag: c.tag,
      digest: c.descriptor.digest,
      platform:
        c.platform === undefined
          ? undefined
          : [c.platform.os, c.platform.architecture, c.platform.variant].filter(Boolean).join("/"),
    })),
    indexes: image.indexes.map(describeIndex),
    manifest:
      image.manifest === undefined
        ? undefined
        : {
            ...describe(image.manifest),
            mediaType: details?.mediaType ?? image.manifest.mediaType,
            annotations: details?.annotations ?? {},
            ...(details?.artifactType === undefined ? {} : { artifactType: details.artifactType }),
            ...(details?.subject === undefined ? {} : { subject: describe(details.subject) }),
            ...(details?.artifact === undefined ? {} : { artifact: details.artifact }),
          },
    config: {
      digest: image.configDigest,
      mediaType: details?.config.mediaType,
      os: image.config.os,
      architecture: image.config.architecture,
      variant: image.config.variant,
      created: text(image.config.raw.created),
      author: text(image.config.raw.author),
      runtime,
      volumes: keysOf(runtime.Volumes),
      exposedPorts: keysOf(runtime.ExposedPorts),
      labels:
        typeof labels === "object" && labels !== null
          ? Object.fromEntries(
              Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === "string"),
            )
          : {},
      stopSignal: text(runtime.StopSignal),
      history: historyOf(image.config.raw),
    },
    layers: image.layers.map((l, i) => ({
      digest: l.digest,
      diffId: l.diffId,
      mediaType: l.mediaType,
      size: l.size,
      annotations: details?.layers[i]?.annotations ?? {},
    })),
    totalSize: image.layers.reduce((sum, l) => sum + l.size, 0),
    warnings: [...(image.sourceWarnings ?? []), ...(details?.warnings ?? [])],
  };
}

/** Resolves an image and summarises it; reads only its JSON blobs, never its layers. */
export async function inspect(options: InspectOptions): Promise<ImageSummary> {
  const image = await openImage(imageRequest(options));
  return summarise(image);
}
