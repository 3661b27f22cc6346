// The parser made from the command table: flags as skopeo's and podman's
// users type them, and the help made from the same declarations.
import { describe, expect, it } from "vitest";
import { parseCommandLine, UsageError, type Command } from "../src/cli/command.js";
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
});
