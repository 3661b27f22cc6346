import {
  createWriteStream,
  fstatSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import {
  backends,
  cat,
  inspect,
  listing,
  PREDEFINED_ANNOTATIONS,
  pull,
  referrers,
  StrataError,
  type ListedEntry,
  unpack,
  type DescriptorSummary,
  type ImageSummary,
  type NativeState,
  type RegistryOptions,
  type UnpackOptions,
  type UnpackResult,
} from "@strata-oci/core";
import { bundle, bundleFromStore } from "@strata-oci/bundle";
import { diffTrees, exportImage, repack, squash } from "@strata-oci/build";
import {
  mountImage,
  storeGc,
  storeList,
  storeRemove,
  storeUsage,
  unmountImage,
  unpackToStore,
} from "@strata-oci/store";
import { escapeName, escapeText, packageRoot, prepareBlobWorkers } from "@strata-oci/layer";
import { TargetError } from "@strata-oci/errors";
import { parseImageReference } from "@strata-oci/image";
import {
  BUNDLE_HELP,
  CAT_HELP,
  DIFF_HELP,
  EXPORT_HELP,
  INSPECT_HELP,
  LS_HELP,
  MAIN_HELP,
  MOUNT_HELP,
  PULL_HELP,
  REFERRERS_HELP,
  REPACK_HELP,
  SQUASH_HELP,
  STORE_HELP,
  UMOUNT_HELP,
  UNPACK_HELP,
} from "./help.js";
import { LIMIT_FLAGS, limitsFromFlags } from "./limits-flags.js";
import { terminalProgress } from "./progress.js";

class UsageError extends Error {}

/** strata's version, from its package wherever this code was bundled; read only when asked for. */
function version(): string {
  try {
    const root = packageRoot(
      "@strata-oci/strata",
      import.meta.url,
      new URL("../", import.meta.url),
    );
    return (JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { version: string })
      .version;
  } catch {
    return "(version unknown: its package.json is not beside this code)";
  }
}

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; multiple?: boolean; short?: string }
>;
type OptionValues = Record<string, string | boolean | string[] | undefined>;

