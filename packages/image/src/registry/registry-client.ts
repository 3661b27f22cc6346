import { createHash } from "node:crypto";
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { builtin, LimitExceededError, parseDigest } from "@strata-oci/layer";
import { AbortedError, ImageError, StrataError, type ErrorContext } from "@strata-oci/errors";
import { credentialsFor, type Credentials } from "./auth-files.js";
import { isLoopbackHost, type DockerReference } from "./docker-reference.js";

/** How to reach and authenticate to a registry. */
export interface RegistryOptions {
  /**
   * Credentials for Basic auth, and for the token server of Bearer auth; without them, the auth
   * files are read.
   */
  readonly creds?: Credentials;
  /**
   * `--authfile`: the one auth file to read (else $REGISTRY_AUTH_FILE, containers' auth.json,
   * ~/.docker/config.json).
   */
  readonly authFile?: string;
  /**
   * false: accept any certificate (and plain HTTP). Default true; loopback hosts may always use
   * plain HTTP.
   */
  readonly tlsVerify?: boolean;
  /** Milliseconds a connection may take to open, or a response to stay silent. Default 30 s. */
  readonly timeoutMs?: number;
  /**
   * containers-certs.d layout for this registry: `*.crt` CAs trusted besides
   * the system's, `NAME.cert` + `NAME.key` a client certificate. Default
   * /etc/containers/certs.d/HOST[:PORT] and /etc/docker/certs.d/HOST[:PORT]
   * where they exist.
   */
  readonly certDir?: string;
  /**
   * Tries per request for 429, 5xx and broken connections (default 5), and the first backoff
   * (default 500 ms; doubles).
   */
  readonly retry?: { readonly attempts?: number; readonly delayMs?: number };
  /**
   * Ends every wait at once (connecting, a response, a body, a Retry-After) with STRATA_ABORTED.
   */
  readonly signal?: AbortSignal;
}

/** A response whose status was 2xx, with its body unread. */
export type RegistryResponse = IncomingMessage;

const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE = 1 << 20;

function registryError(
  code: "STRATA_REGISTRY_UNREACHABLE" | "STRATA_REGISTRY_DENIED" | "STRATA_REGISTRY_ERROR",
  detail: string,
  hint: string,
  cause?: unknown,
  context: ErrorContext = {},
): ImageError {
  return new ImageError(code, detail, { hint, context, ...(cause === undefined ? {} : { cause }) });
}

/** A wait that `signal` ends at once (a Retry-After of an hour must not outlast Ctrl-C). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new AbortedError(signal.reason));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A token is sent back in a header: visible ASCII only (RFC 6750's b64token and every real token
 * fit).
 */
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * A small document (manifest, config, token) must arrive whole within this many response timeouts:
 * a trickle is not an answer.
 */
const WHOLE_BODY_TIMEOUTS = 10;

