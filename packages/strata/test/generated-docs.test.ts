// What is made from the table of commands stays made from it (#23.4): the
// README's command list, the completion scripts and the man page the package
// ships are what the table gives now (`pnpm run docs` rewrites them), every
// flag the parser takes is in the help, the completion and the man page, and
// each works where it is used: bash completes, groff renders, zsh parses.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { flagsOf } from "../src/cli/command.js";
import { bashCompletion, zshCompletion } from "../src/cli/completion.js";
import { generatedFiles, withReadmeCommands } from "../src/cli/generated-files.js";
import { commandHelp } from "../src/cli/help.js";
import { manPage } from "../src/cli/reference.js";
import { COMMANDS } from "../src/commands/index.js";

const PACKAGE = join(import.meta.dirname, "..");
const README = join(PACKAGE, "..", "..", "README.md");
const { version } = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")) as {
  version: string;
};
const has = (tool: string): boolean => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

/** What bash's completion offers for `strata WORDS...` (the last word being completed). */
function completed(...words: string[]): string[] {
  const script = [
    bashCompletion(COMMANDS),
    `COMP_WORDS=(strata ${words.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${words.length}`,
    "_strata",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const run = spawnSync("bash", ["-c", script], { encoding: "utf8", cwd: PACKAGE });
  expect(run.stderr).toBe("");
  return run.stdout.split("\n").filter(Boolean);
}

describe("files made from the table of commands", () => {
  it("the committed completion scripts, man page and README list are the table's now", () => {
    for (const [path, text] of Object.entries(generatedFiles(COMMANDS, version)))
      expect(readFileSync(join(PACKAGE, path), "utf8"), `${path}: run pnpm run docs`).toBe(text);
    const readme = readFileSync(README, "utf8");
    expect(withReadmeCommands(readme, COMMANDS), "README.md: run pnpm run docs").toBe(readme);
  });

  it("every flag the parser takes is in the help, both completions and the man page", () => {
    const bash = bashCompletion(COMMANDS);
    const zsh = zshCompletion(COMMANDS);
    const man = manPage(COMMANDS, version).replace(/\\-/g, "-");
    for (const command of COMMANDS) {
      const help = commandHelp(command);
      for (const flag of flagsOf(command)) {
        const where = `${command.name} --${flag.name}`;
        expect(help, where).toContain(`--${flag.name}`);
        expect(bash, where).toMatch(
          new RegExp(`${command.name}\\)\\n\\s+flags="[^"]*--${flag.name}[ "]`),
        );
        expect(zsh, where).toContain(`--${flag.name}`);
        if (flag.name !== "help" && flag.name !== "quiet")
          expect(man, where).toContain(`--${flag.name}`);
      }
    }
  });

  it("bash completes commands, a command's flags, a flag's values and transports", () => {
    expect(completed("sq")).toEqual(["squash"]);
    expect(completed("squash", "--comp")).toEqual(["--compress"]);
    expect(completed("squash", "--compress", "")).toEqual(["gzip", "zstd", "none"]);
    expect(completed("export", "--q")).toEqual(["--quiet"]);
    // A flag of another command is not offered.
    expect(completed("cat", "--comp")).toEqual([]);
    expect(completed("unpack", "oci-")).toEqual(["oci-archive:"]);
    expect(completed("help", "unp")).toEqual(["unpack"]);
  });

  it("the man page renders without a warning; zsh reads its completion", () => {
    if (has("groff")) {
      const run = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z"], {
        input: manPage(COMMANDS, version),
        encoding: "utf8",
      });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const text = spawnSync("groff", ["-man", "-Tascii", "-P-cbou"], {
        input: manPage(COMMANDS, version),
        encoding: "utf8",
      }).stdout;
      expect(text).toContain("strata unpack [options] IMAGE DEST");
      expect(text).toContain("--password-stdin");
    } else console.log("groff not installed: the man page's rendering is not checked");
    if (has("zsh")) {
      const run = spawnSync("zsh", ["-n"], { input: zshCompletion(COMMANDS), encoding: "utf8" });
      expect(run.stderr).toBe("");
    } else console.log("zsh not installed: its completion is checked for flags only");
  });
});
