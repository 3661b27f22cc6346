// The flags several commands share, declared once, and their values read
// into the library's options (a bad value is a usage error).
import type { LayerLimits, RegistryOptions } from "@strata-oci/core";
import { UsageError, type Flag, type FlagSection, type FlagValues } from "./command.js";
import { LIMIT_FLAGS, limitsFromFlags } from "./limits-flags.js";
import { passwordFromStdin, promptPassword } from "./password.js";

export const PLATFORM: Flag = {
  name: "platform",
  kind: "string",
  value: "OS/ARCH[/VARIANT]",
  help: "choose from a multi-platform index (default: this machine's, e.g. linux/amd64)",
};

export const JSON_FLAG: Flag = { name: "json", kind: "boolean", help: "print the result as JSON" };

/** The flags of every command that reads docker:// images (see registryOf). */
export const REGISTRY: readonly Flag[] = [
  {
    name: "creds",
    kind: "string",
    value: "USER[:PASS]",
    help: "registry credentials (docker:// images), for Basic auth or the registry's token server",
  },
  { name: "username", kind: "string", value: "USER", help: "the registry user (with --password)" },
  {
    name: "password",
    kind: "string",
    value: "PASS",
    help: "the registry password (with --username; --creds USER asks for it on the terminal)",
  },
  {
    name: "password-stdin",
    kind: "boolean",
    help:
      "read the password from stdin (with --username or --creds USER; one trailing newline " +
      "dropped)",
  },
  {
    name: "registry-token",
    kind: "string",
    value: "TOKEN",
    help: "a Bearer token to send as it is (no token server asked)",
  },
  {
    name: "no-creds",
    kind: "boolean",
    help: "anonymous access: no credentials, no auth file read",
  },
  {
    name: "authfile",
    kind: "string",
    value: "FILE",
    help:
      "read credentials from FILE only (default: $REGISTRY_AUTH_FILE, containers' auth.json, " +
      "~/.docker/config.json with its credHelpers)",
  },
  {
    name: "cert-dir",
    kind: "string",
    value: "DIR",
    help:
      "trust the CAs DIR/*.crt and present the client certificate DIR/NAME.cert + NAME.key " +
      "(default /etc/containers/certs.d/HOST[:PORT])",
  },
  {
    name: "registries-conf",
    kind: "string",
    value: "FILE",
    help:
      "the registries.conf to follow: mirrors, rewritten locations, insecure and blocked " +
      "registries (default: $CONTAINERS_REGISTRIES_CONF, ~/.config/containers/registries.conf, " +
      "/etc/containers/registries.conf)",
  },
  {
    name: "tls-verify",
    kind: "toggle",
    value: "=false",
    help:
      "=false: accept a registry's certificate unchecked, and plain HTTP (loopback hosts may " +
      "always use HTTP); default true",
  },
];

const LIMIT_HELP: Readonly<Record<string, [string, string]>> = {
  "max-entries": ["N", "entries (default 5000000)"],
  "max-total-bytes": ["SIZE", "bytes of file data (default 256G)"],
  "max-file-size": ["SIZE", "bytes of one file (default 64G)"],
  "max-path-length": ["N", "bytes of one path (default 4096)"],
  "max-depth": ["N", "components of one path (default 256)"],
  "max-header-size": [
    "SIZE",
    "extended (PAX, GNU long-name) headers of one entry together (default 1M)",
  ],
};

/** --max-entries and the other bounds on what a hostile layer may make strata do, under `intro`. */
export function limits(intro: string): FlagSection {
  return {
    title: "Limits",
    intro,
    flags: Object.keys(LIMIT_FLAGS).map((name) => {
      const [value, help] = LIMIT_HELP[name] as [string, string];
      return { name, kind: "string", value, help };
    }),
  };
}

