// One HTTP request to a registry or its token server: TLS as configured,
// plain HTTP only where allowed, timeouts on connecting and on silence, and
// every failure a typed error that an AbortSignal can also cause.
import type {
  ClientRequest,
  IncomingMessage,
  OutgoingHttpHeaders,
  RequestOptions,
} from "node:http";
import { isIP, type Socket } from "node:net";
import type { ConnectionOptions as TlsOptions, SecureContext } from "node:tls";
import { pipeline } from "node:stream/promises";
import { builtin } from "@strata-oci/layer";
import { AbortedError, StrataError, type ErrorContext } from "@strata-oci/errors";
import { isLoopbackHost } from "./docker-reference.js";
import { registryError } from "./registry-http.js";
import { proxyAuthorization, proxyFor, tunnel, type ProxySettings } from "./registry-proxy.js";
import { isPlainHttpServer } from "./registry-tls.js";

/** What a request needs of the client that sends it. */
export interface RequestSettings {
  readonly timeoutMs: number;
  /** false: any certificate, and plain HTTP anywhere. */
  readonly tlsVerify: boolean;
  readonly signal: AbortSignal | undefined;
  tlsContext(host: string): { secureContext?: SecureContext };
  readonly proxy: ProxySettings;
  /** Told when an https URL's server turned out to speak plain HTTP (and that was allowed). */
  onPlainHttp(url: URL): void;
}

/** What a request sends: bytes in hand, or a blob opened afresh for each try. */
export type RequestBody =
  | Buffer
  | { readonly size: number; open(): Promise<AsyncIterable<Buffer> | NodeJS.ReadableStream> };

/** One request: GET (POST where there is a body) unless `method` says otherwise. */
export function sendRequest(
  url: URL,
  headers: OutgoingHttpHeaders,
  settings: RequestSettings,
  context: ErrorContext,
  body?: RequestBody,
  method?: string,
): Promise<IncomingMessage> {
  const tls = url.protocol === "https:";
  refusePlainHttp(url, tls, settings, context);
  // Loaded on the first request: the HTTP and TLS modules cost every command that never talks to
  // a registry some 15 ms.
  const request = tls ? builtin("node:https").request : builtin("node:http").request;
  const { signal, timeoutMs } = settings;
  if (signal?.aborted === true) throw new AbortedError(signal.reason);
  const options = {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers: {
      "user-agent": "strata",
      ...headers,
      ...(body === undefined
        ? {}
        : { "content-length": String(Buffer.isBuffer(body) ? body.length : body.size) }),
    },
    timeout: timeoutMs,
    ...(tls ? { rejectUnauthorized: settings.tlsVerify, ...settings.tlsContext(url.host) } : {}),
  };
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    const answered = (response: IncomingMessage): void => {
      watchResponse(response, url, settings, context);
      resolve(response);
    };
    try {
      const proxy = proxyFor(url, settings.proxy);
      req =
        proxy === undefined
          ? request(url, options, answered)
          : throughProxy(proxy, url, options, settings, context, answered);
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
    abortWith(req, signal);
    req.on("timeout", () =>
      req.destroy(
        registryError(
          "STRATA_REGISTRY_UNREACHABLE",
          `no answer from ${url.host} within ${timeoutMs / 1000} s`,
          "check the registry address and the network",
          undefined,
          context,
        ),
      ),
    );
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error instanceof StrataError) return reject(error);
      const mayUseHttp = isLoopbackHost(url.host) || !settings.tlsVerify;
      if (tls && mayUseHttp && isPlainHttpServer(error)) {
        // The server speaks plain HTTP: from now on every request to it does too.
        settings.onPlainHttp(url);
        const plain = new URL(url);
        plain.protocol = "http:";
        return resolve(sendRequest(plain, headers, settings, context, body, method));
      }
      reject(unreachable(url, error, context));
    });
    sendBody(req, body);
  });
}

