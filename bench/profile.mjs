// Where strata's main thread spends its time: runs one unpack under
// --cpu-prof and sums the samples into kernel (sync fs calls), waiting for
// the reader threads (idle: the ring is empty), hashing, GC and JS; and, per
// thread, the CPU of the whole process (main, blob reader, tar hasher, ...).
//   node bench/profile.mjs IMAGE DEST_PARENT
// Use a tmpfs DEST_PARENT (/dev/shm) to leave ext4's own variance out.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const [image, parent = "/dev/shm"] = process.argv.slice(2);
if (image === undefined) throw new Error("usage: node bench/profile.mjs IMAGE [DEST_PARENT]");
const work = mkdtempSync(join(parent, "strata-profile-"));
const bin = resolve(import.meta.dirname, "..", "packages", "strata", "bin", "strata.js");
const started = process.hrtime.bigint();
// GNU time gives the whole process's CPU (all threads): main thread + the libuv pool, where zlib
// inflates.
// The preload prints each thread's CPU (from /proc/self/task) as the process exits.
const preload = join(work, "threads.mjs");
writeFileSync(
  preload,
  `import { readdirSync, readFileSync, writeFileSync } from "node:fs";
process.on("exit", () => {
  const threads = readdirSync("/proc/self/task").map((tid) => {
    const stat = readFileSync("/proc/self/task/" + tid + "/stat", "utf8").split(") ")[1].split(" ");
    const name = readFileSync("/proc/self/task/" + tid + "/comm", "utf8").trim();
    return { tid: Number(tid), name, ms: (Number(stat[11]) + Number(stat[12])) * 10 };
  });
  const out = ${JSON.stringify(join(work, "threads.json"))};
  writeFileSync(out, JSON.stringify(threads.filter((t) => t.ms > 0)));
});
`,
);
const timed = spawnSync(
  "/usr/bin/time",
  [
    "-f",
    "%U %S",
    process.execPath,
    "--import",
    preload,
    "--cpu-prof",
    `--cpu-prof-dir=${work}`,
    bin,
    "unpack",
    "--quiet",
    image,
    join(work, "rootfs"),
  ],
  { encoding: "utf8" },
);
if (timed.status !== 0) throw new Error(timed.stderr);
const wall = Number(process.hrtime.bigint() - started) / 1e6;
const [user, sys] = timed.stderr.trim().split("\n").pop().split(" ").map(Number);
const profile = JSON.parse(
  readFileSync(
    join(
      work,
      readdirSync(work).find((f) => f.endsWith(".cpuprofile")),
    ),
    "utf8",
  ),
);
// Threads in creation order: main first, then node's own helpers and the workers.
const threads = JSON.parse(readFileSync(join(work, "threads.json"), "utf8")).sort(
  (a, b) => a.tid - b.tid,
);
rmSync(work, { recursive: true, force: true });

const SYSCALLS = new Set([
  "open",
  "close",
  "writeBuffer",
  "writeString",
  "lstat",
  "stat",
  "fstat",
  "mkdir",
  "symlink",
  "link",
  "unlink",
  "rmdir",
  "rmSync",
  "fchown",
  "fchmod",
  "futimes",
  "lutimes",
  "chmod",
  "lchown",
  "readdir",
  "readlink",
  "read",
  "lsetxattr",
  "llistxattr",
  "lgetxattr",
  "mknod",
]);
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const totals = { kernel: 0, "waiting (idle)": 0, sha256: 0, gc: 0, "zlib callbacks": 0, js: 0 };
const bySyscall = new Map();
profile.samples.forEach((id, i) => {
  const frame = nodes.get(id).callFrame;
  const dt = profile.timeDeltas[i] / 1000;
  const name = frame.functionName;
  if (name === "(idle)") totals["waiting (idle)"] += dt;
  else if (name === "(garbage collector)") totals.gc += dt;
  else if (name === "update" && frame.url.includes("crypto")) totals.sha256 += dt;
  else if (frame.url.includes("zlib")) totals["zlib callbacks"] += dt;
  else if (frame.url === "" && SYSCALLS.has(name)) {
    totals.kernel += dt;
    bySyscall.set(name, (bySyscall.get(name) ?? 0) + dt);
  } else totals.js += dt;
});
const sampled = Object.values(totals).reduce((a, b) => a + b, 0);
console.log(
  `wall ${wall.toFixed(0)} ms (includes process start), sampled ${sampled.toFixed(0)} ms`,
);
for (const [k, v] of Object.entries(totals))
  console.log(
    `${k.padEnd(22)} ${v.toFixed(0).padStart(6)} ms ` +
      `${((100 * v) / sampled).toFixed(0).padStart(3)}%`,
  );
const busy = sampled - totals["waiting (idle)"];
console.log(
  `process CPU ${((user + sys) * 1000).toFixed(0)} ms (user ${(user * 1000).toFixed(0)}, sys ` +
    `${(sys * 1000).toFixed(0)}); threads other than main about ` +
    `${((user + sys) * 1000 - busy).toFixed(0)} ms`,
);
// Threads carry no names of their own: main has the lowest tid, the blob reader and the tar hasher
// are the last two busy ones.
console.log("CPU by thread (tid order):", threads.map((t) => `${t.name} ${t.ms} ms`).join(", "));
console.log(
  "kernel by call:",
  [...bySyscall]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(", "),
);
