// The table of commands, in the order `strata --help` lists them: a new
// command is its own file and one line here.
import type { Command } from "../cli/command.js";
import { analyseCommand } from "./analyse.js";
import { bundleCommand } from "./bundle.js";
import { catCommand } from "./cat.js";
import { completionCommand } from "./completion.js";
import { copyCommand } from "./copy.js";
import { diffCommand } from "./diff.js";
import { exportCommand } from "./export.js";
import { inspectCommand } from "./inspect.js";
import { lsCommand } from "./ls.js";
import { mountCommand, umountCommand } from "./mount.js";
import { pullCommand } from "./pull.js";
import { referrersCommand } from "./referrers.js";
import { repackCommand } from "./repack.js";
import { squashCommand } from "./squash.js";
import { storeCommand } from "./store.js";
import { unpackCommand } from "./unpack.js";

export const COMMANDS: readonly Command[] = [
  unpackCommand,
  bundleCommand,
  inspectCommand,
  analyseCommand,
  referrersCommand,
  lsCommand,
  catCommand,
  exportCommand,
  squashCommand,
  diffCommand,
  repackCommand,
  pullCommand,
  copyCommand,
  mountCommand,
  umountCommand,
  storeCommand,
  completionCommand(() => COMMANDS),
];
