import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID, sign, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request, type Server } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";

/** Why registry tests cannot run here, or undefined when they can. */
export function registryUnavailable(): string | undefined {
  for (const tool of ["docker-registry", "skopeo", "htpasswd", "openssl"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed (test/install-tools.sh installs it as root)`;
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
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
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
export async function startRegistry(dir: string, options: { htpasswd?: { user: string; password: string }; token?: TokenServer } = {}): Promise<TestRegistry> {
  const port = await freePort();
  let auth = "";
  if (options.token !== undefined) {
    const t = options.token;
    auth = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${TOKEN_SERVICE}\n    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${t.certificate}\n`;
  }
  if (options.htpasswd !== undefined) {
    const file = join(dir, "htpasswd");
    const made = spawnSync("htpasswd", ["-Bbc", file, options.htpasswd.user, options.htpasswd.password], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`htpasswd: ${made.stderr}`);
    auth = `auth:\n  htpasswd:\n    realm: strata-test\n    path: ${file}\n`;
  }
  const config = join(dir, "config.yml");
  writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`);
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (log += text));
  for (let i = 0; i < 100 && !(await answers(port)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  if (!(await answers(port))) {
    child.kill();
    throw new Error(`docker-registry did not start: ${log}`);
  }
  return { host: `127.0.0.1:${port}`, stop: () => child.kill() };
}

/**
 * skopeo copy into the registry (plain HTTP: the test registry is on
 * loopback). Asynchronous: the token server runs in this process and must
 * keep answering while skopeo waits for it.
 */
export async function push(source: string, destination: string, creds?: string): Promise<void> {
  const child = spawn("skopeo", ["copy", "--all", "--dest-tls-verify=false", ...(creds === undefined ? [] : ["--dest-creds", creds]), source, destination], { stdio: ["ignore", "ignore", "pipe"] });
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
  /** Each request: its scope, and whether it carried the right credentials. */
  readonly requests: Array<{ scope: string | null; authorized: boolean }>;
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
export async function startTokenServer(dir: string, user: string, password: string): Promise<TokenServer> {
  const key = `${dir}/token.key`;
  const certificate = `${dir}/token.crt`;
  const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=strata-test-token"], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  const pem = readFileSync(key, "utf8");
  const der = new X509Certificate(readFileSync(certificate)).raw.toString("base64");
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const state = { requests: [] as TokenServer["requests"], garbage: false };
  const server: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const scope = url.searchParams.get("scope");
    const authorized = req.headers.authorization === expected;
    state.requests.push({ scope, authorized });
    if (state.garbage) {
      res.writeHead(200, { "content-type": "application/json" }).end("{not json");
      return;
    }
    if (!authorized) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
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
    const claims = base64url(JSON.stringify({ iss: TOKEN_ISSUER, sub: user, aud: TOKEN_SERVICE, exp: now + 600, nbf: now - 60, iat: now, jti: randomUUID(), access }));
    const signature = sign("sha256", Buffer.from(`${header}.${claims}`), { key: pem, dsaEncoding: "ieee-p1363" });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: `${header}.${claims}.${base64url(signature)}`, expires_in: 600 }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return Object.assign(state, { realm: `http://127.0.0.1:${port}/token`, certificate, stop: () => server.close() });
}
