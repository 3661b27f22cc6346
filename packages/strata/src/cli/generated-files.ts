// The files made from the table of commands, by path in the package, and the
// README with its command list replaced: gen-docs.mjs writes them, and
// test/generated-docs.test.ts compares them with what is committed.
import type { Command } from "./command.js";
import { bashCompletion, zshCompletion } from "./completion.js";
import { manPage, readmeCommands } from "./reference.js";

export const README_BEGIN =
  "<!-- commands: made from packages/strata/src/commands by `pnpm run docs`; edit there -->";
export const README_END = "<!-- end of commands -->";

/** Each generated file's text, by its path in the package. */
export function generatedFiles(
  commands: readonly Command[],
  version: string,
): Record<string, string> {
  return {
    "share/completions/strata.bash": bashCompletion(commands),
    "share/completions/_strata": zshCompletion(commands),
    "share/man/strata.1": manPage(commands, version),
  };
}

/** `readme` with the text between its command markers made from `commands`. */
export function withReadmeCommands(readme: string, commands: readonly Command[]): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin === -1 || end < begin) throw new Error("README.md has no command markers");
  return (
    `${readme.slice(0, begin + README_BEGIN.length)}\n\n${readmeCommands(commands)}\n\n` +
    readme.slice(end)
  );
}
