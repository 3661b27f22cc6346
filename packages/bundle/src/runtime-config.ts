import type { ImageConfig } from "@strata-oci/image";
import { BundleError } from "./errors.js";
import type { AccountFiles } from "./user-spec.js";
import { resolveUser, type ResolvedUser } from "./user-spec.js";
import {
  DEFAULT_PATH,
  defaultCapabilities,
  defaultMounts,
  defaultNamespaces,
  MASKED_PATHS,
  READONLY_PATHS,
  volumeMount,
  type Mount,
} from "./runtime-defaults.js";

export interface RuntimeOverrides {
  /** Replaces Entrypoint + Cmd. */
  readonly args?: readonly string[] | undefined;
  /** `K=V`: replaces the image's K or adds it. */
  readonly env?: readonly string[] | undefined;
  /** Replaces WorkingDir. */
  readonly cwd?: string | undefined;
  /** Replaces User (same forms). */
  readonly user?: string | undefined;
  /** Allocate a terminal (`terminal: true`, TERM added when unset). Default false. */
  readonly tty?: boolean | undefined;
  /**
   * Rootless: a user namespace mapping the host ids below to root, no network namespace, no cgroup
   * mount.
   */
  readonly rootless?: { readonly hostUid: number; readonly hostGid: number };
  /**
   * Told when the config cannot do exactly what the image asks (a rootless bundle runs a non-root
   * image user as root).
   */
  readonly onWarning?: ((warning: BundleWarning) => void) | undefined;
  /** Default "strata". */
  readonly hostname?: string | undefined;
}

/** An id mapping of a user namespace (runtime-spec `linux.uidMappings`). */
export interface IdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

/** The runtime-spec config.json fields strata writes (a subset of the runtime-spec's `Spec`). */
export interface RuntimeConfig {
  readonly ociVersion: string;
  readonly process: {
    readonly terminal: boolean;
    readonly user: {
      readonly uid: number;
      readonly gid: number;
      readonly additionalGids?: readonly number[];
    };
    readonly args: readonly string[];
    readonly env: readonly string[];
    readonly cwd: string;
    readonly capabilities: Readonly<
      Record<"bounding" | "effective" | "permitted" | "ambient", readonly string[]>
    >;
    readonly rlimits: readonly {
      readonly type: string;
      readonly hard: number;
      readonly soft: number;
    }[];
    readonly noNewPrivileges: boolean;
  };
  readonly root: { readonly path: string };
  readonly hostname: string;
  readonly mounts: readonly Mount[];
  readonly annotations: Readonly<Record<string, string>>;
  readonly linux: {
    readonly resources?: {
      readonly devices: readonly { readonly allow: boolean; readonly access: string }[];
    };
    readonly uidMappings?: readonly IdMapping[];
    readonly gidMappings?: readonly IdMapping[];
    readonly namespaces: readonly { readonly type: string }[];
    readonly maskedPaths: readonly string[];
    readonly readonlyPaths: readonly string[];
  };
}

/** What a bundle does differently from what the image asks. */
export interface BundleWarning {
  readonly kind: "rootless-user";
  readonly detail: string;
}

/**
 * The process user of a rootless bundle. Without privilege only one id can be
 * mapped (the caller's), and runc needs container root mapped (it refuses a
 * namespace without it), so the process runs as root in the namespace, which
 * is the caller on the host. An image user other than root becomes root with
 * a warning; an explicit --user other than root is refused.
 */
function rootlessUser(
  user: ResolvedUser,
  spec: string,
  explicit: boolean,
  onWarning: RuntimeOverrides["onWarning"],
): ResolvedUser {
  if (user.uid === 0 && user.gid === 0 && user.additionalGids.length === 0) return user;
  const asked =
    `${JSON.stringify(spec)} (uid ${user.uid}, gid ${user.gid}` +
    `${user.additionalGids.length > 0 ? `, groups ${user.additionalGids.join(",")}` : ""})`;
  if (explicit) {
    throw new BundleError(
      "STRATA_BAD_RUNTIME_CONFIG",
      `a rootless bundle cannot run ` +
        `as --user ${asked}: without privilege only your own uid ` +
        `can be mapped, and runc needs it mapped to root`,
      {
        hint:
          "leave out --user (the process runs as root in its user namespace, which is you " +
          "on the host), or run strata bundle as root",
      },
    );
  }
  onWarning?.({
    kind: "rootless-user",
    detail:
      `the image runs as ${asked}; a rootless bundle maps only your uid, to root, so ` +
      `the process runs as root in its user namespace (you on the host); run strata bundle as ` +
      `root to keep the image's user`,
  });
  return { ...user, uid: 0, gid: 0, additionalGids: [] };
}

