import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { builtin } from "@strata-oci/layer";
import { ImageError } from "@strata-oci/errors";
import type { DockerReference } from "./docker-reference.js";

export interface Credentials {
  readonly username: string;
  readonly password: string;
  /**
   * An OAuth2 refresh token (`identitytoken` in Docker's config.json): exchanged at the token
   * server instead of the password.
   */
  readonly identityToken?: string;
}

/** Where credentials come from, and the environment they are looked up in. */
export interface AuthLookup {
  /** `--authfile FILE`: the only file read when given. */
  readonly authFile?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** The user whose /run/containers/UID/auth.json is read (default this process's). */
  readonly uid?: number | undefined;
}

const HELPER_TIMEOUT_MS = 30_000;
const MAX_AUTH_FILE = 1 << 20;

/**
 * The files credentials are read from, in the order of containers-auth.json(5)
 * and Docker: --authfile alone when given; else the primary auth.json
 * ($REGISTRY_AUTH_FILE, which replaces it, or $XDG_RUNTIME_DIR/containers/auth.json,
 * or /run/containers/$UID/auth.json where XDG_RUNTIME_DIR is unset: what
 * `skopeo login` writes under sudo, ssh or CI), then
 * ~/.config/containers/auth.json, ~/.docker/config.json ($DOCKER_CONFIG).
 */
export function authFiles(lookup: AuthLookup = {}): string[] {
  if (lookup.authFile !== undefined) return [lookup.authFile];
  const env = lookup.env ?? process.env;
  const home = env.HOME ?? homedir();
  const uid = lookup.uid ?? process.getuid?.() ?? 0;
  const primary = env.REGISTRY_AUTH_FILE
    ? env.REGISTRY_AUTH_FILE
    : env.XDG_RUNTIME_DIR
      ? join(env.XDG_RUNTIME_DIR, "containers", "auth.json")
      : join("/run/containers", String(uid), "auth.json");
  return [
    primary,
    join(env.XDG_CONFIG_HOME || join(home, ".config"), "containers", "auth.json"),
    join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"),
  ];
}

/**
 * The keys an auth file may use for this repository, most specific first (as containers/image looks
 * them up).
 */
function keysFor(ref: DockerReference): string[] {
  const parts = ref.repository.split("/");
  const keys: string[] = [];
  for (let i = parts.length; i >= 1; i--)
    keys.push(`${ref.registry}/${parts.slice(0, i).join("/")}`);
  keys.push(ref.registry);
  if (ref.registry === "docker.io")
    keys.push(
      "index.docker.io",
      "registry-1.docker.io",
      "https://index.docker.io/v1/",
      "https://index.docker.io/v1",
    );
  return keys;
}

/**
 * An `auths` key as written by docker login (`https://host/v1/`) reduced to the host (and path).
 */
function normaliseKey(key: string): string {
  return key
    .replace(/^https?:\/\//, "")
    .replace(/\/v[12]\/?$/, "")
    .replace(/\/$/, "");
}

function unreadable(file: string, detail: string, cause?: unknown): ImageError {
  return new ImageError("STRATA_REGISTRY_DENIED", `cannot use the auth file ${file}: ${detail}`, {
    hint: "fix or remove the file, or give --creds USER:PASS",
    ...(cause === undefined ? {} : { cause }),
  });
}

function readAuthFile(file: string, required: boolean): Record<string, unknown> | undefined {
  let text: string;
  try {
    const data = readFileSync(file);
    if (data.length > MAX_AUTH_FILE) throw unreadable(file, `larger than ${MAX_AUTH_FILE} bytes`);
    text = data.toString("utf8");
  } catch (error) {
    if (error instanceof ImageError) throw error;
    if (!required && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw unreadable(file, (error as NodeJS.ErrnoException).code ?? "unreadable", error);
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw new Error("not an object");
    return json as Record<string, unknown>;
  } catch (cause) {
    throw unreadable(file, "not a JSON object", cause);
  }
}

/** Runs `docker-credential-NAME get` for `server`, as Docker does. */
function fromHelper(name: string, server: string, env: NodeJS.ProcessEnv): Credentials | undefined {
  if (!/^[A-Za-z0-9._-]+$/.test(name))
    throw new ImageError(
      "STRATA_REGISTRY_DENIED",
      `credential helper name ${JSON.stringify(name)} is not valid`,
      { hint: "fix credsStore/credHelpers in the auth file" },
    );
  const run = builtin("node:child_process").spawnSync(`docker-credential-${name}`, ["get"], {
    input: server,
    env,
    encoding: "utf8",
    timeout: HELPER_TIMEOUT_MS,
  });
  // A helper that answers without reading the server name (EPIPE on it) still answered.
  if (run.error !== undefined && (run.error as NodeJS.ErrnoException).code !== "EPIPE") {
    throw new ImageError(
      "STRATA_REGISTRY_DENIED",
      `credential helper docker-credential-${name} did not run: ` +
        `${(run.error as NodeJS.ErrnoException).code ?? run.error.message}`,
      {
        hint: `install docker-credential-${name}, or remove it from the auth file`,
      },
    );
  }
  // Helpers answer "credentials not found in native keychain" with a failure: no credentials, not
  // an error.
  if (run.status !== 0) return undefined;
  try {
    const json = JSON.parse(run.stdout) as { Username?: unknown; Secret?: unknown };
    if (typeof json.Username !== "string" || typeof json.Secret !== "string") return undefined;
    return { username: json.Username, password: json.Secret };
  } catch {
    throw new ImageError(
      "STRATA_REGISTRY_DENIED",
      `credential helper docker-credential-${name} answered something that is not JSON`,
      { hint: "check the helper" },
    );
  }
}

function fromAuthEntry(entry: unknown, file: string): Credentials | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const { auth, username, password, identitytoken } = entry as Record<string, unknown>;
  if (typeof identitytoken === "string" && identitytoken !== "") {
    // docker login writes the user name (often "<token>") in `auth` beside it.
    const user =
      typeof auth === "string"
        ? Buffer.from(auth, "base64").toString("utf8").split(":")[0]
        : undefined;
    return { username: user || "<token>", password: "", identityToken: identitytoken };
  }
  if (typeof auth === "string" && auth !== "") {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw unreadable(file, "an auth entry does not decode to USER:PASS");
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof username === "string" && typeof password === "string") return { username, password };
  return undefined;
}

/**
 * Credentials for `ref` from the auth files users already have (podman and
 * skopeo's auth.json, Docker's config.json with `auths`, `credHelpers` and
 * `credsStore`), or undefined: then the registry is asked anonymously.
 */
export function credentialsFor(
  ref: DockerReference,
  lookup: AuthLookup = {},
): Credentials | undefined {
  const env = lookup.env ?? process.env;
  const keys = keysFor(ref);
  for (const file of authFiles(lookup)) {
    const json = readAuthFile(file, lookup.authFile !== undefined);
    if (json === undefined) continue;
    const helpers = (json.credHelpers ?? {}) as Record<string, unknown>;
    for (const key of keys) {
      const helper = helpers[key];
      if (typeof helper === "string") return fromHelper(helper, key, env);
    }
    const auths = (json.auths ?? {}) as Record<string, unknown>;
    const byKey = new Map(Object.entries(auths).map(([key, value]) => [normaliseKey(key), value]));
    for (const key of keys) {
      const found = fromAuthEntry(byKey.get(normaliseKey(key)), file);
      if (found !== undefined) return found;
    }
    if (typeof json.credsStore === "string") {
      const stored = fromHelper(
        json.credsStore,
        ref.registry === "docker.io" ? "https://index.docker.io/v1/" : ref.registry,
        env,
      );
      if (stored !== undefined) return stored;
    }
  }
  return undefined;
}
