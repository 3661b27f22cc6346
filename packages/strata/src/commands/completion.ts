import { UsageError, type Command } from "../cli/command.js";
import { bashCompletion, zshCompletion } from "../cli/completion.js";

/** The completion command of `table()`, the table it is listed in. */
export const completionCommand = (table: () => readonly Command[]): Command => ({
  name: "completion",
  usage: ["strata completion bash|zsh"],
  summary: "the shell completion script for bash or zsh",
  description: `Print the completion script for bash or zsh, made from the same table as
the help: commands, each command's flags, the values a flag takes
(gzip|zstd|none), transports and files. The package also ships them in
share/completions/.`,
  flags: [],
  examples: [
    "source <(strata completion bash)",
    "strata completion zsh > ~/.zfunc/_strata   # with fpath+=(~/.zfunc) in .zshrc",
  ],
  run({ positionals }) {
    const [shell, extra] = positionals;
    if (extra !== undefined || (shell !== "bash" && shell !== "zsh"))
      throw new UsageError("completion takes bash or zsh");
    process.stdout.write((shell === "bash" ? bashCompletion : zshCompletion)(table()));
    return Promise.resolve(0);
  },
});
