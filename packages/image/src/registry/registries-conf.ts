// registries.conf (containers-registries.conf(5), version 2), as skopeo and
// podman read it: [[registry]] entries matched by the longest prefix of
// HOST/REPOSITORY, each with a location that rewrites the prefix, insecure
// (plain HTTP or any certificate), blocked, and [[registry.mirror]]s tried in
// order before the registry itself (pull-from-mirror: all, digest-only,
// tag-only). Files: --registries-conf FILE (or $CONTAINERS_REGISTRIES_CONF)
// alone, else $HOME/.config/containers/registries.conf if it exists, else
// /etc/containers/registries.conf; then the .conf files of the chosen file's
// registries.conf.d/ in name order, whose entries replace those of the same
// prefix. Pushes go to the registry's location only; mirrors are for pulls.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "smol-toml";
import { ImageError, StrataError } from "@strata-oci/errors";
import { parseDockerReference, type DockerReference } from "./docker-reference.js";

export interface RegistryMirror {
  readonly location: string;
  readonly insecure: boolean;
  readonly pullFromMirror: "all" | "digest-only" | "tag-only";
}

export interface RegistryEntry {
  readonly prefix: string;
  readonly location: string;
  readonly insecure: boolean;
  readonly blocked: boolean;
  readonly mirrorByDigestOnly: boolean;
  readonly mirrors: readonly RegistryMirror[];
}

export interface RegistriesConf {
  /** The files read, in order (for messages). */
  readonly files: readonly string[];
  readonly registries: readonly RegistryEntry[];
}

/** One place to pull from: the reference rewritten for it, and whether it is insecure. */
export interface PullSource {
  readonly ref: DockerReference;
  readonly insecure: boolean;
  /** The mirror's location, or undefined for the registry itself. */
  readonly mirror: string | undefined;
}