/**
 * The request sent through `proxy`: over a CONNECT tunnel to an https registry (TLS end to end,
 * verified as a direct one), or as the absolute URL to a plain one.
 */
function throughProxy(
  proxy: URL,
  url: URL,
  options: RequestOptions,
  settings: RequestSettings,
  context: ErrorContext,
  answered: (response: IncomingMessage) => void,
): ClientRequest {
  if (url.protocol === "http:") {
    const request =
      proxy.protocol === "https:" ? builtin("node:https").request : builtin("node:http").request;
    const headers = { ...options.headers, host: url.host, ...proxyAuthorization(proxy) };
    return request(proxy, { ...options, path: url.href, setHost: false, headers }, answered);
  }
  const createConnection = (
    _options: unknown,
    done: (error: Error | null, socket?: Socket) => void,
  ): undefined => {
    tunnel(proxy, url, settings.timeoutMs, context).then((socket) => {
      const servername =
        isIP(url.hostname.replace(/^\[|\]$/g, "")) === 0 ? url.hostname : undefined;
      const secure = builtin("node:tls").connect({
        ...(options as TlsOptions),
        socket,
        host: url.hostname,
        ...(servername === undefined ? {} : { servername }),
      });
      done(null, secure);
    }, done);
    return undefined;
  };
  return builtin("node:https").request(
    url,
    { ...options, createConnection } as unknown as RequestOptions,
    answered,
  );
}

/** Plain HTTP goes only to loopback hosts, or anywhere with --tls-verify=false. */
function refusePlainHttp(
  url: URL,
  tls: boolean,
  settings: RequestSettings,
  context: ErrorContext,
): void {
  if (tls || isLoopbackHost(url.host) || !settings.tlsVerify) return;
  throw registryError(
    "STRATA_REGISTRY_UNREACHABLE",
    `refusing plain HTTP to ${url.host}`,
    "use an https registry, or --tls-verify=false for one you trust on your network",
    undefined,
    context,
  );
}

/** The request's body, in hand or streamed from a fresh open; its failure fails the request. */
function sendBody(req: ClientRequest, body: RequestBody | undefined): void {
  if (body === undefined || Buffer.isBuffer(body)) {
    req.end(body);
    return;
  }
  body
    .open()
    .then((stream) => pipeline(stream as AsyncIterable<Buffer>, req))
    .catch((error: Error) => req.destroy(error));
}

/** `stream` destroyed with STRATA_ABORTED when `signal` fires while it is open. */
function abortWith(stream: ClientRequest | IncomingMessage, signal: AbortSignal | undefined): void {
  const onAbort = (): void => void stream.destroy(new AbortedError(signal?.reason));
  signal?.addEventListener("abort", onAbort, { once: true });
  stream.once("close", () => signal?.removeEventListener("abort", onAbort));
}

/** From its headers on, a response's timeout is a silent body: the stream fails with it. */
function watchResponse(
  response: IncomingMessage,
  url: URL,
  settings: RequestSettings,
  context: ErrorContext,
): void {
  const seconds = settings.timeoutMs / 1000;
  response.setTimeout(settings.timeoutMs, () =>
    response.destroy(
      registryError(
        "STRATA_REGISTRY_UNREACHABLE",
        `${url.host} stopped sending for ${seconds} s`,
        "the network or registry stalled; try again",
        undefined,
        context,
      ),
    ),
  );
  abortWith(response, settings.signal);
}

function unreachable(url: URL, error: NodeJS.ErrnoException, context: ErrorContext): Error {
  const detail = error.code ?? error.message;
  const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(detail);
  return registryError(
    "STRATA_REGISTRY_UNREACHABLE",
    `cannot reach ${url.host}: ${detail}`,
    certificate
      ? "the registry's certificate is not trusted: add its CA (--cert-dir) or, for a " +
          "registry you trust, --tls-verify=false"
      : "check the registry address and the network",
    error,
    context,
  );
}
