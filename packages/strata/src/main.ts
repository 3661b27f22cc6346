// The strata command: finds the command in the table (commands/index.ts),
// parses its flags, runs it, and turns what it throws into an exit status
// and a message.
import { StrataError } from "@strata-oci/errors";
import { escapeText } from "@strata-oci/layer";
import { parseCommandLine, UsageError, type Command } from "./cli/command.js";
import { commandHelp, mainHelp } from "./cli/help.js";
import { pipeClosed, SIGPIPE_STATUS, stdoutFailure, stopOnClosedPipe } from "./cli/closed-pipe.js";
import { interruptedStatus } from "./cli/signals.js";
import { writeError } from "./cli/output.js";
import { version, versionReport } from "./cli/version.js";
import { COMMANDS } from "./commands/index.js";

const byName = new Map(
  COMMANDS.flatMap((command) =>
    [command.name, ...(command.aliases ?? [])].map((name) => [name, command] as const),
  ),
);

/** `strata`, `--help`, `--version` and `help [COMMAND]`; undefined for anything else. */
function answered(command: string | undefined, topic: string | undefined): number | undefined {
  if (command === undefined) {
    // No command is a usage error: help goes to stderr, as with any usage error.
    process.stderr.write(mainHelp(COMMANDS));
    return 2;
  }
  if (command === "-h" || command === "--help" || (command === "help" && topic === undefined)) {
    process.stdout.write(mainHelp(COMMANDS));
    return 0;
  }
  if (command === "--version" || command === "-V") {
    process.stdout.write(versionReport());
    return 0;
  }
  if (command !== "help") return undefined;
  const found = byName.get(topic as string);
  if (found === undefined) {
    process.stderr.write(
      `strata: no help for ${JSON.stringify(topic)}: not a command\n` +
        "Run 'strata --help' for the commands.\n",
    );
    return 2;
  }
  process.stdout.write(commandHelp(found));
  return 0;
}

/** A write to stdout that failed otherwise than by EPIPE: a full disk or a broken device. */
function stdoutError(failed: NodeJS.ErrnoException): StrataError {
  return writeError(failed, "to stdout", {
    full: "free space where stdout goes",
    other: "check where stdout is redirected",
  });
}

/** What a command threw, told to the user: the exit status. */
function reported(thrown: unknown, command: Command | undefined): number {
  let error = thrown;
  // Whatever failed after the reader went away failed because of it (EPIPE in a pipeline).
  if (pipeClosed()) return SIGPIPE_STATUS;
  const failed = stdoutFailure();
  if (failed !== undefined) error = stdoutError(failed);
  if (error instanceof UsageError) {
    process.stderr.write(
      `strata: ${error.message}\n` +
        `Run 'strata ${command === undefined ? "" : `${command.name} `}--help' for usage.\n`,
    );
    return 2;
  }
  if (error instanceof StrataError && error.code === "STRATA_ABORTED") {
    const { status, signal } = interruptedStatus();
    process.stderr.write(
      `strata: interrupted${signal === undefined ? "" : ` (${signal})`}; nothing was left behind\n`,
    );
    return status;
  }
  if (error instanceof StrataError) {
    // Messages quote what an image holds: escaped like every line strata prints from it.
    process.stderr.write(`strata: ${escapeText(error.message)}\n`);
    if (error.hint !== undefined) process.stderr.write(`  hint: ${escapeText(error.hint)}\n`);
    process.stderr.write(`  code: ${error.code}\n`);
    return 1;
  }
  // Every failure bad input can cause is a StrataError: anything else is a bug in strata.
  const trace = (error as Error).stack ?? String(error);
  process.stderr.write(
    `strata: internal error (a bug in strata ${version()}; please report it with the command ` +
      `that caused it):\n${trace}\n`,
  );
  return 70;
}

/** Runs the strata command line; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  stopOnClosedPipe();
  const [name, ...rest] = argv;
  const early = answered(name, rest[0]);
  if (early !== undefined) return early;
  const command = byName.get(name as string);
  try {
    if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    const parsed = parseCommandLine(command, rest);
    if (parsed.values.help === true) {
      process.stdout.write(commandHelp(command));
      return 0;
    }
    const status = await command.run(parsed);
    if (pipeClosed() || stdoutFailure() !== undefined) return reported(undefined, command);
    return status;
  } catch (error) {
    return reported(error, command);
  }
}
