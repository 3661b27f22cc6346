// The parser made from the command table: flags as skopeo's and podman's
// users type them, and the help made from the same declarations.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCommandLine, UsageError, type Command } from "../src/cli/command.js";
import { registryOf } from "../src/cli/flags.js";
import { commandHelp } from "../src/cli/help.js";
import { COMMANDS } from "../src/commands/index.js";

const inspect = COMMANDS.find((command) => command.name === "inspect") as Command;

describe("the command line", () => {
  it("a bare --tls-verify is true and does not take the IMAGE after it", () => {
    const parsed = parseCommandLine(inspect, ["--tls-verify", "docker://localhost/a"]);
    expect(parsed.values["tls-verify"]).toBe(true);
    expect(parsed.positionals).toEqual(["docker://localhost/a"]);
  });

  it("--tls-verify=VALUE takes what Go's ParseBool takes, and refuses the rest", () => {
    for (const value of ["false", "False", "FALSE", "f", "F", "0"])
      expect(parseCommandLine(inspect, [`--tls-verify=${value}`, "x"]).values["tls-verify"]).toBe(
        false,
      );
    for (const value of ["true", "True", "TRUE", "t", "T", "1"])
      expect(parseCommandLine(inspect, [`--tls-verify=${value}`, "x"]).values["tls-verify"]).toBe(
        true,
      );
    expect(() => parseCommandLine(inspect, ["--tls-verify=maybe", "x"])).toThrow(UsageError);
    expect(() => parseCommandLine(inspect, ["--tls-verify=", "x"])).toThrow(UsageError);
  });

  it("a toggle after -- is an argument, not a flag", () => {
    const bundle = COMMANDS.find((command) => command.name === "bundle") as Command;
    const parsed = parseCommandLine(bundle, ["img", "dir", "--", "sh", "--tls-verify"]);
    expect(parsed.trailing).toEqual(["sh", "--tls-verify"]);
    expect(parsed.values["tls-verify"]).toBeUndefined();
  });

  it("every flag a command parses is in its help, and no help line is wider than 80", () => {
    for (const command of COMMANDS) {
      const help = commandHelp(command);
      for (const flag of [...command.flags, ...(command.sections ?? []).flatMap((s) => s.flags)])
        expect(help, `${command.name} --${flag.name}`).toContain(`--${flag.name}`);
      for (const line of help.split("\n"))
        expect(line.length, `${command.name}: ${line}`).toBeLessThanOrEqual(80);
    }
  });

  it("a mistyped flag names the command and the flag meant; a missing value names its form", () => {
    expect(() => parseCommandLine(inspect, ["--platfrom", "linux/amd64", "x"])).toThrow(
      "strata inspect has no flag --platfrom (did you mean --platform?)",
    );
    expect(() => parseCommandLine(inspect, ["--bogus-thing", "x"])).toThrow(
      /^strata inspect has no flag --bogus-thing$/,
    );
    expect(() => parseCommandLine(inspect, ["x", "--platform"])).toThrow(
      "--platform needs a value (OS/ARCH[/VARIANT])",
    );
    expect(() => parseCommandLine(inspect, ["--json=yes", "x"])).toThrow("--json takes no value");
  });

  it("registry credentials: --username with --password, --registry-token, --no-creds alone", () => {
    const parse = (...args: string[]) =>
      registryOf(parseCommandLine(inspect, [...args, "x"]).values);
    expect(parse("--username", "alice", "--password", "pw")).toEqual({
      creds: { username: "alice", password: "pw" },
    });
    expect(parse("--creds", "alice:a:b")).toEqual({
      creds: { username: "alice", password: "a:b" },
    });
    expect(parse("--registry-token", "abc")).toEqual({ token: "abc" });
    expect(parse("--no-creds")).toEqual({ anonymous: true });
    expect(parse()).toBeUndefined();
    expect(() => parse("--username", "alice")).toThrow("go together");
    expect(() => parse("--no-creds", "--creds", "a:b")).toThrow("--no-creds");
    expect(() => parse("--creds", "a:b", "--registry-token", "t")).toThrow("not both");
    expect(() => parse("--creds", ":pw")).toThrow("USER[:PASS]");
    expect(() => parse("--password-stdin")).toThrow("needs --username or --creds");
    expect(() => parse("--password-stdin", "--creds", "a:b")).toThrow("no :PASS");
    expect(() => parse("--username", "a", "--password", "b", "--password-stdin")).toThrow(
      "not both",
    );
  });

  it("--password-stdin reads the password piped in, one trailing newline dropped (#23)", () => {
    const dist = join(import.meta.dirname, "..", "dist");
    const script = `
      import { parseCommandLine } from "${dist}/cli/command.js";
      import { registryOf } from "${dist}/cli/flags.js";
      import { inspectCommand } from "${dist}/commands/inspect.js";
      const args = JSON.parse(process.argv[1]);
      try {
        console.log(JSON.stringify(registryOf(parseCommandLine(inspectCommand, args).values)));
      } catch (error) { console.log(error.message); }`;
    const piped = (input: string, ...args: string[]) =>
      spawnSync(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(args)], {
        input,
        encoding: "utf8",
      }).stdout.trim();
    expect(piped("s3cr:et\n", "--username", "alice", "--password-stdin", "x")).toBe(
      JSON.stringify({ creds: { username: "alice", password: "s3cr:et" } }),
    );
    expect(piped("pw\n\n", "--creds", "bob", "--password-stdin", "x")).toBe(
      JSON.stringify({ creds: { username: "bob", password: "pw\n" } }),
    );
    expect(piped("", "--creds", "bob", "--password-stdin", "x")).toContain("held no password");
  });
});
