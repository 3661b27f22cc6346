import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  copyFileSync,
  lutimesSync,
  existsSync,
} from "node:fs";
import { join } from "node:path";

/** Why the umoci conformance tests cannot run here, or undefined when they can. */
export function umociUnavailable(): string | undefined {
  if ((process.getuid?.() ?? 1) !== 0) return "needs root (mknod, chown, umoci unpack as root)";
  try {
    execFileSync("umoci", ["--version"], { stdio: "ignore" });
  } catch {
    return "umoci is not installed (test/install-tools.sh installs it as root)";
  }
  if (!existsSync("/bin/busybox")) return "busybox-static is not installed";
  return undefined;
}

export function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const T = 1_650_000_000;

function mkfifo(path: string): void {
  execFileSync("mkfifo", [path]);
}

/** Runs `change` on a fresh unpack of `from` and repacks it as `to`. */
function layer(
  layout: string,
  work: string,
  from: string,
  to: string,
  change: (rootfs: string) => void,
): void {
  const bundle = join(work, `bundle-${to}`);
  run("umoci", ["unpack", "--image", `${layout}:${from}`, bundle]);
  change(join(bundle, "rootfs"));
  run("umoci", ["repack", "--image", `${layout}:${to}`, bundle]);
  rmSync(bundle, { recursive: true, force: true });
}

/**
 * Builds a real image with umoci: several layers with deletions (whiteouts),
 * an opaque insert, file/dir/symlink swaps, hardlinks, setuid, devices, a
 * fifo, xattrs and busybox. Returns the layout path; the final tag is "final".
 */
export function buildUmociImage(work: string): { layout: string; tags: string[] } {
  const layout = join(work, "image");
  run("umoci", ["init", "--layout", layout]);
  run("umoci", ["new", "--image", `${layout}:empty`]);
  layer(layout, work, "empty", "base", (r) => {
    for (const d of [
      "bin",
      "etc",
      "usr/bin",
      "var/lib/app",
      "dir2link",
      "other",
      "swap/fd",
      "home/user",
      "opaque/keep",
    ])
      mkdirSync(join(r, d), { recursive: true });
    copyFileSync("/bin/busybox", join(r, "bin/busybox"));
    chmodSync(join(r, "bin/busybox"), 0o755);
    for (const applet of ["sh", "ls", "cat", "id", "echo"])
      symlinkSync("busybox", join(r, "bin", applet));
    writeFileSync(
      join(r, "etc/passwd"),
      "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
    );
    writeFileSync(join(r, "etc/group"), "root:x:0:\nuser:x:1000:\n");
    writeFileSync(join(r, "usr/bin/suid"), "setuid program\n");
    chownSync(join(r, "usr/bin/suid"), 1000, 1000);
    chmodSync(join(r, "usr/bin/suid"), 0o4755);
    writeFileSync(join(r, "usr/bin/sgid"), "setgid\n");
    chmodSync(join(r, "usr/bin/sgid"), 0o2711);
    writeFileSync(join(r, "var/lib/app/data"), "x".repeat(100_000));
    linkSync(join(r, "var/lib/app/data"), join(r, "var/lib/app/data.link"));
    writeFileSync(join(r, "dir2link/inner"), "inner of dir2link\n");
    writeFileSync(join(r, "other/inner"), "inner of other\n");
    writeFileSync(join(r, "swap/fd/child"), "child\n");
    writeFileSync(join(r, "swap/df"), "a file that becomes a dir\n");
    writeFileSync(join(r, "swap/fl"), "a file that becomes a link\n");
    writeFileSync(join(r, "opaque/old"), "hidden by the opaque insert\n");
    writeFileSync(join(r, "opaque/keep/x"), "also hidden\n");
    writeFileSync(join(r, "home/user/.profile"), "export PS1='$ '\n");
    chownSync(join(r, "home/user"), 1000, 1000);
    chownSync(join(r, "home/user/.profile"), 1000, 1000);
    chmodSync(join(r, "home/user"), 0o700);
    writeFileSync(join(r, "etc/cap"), "file with xattrs\n");
    run("setfattr", ["-n", "user.empty", join(r, "etc/cap")]);
    run("setfattr", ["-n", "trusted.note", "-v", "0x00ff10", join(r, "etc/cap")]);
    run("setfattr", [
      "-n",
      "security.capability",
      "-v",
      "0x0100000200040000000000000000000000000000",
      join(r, "etc/cap"),
    ]);
    execFileSync("mknod", ["-m", "0666", join(r, "etc/null"), "c", "1", "3"]);
    execFileSync("mknod", ["-m", "0660", join(r, "etc/loop9"), "b", "7", "9"]);
    mkfifo(join(r, "etc/fifo"));
    writeFileSync(join(r, "etc/old-time"), "timed\n");
    utimesSync(join(r, "etc/old-time"), T, T);
    lutimesSync(join(r, "bin/sh"), T, T);
    utimesSync(join(r, "home/user"), T, T);
  });
  layer(layout, work, "base", "changes", (r) => {
    rmSync(join(r, "usr/bin/sgid"));
    rmSync(join(r, "var/lib/app"), { recursive: true });
    rmSync(join(r, "swap/fd"), { recursive: true });
    writeFileSync(join(r, "swap/fd"), "a dir that became a file\n");
    rmSync(join(r, "swap/df"));
    mkdirSync(join(r, "swap/df"));
    writeFileSync(join(r, "swap/df/new"), "inside the new dir\n");
    rmSync(join(r, "swap/fl"));
    symlinkSync("../etc/passwd", join(r, "swap/fl"));
    writeFileSync(
      join(r, "etc/passwd"),
      [
        "root:x:0:0:root:/root:/bin/sh",
        "user:x:1000:1000::/home/user:/bin/sh",
        "app:x:2000:2000::/:/bin/sh",
        "",
      ].join("\n"),
    );
    chmodSync(join(r, "etc"), 0o751);
    run("setfattr", ["-x", "trusted.note", join(r, "etc/cap")]);
  });
  const insert = join(work, "insert-src");
  mkdirSync(join(insert, "fresh"), { recursive: true });
  writeFileSync(join(insert, "fresh/file"), "from the opaque insert\n");
  writeFileSync(join(insert, "top"), "top\n");
  run("umoci", [
    "insert",
    "--image",
    `${layout}:changes`,
    "--tag",
    "opaque",
    "--opaque",
    insert,
    "/opaque",
  ]);
  // The case where umoci breaks the spec: dir2link becomes a symlink to
  // `other`, and umoci writes dir2link/.wh.inner after the symlink.
  layer(layout, work, "opaque", "final", (r) => {
    rmSync(join(r, "dir2link"), { recursive: true });
    symlinkSync("other", join(r, "dir2link"));
  });
  return { layout, tags: ["base", "changes", "opaque", "final"] };
}
