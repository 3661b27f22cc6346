// The strata command is a table of commands (src/commands/, one file each):
// each declares its usage, what it does, its flags and its examples once,
// and the help, the parser and the list of commands are made from that.
import { parseArgs } from "node:util";
import { editDistance } from "@strata-oci/image";

/** A mistake in the command line: exit status 2, with the command's help named. */
export class UsageError extends Error {}

/** One flag of a command, as the parser takes it and the help shows it. */
export interface Flag {
  readonly name: string;
  readonly short?: string;
  /**
   * "string" takes a value, "list" a value each time it is given, "boolean" none; "toggle" is a
   * boolean as Go's flag package reads it (skopeo's and podman's users type them so): bare is
   * true, `--name=VALUE` takes what Go's ParseBool takes (1, t, true, TRUE, True, 0, f, false...).
   */
  readonly kind: "string" | "list" | "boolean" | "toggle";
  /** How the value is written in the help (`FILE`, `OS/ARCH[/VARIANT]`). */
  readonly value?: string;
  /** What it does, one or a few sentences: the help wraps it. */
  readonly help: string;
}

/** A block of flags with a heading and an introduction of their own (unpack's limits). */
export interface FlagSection {
  readonly title: string;
  readonly intro: string;
  readonly flags: readonly Flag[];
}

export type FlagValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface Parsed {
  readonly values: FlagValues;
  readonly positionals: readonly string[];
  /** What follows `--` (bundle's command). */
  readonly trailing: readonly string[];
}

export interface Command {
  readonly name: string;
  /** Other spellings the command answers to, not listed (`analyze` for `analyse`). */
  readonly aliases?: readonly string[];
  /** `strata NAME ...` lines, the first the main one. */
  readonly usage: readonly string[];
  /** One line for the list of commands. */
  readonly summary: string;
  /** Paragraphs, each already wrapped for 80 columns. */
  readonly description: string;
  readonly flags: readonly Flag[];
  readonly sections?: readonly FlagSection[];
  readonly examples: readonly string[];
  /** Takes what follows `--` instead of refusing it. */
  readonly trailingArgs?: boolean;
  run(parsed: Parsed): Promise<number>;
}

export const HELP_FLAG: Flag = { name: "help", short: "h", kind: "boolean", help: "this help" };

/** Every command takes it: no progress, no summary; only the command's output and errors. */
export const QUIET: Flag = {
  name: "quiet",
  short: "q",
  kind: "boolean",
  help: "no progress and no summary: only what the command outputs, and errors",
};

/** The flags every command takes, after its own in the help. */
export const COMMON_FLAGS: readonly Flag[] = [QUIET, HELP_FLAG];

/** Every flag a command takes, its sections' included. */
export function flagsOf(command: Command): Flag[] {
  return [
    ...command.flags,
    ...(command.sections ?? []).flatMap((section) => section.flags),
    ...COMMON_FLAGS,
  ];
}

/** The command line after the command's name, parsed by its flags (Node's parser, strict). */
export function parseCommandLine(command: Command, argv: readonly string[]): Parsed {
  const split = command.trailingArgs === true ? argv.indexOf("--") : -1;
  const { args, toggles } = takeToggles(command, split === -1 ? [...argv] : argv.slice(0, split));
  const options = Object.fromEntries(
    flagsOf(command)
      .filter((flag) => flag.kind !== "toggle")
      .map((flag) => [
        flag.name,
        {
          type: flag.kind === "boolean" ? ("boolean" as const) : ("string" as const),
          ...(flag.kind === "list" ? { multiple: true } : {}),
          ...(flag.short === undefined ? {} : { short: flag.short }),
        },
      ]),
  );
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return {
      values: { ...(parsed.values as FlagValues), ...toggles },
      positionals: parsed.positionals,
      trailing: split === -1 ? [] : argv.slice(split + 1),
    };
  } catch (error) {
    throw new UsageError(parseProblem(command, error as NodeJS.ErrnoException));
  }
}

/** Node's parser's complaint, said in the command's terms (and the flag meant, where close). */
function parseProblem(command: Command, error: NodeJS.ErrnoException): string {
  const flag = /'(-{1,2}[^' <]+)/.exec(error.message)?.[1];
  if (flag === undefined) return error.message;
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const near = closestFlag(command, flag.replace(/^-+/, ""));
    return (
      `strata ${command.name} has no flag ${flag}` +
      (near === undefined ? "" : ` (did you mean --${near}?)`)
    );
  }
  if (/argument missing/.test(error.message)) {
    const value = flagsOf(command).find((f) => `--${f.name}` === flag)?.value;
    return `${flag} needs a value${value === undefined ? "" : ` (${value})`}`;
  }
  if (/does not take an argument/.test(error.message)) return `${flag} takes no value`;
  return error.message;
}

/** The command's flag nearest to `name`: at most two edits away, or one contains the other. */
function closestFlag(command: Command, name: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const flag of flagsOf(command)) {
    const contains = name.length >= 3 && (flag.name.includes(name) || name.includes(flag.name));
    const distance = contains ? 1 : editDistance(flag.name, name);
    if (distance <= 2 && (best === undefined || distance < best.distance))
      best = { name: flag.name, distance };
  }
  return best?.name;
}

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** The toggles of `args` (up to a bare `--`) taken out with their values; the rest: parseArgs. */
function takeToggles(
  command: Command,
  args: string[],
): { args: string[]; toggles: Record<string, boolean> } {
  const names = new Set(flagsOf(command).flatMap((f) => (f.kind === "toggle" ? [f.name] : [])));
  const toggles: Record<string, boolean> = {};
  const rest: string[] = [];
  for (const [i, arg] of args.entries()) {
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const match = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (match === null || !names.has(match[1] as string)) {
      rest.push(arg);
      continue;
    }
    const [, name, value] = match as unknown as [string, string, string | undefined];
    if (value === undefined || GO_TRUE.has(value)) toggles[name] = true;
    else if (GO_FALSE.has(value)) toggles[name] = false;
    else throw new UsageError(`--${name} takes true or false, not ${JSON.stringify(value)}`);
  }
  return { args: rest, toggles };
}
