// Where strata's main thread spends its time: runs one unpack under
// --cpu-prof and sums the samples into kernel (sync fs calls), inflate wait
// (idle: the thread waits for zlib on the libuv pool), hashing, GC and JS.
//   node bench/profile.mjs IMAGE DEST_PARENT
// Use a tmpfs DEST_PARENT (/dev/shm) to leave ext4's own variance out.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const [image, parent = "/dev/shm"] = process.argv.slice(2);
if (image === undefined) throw new Error("usage: node bench/profile.mjs IMAGE [DEST_PARENT]");
const work = mkdtempSync(join(parent, "strata-profile-"));
const bin = resolve(import.meta.dirname, "..", "packages", "cli", "bin", "strata.js");
const started = process.hrtime.bigint();
// GNU time gives the whole process's CPU (all threads): main thread + the libuv pool, where zlib inflates.
const timed = spawnSync("/usr/bin/time", ["-f", "%U %S", process.execPath, "--cpu-prof", `--cpu-prof-dir=${work}`, bin, "unpack", "--quiet", image, join(work, "rootfs")], { encoding: "utf8" });
if (timed.status !== 0) throw new Error(timed.stderr);
const wall = Number(process.hrtime.bigint() - started) / 1e6;
const [user, sys] = timed.stderr.trim().split("\n").pop().split(" ").map(Number);
const profile = JSON.parse(readFileSync(join(work, readdirSync(work).find((f) => f.endsWith(".cpuprofile"))), "utf8"));
rmSync(work, { recursive: true, force: true });

const SYSCALLS = new Set(["open", "close", "writeBuffer", "writeString", "lstat", "stat", "fstat", "mkdir", "symlink", "link", "unlink", "rmdir", "rmSync", "fchown", "fchmod", "futimes", "lutimes", "chmod", "lchown", "readdir", "readlink", "read", "lsetxattr", "llistxattr", "lgetxattr", "mknod"]);
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const totals = { kernel: 0, "inflate wait (idle)": 0, "sha256": 0, gc: 0, "zlib callbacks": 0, js: 0 };
const bySyscall = new Map();
profile.samples.forEach((id, i) => {
  const frame = nodes.get(id).callFrame;
  const dt = profile.timeDeltas[i] / 1000;
  const name = frame.functionName;
  if (name === "(idle)") totals["inflate wait (idle)"] += dt;
  else if (name === "(garbage collector)") totals.gc += dt;
  else if (name === "update" && frame.url.includes("crypto")) totals.sha256 += dt;
  else if (frame.url.includes("zlib")) totals["zlib callbacks"] += dt;
  else if (frame.url === "" && SYSCALLS.has(name)) {
    totals.kernel += dt;
    bySyscall.set(name, (bySyscall.get(name) ?? 0) + dt);
  } else totals.js += dt;
});
const sampled = Object.values(totals).reduce((a, b) => a + b, 0);
console.log(`wall ${wall.toFixed(0)} ms (includes process start), sampled ${sampled.toFixed(0)} ms`);
for (const [k, v] of Object.entries(totals)) console.log(`${k.padEnd(22)} ${v.toFixed(0).padStart(6)} ms ${((100 * v) / sampled).toFixed(0).padStart(3)}%`);
const busy = sampled - totals["inflate wait (idle)"];
console.log(`process CPU ${((user + sys) * 1000).toFixed(0)} ms (user ${(user * 1000).toFixed(0)}, sys ${(sys * 1000).toFixed(0)}); other threads (zlib on the pool) about ${((user + sys) * 1000 - busy).toFixed(0)} ms`);
console.log("kernel by call:", [...bySyscall].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", "));
