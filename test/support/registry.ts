import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID, sign, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request, type Server } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";

/** Why registry tests cannot run here, or undefined when they can. */
export function registryUnavailable(): string | undefined {
  for (const tool of ["docker-registry", "skopeo", "htpasswd", "openssl"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed (test/install-tools.sh installs it as root)`;
  }
  return undefined;
}

/** A free TCP port on loopback (bound and released: the registry binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === "object" && address !== null ? address.port : 0),
      );
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Any answer will do, even a TLS server's refusal of plain HTTP.
    const req = request({ host: "127.0.0.1", port, path: "/v2/", timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

export interface TestRegistry {
  readonly host: string;
  stop(): void;
}

/**
 * Debian's docker-registry (the CNCF distribution registry) on a loopback
 * port, storing in `dir`; with `htpasswd`, Basic auth for that user.
 */
export async function startRegistry(
  dir: string,
  options: {
    htpasswd?: { user: string; password: string };
    token?: TokenServer;
    tls?: TestCertificates;
    /** A pull-through cache of this registry (its URL): a mirror, as fleets run one. */
    proxyOf?: string;
  } = {},
): Promise<TestRegistry> {
  const port = await freePort();
  let auth = "";
  if (options.token !== undefined) {
    const t = options.token;
    auth =
      `auth:\n  token:\n    realm: ${t.realm}\n    service: ` +
      `${TOKEN_SERVICE}\n    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${t.certificate}\n`;
  }
  if (options.htpasswd !== undefined) {
    const file = join(dir, "htpasswd");
    const made = spawnSync(
      "htpasswd",
      ["-Bbc", file, options.htpasswd.user, options.htpasswd.password],
      { encoding: "utf8" },
    );
    if (made.status !== 0) throw new Error(`htpasswd: ${made.stderr}`);
    auth = `auth:\n  htpasswd:\n    realm: strata-test\n    path: ${file}\n`;
  }
  const config = join(dir, "config.yml");
  const tls =
    options.tls === undefined
      ? ""
      : `  tls:\n    certificate: ${options.tls.serverCert}\n    key: ${options.tls.serverKey}\n`;
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    ` +
      `rootdirectory: ${join(dir, "data")}\nhttp:\n  addr: 127.0.0.1:${port}\n${tls}${auth}` +
      (options.proxyOf === undefined ? "" : `proxy:\n  remoteurl: ${options.proxyOf}\n`),
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (log += text));
  for (let i = 0; i < 100 && !(await answers(port)); i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  if (!(await answers(port))) {
    child.kill();
    throw new Error(`docker-registry did not start: ${log}`);
  }
  return { host: `127.0.0.1:${port}`, stop: () => child.kill() };
}

/** The user the locked registry of startOpenAndLocked asks for. */
export const ALICE = { user: "alice", password: "s3cret-pw" } as const;

/** Two registries storing under `dir`: one open, one asking for ALICE's password (Basic). */
export async function startOpenAndLocked(
  dir: string,
): Promise<{ open: TestRegistry; locked: TestRegistry }> {
  mkdirSync(join(dir, "open"), { recursive: true });
  mkdirSync(join(dir, "locked"), { recursive: true });
  const [open, locked] = await Promise.all([
    startRegistry(join(dir, "open")),
    startRegistry(join(dir, "locked"), { htpasswd: ALICE }),
  ]);
  return { open, locked };
}

/**
 * skopeo copy into the registry (plain HTTP: the test registry is on
 * loopback). Asynchronous: the token server runs in this process and must
 * keep answering while skopeo waits for it.
 */
export async function push(source: string, destination: string, creds?: string): Promise<void> {
  const child = spawn(
    "skopeo",
    [
      "copy",
      "--all",
      "--dest-tls-verify=false",
      ...(creds === undefined ? [] : ["--dest-creds", creds]),
      source,
      destination,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (status !== 0) throw new Error(`skopeo copy ${source} ${destination}: ${stderr}`);
}

const TOKEN_SERVICE = "strata-test-registry";
const TOKEN_ISSUER = "strata-test-issuer";

/** The tests' own token server: the registry trusts its certificate (rootcertbundle). */
export interface TokenServer {
  readonly realm: string;
  /** PEM file of the certificate whose key signs the tokens. */
  readonly certificate: string;
  /**
   * Each request: its scope, whether it carried the right credentials, and how (GET with Basic,
   * POST with a refresh token).
   */
  readonly requests: Array<{ scope: string | null; authorized: boolean; method?: string }>;
  /** Answer garbage instead of tokens (a broken token server). */
  garbage: boolean;
  stop(): void;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/**
 * Signs ES256 JWTs with the key of a certificate made by openssl for the
 * test, as a registry's token server does (the certificate travels in the
 * x5c header; the registry checks it against its rootcertbundle). Grants
 * what the scope asks to `user` with `password`; anonymous requests get 401.
 */
export async function startTokenServer(
  dir: string,
  user: string,
  password: string,
  refreshToken?: string,
): Promise<TokenServer> {
  const key = `${dir}/token.key`;
  const certificate = `${dir}/token.crt`;
  const made = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      certificate,
      "-days",
      "2",
      "-subj",
      "/CN=strata-test-token",
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  const pem = readFileSync(key, "utf8");
  const der = new X509Certificate(readFileSync(certificate)).raw.toString("base64");
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const state = { requests: [] as TokenServer["requests"], garbage: false };
  const server: Server = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    let scope = url.searchParams.get("scope");
    let authorized = req.headers.authorization === expected;
    if (req.method === "POST") {
      // OAuth2 refresh-token grant, as docker sends for an identitytoken.
      let text = "";
      for await (const part of req) text += String(part);
      const form = new URLSearchParams(text);
      scope = form.get("scope");
      authorized =
        refreshToken !== undefined &&
        form.get("grant_type") === "refresh_token" &&
        form.get("refresh_token") === refreshToken;
    }
    state.requests.push({ scope, authorized, method: req.method ?? "GET" });
    if (state.garbage) {
      res.writeHead(200, { "content-type": "application/json" }).end("{not json");
      return;
    }
    if (!authorized) {
      res
        .writeHead(401, { "content-type": "application/json" })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access = (scope ?? "")
      .split(" ")
      .filter(Boolean)
      .map((s) => {
        const [type, name, actions] = s.split(":");
        return { type, name, actions: (actions ?? "").split(",") };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: "ES256", typ: "JWT", x5c: [der] }));
    const claims = base64url(
      JSON.stringify({
        iss: TOKEN_ISSUER,
        sub: user,
        aud: TOKEN_SERVICE,
        exp: now + 600,
        nbf: now - 60,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = sign("sha256", Buffer.from(`${header}.${claims}`), {
      key: pem,
      dsaEncoding: "ieee-p1363",
    });
    const token = `${header}.${claims}.${base64url(signature)}`;
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(
        JSON.stringify(
          req.method === "POST"
            ? { access_token: token, expires_in: 600 }
            : { token, expires_in: 600 },
        ),
      );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return Object.assign(state, {
    realm: `http://127.0.0.1:${port}/token`,
    certificate,
    stop: () => server.close(),
  });
}

/**
 * What the fault proxy does to the requests it forwards (each fault once per path unless `always`).
 */
export interface Faults {
  /** Blob GETs without a Range: send the headers and half the body, then cut the connection. */
  cutBlobs?: boolean;
  /** Blob GETs with a Range: ignore it and send the whole blob (200), as some registries do. */
  ignoreRange?: boolean;
  /** Manifest GETs: answer 503 with Retry-After: 1 first. */
  unavailableManifests?: boolean;
  /** Manifest GETs: the connection is cut before any answer, the first time for each path. */
  cutManifests?: boolean;
  /** Blob GETs: answer 429 first. */
  throttleBlobs?: boolean;
  /** Every blob GET is cut (a connection that never holds). */
  alwaysCutBlobs?: boolean;
  /** Blob GETs: redirect to the blob server, another loopback port. */
  redirectBlobs?: boolean;
  /** Blob GETs: flip one byte of the body (the digest no longer matches). */
  corruptBlobs?: boolean;
  /** Blob GETs: send the headers and a few bytes, then nothing, ever. */
  stallBlobs?: boolean;
  /** Manifest GETs: announce and send 20 MB. */
  hugeManifests?: boolean;
  /** Manifest GETs: answer with a Docker schema 1 manifest. */
  schema1Manifests?: boolean;
  /** Blob bodies: sent at about this many bytes per second, in 16 KiB pieces. */
  bytesPerSecond?: number;
  /**
   * Cross-repository mounts (POST ?mount=&from=) asked from a repository that does not exist: the
   * registry declines, opening an ordinary upload instead (202), as the spec lets it.
   */
  declineMounts?: boolean;
  /**
   * The referrers API, which Debian's registry lacks: the index answered for each digest (an empty
   * one for others).
   */
  referrers?: ReadonlyMap<string, Buffer>;
}

export interface FaultProxy {
  readonly host: string;
  /**
   * Each request: method, path, Range header, and (for the blob server) whether Authorization came
   * along.
   */
  readonly log: Array<{
    /** Where the request was forwarded (the faults answered here leave it out). */
    method?: string;
    path: string;
    range: string | undefined;
    status: number;
    server: "proxy" | "blobs";
    authorization: boolean;
  }>;
  faults: Faults;
  stop(): void;
}

/**
 * A loopback HTTP proxy in front of a registry that injects faults, and a
 * second port that serves redirected blobs (fetching them from the registry
 * with the credentials the test gives it, never with the client's).
 */
export async function startFaultProxy(upstream: string, blobAuth?: string): Promise<FaultProxy> {
  const seen = new Set<string>();
  const state: { log: FaultProxy["log"]; faults: Faults } = { log: [], faults: {} };
  const once = (key: string): boolean => {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const forward = (
    req: import("node:http").IncomingMessage,
    res: import("node:http").ServerResponse,
    server: "proxy" | "blobs",
    onBody?: (upstreamRes: import("node:http").IncomingMessage) => boolean,
  ): void => {
    const headers = { ...req.headers, host: upstream };
    if (server === "blobs") {
      delete headers.authorization;
      if (blobAuth !== undefined)
        headers.authorization = `Basic ${Buffer.from(blobAuth).toString("base64")}`;
    }
    const out = request(
      {
        host: upstream.split(":")[0],
        port: Number(upstream.split(":")[1]),
        path: req.url,
        method: req.method,
        headers,
      },
      (up) => {
        const range = (req.headers.range ?? req.headers["x-asked-range"]) as string | undefined;
        state.log.push({
          method: req.method ?? "",
          path: req.url ?? "",
          range,
          status: up.statusCode ?? 0,
          server,
          authorization: req.headers.authorization !== undefined,
        });
        if (onBody?.(up) === true) return;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    // Bodies too (an upload's PATCH and PUT).
    req.pipe(out);
  };
  const blobServer = createHttpServer((req, res) => forward(req, res, "blobs"));
  const blobPort = await freePort();
  await new Promise<void>((resolve) => blobServer.listen(blobPort, "127.0.0.1", resolve));
  const proxy = createHttpServer((req, res) => {
    const path = req.url ?? "";
    const f = state.faults;
    const isBlob = /\/blobs\/sha256:/.test(path);
    const referrersOf = /\/referrers\/(sha256:[0-9a-f]{64})/.exec(path)?.[1];
    const referrers =
      referrersOf === undefined || f.referrers === undefined
        ? undefined
        : (f.referrers.get(referrersOf) ??
          Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: "application/vnd.oci.image.index.v1+json",
              manifests: [],
            }),
          ));
    if (referrers !== undefined) {
      state.log.push({
        path,
        range: undefined,
        status: 200,
        server: "proxy",
        authorization: req.headers.authorization !== undefined,
      });
      res
        .writeHead(200, {
          "content-type": "application/vnd.oci.image.index.v1+json",
          "content-length": String(referrers.length),
        })
        .end(referrers);
      return;
    }
    if (f.cutManifests === true && /\/manifests\//.test(path) && once(`cut ${path}`)) {
      state.log.push({
        path,
        range: undefined,
        status: 0,
        server: "proxy",
        authorization: req.headers.authorization !== undefined,
      });
      req.socket.destroy();
      return;
    }
    if (f.unavailableManifests === true && /\/manifests\//.test(path) && once(`503 ${path}`)) {
      state.log.push({
        path,
        range: undefined,
        status: 503,
        server: "proxy",
        authorization: req.headers.authorization !== undefined,
      });
      res
        .writeHead(503, { "retry-after": "1", "content-type": "application/json" })
        .end('{"errors":[{"code":"UNAVAILABLE"}]}');
      return;
    }
    if (isBlob && f.throttleBlobs === true && once(`429 ${path}`)) {
      state.log.push({
        path,
        range: undefined,
        status: 429,
        server: "proxy",
        authorization: req.headers.authorization !== undefined,
      });
      res
        .writeHead(429, { "content-type": "application/json" })
        .end('{"errors":[{"code":"TOOMANYREQUESTS"}]}');
      return;
    }
    if (
      isBlob &&
      f.redirectBlobs === true &&
      (req.headers.authorization !== undefined || blobAuth === undefined)
    ) {
      state.log.push({
        path,
        range: undefined,
        status: 307,
        server: "proxy",
        authorization: req.headers.authorization !== undefined,
      });
      res.writeHead(307, { location: `http://127.0.0.1:${blobPort}${path}` }).end();
      return;
    }
    if (/\/manifests\//.test(path) && (f.hugeManifests === true || f.schema1Manifests === true)) {
      state.log.push({
        path,
        range: undefined,
        status: 200,
        server: "proxy",
        authorization: req.headers.authorization !== undefined,
      });
      if (f.schema1Manifests === true) {
        res
          .writeHead(200, {
            "content-type": "application/vnd.docker.distribution.manifest.v1+prettyjws",
          })
          .end('{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}');
        return;
      }
      const size = 20 * 2 ** 20;
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "content-length": String(size),
      });
      res.end(Buffer.alloc(size, 0x20));
      return;
    }
    if (
      isBlob &&
      (f.corruptBlobs === true || f.stallBlobs === true) &&
      req.headers.range === undefined
    ) {
      forward(req, res, "proxy", (up) => {
        if (up.statusCode !== 200) return false;
        res.writeHead(200, up.headers);
        let first = true;
        up.on("data", (chunk: Buffer) => {
          if (f.stallBlobs === true) {
            // A few bytes, then silence with the connection open.
            if (first) res.write(chunk.subarray(0, 8));
            first = false;
            return;
          }
          const copy = Buffer.from(chunk);
          if (first && copy.length > 0)
            copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0xff;
          first = false;
          res.write(copy);
        });
        up.on("end", () => {
          if (f.stallBlobs !== true) res.end();
        });
        return true;
      });
      return;
    }
    if (isBlob && f.bytesPerSecond !== undefined) {
      const rate = f.bytesPerSecond;
      forward(req, res, "proxy", (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const piece = 16 * 1024;
        const started = Date.now();
        let sent = 0;
        void (async () => {
          for await (const chunk of up as AsyncIterable<Buffer>) {
            for (let at = 0; at < chunk.length; at += piece) {
              const part = chunk.subarray(at, at + piece);
              const due = started + ((sent + part.length) / rate) * 1000;
              if (due > Date.now())
                await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
              sent += part.length;
              if (!res.write(part)) await new Promise((resolve) => res.once("drain", resolve));
            }
          }
          res.end();
        })().catch(() => res.destroy());
        return true;
      });
      return;
    }
    if (f.declineMounts === true && req.method === "POST" && /[?&]mount=/.test(path))
      req.url = path.replace(/([?&]from=)[^&]*/, "$1nobody%2Fnothing");
    if (isBlob && f.ignoreRange === true && req.headers.range !== undefined) {
      // Logged as asked, sent upstream without: the whole blob comes back (200).
      req.headers["x-asked-range"] = req.headers.range;
      delete req.headers.range;
    }
    const cut =
      isBlob &&
      req.headers.range === undefined &&
      (f.alwaysCutBlobs === true || (f.cutBlobs === true && once(`cut ${path}`)));
    forward(req, res, "proxy", (up) => {
      if (!cut || up.statusCode !== 200) return false;
      res.writeHead(200, up.headers);
      const half = Math.floor(Number(up.headers["content-length"]) / 2);
      let sent = 0;
      up.on("data", (chunk: Buffer) => {
        if (sent >= half) return;
        const part = chunk.subarray(0, half - sent);
        sent += part.length;
        // The headers and the first half reach the client, then the connection drops.
        if (sent >= half) {
          up.destroy();
          res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
        } else {
          res.write(part);
        }
      });
      return true;
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => proxy.listen(port, "127.0.0.1", resolve));
  return Object.assign(state, {
    host: `127.0.0.1:${port}`,
    stop: () => {
      proxy.close();
      blobServer.close();
      proxy.closeAllConnections();
      blobServer.closeAllConnections();
    },
  });
}

/** A CA made for the test, and a server certificate it signed for 127.0.0.1. */
export interface TestCertificates {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

export function makeCertificates(dir: string): TestCertificates {
  const run = (args: string[]): void => {
    const result = spawnSync("openssl", args, { encoding: "utf8", cwd: dir });
    if (result.status !== 0) throw new Error(`openssl ${args[0]}: ${result.stderr}`);
  };
  const at = (name: string): string => join(dir, name);
  run([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=strata-test-ca",
  ]);
  run([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    at("server.key"),
    "-out",
    at("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  // registry.strata.test: a name only the test proxy resolves (connect-proxy.ts).
  writeFileSync(at("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:registry.strata.test\n");
  run([
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.crt"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("server.crt"),
    "-days",
    "2",
    "-extfile",
    at("san.ext"),
  ]);
  return { caCert: at("ca.crt"), serverCert: at("server.crt"), serverKey: at("server.key") };
}

/** Uploads a blob to an open registry (monolithic POST then PUT), as a push tool does. */
export async function pushBlob(
  host: string,
  repository: string,
  blob: { digest: string; data: Buffer },
): Promise<void> {
  const started = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  if (started.status !== 202)
    throw new Error(`blob upload to ${host}/${repository}: ${started.status}`);
  const location = new URL(started.headers.get("location") ?? "", `http://${host}`);
  location.searchParams.set("digest", blob.digest);
  const done = await fetch(location, {
    method: "PUT",
    body: blob.data,
    headers: { "content-type": "application/octet-stream" },
  });
  if (done.status !== 201)
    throw new Error(
      `blob ${blob.digest} to ${host}/${repository}: ${done.status} ${await done.text()}`,
    );
}

/** PUTs a manifest or index under a tag or its digest. */
export async function pushManifest(
  host: string,
  repository: string,
  reference: string,
  manifest: { mediaType: string; data: Buffer },
): Promise<void> {
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    body: manifest.data,
    headers: { "content-type": manifest.mediaType },
  });
  if (response.status !== 201)
    throw new Error(
      `manifest ${reference} to ${host}/${repository}: ${response.status} ${await response.text()}`,
    );
}
