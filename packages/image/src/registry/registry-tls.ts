// TLS for a registry: containers-certs.d directories, NODE_EXTRA_CA_CERTS,
// and telling a plain-HTTP server from a broken handshake.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { builtin } from "@strata-oci/layer";
import { ImageError } from "@strata-oci/errors";
import type { SecureContext } from "node:tls";

/** A TLS handshake that met a plain-HTTP server. */
export function isPlainHttpServer(error: NodeJS.ErrnoException): boolean {
  return (
    error.code === "EPROTO" ||
    error.code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    /wrong version number|packet length too long/i.test(error.message)
  );
}

/** TLS options from a containers-certs.d directory: extra CAs, a client certificate. */
export interface TlsFiles {
  readonly ca?: string[];
  readonly cert?: string;
  readonly key?: string;
}

/** Where distributions keep the system's CA bundle (update-ca-certificates writes the first). */
const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/ssl/cert.pem",
];

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The certificates of a PEM bundle, each as it is written. */
const pemCertificates = (bundle: string): string[] =>
  bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/**
 * The CAs trusted besides Node's own: the system's bundle ($SSL_CERT_FILE, as
 * OpenSSL and Go read it, else the distribution's: a CA installed with
 * update-ca-certificates is trusted as skopeo trusts it), and those of
 * NODE_EXTRA_CA_CERTS, trusted here as Node trusts them when it reads the
 * variable at start-up (the strata command starts Node without it: bin/strata
 * says why). An unreadable file is ignored, as Node ignores it. Certificates
 * Node has already are left out (Debian's bundle: 122 of 144).
 */
function systemCaCerts(): string[] {
  const env = process.env;
  const system =
    env.SSL_CERT_FILE !== undefined && env.SSL_CERT_FILE !== ""
      ? readOrUndefined(env.SSL_CERT_FILE)
      : SYSTEM_BUNDLES.map(readOrUndefined).find((bundle) => bundle !== undefined);
  const extra =
    env.NODE_EXTRA_CA_CERTS === undefined || env.NODE_EXTRA_CA_CERTS === ""
      ? undefined
      : readOrUndefined(env.NODE_EXTRA_CA_CERTS);
  const known = new Set(builtin("node:tls").rootCertificates.map((pem) => pem.replace(/\s+/g, "")));
  return [system, extra]
    .flatMap((bundle) => (bundle === undefined ? [] : pemCertificates(bundle)))
    .filter((pem) => !known.has(pem.replace(/\s+/g, "")));
}

const contexts = new Map<string, { secureContext?: SecureContext }>();

/**
 * The TLS context for a registry whose certs.d directories are `dirs`, made once per process.
 * Given `ca` in each request's options, Node made a context per connection: 56 ms each with the
 * system's bundle, 196 ms of the push of a small image.
 */
export function tlsContextFor(dirs: readonly string[]): { secureContext?: SecureContext } {
  const env = process.env;
  const key = JSON.stringify([dirs, env.SSL_CERT_FILE, env.NODE_EXTRA_CA_CERTS]);
  let context = contexts.get(key);
  if (context === undefined) {
    const files = readCertDirs(dirs);
    const cas = [...systemCaCerts(), ...(files.ca ?? [])];
    context =
      cas.length === 0 && files.cert === undefined
        ? {}
        : { secureContext: secureContext(files, cas) };
    contexts.set(key, context);
  }
  return context;
}

/**
 * A context that trusts Node's CAs and `cas`, presenting `files`' client certificate. The CAs are
 * added to the context's copy of Node's store: given as `ca` with Node's 144 roots (as before),
 * every root was parsed from PEM again, 24-39 ms at the start of every registry command, against
 * 5 ms for the 22 that Debian's bundle adds. Where the native handle lacks addCACert (a future
 * Node), as `ca`.
 */
function secureContext(files: TlsFiles, cas: readonly string[]): SecureContext {
  const tls = builtin("node:tls");
  const identity = files.cert === undefined ? {} : { cert: files.cert, key: files.key };
  const made = tls.createSecureContext(identity);
  const native = (made as { context?: { addCACert?: unknown } }).context;
  if (typeof native?.addCACert !== "function")
    return tls.createSecureContext({ ...identity, ca: [...tls.rootCertificates, ...cas] });
  for (const pem of cas) (native.addCACert as (pem: string) => void).call(native, pem);
  return made;
}

export function readCertDirs(dirs: readonly string[]): TlsFiles {
  const cas: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith(".crt")) cas.push(readFileSync(join(dir, name), "utf8"));
      else if (name.endsWith(".cert") && cert === undefined) {
        const keyFile = join(dir, `${name.slice(0, -".cert".length)}.key`);
        if (!existsSync(keyFile)) {
          throw new ImageError(
            "STRATA_REGISTRY_UNREACHABLE",
            `client certificate ${join(dir, name)} has no ${keyFile}`,
            { hint: "put the certificate's key beside it as NAME.key" },
          );
        }
        cert = readFileSync(join(dir, name), "utf8");
        key = readFileSync(keyFile, "utf8");
      }
    }
  }
  return {
    ...(cas.length > 0 ? { ca: cas } : {}),
    ...(cert === undefined ? {} : { cert, key: key as string }),
  };
}
