// Debian's Docker daemon, started by a test with a data root, exec root and
// socket of its own (vfs storage, no iptables, no bridge) in a temporary
// directory, and stopped with everything it made: `docker load` of what
// strata writes, `docker save` of what strata reads.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Why a Docker daemon cannot be started here, or undefined when it can. */
export function dockerUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "the Docker daemon needs root";
  for (const tool of ["dockerd", "docker"])
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed (test/install-tools.sh installs docker.io as root)`;
  return undefined;
}

export interface TestDocker {
  /** `docker ARGS` against this daemon. */
  docker(...args: string[]): SpawnSyncReturns<string>;
  stop(): Promise<void>;
}

export async function startDocker(): Promise<TestDocker> {
  // Short: a unix socket's path may not exceed 107 bytes.
  const dir = mkdtempSync("/tmp/strata-dockerd-");
  const socket = join(dir, "docker.sock");
  const daemon = spawn(
    "dockerd",
    [
      "--data-root",
      join(dir, "data"),
      "--exec-root",
      join(dir, "exec"),
      "--pidfile",
      join(dir, "docker.pid"),
      "-H",
      `unix://${socket}`,
      "--storage-driver",
      "vfs",
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  daemon.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const docker = (...args: string[]): SpawnSyncReturns<string> =>
    spawnSync("docker", ["-H", `unix://${socket}`, ...args], { encoding: "utf8" });
  const exited = new Promise<void>((resolve) => daemon.on("exit", () => resolve()));
  for (let waited = 0; ; waited += 200) {
    if (existsSync(socket) && docker("version").status === 0) break;
    if (waited > 30_000 || daemon.exitCode !== null) {
      daemon.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`dockerd did not start:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    docker,
    async stop() {
      daemon.kill("SIGTERM");
      const killed = setTimeout(() => daemon.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(killed);
      // Its containerd (started under the exec root) ends with it; anything it left is removed.
      const pid = join(dir, "exec", "containerd", "containerd.pid");
      if (existsSync(pid)) spawnSync("kill", [readFileSync(pid, "utf8").trim()]);
      spawnSync("umount", ["-R", join(dir, "exec")]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