function parse(
  args: string[],
  options: OptionSpec,
): { values: OptionValues; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: parsed.values as OptionValues, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The flags of every command that reads docker:// images (see registryOf). */
const REGISTRY_FLAGS: OptionSpec = {
  creds: { type: "string" },
  authfile: { type: "string" },
  "cert-dir": { type: "string" },
  "tls-verify": { type: "string" },
};

/** --max-entries and the other bounds on what a hostile layer may make strata do. */
const LIMIT_OPTIONS: OptionSpec = Object.fromEntries(
  Object.keys(LIMIT_FLAGS).map((flag) => [flag, { type: "string" as const }]),
);

const UNPACK_FLAGS: OptionSpec = {
  platform: { type: "string" },
  ...REGISTRY_FLAGS,
  downloads: { type: "string" },
  rootless: { type: "boolean" },
  record: { type: "string" },
  store: { type: "string" },
  quiet: { type: "boolean" },
  json: { type: "boolean" },
  ...LIMIT_OPTIONS,
};

function limitsOf(values: OptionValues) {
  try {
    return limitsFromFlags(values);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * The signal that ended the command, if one did: its exit status is 128 + its number (130, 143,
 * 129).
 */
let interruptedBy: "SIGINT" | "SIGTERM" | "SIGHUP" | undefined;
const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Runs `work` with SIGINT, SIGTERM and SIGHUP aborting its signal: every
 * wait ends, and what it was writing is removed. A second signal of the
 * same kind while cleaning up is left to its default (the process ends).
 */
async function interruptibly<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handlers = (Object.keys(SIGNAL_NUMBERS) as Array<keyof typeof SIGNAL_NUMBERS>).map(
    (name) => {
      const handler = (): void => {
        interruptedBy ??= name;
        controller.abort(new Error(`interrupted by ${name}`));
      };
      process.once(name, handler);
      return [name, handler] as const;
    },
  );
  try {
    return await work(controller.signal);
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

/** IMAGE and how to reach it: --platform and the registry flags. */
function imageSource(
  image: string,
  values: OptionValues,
): { image: string; platform?: string; registry?: RegistryOptions } {
  const registry = registryOf(values);
  return {
    image,
    ...(typeof values.platform === "string" ? { platform: values.platform } : {}),
    ...(registry === undefined ? {} : { registry }),
  };
}

/** --compress gzip|zstd|none. */
function compressionOf(values: OptionValues): "gzip" | "zstd" | "none" | undefined {
  const compress = values.compress;
  if (compress !== undefined && compress !== "gzip" && compress !== "zstd" && compress !== "none")
    throw new UsageError("--compress takes gzip, zstd or none");
  return compress;
}

/** The options unpack and bundle take from the same flags. */
type SharedUnpackOptions = Pick<
  UnpackOptions,
  "signal" | "limits" | "platform" | "rootless" | "onProgress" | "registry" | "downloads" | "record"
>;

function downloadsOf(values: OptionValues): number | undefined {
  const text = values.downloads;
  if (text === undefined) return undefined;
  const count = Number(text);
  if (typeof text !== "string" || !Number.isInteger(count) || count < 1 || count > 16)
    throw new UsageError("--downloads takes a number from 1 to 16");
  return count;
}

/**
 * --creds USER:PASS, --authfile FILE, --cert-dir DIR and --tls-verify=true|false, for docker://
 * images.
 */
function registryOf(values: OptionValues): RegistryOptions | undefined {
  const verify = values["tls-verify"];
  if (verify !== undefined && verify !== "true" && verify !== "false")
    throw new UsageError("--tls-verify takes true or false");
  const creds = values.creds;
  const authFile = values.authfile;
  const certDir = values["cert-dir"];
  if (
    creds === undefined &&
    verify === undefined &&
    authFile === undefined &&
    certDir === undefined
  )
    return undefined;
  let parsed: { username: string; password: string } | undefined;
  if (typeof creds === "string") {
    const colon = creds.indexOf(":");
    if (colon <= 0) throw new UsageError("--creds takes USER:PASS");
    parsed = { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
  }
  return {
    ...(parsed === undefined ? {} : { creds: parsed }),
    ...(typeof authFile === "string" ? { authFile } : {}),
    ...(typeof certDir === "string" ? { certDir } : {}),
    ...(verify === "false" ? { tlsVerify: false } : {}),
  };
}

/**
 * Runs an unpack or a bundle with what the two commands share: their flags,
 * progress on a terminal (unless --quiet or --json), and Ctrl-C.
 */
async function withUnpackFlags<T>(
  values: OptionValues,
  run: (shared: SharedUnpackOptions) => Promise<T>,
): Promise<T> {
  const progress =
    process.stderr.isTTY && values.quiet !== true && values.json !== true
      ? terminalProgress(process.stderr)
      : undefined;
  const registry = registryOf(values);
  const downloads = downloadsOf(values);
  try {
    return await interruptibly((signal) =>
      run({
        signal,
        limits: limitsOf(values),
        ...(downloads === undefined ? {} : { downloads }),
        ...(typeof values.platform === "string" ? { platform: values.platform } : {}),
        ...(values.rootless === true ? { rootless: true } : {}),
        ...(typeof values.record === "string" ? { record: values.record } : {}),
        ...(registry === undefined ? {} : { registry }),
        ...(progress === undefined ? {} : { onProgress: progress.update }),
      }),
    );
  } finally {
    progress?.done();
  }
}

/** One line per kind of workaround taken (devices replaced, xattrs refused). */
function printWarnings(warnings: UnpackResult["warnings"]): void {
  const kinds = new Map<string, number>();
  for (const w of warnings) {
    if (w.kind === "platform-mismatch")
      process.stderr.write(`warning: ${escapeText(w.detail)}; it may not run here\n`);
    else if (w.kind === "spec-deviation")
      process.stderr.write(`warning: ${escapeText(w.detail)}\n`);
    else kinds.set(w.kind, (kinds.get(w.kind) ?? 0) + 1);
  }
  for (const [kind, count] of kinds) {
    const why =
      kind === "overlay-xattr-dropped"
        ? "the image's own trusted.overlay.*/user.overlay.* xattrs, which overlayfs would " +
          "obey; not stored"
        : "rootless or filesystem limits";
    process.stderr.write(`warning: ${count} × ${kind} (${why})\n`);
  }
}

/**
 * A flat unpack reads every layer of the image, big ones on the worker pair:
 * started now, it boots while the image is opened. The store does not start
 * it ahead: an image whose base is stored reads a small new layer or none
 * (on this thread), and readLayer starts the pair for a big one.
 */
function startBlobWorkers(): void {
  void prepareBlobWorkers();
}

async function runUnpack(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, UNPACK_FLAGS);
  if (values.help === true) {
    process.stdout.write(UNPACK_HELP);
    return 0;
  }
  if (typeof values.store === "string") return runUnpackToStore(values, positionals, values.store);
  const [image, dest, extra] = positionals;
  if (image === undefined || dest === undefined || extra !== undefined)
    throw new UsageError("unpack takes IMAGE and DEST (or --store DIR and IMAGE)");
  startBlobWorkers();
  const result = await withUnpackFlags(values, (shared) => unpack({ image, dest, ...shared }));
  if (values.json === true) {
    const { image: resolved, ...rest } = result;
    const digests = {
      manifest: resolved.manifest?.digest,
      config: resolved.configDigest,
      layerDigests: resolved.layers.map((layer) => layer.digest),
    };
    process.stdout.write(
      `${JSON.stringify({ ...rest, image: resolved.reference, ...digests }, null, 2)}\n`,
    );
  } else if (values.quiet !== true) {
    process.stdout.write(
      `unpacked ${result.image.reference}: ${result.layers} layers, ` +
        `${result.entries} entries, ${(result.bytes / 1e6).toFixed(1)} MB of file data into ` +
        `${dest}\n`,
    );
    printWarnings(result.warnings);
  }
  return 0;
}

async function runUnpackToStore(
  values: OptionValues,
  positionals: string[],
  store: string,
): Promise<number> {
  const [image, extra] = positionals;
  if (image === undefined || extra !== undefined)
    throw new UsageError("unpack --store DIR takes IMAGE only (the store is the destination)");
  if (values.record !== undefined)
    throw new UsageError("--record is for a flat unpack, not --store");
  const result = await withUnpackFlags(
    values,
    ({ onProgress: _progress, downloads: _downloads, record: _record, ...shared }) =>
      unpackToStore({
        image,
        store,
        ...shared,
        ...(values.quiet === true || values.json === true
          ? {}
          : {
              onLayer: (event) =>
                process.stderr.write(
                  `layer ${event.index + 1}/${event.count} ${event.chainId.slice(0, 19)}: ` +
                    `${event.written ? "stored" : "already stored"}\n`,
                ),
            }),
      }),
  );
  if (values.json === true) {
    process.stdout.write(
      `${JSON.stringify({ image: result.image.reference, platform: result.platform, store: result.store, chainIds: result.chainIds, written: result.written, reused: result.reused, lowerdir: result.lowerdir, warnings: result.warnings }, null, 2)}\n`,
    );
  } else if (values.quiet !== true) {
    process.stdout.write(
      `stored ${result.image.reference} in ${result.store}: ` +
        `${result.written} layers extracted, ${result.reused} already there\n` +
        `mount it with: strata mount --store ${result.store} ${image} TARGET\n` +
        `  or: (cd ${result.store} && mount -t overlay overlay -o ` +
        `lowerdir=${result.lowerdir} TARGET)\n`,
    );
    printWarnings(result.warnings);
  }
  return 0;
}

async function runMount(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    store: { type: "string" },
    writable: { type: "boolean" },
    platform: { type: "string" },
    ...REGISTRY_FLAGS,
    json: { type: "boolean" },
  });
  if (values.help === true) {
    process.stdout.write(MOUNT_HELP);
    return 0;
  }
  const [image, target, extra] = positionals;
  if (image === undefined || target === undefined || extra !== undefined)
    throw new UsageError("mount takes IMAGE and TARGET");
  const result = await interruptibly((signal) =>
    mountImage({
      ...imageSource(image, values),
      target,
      signal,
      ...(typeof values.store === "string" ? { store: values.store } : {}),
      ...(values.writable === true ? { writable: true } : {}),
    }),
  );
  if (values.json === true) {
    const { unpacked } = result;
    process.stdout.write(
      `${JSON.stringify({ image: unpacked.image.reference, platform: unpacked.platform, target: result.target, store: result.store, options: result.options, upper: result.upper, written: unpacked.written, reused: unpacked.reused, warnings: unpacked.warnings }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(
      `mounted ${result.unpacked.image.reference} on ${result.target} (` +
        `${result.unpacked.chainIds.length} layers, ${result.unpacked.written} extracted now)` +
        `${result.upper === undefined ? ", read-only" : `, changes in ${result.upper}`}\n`,
    );
    printWarnings(result.unpacked.warnings);
  }
  return 0;
}

async function runUmount(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { store: { type: "string" } });
  if (values.help === true) {
    process.stdout.write(UMOUNT_HELP);
    return 0;
  }
  const [target, extra] = positionals;
  if (target === undefined || extra !== undefined) throw new UsageError("umount takes TARGET");
  const result = unmountImage({
    target,
    ...(typeof values.store === "string" ? { store: values.store } : {}),
  });
  process.stdout.write(
    `unmounted ${result.target} (from the store ${result.store})` +
      `${result.removed === undefined ? "" : `; its changes (${result.removed}) removed`}\n`,
  );
  return 0;
}

async function runStore(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    store: { type: "string" },
    platform: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help === true || positionals.length === 0) {
    process.stdout.write(STORE_HELP);
    return values.help === true ? 0 : 2;
  }
  const [action, image, extra] = positionals;
  const store = typeof values.store === "string" ? { store: values.store } : {};
  const print = (json: unknown, text: string): void =>
    void process.stdout.write(values.json === true ? `${JSON.stringify(json, null, 2)}\n` : text);
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
  if ((action !== "rm" && image !== undefined) || extra !== undefined)
    throw new UsageError(`store ${action ?? ""} takes no further arguments`);
  switch (action) {
    case "ls": {
      const layers = storeList(store);
      print(
        layers,
        layers
          .map(
            (l) =>
              `${l.chainId}  ${String(l.entries).padStart(7)} entries ` +
              `${mb(l.bytes).padStart(10)}  ` +
              `${l.images.length === 0 ? "(no image: gc removes it)" : escapeText(l.images.join(", "))}\n`,
          )
          .join(""),
      );
      return 0;
    }
    case "du": {
      const usage = storeUsage(store);
      print(
        usage,
        `${usage.layers} layers, ${mb(usage.bytes)} of file data for ` +
          `${usage.images} images; sharing saves ${mb(usage.sharedBytes)}; ` +
          `${usage.unusedLayers} layers unused\n`,
      );
      return 0;
    }
    case "gc": {
      const result = await interruptibly((signal) => storeGc({ ...store, signal }));
      print(result, `removed ${result.removed.length} layers (${mb(result.bytes)})\n`);
      return 0;
    }
    case "rm": {
      if (image === undefined) throw new UsageError("store rm takes IMAGE");
      const result = await storeRemove({
        ...store,
        image,
        ...(typeof values.platform === "string" ? { platform: values.platform } : {}),
      });
      const names = result.removed.map((kept) =>
        kept.platform === "" ? kept.reference : `${kept.reference} (${kept.platform})`,
      );
      print(
        result,
        `no longer keeping ${names.join(", ")} (strata store gc removes its layers no other ` +
          `image uses)\n`,
      );
      return 0;
    }
    default:
      throw new UsageError("store takes ls, du, gc or rm");
  }
}

async function runPull(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    ...REGISTRY_FLAGS,
    quiet: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (values.help === true) {
    process.stdout.write(PULL_HELP);
    return 0;
  }
  const [image, layout, extra] = positionals;
  if (image === undefined || layout === undefined || extra !== undefined)
    throw new UsageError("pull takes a docker:// IMAGE and an oci:DIR[:TAG]");
  const progress =
    process.stderr.isTTY && values.quiet !== true && values.json !== true
      ? terminalProgress(process.stderr)
      : undefined;
  let result: Awaited<ReturnType<typeof pull>>;
  try {
    result = await interruptibly((signal) =>
      pull({
        ...imageSource(image, values),
        layout,
        signal,
        ...(progress === undefined
          ? {}
          : { onProgress: (event) => progress.update({ kind: "blob", ...event }) }),
      }),
    );
  } finally {
    progress?.done();
  }
  if (values.json === true) {
    process.stdout.write(
      `${JSON.stringify({ image: result.image.reference, layout: result.layout, tag: result.tag, manifest: result.manifest.digest, layers: result.image.layers.map((l) => l.digest), written: result.written, reused: result.reused, bytes: result.bytes }, null, 2)}\n`,
    );
  } else if (values.quiet !== true) {
    process.stdout.write(
      `pulled ${result.image.reference} into oci:${result.layout}:${result.tag} (` +
        `${result.manifest.digest}): ${result.written} blobs written (` +
        `${(result.bytes / 1e6).toFixed(1)} MB), ${result.reused} already there\n`,
    );
  }
  return 0;
}

function parseArgsFlag(
  value: string | boolean | string[] | undefined,
  trailing: string[],
): string[] | undefined {
  if (trailing.length > 0) return trailing;
  if (typeof value !== "string") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError(
      `--args takes a JSON list such as '["/bin/sh","-c","id"]' (or put the command after --)`,
    );
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === "string"))
    throw new UsageError("--args must be a non-empty JSON list of strings");
  return parsed;
}

async function runBundle(argv: string[]): Promise<number> {
  const split = argv.indexOf("--");
  const args = split === -1 ? argv : argv.slice(0, split);
  const trailing = split === -1 ? [] : argv.slice(split + 1);
  const { values, positionals } = parse(args, {
    ...UNPACK_FLAGS,
    tty: { type: "boolean" },
    args: { type: "string" },
    env: { type: "string", multiple: true },
    cwd: { type: "string" },
    user: { type: "string" },
  });
  if (values.help === true) {
    process.stdout.write(BUNDLE_HELP);
    return 0;
  }
  const [image, dir, extra] = positionals;
  if (image === undefined || dir === undefined || extra !== undefined)
    throw new UsageError("bundle takes IMAGE and DIR (put a command after --)");
  const commandArgs = parseArgsFlag(values.args, trailing);
  // What the command line changes in config.json, the same for both kinds of bundle.
  const overrides = {
    ...(values.tty === true ? { tty: true } : {}),
    ...(commandArgs === undefined ? {} : { args: commandArgs }),
    ...(Array.isArray(values.env) ? { env: values.env } : {}),
    ...(typeof values.cwd === "string" ? { cwd: values.cwd } : {}),
    ...(typeof values.user === "string" ? { user: values.user } : {}),
  };
  if (typeof values.store === "string") {
    const store = values.store;
    const stored = await withUnpackFlags(
      values,
      ({ onProgress: _progress, downloads: _downloads, record: _record, ...shared }) =>
        bundleFromStore({
          image,
          dir,
          store,
          ...shared,
          ...overrides,
        }),
    );
    if (values.json === true) process.stdout.write(`${JSON.stringify(stored.config, null, 2)}\n`);
    else if (values.quiet !== true) {
      process.stdout.write(
        `bundle ${dir}: config.json, and rootfs mounted from ` +
          `the store ${stored.mount.store} (writable; strata umount ${dir}/rootfs when done); ` +
          `run it with: runc run -b ${dir} ID\n`,
      );
    }
    for (const w of stored.warnings) process.stderr.write(`warning: ${escapeText(w.detail)}\n`);
    return 0;
  }
  startBlobWorkers();
  const result = await withUnpackFlags(values, (shared) =>
    bundle({
      image,
      dir,
      ...shared,
      ...overrides,
    }),
  );
  if (values.json === true) process.stdout.write(`${JSON.stringify(result.config, null, 2)}\n`);
  else if (values.quiet !== true) {
    const u = result.unpack;
    process.stdout.write(
      `bundle ${dir}: config.json and rootfs (${u.layers} layers, ${u.entries} entries) from ` +
        `${u.image.reference}; run it with: runc run -b ${dir} ID\n`,
    );
    printWarnings(u.warnings);
  }
  for (const w of result.warnings) process.stderr.write(`warning: ${escapeText(w.detail)}\n`);
  return 0;
}

/**
 * The version, and which backend does each job on this machine (and why a faster one is not in
 * use).
 */
function versionReport(): string {
  const b = backends();
  const native = (state: NativeState): string =>
    state.state === "unavailable" ? `unavailable (${state.reason})` : state.state;
  return [
    `strata ${version()} (node ${process.version}, ${process.platform}-${process.arch})`,
    `gzip          ${b.gzip === "isal" ? `ISA-L, ${native(b.isal)}` : `zlib (ISA-L ${native(b.isal)})`}`,
    `zstd          ${b.zstd === "native" ? "native (zstd-napi)" : "JS (fzstd; zstd-napi did not load)"}`,
    `native calls  ${
      b.nativeCalls.state === "unavailable"
        ? `${native(b.nativeCalls)}: xattrs, devices ` + `and fifos are skipped with warnings`
        : `${b.nativeCalls.state} (xattrs, mknod)`
    }`,
    "",
  ].join("\n");
}

/** `os/arch[/variant]` with os.version and os.features when set. */
function platformText(p: DescriptorSummary["platform"]): string {
  if (p === undefined) return "";
  const base = [p.os, p.architecture, p.variant].filter(Boolean).join("/");
  const extra = [
    p.osVersion === undefined ? "" : `os.version=${p.osVersion}`,
    p.osFeatures === undefined ? "" : `os.features=${p.osFeatures.join(",")}`,
  ].filter(Boolean);
  return extra.length === 0 ? base : `${base} (${extra.join(" ")})`;
}

/** Annotations, the spec's pre-defined keys first (in its order), each key in full. */
function annotationLines(annotations: Readonly<Record<string, string>>, indent: string): string[] {
  const keys = Object.keys(annotations);
  if (keys.length === 0) return [];
  const ordered = [
    ...PREDEFINED_ANNOTATIONS.filter((k) => k in annotations),
    ...keys.filter((k) => !PREDEFINED_ANNOTATIONS.includes(k)).sort(),
  ];
  return [`${indent}annotations`, ...ordered.map((k) => `${indent}  ${k}: ${annotations[k]}`)];
}

function descriptorLine(d: DescriptorSummary): string {
  return [
    d.digest,
    d.mediaType ?? "(no mediaType)",
    String(d.size),
    platformText(d.platform),
    d.artifactType === undefined ? "" : `artifactType=${d.artifactType}`,
  ]
    .filter(Boolean)
    .join("  ");
}

function formatSummary(s: ImageSummary): string {
  const lines = [`image      ${s.reference} (${s.transport})`];
  for (const index of s.indexes) {
    lines.push(
      `${index.where === "index.json" ? "index.json" : `index      ${index.where}`}  ` +
        `${index.mediaType ?? "(no mediaType)"}` +
        `${index.artifactType === undefined ? "" : `  artifactType=${index.artifactType}`}`,
    );
    if (index.subject !== undefined) lines.push(`  subject  ${descriptorLine(index.subject)}`);
    lines.push(...annotationLines(index.annotations, "  "));
    lines.push(`  manifests (${index.manifests.length})`);
    for (const m of index.manifests) {
      lines.push(`    ${descriptorLine(m)}`);
      lines.push(...annotationLines(m.annotations, "      "));
    }
  }
  if (s.indexes.length === 0 && s.choices.length > 1) {
    lines.push("manifests");
    for (const c of s.choices)
      lines.push(
        `  ${c.tag ?? "(untagged)"}  ${c.digest || "-"}` +
          `${c.platform === undefined ? "" : `  ${c.platform}`}`,
      );
  }
  const m = s.manifest;
  if (m !== undefined) {
    lines.push(`manifest   ${m.digest}  ${m.mediaType ?? "(no mediaType)"}  ${m.size}`);
    if (m.artifact !== undefined)
      lines.push(`  NOT A CONTAINER IMAGE: ${m.artifact} (strata does not unpack it)`);
    if (m.artifactType !== undefined) lines.push(`  artifactType  ${m.artifactType}`);
    if (m.subject !== undefined) lines.push(`  subject  ${descriptorLine(m.subject)}`);
    lines.push(...annotationLines(m.annotations, "  "));
  }
  const c = s.config;
  lines.push(
    `config     ${c.digest ?? "-"}  ${c.mediaType ?? ""}  ` +
      `${[c.os, c.architecture, c.variant].filter(Boolean).join("/")}`.trimEnd(),
  );
  if (c.created !== undefined) lines.push(`  created    ${c.created}`);
  if (c.author !== undefined) lines.push(`  author     ${c.author}`);
  for (const key of ["User", "WorkingDir", "Entrypoint", "Cmd", "Env"]) {
    const value = c.runtime[key];
    if (value !== undefined) lines.push(`  ${key.padEnd(10)} ${JSON.stringify(value)}`);
  }
  if (c.volumes.length > 0) lines.push(`  Volumes    ${c.volumes.join(", ")}`);
  if (c.exposedPorts.length > 0) lines.push(`  ExposedPorts ${c.exposedPorts.join(", ")}`);
  if (c.stopSignal !== undefined) lines.push(`  StopSignal ${c.stopSignal}`);
  const labels = Object.keys(c.labels).sort();
  if (labels.length > 0) lines.push("  Labels", ...labels.map((k) => `    ${k}=${c.labels[k]}`));
  if (c.history.length > 0) {
    lines.push(
      `  history (${c.history.length} steps, ` +
        `${c.history.filter((h) => h.emptyLayer).length} without a layer)`,
    );
    for (const h of c.history) {
      const made = h.emptyLayer ? "(empty)  " : `layer ${String(h.layer).padEnd(3)}`;
      lines.push(
        `    ${made} ${h.created ?? "-"}  ` +
          `${(h.createdBy ?? h.comment ?? "").replace(/\s+/g, " ").slice(0, 100)}`,
      );
    }
  }
  lines.push(`layers     ${s.layers.length}, ${(s.totalSize / 1e6).toFixed(1)} MB`);
  s.layers.forEach((l, i) => {
    lines.push(
      `  ${String(i).padStart(2)} ${l.digest ?? "(unnamed)"} ${String(l.size).padStart(12)} ` +
        `${l.mediaType ?? "(tar, sniffed)"}`,
    );
    lines.push(...annotationLines(l.annotations, "     "));
  });
  for (const w of s.warnings)
    lines.push(
      `warning    ${w.detail}: accepted, though the ` +
        `image-spec says ${w.rule}` +
        `${w.producers === undefined ? "" : ` (written by ${w.producers})`}`,
    );
  return `${lines.map(escapeText).join("\n")}\n`;
}

async function runInspect(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    json: { type: "boolean" },
    ...REGISTRY_FLAGS,
  });
  if (values.help === true) {
    process.stdout.write(INSPECT_HELP);
    return 0;
  }
  const [image, extra] = positionals;
  if (image === undefined || extra !== undefined) throw new UsageError("inspect takes one IMAGE");
  const summary = await interruptibly((signal) =>
    inspect({ ...imageSource(image, values), signal }),
  );
  process.stdout.write(
    values.json === true ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary),
  );
  return 0;
}

async function runReferrers(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    "artifact-type": { type: "string" },
    json: { type: "boolean" },
    ...REGISTRY_FLAGS,
  });
  if (values.help === true) {
    process.stdout.write(REFERRERS_HELP);
    return 0;
  }
  const [image, extra] = positionals;
  if (image === undefined || extra !== undefined) throw new UsageError("referrers takes one IMAGE");
  const artifactType = values["artifact-type"];
  const found = await interruptibly((signal) =>
    referrers({
      ...imageSource(image, values),
      signal,
      ...(typeof artifactType === "string" ? { artifactType } : {}),
    }),
  );
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return 0;
  }
  const lines = [`subjects   ${found.subjects.join(", ")} (searched: ${found.via})`];
  if (found.referrers.length === 0)
    lines.push(`no referrers${typeof artifactType === "string" ? ` of type ${artifactType}` : ""}`);
  for (const r of found.referrers) {
    lines.push(
      `${r.descriptor.artifactType ?? "(no artifactType)"}  ${r.descriptor.digest}  ` +
        `${r.descriptor.size}  ${r.descriptor.mediaType ?? ""}` +
        `${found.subjects.length > 1 ? `  subject ${r.subject}` : ""}`,
    );
    lines.push(...annotationLines(r.descriptor.annotations, "  "));
  }
  process.stdout.write(`${lines.map(escapeText).join("\n")}\n`);
  for (const warning of found.warnings) process.stderr.write(`warning: ${escapeText(warning)}\n`);
  return 0;
}

const TYPE_CHARS: Record<ListedEntry["kind"], string> = {
  dir: "d",
  file: "-",
  symlink: "l",
  char: "c",
  block: "b",
  fifo: "p",
};

/** `drwxr-xr-x` with setuid, setgid and sticky shown as ls shows them. */
function modeString(kind: ListedEntry["kind"], mode: number): string {
  const bit = (mask: number, char: string): string => (mode & mask ? char : "-");
  const exec = (x: number, special: number, set: string): string =>
    mode & special ? (mode & x ? set : set.toUpperCase()) : mode & x ? "x" : "-";
  return (
    `${TYPE_CHARS[kind]}${bit(0o400, "r")}${bit(0o200, "w")}${exec(0o100, 0o4000, "s")}` +
    `${bit(0o40, "r")}${bit(0o20, "w")}${exec(0o10, 0o2000, "s")}${bit(0o4, "r")}` +
    `${bit(0o2, "w")}${exec(0o1, 0o1000, "t")}`
  );
}

function listingLine(e: ListedEntry): string {
  const time = new Date(e.mtime * 1000).toISOString().slice(0, 16).replace("T", " ");
  const size = e.device ?? String(e.size);
  // Names and targets as the image has them, escaped (a terminal obeys what a name holds); `cat`
  // takes the same spelling.
  const target =
    e.target === undefined
      ? ""
      : ` -> ${escapeName(e.targetBase64 === undefined ? Buffer.from(e.target) : Buffer.from(e.targetBase64, "base64"))}`;
  const name = `/${e.escapedPath}${target}`;
  return (
    `${modeString(e.kind, e.mode)} ${`${e.uid}/${e.gid}`.padEnd(11)} ` +
    `${size.padStart(10)} ${time} ${(e.layer < 0 ? "-" : `L${e.layer}`).padEnd(3)} ${name}`
  );
}

async function runLs(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    recursive: { type: "boolean", short: "R" },
    json: { type: "boolean" },
    ...REGISTRY_FLAGS,
    ...LIMIT_OPTIONS,
  });
  if (values.help === true) {
    process.stdout.write(LS_HELP);
    return 0;
  }
  const [image, path, extra] = positionals;
  if (image === undefined || extra !== undefined)
    throw new UsageError("ls takes IMAGE and an optional PATH");
  const { entries } = await interruptibly((signal) =>
    listing({
      ...imageSource(image, values),
      signal,
      limits: limitsOf(values),
      ...(path === undefined ? {} : { path }),
      ...(values.recursive === true ? { recursive: true } : {}),
    }),
  );
  // Written as the entries are made: a million-entry listing is never held whole.
  await writeOut(
    values.json === true ? jsonArray(entries) : mappedText(entries, (e) => `${listingLine(e)}\n`),
  );
  return 0;
}

function* mappedText<T>(items: Iterable<T>, text: (item: T) => string): Generator<string> {
  for (const item of items) yield text(item);
}

/** `JSON.stringify(items, null, 2)`, an item at a time. */
function* jsonArray(items: Iterable<unknown>): Generator<string> {
  let first = true;
  for (const item of items) {
    yield `${first ? "[\n" : ",\n"}  ${JSON.stringify(item, null, 2).replace(/\n/g, "\n  ")}`;
    first = false;
  }
  yield first ? "[]\n" : "\n]\n";
}

/** Writes `parts` to stdout in pieces of about 64 KiB, waiting whenever the pipe is full. */
async function writeOut(parts: Iterable<string>): Promise<void> {
  let piece = "";
  for (const part of parts) {
    piece += part;
    if (piece.length < 65536) continue;
    if (!process.stdout.write(piece))
      await new Promise((resolve) => process.stdout.once("drain", resolve));
    piece = "";
  }
  if (piece !== "") process.stdout.write(piece);
}

async function runCat(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    ...REGISTRY_FLAGS,
    ...LIMIT_OPTIONS,
  });
  if (values.help === true) {
    process.stdout.write(CAT_HELP);
    return 0;
  }
  const [image, path, extra] = positionals;
  if (image === undefined || path === undefined || extra !== undefined)
    throw new UsageError("cat takes IMAGE and PATH");
  await interruptibly(async (signal) => {
    for await (const chunk of cat({
      ...imageSource(image, values),
      path,
      signal,
      limits: limitsOf(values),
    })) {
      if (!process.stdout.write(chunk))
        await new Promise((resolve) => process.stdout.once("drain", resolve));
    }
  });
  return 0;
}

async function runExport(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    output: { type: "string", short: "o" },
    ...REGISTRY_FLAGS,
    ...LIMIT_OPTIONS,
  });
  if (values.help === true) {
    process.stdout.write(EXPORT_HELP);
    return 0;
  }
  const [image, extra] = positionals;
  const output = values.output;
  if (image === undefined || extra !== undefined) throw new UsageError("export takes one IMAGE");
  if (typeof output !== "string")
    throw new UsageError("say where the tar goes: -o FILE, or -o - for stdout");
  const reads = imageFiles(image);
  refuseStdoutInto(output, reads);
  await interruptibly((signal) =>
    writeTarOutput(
      output,
      exportImage({ ...imageSource(image, values), signal, limits: limitsOf(values) }),
      reads,
    ),
  );
  return 0;
}

async function runSquash(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    compress: { type: "string" },
    json: { type: "boolean" },
    ...REGISTRY_FLAGS,
  });
  if (values.help === true) {
    process.stdout.write(SQUASH_HELP);
    return 0;
  }
  const [image, layout, extra] = positionals;
  if (image === undefined || layout === undefined || extra !== undefined)
    throw new UsageError("squash takes IMAGE and oci:DIR[:TAG]");
  const compress = compressionOf(values);
  const result = await interruptibly((signal) =>
    squash({
      ...imageSource(image, values),
      layout,
      signal,
      ...(compress === undefined ? {} : { compress }),
    }),
  );
  process.stdout.write(
    values.json === true
      ? `${JSON.stringify(result, null, 2)}\n`
      : `squashed ${result.squashed} layers of ${image} into oci:${result.layout}:` +
          `${result.tag} (${result.manifest.digest}): layer ${result.layer.digest}, ` +
          `${(result.layer.size / 1e6).toFixed(1)} MB\n`,
  );
  return 0;
}

/**
 * `path` as the kernel names it, as far as it exists (a file not made yet: its directory's real
 * path and its name).
 */
function realOrPlanned(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(resolve(path));
    return parent === resolve(path) ? parent : join(realOrPlanned(parent), basename(resolve(path)));
  }
}

/** The files and directories an IMAGE argument reads (none for a registry). */
function imageFiles(image: string): string[] {
  try {
    const ref = parseImageReference(image);
    return ref.transport === "docker" ? [] : [ref.path];
  } catch {
    return [];
  }
}

/**
 * Refuses an output that is, or lies inside, something the command reads:
 * the image's own blob would be destroyed (export -o onto it), UPPER's own
 * layer would go into itself (diff -o UPPER/out.tar).
 */
function refuseOutputInside(output: string, reads: readonly string[]): void {
  const target = realOrPlanned(output);
  for (const read of reads) {
    const real = realOrPlanned(read);
    if (target === real || target.startsWith(`${real}/`)) {
      throw new TargetError(
        "STRATA_BAD_DESTINATION",
        `the output ${output} lies inside ${read}, which this command reads`,
        {
          hint:
            "write the tar somewhere else (it would be read while written, or overwrite " +
            "what it is made from)",
        },
      );
    }
  }
}

/** stdout's stats when it is a regular file (redirected into one). */
function stdoutFile(): ReturnType<typeof fstatSync> | undefined {
  try {
    const stats = fstatSync(1);
    return stats.isFile() ? stats : undefined;
  } catch {
    return undefined;
  }
}

/**
 * stdout redirected into a file the command reads (an image's blob): refused before a byte is
 * written.
 */
function refuseStdoutInto(output: string, reads: readonly string[]): void {
  if (output !== "-") return;
  const out = stdoutFile();
  if (out === undefined) return;
  for (const read of reads) {
    const files =
      statSync(read, { throwIfNoEntry: false })?.isDirectory() === true
        ? readdirSync(read, { recursive: true, encoding: "utf8" }).map((name) => join(read, name))
        : [read];
    for (const file of files) {
      const stats = lstatSync(file, { throwIfNoEntry: false });
      if (stats !== undefined && stats.ino === out.ino && stats.dev === out.dev) {
        throw new TargetError(
          "STRATA_BAD_DESTINATION",
          `stdout is ${file}, which this command reads`,
          { hint: "redirect the tar somewhere else" },
        );
      }
    }
  }
}

/**
 * Writes a tar stream to FILE (under a temporary name, renamed when complete) or, for "-", to
 * stdout.
 */
async function writeTarOutput(
  output: string,
  chunks: AsyncIterable<Buffer>,
  reads: readonly string[] = [],
): Promise<void> {
  if (output === "-" && process.stdout.isTTY)
    throw new UsageError("not writing a tar to a terminal: redirect stdout, or give -o FILE");
  if (output !== "-") refuseOutputInside(output, reads);
  const temporary = output === "-" ? undefined : `${output}.strata-${process.pid}.tmp`;
  const sink =
    temporary === undefined ? process.stdout : createWriteStream(temporary, { flags: "wx" });
  try {
    await pipeline(Readable.from(chunks, { objectMode: false }), sink, {
      end: temporary !== undefined,
    });
    if (temporary !== undefined) renameSync(temporary, output);
  } catch (error) {
    if (temporary !== undefined) rmSync(temporary, { force: true });
    throw error;
  }
}

async function runDiff(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    output: { type: "string", short: "o" },
    rootless: { type: "boolean" },
    root: { type: "boolean" },
  });
  if (values.help === true) {
    process.stdout.write(DIFF_HELP);
    return 0;
  }
  const [lower, upper, extra] = positionals;
  if (lower === undefined || upper === undefined || extra !== undefined)
    throw new UsageError("diff takes LOWER and UPPER");
  if (typeof values.output !== "string")
    throw new UsageError("say where the layer goes: -o FILE, or -o - for stdout");
  if (values.rootless === true && values.root === true)
    throw new UsageError("--rootless and --root exclude each other");
  const rootless = values.rootless === true ? true : values.root === true ? false : undefined;
  if (!statSync(upper, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError(`${upper} is not a directory`);
  // LOWER may be an image: unpacked into a private directory first, removed after.
  let lowerDir = lower;
  let scratch: string | undefined;
  if (!statSync(lower, { throwIfNoEntry: false })?.isDirectory()) {
    // Beside UPPER: the same filesystem as the tree it is compared with.
    scratch = mkdtempSync(join(dirname(resolve(upper)), ".strata-diff-"));
    lowerDir = join(scratch, "rootfs");
    await unpack({ image: lower, dest: lowerDir, ...(rootless === undefined ? {} : { rootless }) });
  }
  // stdout redirected into UPPER: that file is left out of the layer, as GNU tar leaves out its
  // archive.
  const out = values.output === "-" ? stdoutFile() : undefined;
  const skip = out === undefined ? undefined : { dev: BigInt(out.dev), ino: BigInt(out.ino) };
  try {
    await writeTarOutput(
      values.output,
      diffTrees({
        lower: lowerDir,
        upper,
        ...(rootless === undefined ? {} : { rootless }),
        ...(skip === undefined ? {} : { skip }),
      }),
      [upper, ...(scratch === undefined ? [lower] : imageFiles(lower))],
    );
  } finally {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  }
  return 0;
}

async function runRepack(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    platform: { type: "string" },
    compress: { type: "string" },
    rootless: { type: "boolean" },
    root: { type: "boolean" },
    "created-by": { type: "string" },
    record: { type: "string" },
    json: { type: "boolean" },
    ...REGISTRY_FLAGS,
  });
  if (values.help === true) {
    process.stdout.write(REPACK_HELP);
    return 0;
  }
  const [image, rootfs, layout, extra] = positionals;
  if (image === undefined || rootfs === undefined || layout === undefined || extra !== undefined)
    throw new UsageError("repack takes IMAGE, ROOTFS and oci:DIR[:TAG]");
  const compress = compressionOf(values);
  if (values.rootless === true && values.root === true)
    throw new UsageError("--rootless and --root exclude each other");
  if (!statSync(rootfs, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError(`${rootfs} is not a directory`);
  const createdBy = values["created-by"];
  const result = await interruptibly((signal) =>
    repack({
      ...imageSource(image, values),
      rootfs,
      layout,
      signal,
      ...(compress === undefined ? {} : { compress }),
      ...(values.rootless === true
        ? { rootless: true }
        : values.root === true
          ? { rootless: false }
          : {}),
      ...(typeof createdBy === "string" ? { createdBy } : {}),
      ...(typeof values.record === "string" ? { record: values.record } : {}),
    }),
  );
  process.stdout.write(
    values.json === true
      ? `${JSON.stringify(result, null, 2)}\n`
      : `repacked ${rootfs} onto ${image} as oci:${result.layout}:${result.tag} (` +
          `${result.manifest.digest}): ${
            result.layer === undefined
              ? "no change, no layer"
              : `layer ${result.layer.digest}, ` + `${(result.layer.size / 1e6).toFixed(1)} MB`
          }\n`,
  );
  return 0;
}

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; help: string }> = {
  unpack: { run: runUnpack, help: UNPACK_HELP },
  inspect: { run: runInspect, help: INSPECT_HELP },
  referrers: { run: runReferrers, help: REFERRERS_HELP },
  ls: { run: runLs, help: LS_HELP },
  cat: { run: runCat, help: CAT_HELP },
  export: { run: runExport, help: EXPORT_HELP },
  squash: { run: runSquash, help: SQUASH_HELP },
  diff: { run: runDiff, help: DIFF_HELP },
  repack: { run: runRepack, help: REPACK_HELP },
  mount: { run: runMount, help: MOUNT_HELP },
  umount: { run: runUmount, help: UMOUNT_HELP },
  store: { run: runStore, help: STORE_HELP },
  bundle: { run: runBundle, help: BUNDLE_HELP },
  pull: { run: runPull, help: PULL_HELP },
};

/** Runs the strata command line; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    // No command is a usage error: help goes to stderr, as with any usage error.
    process.stderr.write(MAIN_HELP);
    return 2;
  }
  if (command === "-h" || command === "--help") {
    process.stdout.write(MAIN_HELP);
    return 0;
  }
  if (command === "--version" || command === "-V") {
    process.stdout.write(versionReport());
    return 0;
  }
  if (command === "help") {
    const topic = rest[0];
    if (topic === undefined) {
      process.stdout.write(MAIN_HELP);
      return 0;
    }
    const help = COMMANDS[topic]?.help;
    if (help === undefined) {
      process.stderr.write(
        `strata: no help for ${JSON.stringify(topic)}: not a command\nRun 'strata --help' for ` +
          `the commands.\n`,
      );
      return 2;
    }
    process.stdout.write(help);
    return 0;
  }
  const handler = COMMANDS[command];
  try {
    if (handler === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    return await handler.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(
        `strata: ${error.message}\nRun 'strata ` +
          `${handler === undefined ? "" : `${command} `}--help' for usage.\n`,
      );
      return 2;
    }
    if (error instanceof StrataError && error.code === "STRATA_ABORTED") {
      process.stderr.write(
        `strata: interrupted${interruptedBy === undefined ? "" : ` (${interruptedBy})`}; nothing was left behind\n`,
      );
      return 128 + SIGNAL_NUMBERS[interruptedBy ?? "SIGINT"];
    }
    if (error instanceof StrataError) {
      // Messages quote what an image holds: escaped like every line strata prints from it.
      process.stderr.write(`strata: ${escapeText(error.message)}\n`);
      if (error.hint !== undefined) process.stderr.write(`  hint: ${escapeText(error.hint)}\n`);
      process.stderr.write(`  code: ${error.code}\n`);
      return 1;
    }
    // Every failure bad input can cause is a StrataError: anything else is a bug in strata.
    process.stderr.write(
      `strata: internal error (a bug ` +
        `in strata ${version()}; please report it with the ` +
        `command that caused it):\n${(error as Error).stack ?? String(error)}\n`,
    );
    return 70;
  }
}
