// The flags several commands share, declared once, and their values read
// into the library's options (a bad value is a usage error).
import type { LayerLimits, RegistryOptions } from "@strata-oci/core";
import { UsageError, type Flag, type FlagSection, type FlagValues } from "./command.js";
import { LIMIT_FLAGS, limitsFromFlags } from "./limits-flags.js";

export const PLATFORM: Flag = {
  name: "platform",
  kind: "string",
  value: "OS/ARCH[/VARIANT]",
  help: "choose from a multi-platform index (default: this machine's, e.g. linux/amd64)",
};

export const JSON_FLAG: Flag = { name: "json", kind: "boolean", help: "print the result as JSON" };
export const QUIET: Flag = { name: "quiet", kind: "boolean", help: "print nothing on success" };

/** The flags of every command that reads docker:// images (see registryOf). */
export const REGISTRY: readonly Flag[] = [
  {
    name: "creds",
    kind: "string",
    value: "USER:PASS",
    help: "registry credentials (docker:// images), for Basic auth or the registry's token server",
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

/** --creds USER:PASS, --authfile FILE, --cert-dir DIR and --tls-verify=true|false. */
export function registryOf(values: FlagValues): RegistryOptions | undefined {
  const verify = values["tls-verify"];
  const { creds, authfile: authFile } = values;
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
    ...(verify === false ? { tlsVerify: false } : {}),
  };
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
