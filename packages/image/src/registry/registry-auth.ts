// Registry authentication: the challenge a 401 carries, Basic credentials,
// and a Bearer token from the registry's token server.
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { ErrorContext } from "@strata-oci/errors";
import type { Credentials } from "./auth-files.js";
import type { DockerReference } from "./docker-reference.js";
import { readBody, registryError } from "./registry-http.js";

const MAX_TOKEN_RESPONSE = 1 << 20;

/**
 * A token is sent back in a header: visible ASCII only (RFC 6750's b64token and every real token
 * fit).
 */
export const TOKEN = /^[\x21-\x7e]+$/;

/** The Authorization header of Basic auth, for the registry or its token server. */
export function basicAuthorization(creds: Credentials): OutgoingHttpHeaders {
  return {
    authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`,
  };
}

/** `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`. */
export function parseChallenge(header: string): { scheme: string; params: Map<string, string> } {
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

/** What asking a token server needs. */
export interface TokenRequest {
  readonly ref: DockerReference;
  /** The Bearer challenge's parameters (realm, service). */
  readonly challenge: ReadonlyMap<string, string>;
  readonly creds: Credentials | undefined;
  readonly scope: string;
  /** How long the token response may take to arrive whole. */
  readonly wholeBodyMs: number;
  readonly context: ErrorContext;
  /** GET, following redirects (credentials dropped where the origin changes). */
  get(url: URL, headers: OutgoingHttpHeaders): Promise<IncomingMessage>;
  post(url: URL, headers: OutgoingHttpHeaders, body: Buffer): Promise<IncomingMessage>;
}

/** A Bearer token for `request.scope`, from the realm the challenge named. */
export async function fetchToken(request: TokenRequest): Promise<string> {
  const response = await askTokenServer(realmOf(request), request);
  const status = response.statusCode ?? 0;
  const { ref, creds, context } = request;
  if (status === 401 || status === 403) {
    response.resume();
    throw registryError(
      "STRATA_REGISTRY_DENIED",
      `the token server of ${ref.registry} refused ` +
        `${creds === undefined ? "anonymous access" : "the credentials"} to ${ref.repository}`,
      "check the credentials (--creds USER:PASS)",
      undefined,
      context,
    );
  }
  if (status < 200 || status >= 300) {
    response.resume();
    throw registryError(
      "STRATA_REGISTRY_ERROR",
      `the token server of ${ref.registry} answered HTTP ${status}`,
      "try again later",
      undefined,
      context,
    );
  }
  const body = await readBody(response, MAX_TOKEN_RESPONSE, "token response", request.wholeBodyMs);
  return tokenOf(body, request);
}

function realmOf({ ref, challenge, context }: TokenRequest): URL {
  const realm = challenge.get("realm");
  if (realm === undefined)
    throw registryError(
      "STRATA_REGISTRY_ERROR",
      `${ref.registry}'s Bearer challenge names no realm`,
      "the registry is misconfigured",
      undefined,
      context,
    );
  try {
    return new URL(realm);
  } catch (cause) {
    throw registryError(
      "STRATA_REGISTRY_ERROR",
      `${ref.registry}'s token realm is not a URL`,
      "the registry is misconfigured",
      cause,
      context,
    );
  }
}

async function askTokenServer(url: URL, request: TokenRequest): Promise<IncomingMessage> {
  const service = request.challenge.get("service");
  const creds = request.creds;
  if (creds?.identityToken !== undefined) {
    // OAuth2: the refresh token Docker keeps as `identitytoken`, exchanged by POST (as docker
    // does).
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: creds.identityToken,
      client_id: "strata",
      scope: request.scope,
      ...(service === undefined ? {} : { service }),
    });
    return request.post(
      url,
      { "content-type": "application/x-www-form-urlencoded" },
      Buffer.from(form.toString()),
    );
  }
  if (service !== undefined) url.searchParams.set("service", service);
  url.searchParams.set("scope", request.scope);
  return request.get(url, creds === undefined ? {} : basicAuthorization(creds));
}

function tokenOf(body: Buffer, { ref, context }: TokenRequest): string {
  let token: unknown;
  try {
    const json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    token = json.token ?? json.access_token;
  } catch (cause) {
    throw registryError(
      "STRATA_REGISTRY_ERROR",
      `the token server of ${ref.registry} sent something that is not JSON`,
      "the registry's token server is broken",
      cause,
      context,
    );
  }
  if (typeof token !== "string" || !TOKEN.test(token)) {
    throw registryError(
      "STRATA_REGISTRY_ERROR",
      `the token server of ${ref.registry} sent no usable token`,
      "the registry's token server is broken",
      undefined,
      context,
    );
  }
  return token;
}
