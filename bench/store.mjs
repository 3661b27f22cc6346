// The layer store (issue #12): a first image into an empty store against a
// flat unpack of it, and a second image that shares the first's base layers
// (only its own layer is new) into the filled store, against `podman pull`
// (overlay driver, throwaway --root) of the same two images from the same
// OCI layout and containerd's `ctr image import` (which unpacks into its
// overlayfs snapshotter; own daemon on a throwaway root) of the same two as
// OCI archives. Rounds interleaved, order rotated, each from nothing.
// containerd's peak RSS is its daemon's high-water mark (it does the work).
// strata runs as users run it, through its shell entry (bin/strata), with the
// environment as given. Node 20 reads NODE_EXTRA_CA_CERTS's file at start,
// before any JavaScript: where it is set (this machine sets it), every node
// command starts 50-90 ms later; the shell entry starts Node without it. The
// row "without NODE_EXTRA_CA_CERTS" shows the command on a machine that does
// not set it. "strata library" is
// unpackToStore called in a process that has loaded strata (a build tool
// calling the library): the call timed, cold (its first in the process).
//   node bench/store.mjs [--rounds N] [--image oci:DIR:TAG] [--dest DIR] [--only second]
// (after `pnpm run build`, as root; podman and GNU time installed with apt
// when missing), or on a fresh ext4:
//   bash bench/fresh-ext4.sh store.mjs --rounds 3
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { installMissing, printTable, runRounds, timed } from "./rounds.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    image: { type: "string" },
    dest: { type: "string" },
    only: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 3);
const root = resolve(import.meta.dirname, "..");
const bin = join(root, "packages", "strata", "bin", "strata.js");
// The command users run (node_modules/.bin/strata): the shell entry, which starts Node without
// NODE_EXTRA_CA_CERTS.
const command = join(root, "packages", "strata", "bin", "strata");
installMissing([
  ["podman", "podman"],
  ["ctr", "containerd"],
]);
const image = values.image ?? `oci:${join(root, "bench", "data", "debian")}:minbase`;
const [, layoutPath, tag] = /^oci:(.*):([^:]+)$/.exec(image) ?? [];
if (layoutPath === undefined || !existsSync(join(layoutPath, "index.json")))
  throw new Error(`no OCI layout for ${image} (bench/debian.sh makes bench/data/debian)`);
// Lower case: podman names an image pulled from oci:PATH after PATH, and refuses capitals.
const work = join(resolve(values.dest ?? join(root, "bench", "out")), `store-bench-${process.pid}`);
mkdirSync(work);

// The second image: the first plus one layer (a build step: 200 files added, one rewritten), made
// by strata repack.
const layout = join(work, "layout");
cpSync(layoutPath, layout, { recursive: true });
const rootfs = join(work, "derive-rootfs");
execFileSync(process.execPath, [bin, "unpack", "--quiet", `oci:${layout}:${tag}`, rootfs]);
mkdirSync(join(rootfs, "opt", "app"), { recursive: true });
for (let i = 0; i < 200; i++)
  writeFileSync(join(rootfs, "opt", "app", `f${i}`), `file ${i}\n`.repeat(100));
writeFileSync(join(rootfs, "etc", "hostname"), "derived\n");
execFileSync(
  process.execPath,
  [bin, "repack", `oci:${layout}:${tag}`, rootfs, `oci:${layout}:derived`],
  { stdio: "ignore" },
);
rmSync(rootfs, { recursive: true, force: true });
const first = `oci:${layout}:${tag}`;
const second = `oci:${layout}:derived`;

// Each image alone as an OCI archive for ctr, named as containerd wants (a full reference).
function archiveOf(ref, name) {
  const dir = join(work, `archive-${name}`);
  execFileSync("skopeo", ["copy", "-q", ref, `oci:${dir}:docker.io/strata/bench:${name}`]);
  const file = `${dir}.tar`;
  execFileSync("tar", ["-cf", file, "-C", dir, "."]);
  return file;
}
const firstArchive = archiveOf(first, "first");
const secondArchive = archiveOf(second, "second");

/**
 * containerd on a throwaway root: `import(archive)` runs ctr image import (which unpacks), timed.
 */
function containerd(dir) {
  const socket = join(dir, "containerd.sock");
  writeFileSync(
    join(dir, "config.toml"),
    `version = 2\nroot = "${join(dir, "root")}"\nstate = "` +
      `${join(dir, "state")}"\n[grpc]\n  address = "${socket}"\n`,
  );
  const daemon = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" });
  for (let i = 0; i < 200 && !existsSync(socket); i++) spawnSync("sleep", ["0.05"]);
  return {
    import: (archive) => {
      const result = timed("ctr", [
        "-a",
        socket,
        "image",
        "import",
        "--snapshotter",
        "overlayfs",
        archive,
      ]);
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"));
      return { ...result, rssMb: Math.max(result.rssMb, Number(hwm?.[1] ?? 0) / 1024) };
    },
    done: () => {
      daemon.kill();
      spawnSync("sleep", ["0.3"]);
      spawnSync("sh", [
        "-c",
        `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`,
      ]);
    },
  };
}

