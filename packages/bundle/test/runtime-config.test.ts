import { describe, expect, it } from "vitest";
import { parseImageConfig } from "@strata-oci/image";
import { runtimeConfig, type AccountFiles } from "@strata-oci/bundle";

const accounts: AccountFiles = {
  passwd: [{ name: "app", uid: 1000, gid: 1000, home: "/home/app" }],
  group: [],
};

function imageConfig(runtime: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const raw = {
    architecture: "arm64",
    variant: "v8",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [] },
    config: runtime,
    ...extra,
  };
  return parseImageConfig(Buffer.from(JSON.stringify(raw)), 0);
}

type Config = {
  process: { env: string[]; args: string[]; cwd: string; terminal: boolean; user: unknown };
  mounts: Array<{ destination: string; type: string; options?: string[] }>;
  annotations: Record<string, string>;
  linux: Record<string, unknown>;
};

function config(
  runtime: Record<string, unknown>,
  overrides = {},
  extra: Record<string, unknown> = {},
): Config {
  return runtimeConfig(imageConfig(runtime, extra), accounts, overrides) as unknown as Config;
}

describe("runtimeConfig", () => {
  it("args = Entrypoint + Cmd; cwd = WorkingDir, default /", () => {
    expect(config({ Entrypoint: ["/bin/sh", "-c"], Cmd: ["echo hi"] }).process.args).toEqual([
      "/bin/sh",
      "-c",
      "echo hi",
    ]);
    expect(config({ Cmd: ["x"] }).process.cwd).toBe("/");
    expect(config({ Cmd: ["x"], WorkingDir: "/w" }).process.cwd).toBe("/w");
  });

  it("refuses an image with no command unless --args names one", () => {
    expect(() => config({})).toThrow(
      expect.objectContaining({ code: "STRATA_BAD_RUNTIME_CONFIG" }),
    );
    expect(config({}, { args: ["/bin/true"] }).process.args).toEqual(["/bin/true"]);
  });

  it(
    "keeps the image's Env unchanged, = in values and empty values included, and only adds " +
      "what is missing",
    () => {
      const env = config({ Cmd: ["x"], User: "app", Env: ["A=b=c", "EMPTY=", "HOME=/custom"] })
        .process.env;
      expect(env).toEqual([
        "A=b=c",
        "EMPTY=",
        "HOME=/custom",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      ]);
      expect(config({ Cmd: ["x"], User: "app", Env: ["PATH=/bin"] }).process.env).toEqual([
        "PATH=/bin",
        "HOME=/home/app",
      ]);
    },
  );

  it("TERM and terminal only with --tty", () => {
    expect(config({ Cmd: ["x"] }).process.terminal).toBe(false);
    const tty = config({ Cmd: ["x"] }, { tty: true });
    expect(tty.process.terminal).toBe(true);
    expect(tty.process.env).toContain("TERM=xterm");
  });

  it("--env replaces or adds; --cwd and --user override", () => {
    const c = config(
      { Cmd: ["x"], Env: ["A=1", "B=2"] },
      { env: ["B=3", "C=4"], cwd: "/tmp", user: "1000:50" },
    );
    expect(c.process.env.slice(0, 3)).toEqual(["A=1", "B=3", "C=4"]);
    expect(c.process.cwd).toBe("/tmp");
    expect(c.process.user).toEqual({ uid: 1000, gid: 50 });
  });

  it("annotations from the config, then Labels, which win a conflict", () => {
    const c = config(
      {
        Cmd: ["x"],
        StopSignal: "SIGTERM",
        ExposedPorts: { "80/tcp": {}, "53/udp": {} },
        Labels: { "com.example": "x", "org.opencontainers.image.os": "label" },
      },
      {},
      {
        author: "me",
        created: "2026-01-01T00:00:00Z",
        "os.version": "10.0",
        "os.features": ["win32k"],
      },
    );
    expect(c.annotations).toEqual({
      "org.opencontainers.image.os": "label",
      "org.opencontainers.image.architecture": "arm64",
      "org.opencontainers.image.variant": "v8",
      "org.opencontainers.image.os.version": "10.0",
      "org.opencontainers.image.os.features": "win32k",
      "org.opencontainers.image.author": "me",
      "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
      "org.opencontainers.image.stopSignal": "SIGTERM",
      "org.opencontainers.image.exposedPorts": "53/udp,80/tcp",
      "com.example": "x",
    });
  });

  it("Volumes become tmpfs mounts (nosuid,nodev,noexec)", () => {
    const mounts = config({ Cmd: ["x"], Volumes: { "/data": {}, "/cache": {} } }).mounts.filter(
      (m) => (m.type === "tmpfs" && m.destination.startsWith("/c")) || m.destination === "/data",
    );
    expect(mounts.map((m) => m.destination)).toEqual(["/cache", "/data"]);
    expect(mounts[0]?.options).toEqual(["rw", "nosuid", "nodev", "noexec", "relatime"]);
  });

  it(
    "rootless: a user namespace mapping the caller to root, no network namespace, no " +
      "cgroup mount",
    () => {
      const c = config({ Cmd: ["x"] }, { rootless: { hostUid: 1234, hostGid: 5678 } });
      expect(c.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1234, size: 1 }]);
      expect(c.linux.gidMappings).toEqual([{ containerID: 0, hostID: 5678, size: 1 }]);
      const namespaces = (c.linux.namespaces as Array<{ type: string }>).map((n) => n.type);
      expect(namespaces).toContain("user");
      expect(namespaces).not.toContain("network");
      expect(c.mounts.map((m) => m.destination)).not.toContain("/sys/fs/cgroup");
    },
  );
});
