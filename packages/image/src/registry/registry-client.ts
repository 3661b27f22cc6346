import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { join } from "node:path";
import { ImageError, type ErrorContext } from "@strata-oci/errors";
import { credentialsFor, type Credentials } from "./auth-files.js";
import type { DockerReference } from "./docker-reference.js";
import { basicAuthorization, fetchToken, parseChallenge } from "./registry-auth.js";
import { isTransient, registryError, sleep, WHOLE_BODY_TIMEOUTS } from "./registry-http.js";
import { proxyFromEnvironment, type ProxySettings } from "./registry-proxy.js";
import type { UploadSettings } from "./registry-upload.js";
import { sendRequest, type RequestBody, type RequestSettings } from "./registry-request.js";
import type { SecureContext } from "node:tls";
import { tlsContextFor } from "./registry-tls.js";

export { digestOf, isTransient, readBody } from "./registry-http.js";

/** How to reach and authenticate to a registry. */
export interface RegistryOptions {
  /**
   * Credentials for Basic auth, and for the token server of Bearer auth; without them, the auth
   * files are read.
   */
  readonly creds?: Credentials | undefined;
  /** `--no-creds`: anonymous access, the auth files not read. */
  readonly anonymous?: boolean | undefined;
  /** `--registry-token`: a Bearer token sent with every request (no token server asked). */
  readonly token?: string | undefined;
  /**
   * `--authfile`: the one auth file to read (else $REGISTRY_AUTH_FILE, containers' auth.json,
   * ~/.docker/config.json).
   */
  readonly authFile?: string | undefined;
  /**
   * false: accept any certificate (and plain HTTP). Default true; loopback hosts may always use
   * plain HTTP.
   */
  readonly tlsVerify?: boolean | undefined;
  /** Milliseconds a connection may take to open, or a response to stay silent. Default 30 s. */
  readonly timeoutMs?: number | undefined;
  /**
   * containers-certs.d layout for this registry: `*.crt` CAs trusted besides
   * the system's, `NAME.cert` + `NAME.key` a client certificate. Default
   * /etc/containers/certs.d/HOST[:PORT] and /etc/docker/certs.d/HOST[:PORT]
   * where they exist.
   */
  readonly certDir?: string | undefined;
  /**
   * Tries per request for 429, 5xx and broken connections (default 5), and the first backoff
   * (default 500 ms; doubles).
   */
  readonly retry?: { readonly attempts?: number; readonly delayMs?: number };
  /**
   * Ends every wait at once (connecting, a response, a body, a Retry-After) with STRATA_ABORTED.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Proxies (HTTPS_PROXY, HTTP_PROXY, NO_PROXY as Go reads them); default: the environment's.
   * Loopback registries are never proxied.
   */
  readonly proxy?: ProxySettings | undefined;
  /**
   * The registries.conf to follow (mirrors, rewritten locations, insecure and blocked
   * registries); default $CONTAINERS_REGISTRIES_CONF, else ~/.config/containers/registries.conf,
   * else /etc/containers/registries.conf, each with its registries.conf.d/.
   */
  readonly registriesConf?: string | undefined;
  /**
   * How blobs are pushed: over `monolithicMax` bytes (default 64 MiB) in chunks of `chunkSize`
   * (default 16 MiB); smaller ones in one PUT unless the registry refuses it as too large.
   */
  readonly upload?: UploadSettings | undefined;
}

/** A response whose status was 2xx, with its body unread. */
export type RegistryResponse = IncomingMessage;

