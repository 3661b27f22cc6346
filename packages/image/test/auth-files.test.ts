import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { authFiles, credentialsFor, parseDockerReference } from "@strata-oci/image";

const root = mkdtempSync(join(tmpdir(), "strata-auth-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh HOME (and runtime dir) with the given files. */
function home(files: Record<string, unknown>): NodeJS.ProcessEnv {
  const dir = join(root, `home-${n++}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), typeof content === "string" ? content : JSON.stringify(content));
  }
  return {
    HOME: dir,
    XDG_RUNTIME_DIR: join(dir, "run"),
    PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`,
  };
}
const auth = (user: string, pass: string) => ({
  auth: Buffer.from(`${user}:${pass}`).toString("base64"),
});
const ref = (text: string) => parseDockerReference(text.slice("docker:".length));

describe("credentials from auth files", () => {
  it(
    "reads Docker's config.json and containers' auth.json by registry, most specific " +
      "key first",
    () => {
      const env = home({
        ".docker/config.json": {
          auths: {
            "reg.example": auth("any", "1"),
            "reg.example/team": auth("team", "2"),
            "https://index.docker.io/v1/": auth("hub", "3"),
          },
        },
      });
      expect(credentialsFor(ref("docker://reg.example/team/app"), { env })).toEqual({
        username: "team",
        password: "2",
      });
      expect(credentialsFor(ref("docker://reg.example/other/app"), { env })).toEqual({
        username: "any",
        password: "1",
      });
      expect(credentialsFor(ref("docker://debian"), { env })).toEqual({
        username: "hub",
        password: "3",
      });
      expect(credentialsFor(ref("docker://elsewhere.example/app"), { env })).toBeUndefined();
    },
  );

  it(
    "looks in $REGISTRY_AUTH_FILE, then $XDG_RUNTIME_DIR/containers/auth.json, then " +
      "~/.docker/config.json; --authfile alone",
    () => {
      const env = home({
        "explicit.json": { auths: { "reg.example": auth("explicit", "e") } },
        "run/containers/auth.json": { auths: { "reg.example": auth("podman", "p") } },
        ".docker/config.json": {
          auths: { "reg.example": auth("docker", "d"), "only.docker": auth("docker", "d") },
        },
      });
      const r = ref("docker://reg.example/app");
      expect(credentialsFor(r, { env })).toEqual({ username: "podman", password: "p" });
      expect(
        credentialsFor(r, {
          env: { ...env, REGISTRY_AUTH_FILE: join(env.HOME as string, "explicit.json") },
        }),
      ).toEqual({ username: "explicit", password: "e" });
      expect(credentialsFor(ref("docker://only.docker/app"), { env })).toEqual({
        username: "docker",
        password: "d",
      });
      expect(
        credentialsFor(ref("docker://only.docker/app"), {
          env,
          authFile: join(env.HOME as string, "explicit.json"),
        }),
      ).toBeUndefined();
    },
  );

  it("asks credHelpers and credsStore (docker-credential-NAME get, the server on stdin)", () => {
    const env = home({
      ".docker/config.json": { credHelpers: { "reg.example": "fake" }, credsStore: "store" },
    });
    const bin = join(env.HOME as string, "bin");
    mkdirSync(bin, { recursive: true });
    const log = join(env.HOME as string, "asked");
    writeFileSync(
      join(bin, "docker-credential-fake"),
      `#!/bin/sh\ncat > ${log}\necho '{"ServerURL":"x","Username":"helped","Secret":"h-secret"}'\n`,
    );
    writeFileSync(
      join(bin, "docker-credential-store"),
      `#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n`,
    );
    chmodSync(join(bin, "docker-credential-fake"), 0o755);
    chmodSync(join(bin, "docker-credential-store"), 0o755);
    expect(credentialsFor(ref("docker://reg.example/app"), { env })).toEqual({
      username: "helped",
      password: "h-secret",
    });
    expect(readFileSync(log, "utf8")).toBe("reg.example");
    expect(credentialsFor(ref("docker://other.example/app"), { env })).toBeUndefined();
  });

  it(
    "a missing --authfile, bad JSON, a bad auth entry or a missing helper is a " + "typed error",
    () => {
      const env = home({
        "bad.json": "{nope",
        "entry.json": {
          auths: { "reg.example": { auth: Buffer.from("no-colon").toString("base64") } },
        },
        ".docker/config.json": { credHelpers: { "reg.example": "absent" } },
      });
      const r = ref("docker://reg.example/app");
      for (const authFile of [
        join(env.HOME as string, "missing.json"),
        join(env.HOME as string, "bad.json"),
        join(env.HOME as string, "entry.json"),
      ]) {
        expect(() => credentialsFor(r, { env, authFile }), authFile).toThrow(
          expect.objectContaining({ code: "STRATA_REGISTRY_DENIED" }),
        );
      }
      expect(() => credentialsFor(r, { env })).toThrow(
        expect.objectContaining({
          code: "STRATA_REGISTRY_DENIED",
          message: expect.stringContaining("docker-credential-absent"),
        }),
      );
    },
  );

  it("looks where skopeo and podman log in: REGISTRY_AUTH_FILE replaces the primary file; without XDG_RUNTIME_DIR, /run/containers/UID", () => {
    const base = { HOME: "/h" };
    expect(authFiles({ env: { ...base, XDG_RUNTIME_DIR: "/run/user/7" } })).toEqual([
      "/run/user/7/containers/auth.json",
      "/h/.config/containers/auth.json",
      "/h/.docker/config.json",
    ]);
    expect(authFiles({ env: base, uid: 0 })[0]).toBe("/run/containers/0/auth.json");
    expect(
      authFiles({ env: { ...base, XDG_RUNTIME_DIR: "/r", REGISTRY_AUTH_FILE: "/a.json" } }),
    ).toEqual(["/a.json", "/h/.config/containers/auth.json", "/h/.docker/config.json"]);
    expect(authFiles({ authFile: "/only.json", env: base })).toEqual(["/only.json"]);
  });
});
