// Proxies as Go's net/http finds them (skopeo, podman and containerd use it):
// HTTPS_PROXY for https registries, HTTP_PROXY for plain ones (upper case
// first, then lower), NO_PROXY's hosts, domains, ports, IPs and CIDRs
// excepted, and loopback never proxied. An https registry is reached through
// a CONNECT tunnel (its TLS, and its credentials, end to end); a plain one by
// asking the proxy for the absolute URL.
import type { ClientRequest, IncomingMessage } from "node:http";
import { BlockList, isIP, type Socket } from "node:net";
import { builtin } from "@strata-oci/layer";
import type { ErrorContext } from "@strata-oci/errors";
import { isLoopbackHost } from "./docker-reference.js";
import { registryError } from "./registry-http.js";

/** The proxy settings a client uses: as the environment gives them unless the library says. */
export interface ProxySettings {
  readonly httpProxy?: string | undefined;
  readonly httpsProxy?: string | undefined;
  /** Comma-separated: `*`, HOST, .DOMAIN (subdomains), DOMAIN (and its subdomains), IP, CIDR. */
  readonly noProxy?: string | undefined;
}

export function proxyFromEnvironment(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const first = (...names: string[]): string | undefined =>
    names.map((name) => env[name]).find((value) => value !== undefined && value !== "");
  return {
    httpProxy: first("HTTP_PROXY", "http_proxy"),
    httpsProxy: first("HTTPS_PROXY", "https_proxy"),
    noProxy: first("NO_PROXY", "no_proxy"),
  };
}

/** A proxy setting as a URL: a bare `host:port` is an http proxy, as Go reads it. */
function proxyUrl(value: string): URL {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch (cause) {
    throw registryError(
      "STRATA_REGISTRY_ERROR",
      `the proxy setting ${JSON.stringify(value.slice(0, 100))} is not a URL`,
      "set HTTPS_PROXY/HTTP_PROXY to http://HOST:PORT",
      cause,
    );
  }
}

/** Whether one NO_PROXY entry covers `host` (lower case, no brackets) on `port`. */
function excepted(entry: string, host: string, port: string): boolean {
  if (entry === "*") return true;
  // [IPv6]:port, host:port, bare IPv6, or a bare name.
  const withPort = /^\[(.+)\]:(\d+)$/.exec(entry) ?? /^([^:]+):(\d+)$/.exec(entry);
  const name = (withPort?.[1] ?? entry).replace(/^\[|\]$/g, "");
  if (withPort !== null && withPort[2] !== port) return false;
  if (isIP(host) !== 0) {
    if (name.includes("/")) {
      const [network, bits] = name.split("/") as [string, string];
      const family = isIP(network) === 6 ? "ipv6" : "ipv4";
      if (isIP(network) === 0 || isIP(host) !== isIP(network)) return false;
      const list = new BlockList();
      list.addSubnet(network, Number(bits), family);
      return list.check(host, family);
    }
    return name === host;
  }
  if (name.startsWith(".")) return host.endsWith(name);
  return host === name || host.endsWith(`.${name}`);
}

/** The proxy to reach `url` through, or undefined to go direct. */
export function proxyFor(url: URL, settings: ProxySettings): URL | undefined {
  const value = url.protocol === "https:" ? settings.httpsProxy : settings.httpProxy;
  if (value === undefined || value === "" || isLoopbackHost(url.host)) return undefined;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const entries = (settings.noProxy ?? "")
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
  return entries.some((entry) => excepted(entry, host, port)) ? undefined : proxyUrl(value);
}

/** Proxy-Authorization for a proxy URL with user and password. */
export function proxyAuthorization(proxy: URL): Record<string, string> {
  if (proxy.username === "") return {};
  const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { "proxy-authorization": `Basic ${Buffer.from(user).toString("base64")}` };
}

/** A tunnel to `target` through `proxy` (HTTP CONNECT): the socket to speak TLS over. */
export function tunnel(
  proxy: URL,
  target: URL,
  timeoutMs: number,
  context: ErrorContext,
): Promise<Socket> {
  const authority = `${target.hostname}:${target.port || "443"}`;
  const refused = (detail: string, cause?: unknown) =>
    registryError(
      "STRATA_REGISTRY_UNREACHABLE",
      `cannot reach ${target.host} through the proxy ${proxy.host}: ${detail}`,
      "check HTTPS_PROXY (and NO_PROXY for hosts to reach directly)",
      cause,
      context,
    );
  return new Promise((resolve, reject) => {
    const request =
      proxy.protocol === "https:" ? builtin("node:https").request : builtin("node:http").request;
    let connect: ClientRequest;
    try {
      connect = request(proxy, {
        method: "CONNECT",
        path: authority,
        headers: { host: authority, ...proxyAuthorization(proxy) },
        timeout: timeoutMs,
      });
    } catch (cause) {
      reject(refused(String(cause), cause));
      return;
    }
    connect.on("connect", (answer: IncomingMessage, socket: Socket) => {
      if (answer.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(refused(`the proxy answered ${answer.statusCode ?? "nothing"} to CONNECT`));
    });
    connect.on("timeout", () => connect.destroy(refused(`no answer within ${timeoutMs / 1000} s`)));
    connect.on("error", (error: NodeJS.ErrnoException) =>
      reject(error.name === "ImageError" ? error : refused(error.code ?? error.message, error)),
    );
    connect.end();
  });
}