const MAX_REDIRECTS = 5;

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
  /** Read once per client: the environment's unless the options say. */
  readonly #proxy: ProxySettings;
  #base: URL;
  readonly #tokens = new Map<string, string>();
  #scheme: "basic" | "bearer" | undefined;
  #creds: Credentials | undefined | null = null;
  #challenge: Map<string, string> | undefined;

  readonly #access: "pull" | "push";

  /** `access` "push": the token asked for may push too (a destination's client). */
  constructor(
    ref: DockerReference,
    options: RegistryOptions = {},
    access: "pull" | "push" = "pull",
  ) {
    this.#ref = ref;
    this.#options = options;
    this.#proxy = options.proxy ?? proxyFromEnvironment();
    this.#access = access;
    // HTTPS first, always; plain HTTP only where the server does not speak TLS
    // and HTTP is allowed (loopback, or --tls-verify=false), as containerd does.
    this.#base = new URL(`https://${ref.apiHost}/v2/`);
  }

  /**
   * --creds, else the auth files, looked up once and only when the registry asks for
   * authentication.
   */
  get #credentials(): Credentials | undefined {
    if (this.#options.anonymous === true) return undefined;
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
    return `repository:${this.#ref.repository}:${this.#access === "push" ? "pull,push" : "pull"}`;
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
    const response = await this.request("GET", path, { headers, context });
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    response.resume();
    if (status === 404) return undefined;
    throw this.refused(status, new URL(path, this.#base).pathname, context);
  }

  /** `target` (a path below /v2/) as the URL requests go to. */
  urlOf(target: string): URL {
    return new URL(target, this.#base);
  }

  /** The error for an answer that is not the one asked for. */
  refused(status: number, what: string, context: ErrorContext = {}): ImageError {
    if (status === 401 || status === 403) {
      const may = this.#access === "push" ? "push to" : "pull";
      return registryError(
        "STRATA_REGISTRY_DENIED",
        `${this.#ref.registry} refused access to ${this.#ref.repository} (HTTP ${status})`,
        `give credentials that may ${may} it (--creds USER:PASS or an auth file), or ` +
          "check the name",
        undefined,
        context,
      );
    }
    return registryError(
      "STRATA_REGISTRY_ERROR",
      `${this.#ref.registry} answered HTTP ${status} for ${what}`,
      "the registry failed; try again later",
      undefined,
      context,
    );
  }

  /**
   * One request to `target` (a path below /v2/, or a URL the registry gave): authenticated (a 401
   * answered once), retried on broken connections, 429 and 5xx (a body is sent again from a fresh
   * stream), GET and HEAD following redirects. Any other answer is returned as it is.
   */
  async request(
    method: string,
    target: string | URL,
    options: {
      headers?: OutgoingHttpHeaders;
      body?: RequestBody;
      context?: ErrorContext;
      /** false: a broken connection or 5xx is the caller's to handle (a PATCH is not repeated). */
      retry?: boolean;
    } = {},
  ): Promise<IncomingMessage> {
    const url = new URL(target, this.#base);
    const { headers = {}, body, context = {} } = options;
    const attempts = options.retry === false ? 1 : this.#attempts;
    let authenticated = false;
    for (let attempt = 1; ; attempt++) {
      let response: IncomingMessage;
      // A URL the registry gave (an upload's Location) on another origin gets no credentials; an
      // https URL of a host found to speak plain HTTP is its own (sent as HTTP, as allowed).
      const base = this.#base;
      const own =
        url.host === base.host &&
        (url.protocol === base.protocol ||
          (url.protocol === "https:" && base.protocol === "http:"));
      const sent = { ...headers, ...(own ? this.#authorization() : {}) };
      try {
        response =
          method === "GET" || method === "HEAD"
            ? await this.#follow(url, sent, context, method)
            : await sendRequest(url, sent, this.#settings, context, body, method);
      } catch (error) {
        if (!isTransient(error) || attempt >= attempts) throw error;
        await sleep(this.#backoff(attempt, undefined), this.#options.signal);
        continue;
      }
      const status = response.statusCode ?? 0;
      // A token given is the one sent: a 401 to it is the answer.
      if (status === 401 && own && !authenticated && this.#options.token === undefined) {
        response.resume();
        authenticated = true;
        await this.#authenticate(response.headers["www-authenticate"], context);
        attempt--;
        continue;
      }
      if ((status === 429 || status >= 500) && attempt < attempts) {
        response.resume();
        await sleep(this.#backoff(attempt, response.headers["retry-after"]), this.#options.signal);
        continue;
      }
      return response;
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
    if (this.#options.token !== undefined)
      return { authorization: `Bearer ${this.#options.token}` };
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

  #fetchToken(context: ErrorContext): Promise<string> {
    return fetchToken({
      ref: this.#ref,
      challenge: this.#challenge ?? new Map(),
      creds: this.#credentials,
      scope: this.#scope,
      wholeBodyMs: this.wholeBodyMs,
      context,
      get: (url, headers) => this.#follow(url, headers, context),
      post: (url, headers, body) => sendRequest(url, headers, this.#settings, context, body),
    });
  }

  /** One request, following redirects; Authorization goes only to the host it was meant for. */
  async #follow(
    start: URL,
    headers: OutgoingHttpHeaders,
    context: ErrorContext,
    method = "GET",
  ): Promise<IncomingMessage> {
    let url = start;
    let sent = headers;
    for (let hops = 0; ; hops++) {
      const response = await sendRequest(url, sent, this.#settings, context, undefined, method);
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

  /** The TLS context for `host`: its certs.d directory's CAs and client certificate. */
  #tlsContext(host: string): { secureContext?: SecureContext } {
    return tlsContextFor(
      this.#options.certDir !== undefined
        ? [this.#options.certDir]
        : [join("/etc/containers/certs.d", host), join("/etc/docker/certs.d", host)],
    );
  }

  /** What each request needs of this client: its options, TLS context, the switch to HTTP. */
  get #settings(): RequestSettings {
    return {
      timeoutMs: this.#options.timeoutMs ?? 30_000,
      tlsVerify: this.#options.tlsVerify !== false,
      signal: this.#options.signal,
      tlsContext: (host) => this.#tlsContext(host),
      proxy: this.#proxy,
      onPlainHttp: (url) => {
        if (url.host === this.#base.host)
          this.#base = new URL(this.#base.href.replace(/^https:/, "http:"));
      },
    };
  }
}
