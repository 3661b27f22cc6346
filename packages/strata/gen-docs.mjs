// Writes what is made from the table of commands (src/commands/): the
// README's command list (between its "commands" markers), the bash and zsh
// completion scripts and the man page the package ships under share/.
// test/generated-docs.test.ts fails when one of them no longer matches.
//   node packages/strata/gen-docs.mjs   (after tsc -b; `pnpm run docs` runs both)
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { generatedFiles, withReadmeCommands } = await import("./dist/cli/generated-files.js");
const { COMMANDS } = await import("./dist/commands/index.js");
const { version } = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));

for (const [path, text] of Object.entries(generatedFiles(COMMANDS, version))) {
  mkdirSync(dirname(join(here, path)), { recursive: true });
  writeFileSync(join(here, path), text);
}
const readme = join(here, "..", "..", "README.md");
writeFileSync(readme, withReadmeCommands(readFileSync(readme, "utf8"), COMMANDS));
