// What the round-based benchmarks share: a command timed with its peak RSS
// (GNU time), tools run interleaved with the order rotated every round, each
// in a fresh directory, and the markdown table of medians and per-round ratios.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * Runs `cmd args` under GNU time: wall seconds and peak RSS in MB; a failure throws with its
 * stderr.
 */
export function timed(cmd, args, options = {}) {
  const started = process.hrtime.bigint();
  const run = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], {
    encoding: "utf8",
    ...options,
  });
  if (run.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${run.stderr}`);
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    rssMb: Number(run.stderr.trim().split("\n").at(-1)) / 1024,
  };
}

/** A shell command line, timed. */
export const timedShell = (command) => timed("sh", ["-c", command]);

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * `rounds` rounds of every tool (tool(dir, round) -> { seconds, rssMb }),
 * the order rotated each round, each in a fresh directory under `work`
 * removed after it. Returns the times per tool and each tool's peak RSS.
 */
export function runRounds(tools, rounds, work) {
  const times = Object.fromEntries(Object.keys(tools).map((tool) => [tool, []]));
  const rss = Object.fromEntries(Object.keys(tools).map((tool) => [tool, 0]));
  for (let round = 0; round < rounds; round++) {
    const order = Object.keys(tools);
    for (let k = 0; k < round % order.length; k++) order.push(order.shift());
    for (const tool of order) {
      const dir = mkdtempSync(join(work, "run-"));
      // Nothing of the last run left to write back: an fsync in this one would wait for it (ext4's
      // data=ordered journal commits the other files' data too).
      spawnSync("sync");
      const result = tools[tool](dir, round);
      times[tool].push(result.seconds);
      rss[tool] = Math.max(rss[tool], result.rssMb);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { times, rss };
}

/**
 * The markdown table: each tool's median (min-max), peak RSS, and its ratio to the tool (or
 * tools: an array) `paired` names, per round.
 */
export function printTable(title, { times, rss }, paired, againstHeader = "against") {
  console.log(title);
  console.log(`| tool | median s (min-max) | peak RSS MB | ${againstHeader} | ratio per round |`);
  console.log("| --- | --- | --- | --- | --- |");
  for (const tool of Object.keys(times)) {
    const t = times[tool];
    // One tool compared with several: "a; b" and their ratios "1.0, 1.1; 2.0, 2.1".
    const others = [paired[tool] ?? []].flat();
    const ratios = others
      .map((other) => t.map((x, r) => (x / times[other][r]).toFixed(2)).join(", "))
      .join("; ");
    console.log(
      `| ${cell(tool)} | ${median(t).toFixed(2)} (${Math.min(...t).toFixed(2)}-` +
        `${Math.max(...t).toFixed(2)}) | ${rss[tool].toFixed(0)} | ${cell(others.join("; "))} | ` +
        `${ratios} |`,
    );
  }
}

/** A table cell's text: a tool named after a pipeline ("tar -c | igzip") keeps its row whole. */
const cell = (text) => text.replaceAll("|", "\\|");

/**
 * Installs with apt the Debian packages of the commands missing here: [[command, package], ...].
 */
export function installMissing(commands) {
  const missing = commands.filter(
    ([command]) => spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0,
  );
  if (missing.length === 0) return;
  const run = spawnSync("apt-get", ["install", "-y", "-qq", ...missing.map(([, pkg]) => pkg)], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (run.status !== 0)
    throw new Error(`apt-get install ${missing.map(([, pkg]) => pkg).join(" ")} failed`);
}

/** A free TCP port on loopback (bound and released). */
export async function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * Debian's docker-registry on a loopback port, storing under `storage`, once it answers: `host`,
 * and `stop`.
 */
export async function startRegistry(storage) {
  const port = await freePort();
  const config = join(storage, "registry.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ` +
      `${join(storage, "registry")}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const child = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((done) => {
      const req = request({ host: "127.0.0.1", port, path: "/v2/" }, (res) => {
        res.resume();
        done(true);
      });
      req.on("error", () => done(false));
      req.end();
    });
    if (up) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  return { host: `127.0.0.1:${port}`, stop: () => child.kill() };
}

/**
 * A proxy to the registry on `port` whose bodies share one budget of `rate` bytes a
 * second, with a 100 ms burst (as a shaper's buffer): without it, every
 * scheduling delay of this process on the shared cores was bandwidth lost
 * for good, and the busier tool lost more of it.
 */
export async function rateLimitedProxy(port, rate) {
  let free = Date.now();
  const proxyPort = await freePort();
  const server = createHttpServer((req, res) => {
    const out = request(
      { host: "127.0.0.1", port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        void (async () => {
          for await (const chunk of up) {
            for (let at = 0; at < chunk.length; at += 64 * 1024) {
              const part = chunk.subarray(at, at + 64 * 1024);
              free = Math.max(free, Date.now() - 100) + (part.length / rate) * 1000;
              const wait = free - Date.now();
              if (wait > 1) await new Promise((done) => setTimeout(done, wait));
              if (!res.write(part)) await new Promise((done) => res.once("drain", done));
            }
          }
          res.end();
        })().catch(() => res.destroy());
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  await new Promise((done) => server.listen(proxyPort, "127.0.0.1", done));
  return {
    host: `127.0.0.1:${proxyPort}`,
    stop: () => (server.closeAllConnections(), server.close()),
  };
}