function podman(dir) {
  // podman refuses a runroot path over 50 characters; it holds only locks and state.
  const run = mkdtempSync("/tmp/podman-run-");
  const flags = [
    "--root",
    join(dir, "root"),
    "--runroot",
    run,
    "--storage-driver",
    "overlay",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
  ];
  return {
    pull: (ref) => timed("podman", [...flags, "pull", "-q", ref]),
    done: () => {
      spawnSync("podman", [...flags, "system", "reset", "--force"], { stdio: "ignore" });
      spawnSync("sh", [
        "-c",
        `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`,
      ]);
      rmSync(run, { recursive: true, force: true });
    },
  };
}

const strataStore = (dir, ref, env = process.env) =>
  timed(command, ["unpack", "--quiet", "--store", join(dir, "store"), ref], { env });
const { NODE_EXTRA_CA_CERTS: _extraCa, ...withoutExtraCa } = process.env;

/** unpackToStore timed inside a process that has loaded strata (its first call there). */
const LIBRARY_CALL = `
const { unpackToStore } = await import(process.argv[1]);
const started = performance.now();
await unpackToStore({ image: process.argv[2], store: process.argv[3] });
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ seconds, rssMb: process.resourceUsage().maxRSS / 1024 }));
`;
const library = join(root, "packages", "strata", "dist", "index.js");
function strataLibrary(dir, ref) {
  const run = spawnSync(
    process.execPath,
    ["--input-type=module", "-e", LIBRARY_CALL, library, ref, join(dir, "store")],
    { encoding: "utf8" },
  );
  if (run.status !== 0) throw new Error(`library call: ${run.stderr}`);
  return JSON.parse(run.stdout);
}
/**
 * A peer started in `dir` (containerd's daemon, podman's storage), used, and stopped whatever
 * happens.
 */
const withPeer = (start, use) => (dir) => {
  const peer = start(dir);
  try {
    return use(peer);
  } finally {
    peer.done();
  }
};
/** `time(dir)` of the second image, into a store where strata put the first (untimed). */
const afterFirst = (time) => (dir) => {
  strataStore(dir, first);
  return time(dir);
};
const TOOLS = {
  "strata unpack (flat)": (dir) =>
    timed(command, ["unpack", "--quiet", first, join(dir, "rootfs")]),
  "strata store: first image": (dir) => strataStore(dir, first),
  "podman pull: first image": withPeer(podman, (p) => p.pull(first)),
  "ctr import: first image": withPeer(containerd, (c) => c.import(firstArchive)),
  "ctr import: second image": withPeer(containerd, (c) => {
    c.import(firstArchive);
    return c.import(secondArchive);
  }),
  "strata store: second image": afterFirst((dir) => strataStore(dir, second)),
  "strata store: second image, without NODE_EXTRA_CA_CERTS": afterFirst((dir) =>
    strataStore(dir, second, withoutExtraCa),
  ),
  "strata library: second image (unpackToStore call)": afterFirst((dir) =>
    strataLibrary(dir, second),
  ),
  "podman pull: second image": withPeer(podman, (p) => {
    p.pull(first);
    return p.pull(second);
  }),
};
const PAIRED = {
  "strata store: first image": "strata unpack (flat)",
  "podman pull: first image": "strata store: first image",
  "ctr import: first image": "strata store: first image",
  "podman pull: second image": "strata store: second image",
  "ctr import: second image": "strata store: second image",
  "strata store: second image, without NODE_EXTRA_CA_CERTS": "podman pull: second image",
  "strata library: second image (unpackToStore call)": "podman pull: second image",
};
// --only second (or first): the tools whose names contain it, and what they are compared with.
if (values.only !== undefined) {
  const keep = new Set(
    Object.keys(TOOLS)
      .filter((tool) => tool.includes(values.only))
      .flatMap((tool) => [tool, PAIRED[tool]].filter(Boolean)),
  );
  for (const tool of Object.keys(TOOLS)) if (!keep.has(tool)) delete TOOLS[tool];
}

printTable(
  `${image} and it + one layer (200 files), ${rounds} rounds`,
  runRounds(TOOLS, rounds, work),
  PAIRED,
  "ratio to",
);
rmSync(work, { recursive: true, force: true });
