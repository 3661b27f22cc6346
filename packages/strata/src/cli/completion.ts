// Shell completion for bash and zsh, made from the table of commands: a flag
// declared for a command completes there, and nowhere else. `strata
// completion bash|zsh` prints them; the package ships them under share/
// (gen-docs.mjs writes them, a test checks they match the table).
import { flagsOf, type Command, type Flag } from "./command.js";

/** What follows `strata` that is not a command of the table. */
const EXTRA_WORDS = ["help", "--help", "--version"];
const TRANSPORTS = ["oci:", "oci-archive:", "docker-archive:", "docker://"];

/** The words a flag's value may be, where its help spells them as `a|b|c`. */
function choices(flag: Flag): string[] | undefined {
  const value = flag.value ?? "";
  return /^[a-z0-9]+(\|[a-z0-9]+)+$/.test(value) ? value.split("|") : undefined;
}

function takesValue(flag: Flag): boolean {
  return flag.kind === "string" || flag.kind === "list";
}

function longAndShort(flag: Flag): string[] {
  return [`--${flag.name}`, ...(flag.short === undefined ? [] : [`-${flag.short}`])];
}

/** The bash case arm of one command: its flags, which of them take a value, and their choices. */
function bashArm(command: Command): string[] {
  const flags = flagsOf(command);
  const valued = flags.filter(takesValue).flatMap(longAndShort);
  const lines = [`    ${command.name})`, `      flags="${flags.flatMap(longAndShort).join(" ")}"`];
  lines.push(`      valued=" ${valued.join(" ")} "`);
  const withChoices = flags.filter((flag) => choices(flag) !== undefined);
  if (withChoices.length > 0) {
    lines.push('      case "$prev" in');
    for (const flag of withChoices)
      lines.push(
        `        ${longAndShort(flag).join("|")}) words="${(choices(flag) ?? []).join(" ")}" ;;`,
      );
    lines.push("      esac");
  }
  lines.push("      ;;");
  return lines;
}

/** The bash completion script (bash-completion's `complete -F`). */
export function bashCompletion(commands: readonly Command[]): string {
  const names = [...commands.map((c) => c.name), ...EXTRA_WORDS].join(" ");
  return `${[
    "# bash completion for strata: made from its table of commands (strata completion bash).",
    "# Source it, or install it as bash-completion/completions/strata.",
    "_strata() {",
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  local flags="" valued=" " words=""',
    '  if [ "$COMP_CWORD" -eq 1 ]; then',
    `    COMPREPLY=($(compgen -W "${names}" -- "$cur"))`,
    "    return",
    "  fi",
    '  case "${COMP_WORDS[1]}" in',
    `    help) COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(" ")}" -- "$cur"))`,
    "      return ;;",
    ...commands.flatMap(bashArm),
    "  esac",
    '  if [ -n "$words" ]; then',
    '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    '  elif [[ "$valued" == *" $prev "* ]]; then',
    '    COMPREPLY=($(compgen -f -- "$cur"))',
    '  elif [[ "$cur" == -* ]]; then',
    '    COMPREPLY=($(compgen -W "$flags" -- "$cur"))',
    "  else",
    `    COMPREPLY=($(compgen -W "${TRANSPORTS.join(" ")}" -- "$cur") $(compgen -f -- "$cur"))`,
    "  fi",
    "}",
    "complete -o default -o nospace -F _strata strata",
  ].join("\n")}\n`;
}

/** `text` inside a single-quoted zsh word, with _arguments' brackets and colons escaped. */
function zshText(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/([[\]:])/g, "\\$1")
    .replace(/'/g, "'\\''");
}

/** One flag as _arguments takes it (a list flag may repeat; a value is completed as a file). */
function zshSpec(flag: Flag): string[] {
  const help = zshText(flag.help.split(/(?<=[.;:])\s/)[0] ?? flag.help);
  const repeat = flag.kind === "list" ? "*" : "";
  const listed = choices(flag);
  const action = listed === undefined ? "_files" : `(${listed.join(" ")})`;
  const value = takesValue(flag) ? `:${zshText(flag.value ?? "VALUE")}:${action}` : "";
  const equals = takesValue(flag) ? "=" : "";
  return longAndShort(flag).map(
    (name) => `'${repeat}${name}${name.startsWith("--") ? equals : ""}[${help}]${value}'`,
  );
}

/** The zsh completion function (a `#compdef strata` file on $fpath, or `source`d). */
export function zshCompletion(commands: readonly Command[]): string {
  const lines = [
    "#compdef strata",
    "# zsh completion for strata: made from its table of commands (strata completion zsh).",
    "_strata() {",
    "  local -a commands",
    "  commands=(",
    ...commands.map((c) => `    '${zshText(c.name)}:${zshText(c.summary)}'`),
    "  )",
    "  if (( CURRENT == 2 )); then",
    "    _describe -t commands 'strata command' commands",
    "    return",
    "  fi",
    "  local command=${words[2]}",
    "  shift 2 words",
    "  (( CURRENT -= 2 ))",
    "  case $command in",
  ];
  for (const command of commands) {
    lines.push(`    ${command.name})`, "      _arguments -S \\");
    for (const spec of flagsOf(command).flatMap(zshSpec)) lines.push(`        ${spec} \\`);
    lines.push(`        '*:argument:_files'`, "      ;;");
  }
  lines.push(
    "    help) _describe -t commands 'strata command' commands ;;",
    "  esac",
    "}",
    'if [ "$funcstack[1]" = "_strata" ]; then _strata "$@"; else compdef _strata strata; fi',
  );
  return `${lines.join("\n")}\n`;
}