export function limitsOf(values: FlagValues): Partial<LayerLimits> {
  try {
    return limitsFromFlags(values);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The credentials the flags give: --creds USER[:PASS] (asked for), or --username, --password. */
function credentialsOf(
  values: FlagValues,
  prefix: string,
): { username: string; password: string } | undefined {
  const creds = values[`${prefix}creds`];
  const username = values[`${prefix}username`];
  const fromStdin = values[`${prefix}password-stdin`] === true;
  if (fromStdin && values[`${prefix}password`] !== undefined)
    throw new UsageError(`give --${prefix}password or --${prefix}password-stdin, not both`);
  if (fromStdin && typeof creds === "string" && creds.includes(":"))
    throw new UsageError(`--${prefix}password-stdin goes with --${prefix}creds USER, no :PASS`);
  if (fromStdin && creds === undefined && username === undefined)
    throw new UsageError(`--${prefix}password-stdin needs --${prefix}username or --${prefix}creds`);
  const password = fromStdin
    ? passwordFromStdin(`--${prefix}password-stdin`)
    : values[`${prefix}password`];
  if (typeof creds === "string" && fromStdin) {
    if (username !== undefined)
      throw new UsageError(`give --${prefix}creds or --${prefix}username, not both`);
    return { username: creds, password: password as string };
  }
  if (typeof creds === "string") {
    if (username !== undefined || password !== undefined)
      throw new UsageError(
        `give --${prefix}creds, or --${prefix}username and --${prefix}password, not both`,
      );
    const colon = creds.indexOf(":");
    if (colon === 0 || creds === "") throw new UsageError(`--${prefix}creds takes USER[:PASS]`);
    if (colon === -1) return { username: creds, password: promptPassword(creds) };
    return { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
  }
  if (typeof username !== "string" && typeof password !== "string") return undefined;
  if (typeof username !== "string" || typeof password !== "string")
    throw new UsageError(`--${prefix}username and --${prefix}password go together`);
  return { username, password };
}

/**
 * The registry flags (REGISTRY, or those named `PREFIX...`: copy's --dest-*) as the library's
 * RegistryOptions; undefined when none is given.
 */
export function registryOf(values: FlagValues, prefix = ""): RegistryOptions | undefined {
  const value = (name: string): FlagValues[string] => values[`${prefix}${name}`];
  const verify = value("tls-verify");
  const authFile = value("authfile");
  const certDir = value("cert-dir");
  const registriesConf = value("registries-conf");
  const token = value("registry-token");
  const anonymous = value("no-creds") === true;
  const creds = credentialsOf(values, prefix);
  if (anonymous && (creds !== undefined || token !== undefined || authFile !== undefined))
    throw new UsageError(`--${prefix}no-creds goes with no other credentials`);
  if (token !== undefined && creds !== undefined)
    throw new UsageError(`give --${prefix}registry-token or credentials, not both`);
  const options: RegistryOptions = {
    ...(creds === undefined ? {} : { creds }),
    ...(typeof authFile === "string" ? { authFile } : {}),
    ...(typeof certDir === "string" ? { certDir } : {}),
    ...(typeof registriesConf === "string" ? { registriesConf } : {}),
    ...(typeof token === "string" ? { token } : {}),
    ...(anonymous ? { anonymous } : {}),
    ...(verify === false ? { tlsVerify: false } : {}),
  };
  return Object.keys(options).length === 0 ? undefined : options;
}

/** IMAGE and how to reach it: --platform and the registry flags. */
export function imageSource(
  image: string,
  values: FlagValues,
): { image: string; platform?: string; registry?: RegistryOptions } {
  const registry = registryOf(values);
  return {
    image,
    ...(typeof values.platform === "string" ? { platform: values.platform } : {}),
    ...(registry === undefined ? {} : { registry }),
  };
}

export const COMPRESS: Flag = {
  name: "compress",
  kind: "string",
  value: "gzip|zstd|none",
  help: "the new layer's compression (default gzip)",
};

/** --compress gzip|zstd|none. */
export function compressionOf(values: FlagValues): "gzip" | "zstd" | "none" | undefined {
  const compress = values.compress;
  if (compress !== undefined && compress !== "gzip" && compress !== "zstd" && compress !== "none") {
    throw new UsageError("--compress takes gzip, zstd or none");
  }
  return compress;
}

/** The values a command takes as they are (the usage checks are the command's). */
export function text(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}