function strings(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
    throw new BundleError(
      "STRATA_BAD_RUNTIME_CONFIG",
      `image config ${what} is not a list of strings`,
    );
  return value;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function keys(value: unknown): string[] {
  return value !== null && typeof value === "object" ? Object.keys(value).sort() : [];
}

function envKey(entry: string): string {
  const eq = entry.indexOf("=");
  return eq === -1 ? entry : entry.slice(0, eq);
}

/**
 * The image's Env, unchanged, then what the user overrides, then what a runtime needs and the image
 * lacks.
 */
function environment(
  image: readonly string[],
  overrides: readonly string[],
  home: string | undefined,
  tty: boolean,
): string[] {
  const env = [...image];
  for (const entry of overrides) {
    if (!entry.includes("="))
      throw new BundleError(
        "STRATA_BAD_RUNTIME_CONFIG",
        `--env ${JSON.stringify(entry)} is not K=V`,
      );
    const at = env.findIndex((e) => envKey(e) === envKey(entry));
    if (at === -1) env.push(entry);
    else env[at] = entry;
  }
  const has = (key: string): boolean => env.some((e) => envKey(e) === key);
  if (!has("PATH")) env.push(`PATH=${DEFAULT_PATH}`);
  if (!has("HOME") && home !== undefined && home !== "") env.push(`HOME=${home}`);
  if (tty && !has("TERM")) env.push("TERM=xterm");
  return env;
}

/** Annotations from the image config (conversion.md), then every Label; Labels win a conflict. */
function annotations(config: ImageConfig): Record<string, string> {
  const raw = config.raw;
  const runtime = config.runtime;
  const out: Record<string, string> = {};
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined) out[`org.opencontainers.image.${key}`] = value;
  };
  set("os", text(raw.os));
  set("architecture", text(raw.architecture));
  set("variant", text(raw.variant));
  set("os.version", text(raw["os.version"]));
  const features = raw["os.features"];
  if (Array.isArray(features) && features.length > 0) set("os.features", features.join(","));
  set("author", text(raw.author));
  set("created", text(raw.created));
  set("stopSignal", text(runtime.StopSignal));
  const ports = keys(runtime.ExposedPorts);
  if (ports.length > 0) set("exposedPorts", ports.join(","));
  const labels = runtime.Labels;
  if (labels !== null && typeof labels === "object") {
    for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  }
  return out;
}

/**
 * The OCI runtime config (config.json) for an image, following the
 * image-spec's conversion rules and `runc spec`'s defaults. `accounts` are
 * the image's own /etc/passwd and /etc/group, read inside its rootfs.
 */
export function runtimeConfig(
  config: ImageConfig,
  accounts: AccountFiles,
  overrides: RuntimeOverrides = {},
): RuntimeConfig {
  const runtime = config.runtime;
  const args = overrides.args ?? [
    ...strings(runtime.Entrypoint, "Entrypoint"),
    ...strings(runtime.Cmd, "Cmd"),
  ];
  if (args.length === 0)
    throw new BundleError("STRATA_BAD_RUNTIME_CONFIG", "the image has no Entrypoint or Cmd", {
      hint: "name the command with --args",
    });
  const cwd = overrides.cwd ?? text(runtime.WorkingDir) ?? "/";
  if (!cwd.startsWith("/"))
    throw new BundleError(
      "STRATA_BAD_RUNTIME_CONFIG",
      `working directory ${JSON.stringify(cwd)} is not absolute`,
    );
  const userSpec = overrides.user ?? (typeof runtime.User === "string" ? runtime.User : "");
  const rootless = overrides.rootless;
  const resolved = resolveUser(userSpec, accounts);
  const user =
    rootless === undefined
      ? resolved
      : rootlessUser(resolved, userSpec, overrides.user !== undefined, overrides.onWarning);
  const tty = overrides.tty ?? false;
  const volumes = keys(runtime.Volumes);
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: tty,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids.length > 0 ? { additionalGids: [...user.additionalGids] } : {}),
      },
      args,
      env: environment(strings(runtime.Env, "Env"), overrides.env ?? [], user.home, tty),
      cwd,
      capabilities: defaultCapabilities(),
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs" },
    hostname: overrides.hostname ?? "strata",
    mounts: [...defaultMounts(rootless !== undefined), ...volumes.map(volumeMount)],
    annotations: annotations(config),
    linux: {
      ...(rootless === undefined
        ? { resources: { devices: [{ allow: false, access: "rwm" }] } }
        : {
            uidMappings: [{ containerID: 0, hostID: rootless.hostUid, size: 1 }],
            gidMappings: [{ containerID: 0, hostID: rootless.hostGid, size: 1 }],
          }),
      namespaces: defaultNamespaces(rootless !== undefined),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}
