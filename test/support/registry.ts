import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";

/** Why registry tests cannot run here, or undefined when they can. */
export function registryUnavailable(): string | undefined {
  for (const tool of ["docker-registry", "skopeo", "htpasswd"]) {
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
export async function startRegistry(dir: string, options: { htpasswd?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  const port = await freePort();
  let auth = "";
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

/** skopeo copy into the registry (plain HTTP: the test registry is on loopback). */
export function push(source: string, destination: string, creds?: string): void {
  const result = spawnSync("skopeo", ["copy", "--all", "--dest-tls-verify=false", ...(creds === undefined ? [] : ["--dest-creds", creds]), source, destination], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`skopeo copy ${source} ${destination}: ${result.stderr}`);
}