function badConf(file: string, detail: string, cause?: unknown): StrataError {
  return new StrataError("STRATA_BAD_OPTION", `${file}: ${detail}`, {
    hint:
      "fix the file (containers-registries.conf(5), version 2), or name another with " +
      "--registries-conf",
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The main file to read: the one named, else the user's, else the system's (may not exist). */
function mainFile(named: string | undefined): { file: string; required: boolean } {
  const chosen = named ?? process.env.CONTAINERS_REGISTRIES_CONF;
  if (chosen !== undefined && chosen !== "") return { file: chosen, required: true };
  const user = join(homedir(), ".config", "containers", "registries.conf");
  return { file: existsSync(user) ? user : "/etc/containers/registries.conf", required: false };
}

const asBool = (value: unknown, file: string, what: string): boolean => {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw badConf(file, `${what} is not true or false`);
  return value;
};

const asText = (value: unknown, file: string, what: string): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw badConf(file, `${what} is not a string`);
  return value;
};

function parseMirror(value: unknown, file: string, where: string): RegistryMirror {
  if (typeof value !== "object" || value === null) throw badConf(file, `${where} is not a table`);
  const raw = value as Record<string, unknown>;
  const location = asText(raw.location, file, `${where}.location`);
  if (location === undefined || location === "") throw badConf(file, `${where} has no location`);
  const pull = asText(raw["pull-from-mirror"], file, `${where}.pull-from-mirror`) ?? "all";
  if (pull !== "all" && pull !== "digest-only" && pull !== "tag-only")
    throw badConf(file, `${where}.pull-from-mirror is all, digest-only or tag-only`);
  return {
    location,
    insecure: asBool(raw.insecure, file, `${where}.insecure`),
    pullFromMirror: pull,
  };
}

function parseEntry(value: unknown, file: string, index: number): RegistryEntry {
  const where = `[[registry]] #${index + 1}`;
  if (typeof value !== "object" || value === null) throw badConf(file, `${where} is not a table`);
  const raw = value as Record<string, unknown>;
  const location = asText(raw.location, file, `${where}.location`) ?? "";
  const prefix = asText(raw.prefix, file, `${where}.prefix`) ?? location;
  if (prefix === "") throw badConf(file, `${where} has neither prefix nor location`);
  if (prefix.startsWith("*.") && location !== "")
    throw badConf(file, `${where}: a wildcard prefix (${prefix}) cannot have a location`);
  const mirrors = raw.mirror === undefined ? [] : raw.mirror;
  if (!Array.isArray(mirrors)) throw badConf(file, `${where}.mirror is not a list of tables`);
  return {
    prefix,
    location: location === "" ? prefix : location,
    insecure: asBool(raw.insecure, file, `${where}.insecure`),
    blocked: asBool(raw.blocked, file, `${where}.blocked`),
    mirrorByDigestOnly: asBool(
      raw["mirror-by-digest-only"],
      file,
      `${where}.mirror-by-digest-only`,
    ),
    mirrors: mirrors.map((m, i) => parseMirror(m, file, `${where}.mirror #${i + 1}`)),
  };
}

function readEntries(file: string): RegistryEntry[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw badConf(
      file,
      `cannot be read as TOML: ${(cause as Error).message.split("\n")[0]}`,
      cause,
    );
  }
  if (doc.registry === undefined) return [];
  if (!Array.isArray(doc.registry)) throw badConf(file, "registry is not a list of [[registry]]");
  return doc.registry.map((entry, i) => parseEntry(entry, file, i));
}

/** The registries.conf in effect: the main file and its drop-ins. */
export function loadRegistriesConf(named?: string): RegistriesConf {
  const { file, required } = mainFile(named);
  const files: string[] = [];
  const byPrefix = new Map<string, RegistryEntry>();
  if (existsSync(file)) {
    files.push(file);
    for (const entry of readEntries(file)) byPrefix.set(entry.prefix, entry);
  } else if (required) throw badConf(file, "does not exist");
  const dropIns = join(dirname(file), "registries.conf.d");
  if (existsSync(dropIns))
    for (const name of readdirSync(dropIns)
      .filter((n) => n.endsWith(".conf"))
      .sort()) {
      files.push(join(dropIns, name));
      for (const entry of readEntries(join(dropIns, name))) byPrefix.set(entry.prefix, entry);
    }
  return { files, registries: [...byPrefix.values()] };
}

/** How well `prefix` matches `name` (HOST/REPOSITORY): its length, or -1. */
function matchLength(prefix: string, name: string): number {
  if (prefix.startsWith("*.")) {
    const host = name.split("/")[0] ?? "";
    return host.endsWith(prefix.slice(1)) ? prefix.length : -1;
  }
  if (name === prefix) return prefix.length;
  return name.startsWith(prefix) && /^[/:@]/.test(name.slice(prefix.length)) ? prefix.length : -1;
}

/** The entry for `ref`: the longest matching prefix. */
export function registryEntryFor(
  conf: RegistriesConf,
  ref: DockerReference,
): RegistryEntry | undefined {
  const name = `${ref.registry}/${ref.repository}`;
  let best: { entry: RegistryEntry; length: number } | undefined;
  for (const entry of conf.registries) {
    const length = matchLength(entry.prefix, name);
    if (length >= 0 && length > (best?.length ?? -1)) best = { entry, length };
  }
  return best?.entry;
}

/** `ref` with the matched `prefix` of its name replaced by `location`. */
function rewritten(ref: DockerReference, prefix: string, location: string): DockerReference {
  // A wildcard entry has no location of its own: the host matched stays.
  if (location.startsWith("*.")) return ref;
  const name = `${ref.registry}/${ref.repository}`;
  // A wildcard prefix matched the host alone: only the host is replaced.
  const rest = prefix.startsWith("*.")
    ? name.slice(ref.registry.length)
    : name.slice(prefix.length);
  const text =
    `//${location}${rest}` +
    `${ref.tag === undefined ? "" : `:${ref.tag}`}` +
    `${ref.digest === undefined ? "" : `@${ref.digest}`}`;
  return parseDockerReference(text);
}

function blocked(ref: DockerReference, entry: RegistryEntry, conf: RegistriesConf): ImageError {
  return new ImageError(
    "STRATA_REGISTRY_DENIED",
    `${ref.registry}/${ref.repository} is blocked by registries.conf (prefix ${entry.prefix})`,
    { hint: `see ${conf.files.join(", ")}` },
  );
}

/**
 * Where to pull `ref` from, in order: the mirrors that serve it (by pull-from-mirror and
 * mirror-by-digest-only), then the registry's location. Blocked: STRATA_REGISTRY_DENIED.
 */
export function pullSources(conf: RegistriesConf, ref: DockerReference): PullSource[] {
  const entry = registryEntryFor(conf, ref);
  if (entry === undefined) return [{ ref, insecure: false, mirror: undefined }];
  if (entry.blocked) throw blocked(ref, entry, conf);
  const byDigest = ref.digest !== undefined;
  const mirrors = entry.mirrors.filter((mirror) => {
    const only = entry.mirrorByDigestOnly ? "digest-only" : mirror.pullFromMirror;
    return only === "all" || (only === "digest-only") === byDigest;
  });
  return [
    ...mirrors.map((mirror) => ({
      ref: rewritten(ref, entry.prefix, mirror.location),
      insecure: mirror.insecure,
      mirror: mirror.location,
    })),
    {
      ref: rewritten(ref, entry.prefix, entry.location),
      insecure: entry.insecure,
      mirror: undefined,
    },
  ];
}

/** Where a push of `ref` goes: the registry's location (never a mirror). */
export function pushTarget(conf: RegistriesConf, ref: DockerReference): PullSource {
  const entry = registryEntryFor(conf, ref);
  if (entry === undefined) return { ref, insecure: false, mirror: undefined };
  if (entry.blocked) throw blocked(ref, entry, conf);
  return {
    ref: rewritten(ref, entry.prefix, entry.location),
    insecure: entry.insecure,
    mirror: undefined,
  };
}