/** The Authorization header of Basic auth, for the registry or its token server. */
function basicAuthorization(creds: Credentials): OutgoingHttpHeaders {
  return {
    authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`,
  };
}

/**
 * A connection that broke or timed out: worth another try. A refused one, a bad certificate or an
 * abort is not.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof StrataError) return false;
  const code =
    (error as { cause?: NodeJS.ErrnoException }).cause?.code ??
    (error as NodeJS.ErrnoException).code;
  const message = String((error as Error).message ?? "");
  return (
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    code === "ETIMEDOUT" ||
    code === "ECONNABORTED" ||
    code === "EAI_AGAIN" ||
    /stopped sending|no answer from|socket hang up|aborted/.test(message)
  );
}

/**
 * Reads a response body whole, refusing one longer than `max` bytes or one
 * that takes longer than `deadlineMs` to arrive (a body trickled a byte at a
 * time never trips the silence timeout).
 */
export async function readBody(
  response: IncomingMessage,
  max: number,
  what: string,
  deadlineMs = WHOLE_BODY_TIMEOUTS * 30_000,
): Promise<Buffer> {
  const declared = Number(response.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) {
    response.destroy();
    throw new LimitExceededError("maxJsonSize", declared, max, { blob: what });
  }
  const deadline = setTimeout(() => {
    response.destroy(
      new ImageError(
        "STRATA_REGISTRY_UNREACHABLE",
        `${what} did not arrive whole within ${deadlineMs / 1000} s`,
        {
          hint: "the registry trickles its answer; try again, or another registry",
          context: { blob: what },
        },
      ),
    );
  }, deadlineMs);
  const parts: Buffer[] = [];
  let length = 0;
  try {
    for await (const part of response) {
      length += (part as Buffer).length;
      if (length > max) {
        response.destroy();
        throw new LimitExceededError("maxJsonSize", length, max, { blob: what });
      }
      parts.push(part as Buffer);
    }
  } finally {
    clearTimeout(deadline);
  }
  return Buffer.concat(parts);
}

/** `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`. */
function parseChallenge(header: string): { scheme: string; params: Map<string, string> } {
  const space = header.indexOf(" ");
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const params = new Map<string, string>();
  for (const [, key, quoted, bare] of header
    .slice(space + 1)
    .matchAll(/([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params.set((key as string).toLowerCase(), quoted?.replace(/\\(.)/g, "$1") ?? bare ?? "");
  }
  return { scheme, params };
}

/**
 * The distribution API of one repository: anonymous, Basic or Bearer token
 * auth (one token per scope, asked for again on a 401), redirects followed
 * with the Authorization header dropped when the host changes (blob storage
 * behind a redirect must not see the registry's credentials), timeouts on
 * connecting and on silent responses. Credentials never appear in errors.
 */
export class RegistryClient {
  readonly #ref: DockerReference;
  readonly #options: RegistryOptions;
  #base: URL;
  readonly #tokens = new Map<string, string>();
  #scheme: "basic" | "bearer" | undefined;
  #creds: Credentials | undefined | null = null;
  #challenge: Map<string, string> | undefined;

  constructor(ref: DockerReference, options: RegistryOptions = {}) {
    this.#ref = ref;
    this.#options = options;
    // HTTPS first, always; plain HTTP only where the server does not speak TLS
    // and HTTP is allowed (loopback, or --tls-verify=false), as containerd does.
    this.#base = new URL(`https://${ref.apiHost}/v2/`);
  }

  /**
   * --creds, else the auth files, looked up once and only when the registry asks for
   * authentication.
   */
  get #credentials(): Credentials | undefined {
    if (this.#creds === null) {
      this.#creds =
        this.#options.creds ??
        credentialsFor(
          this.#ref,
          this.#options.authFile === undefined ? {} : { authFile: this.#options.authFile },
        );
    }
    return this.#creds;
  }

  get repository(): string {
    return this.#ref.repository;
  }

  /** How long a small document (manifest, config, token) may take to arrive whole. */
  get wholeBodyMs(): number {
    return WHOLE_BODY_TIMEOUTS * (this.#options.timeoutMs ?? 30_000);
  }

  get #scope(): string {
    return `repository:${this.#ref.repository}:pull`;
  }

  /**
   * GET `path` (below /v2/): the 2xx response, after auth, redirects and
   * retries (429, 5xx and broken connections, with backoff, honouring
   * Retry-After); 404 is undefined.
   */
  async get(
    path: string,
    headers: OutgoingHttpHeaders = {},
    context: ErrorContext = {},
  ): Promise<RegistryResponse | undefined> {
    const url = new URL(path, this.#base);
    let authenticated = false;
    for (let attempt = 1; ; attempt++) {
      let response: IncomingMessage;
      try {
        response = await this.#follow(url, { ...headers, ...this.#authorization() }, context);
      } catch (error) {
        if (!isTransient(error) || attempt >= this.#attempts) throw error;
        await sleep(this.#backoff(attempt, undefined), this.#options.signal);
        continue;
      }
      const status = response.statusCode ?? 0;
      if (status === 401 && !authenticated) {
        response.resume();
        authenticated = true;
        await this.#authenticate(response.headers["www-authenticate"], context);
        attempt--;
        continue;
      }
      if (status >= 200 && status < 300) return response;
      response.resume();
      if (status === 404) return undefined;
      if (status === 401 || status === 403) {
        throw registryError(
          "STRATA_REGISTRY_DENIED",
          `${this.#ref.registry} refused access to ${this.#ref.repository} (HTTP ${status})`,
          "give credentials that may pull it (--creds USER:PASS or an auth file), or " +
            "check the name",
          undefined,
          context,
        );
      }
      if ((status === 429 || status >= 500) && attempt < this.#attempts) {
        await sleep(this.#backoff(attempt, response.headers["retry-after"]), this.#options.signal);
        continue;
      }
      throw registryError(
        "STRATA_REGISTRY_ERROR",
        `${this.#ref.registry} answered HTTP ${status} for ${url.pathname}` +
          `${attempt > 1 ? ` (${attempt} attempts)` : ""}`,
        "the registry failed; try again later",
        undefined,
        context,
      );
    }
  }

  get #attempts(): number {
    return this.#options.retry?.attempts ?? 5;
  }

  /**
   * Exponential backoff from `retry.delayMs` (default 500 ms), or the server's Retry-After (seconds
   * or a date), capped at 60 s.
   */
  #backoff(attempt: number, retryAfter: string | undefined): number {
    const base = this.#options.retry?.delayMs ?? 500;
    let wait = base * 2 ** (attempt - 1);
    if (retryAfter !== undefined) {
      const seconds = /^\d+$/.test(retryAfter.trim())
        ? Number(retryAfter)
        : (Date.parse(retryAfter) - Date.now()) / 1000;
      if (Number.isFinite(seconds)) wait = Math.max(0, seconds * 1000);
    }
    return Math.min(wait, 60_000);
  }

  #authorization(): OutgoingHttpHeaders {
    if (this.#scheme === "bearer") {
      const token = this.#tokens.get(this.#scope);
      return token === undefined ? {} : { authorization: `Bearer ${token}` };
    }
    const creds = this.#creds ?? undefined;
    if (this.#scheme === "basic" && creds !== undefined) {
      return basicAuthorization(creds);
    }
    return {};
  }

  async #authenticate(header: string | string[] | undefined, context: ErrorContext): Promise<void> {
    const text = Array.isArray(header) ? header[0] : header;
    const denied = (detail: string): ImageError =>
      registryError(
        "STRATA_REGISTRY_DENIED",
        `${this.#ref.registry} asks for authentication (${detail})`,
        "give credentials with --creds USER:PASS or an auth file",
        undefined,
        context,
      );
    if (text === undefined) throw denied("no WWW-Authenticate challenge");
    const { scheme, params } = parseChallenge(text);
    if (scheme === "basic") {
      if (this.#credentials === undefined) throw denied("Basic");
      this.#scheme = "basic";
      return;
    }
    if (scheme !== "bearer") throw denied(`unsupported scheme ${JSON.stringify(scheme)}`);
    this.#scheme = "bearer";
    this.#challenge = params;
    this.#tokens.delete(this.#scope);
    this.#tokens.set(this.#scope, await this.#fetchToken(context));
  }

  async #fetchToken(context: ErrorContext): Promise<string> {
    const realm = this.#challenge?.get("realm");
    if (realm === undefined)
      throw registryError(
        "STRATA_REGISTRY_ERROR",
        `${this.#ref.registry}'s Bearer challenge names no realm`,
        "the registry is misconfigured",
        undefined,
        context,
      );
    let url: URL;
    try {
      url = new URL(realm);
    } catch (cause) {
      throw registryError(
        "STRATA_REGISTRY_ERROR",
        `${this.#ref.registry}'s token realm is not a URL`,
        "the registry is misconfigured",
        cause,
        context,
      );
    }
    const service = this.#challenge?.get("service");
    const creds = this.#credentials;
    let response: IncomingMessage;
    if (creds?.identityToken !== undefined) {
      // OAuth2: the refresh token Docker keeps as `identitytoken`, exchanged by POST (as docker
      // does).
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: creds.identityToken,
        client_id: "strata",
        scope: this.#scope,
        ...(service === undefined ? {} : { service }),
      });
      response = await this.#request(
        url,
        { "content-type": "application/x-www-form-urlencoded" },
        context,
        Buffer.from(form.toString()),
      );
    } else {
      if (service !== undefined) url.searchParams.set("service", service);
      url.searchParams.set("scope", this.#scope);
      const headers: OutgoingHttpHeaders = creds === undefined ? {} : basicAuthorization(creds);
      response = await this.#follow(url, headers, context);
    }
    const status = response.statusCode ?? 0;
    if (status === 401 || status === 403) {
      response.resume();
      throw registryError(
        "STRATA_REGISTRY_DENIED",
        `the token server of ${this.#ref.registry} refused ` +
          `${creds === undefined ? "anonymous access" : "the credentials"} to ` +
          `${this.#ref.repository}`,
        "check the credentials (--creds USER:PASS)",
        undefined,
        context,
      );
    }
    if (status < 200 || status >= 300) {
      response.resume();
      throw registryError(
        "STRATA_REGISTRY_ERROR",
        `the token server of ${this.#ref.registry} answered HTTP ${status}`,
        "try again later",
        undefined,
        context,
      );
    }
    const body = await readBody(response, MAX_TOKEN_RESPONSE, "token response", this.wholeBodyMs);
    let token: unknown;
    try {
      const json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      token = json.token ?? json.access_token;
    } catch (cause) {
      throw registryError(
        "STRATA_REGISTRY_ERROR",
        `the token server of ${this.#ref.registry} sent something that is not JSON`,
        "the registry's token server is broken",
        cause,
        context,
      );
    }
    if (typeof token !== "string" || !TOKEN.test(token)) {
      throw registryError(
        "STRATA_REGISTRY_ERROR",
        `the token server of ${this.#ref.registry} sent no usable token`,
        "the registry's token server is broken",
        undefined,
        context,
      );
    }
    return token;
  }

  /** One request, following redirects; Authorization goes only to the host it was meant for. */
  async #follow(
    start: URL,
    headers: OutgoingHttpHeaders,
    context: ErrorContext,
  ): Promise<IncomingMessage> {
    let url = start;
    let sent = headers;
    for (let hops = 0; ; hops++) {
      const response = await this.#request(url, sent, context);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (![301, 302, 303, 307, 308].includes(status) || location === undefined) return response;
      response.resume();
      if (hops >= MAX_REDIRECTS)
        throw registryError(
          "STRATA_REGISTRY_ERROR",
          `${this.#ref.registry} redirected more than ${MAX_REDIRECTS} times`,
          "the registry is misconfigured",
          undefined,
          context,
        );
      const next = new URL(location, url);
      if (next.protocol !== "https:" && next.protocol !== "http:")
        throw registryError(
          "STRATA_REGISTRY_ERROR",
          `${this.#ref.registry} redirected to a ${next.protocol} URL`,
          "the registry is misconfigured",
          undefined,
          context,
        );
      // Another host, port or scheme (https to http: curl's CVE-2022-27776): the credentials stay
      // behind.
      if (next.origin !== url.origin) {
        const { authorization: _dropped, ...rest } = sent;
        sent = rest;
      }
      url = next;
    }
  }

  #tls: Map<string, TlsFiles> = new Map();

  /** The CAs and client certificate for `host`, read once from its certs.d directory. */
  #tlsFiles(host: string): TlsFiles {
    let files = this.#tls.get(host);
    if (files === undefined) {
      const dirs =
        this.#options.certDir !== undefined
          ? [this.#options.certDir]
          : [join("/etc/containers/certs.d", host), join("/etc/docker/certs.d", host)];
      files = withExtraCaCerts(readCertDirs(dirs));
      this.#tls.set(host, files);
    }
    return files;
  }

  /** One request: GET, or POST of `body`. */
  async #request(
    url: URL,
    headers: OutgoingHttpHeaders,
    context: ErrorContext,
    body?: Buffer,
  ): Promise<IncomingMessage> {
    const timeout = this.#options.timeoutMs ?? 30_000;
    const tls = url.protocol === "https:";
    if (!tls && !isLoopbackHost(url.host) && this.#options.tlsVerify !== false) {
      throw registryError(
        "STRATA_REGISTRY_UNREACHABLE",
        `refusing plain HTTP to ${url.host}`,
        "use an https registry, or --tls-verify=false for one you trust on your network",
        undefined,
        context,
      );
    }
    // Loaded on the first request: the HTTP and TLS modules cost every command that never talks to
    // a registry some 15 ms.
    const request = tls ? builtin("node:https").request : builtin("node:http").request;
    const tlsOptions = tls
      ? { rejectUnauthorized: this.#options.tlsVerify !== false, ...this.#tlsFiles(url.host) }
      : {};
    const signal = this.#options.signal;
    if (signal?.aborted === true) throw new AbortedError(signal.reason);
    return new Promise((resolve, reject) => {
      const options = {
        method: body === undefined ? "GET" : "POST",
        headers: {
          "user-agent": "strata",
          ...headers,
          ...(body === undefined ? {} : { "content-length": String(body.length) }),
        },
        timeout,
        ...tlsOptions,
      };
      let req: ReturnType<typeof request>;
      try {
        req = request(url, options, (response) => {
          // From here the timeout is a silent body: the stream fails with it.
          response.setTimeout(timeout, () =>
            response.destroy(
              registryError(
                "STRATA_REGISTRY_UNREACHABLE",
                `${url.host} stopped sending for ${timeout / 1000} s`,
                "the network or registry stalled; try again",
                undefined,
                context,
              ),
            ),
          );
          const onAbort = (): void => void response.destroy(new AbortedError(signal?.reason));
          signal?.addEventListener("abort", onAbort, { once: true });
          response.once("close", () => signal?.removeEventListener("abort", onAbort));
          resolve(response);
        });
      } catch (cause) {
        // A header Node will not send (a control character in a value the registry gave us).
        reject(
          registryError(
            "STRATA_REGISTRY_ERROR",
            `cannot send a request to ${url.host}: ` +
              `${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
            "the registry sent a value strata cannot send back (a token or a location)",
            cause,
            context,
          ),
        );
        return;
      }
      const onAbort = (): void => void req.destroy(new AbortedError(signal?.reason));
      signal?.addEventListener("abort", onAbort, { once: true });
      req.once("close", () => signal?.removeEventListener("abort", onAbort));
      req.on("timeout", () =>
        req.destroy(
          registryError(
            "STRATA_REGISTRY_UNREACHABLE",
            `no answer from ${url.host} within ${timeout / 1000} s`,
            "check the registry address and the network",
            undefined,
            context,
          ),
        ),
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        if (error instanceof StrataError) return reject(error);
        const mayUseHttp = isLoopbackHost(url.host) || this.#options.tlsVerify === false;
        if (tls && mayUseHttp && isPlainHttpServer(error)) {
          // The server speaks plain HTTP: from now on every request to it does too.
          const plain = new URL(url);
          plain.protocol = "http:";
          if (url.host === this.#base.host)
            this.#base = new URL(this.#base.href.replace(/^https:/, "http:"));
          return resolve(this.#request(plain, headers, context, body));
        }
        const detail = error.code ?? error.message;
        const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(detail);
        reject(
          registryError(
            "STRATA_REGISTRY_UNREACHABLE",
            `cannot reach ${url.host}: ${detail}`,
            certificate
              ? "the registry's certificate is not trusted: add its CA (--cert-dir) or, for a " +
                  "registry you trust, --tls-verify=false"
              : "check the registry address and the network",
            error,
            context,
          ),
        );
      });
      req.end(body);
    });
  }
}

/** A TLS handshake that met a plain-HTTP server. */
function isPlainHttpServer(error: NodeJS.ErrnoException): boolean {
  return (
    error.code === "EPROTO" ||
    error.code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    /wrong version number|packet length too long/i.test(error.message)
  );
}

/**
 * TLS options from a containers-certs.d directory: extra CAs (with the system's), a client
 * certificate.
 */
interface TlsFiles {
  readonly ca?: string[];
  readonly cert?: string;
  readonly key?: string;
}

/**
 * The CAs of NODE_EXTRA_CA_CERTS, trusted here as Node trusts them when it
 * reads the variable at start-up: the strata command starts Node without it
 * (bin/strata says why). Adding them again where Node did read them changes
 * nothing. An unreadable file is ignored, as Node ignores it (with a warning).
 */
function withExtraCaCerts(files: TlsFiles): TlsFiles {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (file === undefined || file === "") return files;
  let extra: string;
  try {
    extra = readFileSync(file, "utf8");
  } catch {
    return files;
  }
  return { ...files, ca: [...(files.ca ?? builtin("node:tls").rootCertificates), extra] };
}

function readCertDirs(dirs: readonly string[]): TlsFiles {
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
    ...(cas.length > 0 ? { ca: [...builtin("node:tls").rootCertificates, ...cas] } : {}),
    ...(cert === undefined ? {} : { cert, key: key as string }),
  };
}

/** The digest of `data` in the algorithm that `like` (a digest) names, sha256 without one. */
export function digestOf(data: Buffer, like?: string): string {
  const algorithm = like === undefined ? "sha256" : parseDigest(like).algorithm;
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}
