// The help, made from the table of commands: a command's own (usage, what it
// does, its flags, examples) and the list of all of them.
import { COMMON_FLAGS, type Command, type Flag } from "./command.js";

const WIDTH = 80;
const FLAG_COLUMN = 32;

/** `text` in lines of at most `width` characters, each after the first indented by `indent`. */
export function wrap(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : `${indent}${l}`));
}

/** `-R, --recursive` or `--platform OS/ARCH[/VARIANT]`. */
export function flagLabel(flag: Flag): string {
  const value =
    flag.value === undefined ? "" : flag.value.startsWith("=") ? flag.value : ` ${flag.value}`;
  return `${flag.short === undefined ? "" : `-${flag.short}, `}--${flag.name}${value}`;
}

/** One flag's lines: its label, and its help beside it from column 32. */
function flagLines(flag: Flag): string[] {
  const label = `  ${flagLabel(flag)}`;
  const pad = " ".repeat(FLAG_COLUMN);
  const help = wrap(flag.help, WIDTH - FLAG_COLUMN, pad);
  if (label.length > FLAG_COLUMN - 2)
    return [label, ...help.map((l, i) => (i === 0 ? `${pad}${l}` : l))];
  return help.map((l, i) => (i === 0 ? `${label.padEnd(FLAG_COLUMN)}${l}` : l));
}

/** A command's help, as `strata COMMAND --help` prints it. */
export function commandHelp(command: Command): string {
  const [first, ...more] = command.usage;
  const lines = [
    `Usage: ${first}`,
    ...more.map((usage) => `       ${usage}`),
    "",
    command.description.trimEnd(),
    "",
  ];
  lines.push("Options:", ...[...command.flags, ...COMMON_FLAGS].flatMap(flagLines));
  for (const section of command.sections ?? []) {
    lines.push(
      "",
      ...wrap(`${section.title}. ${section.intro}`, WIDTH),
      ...section.flags.flatMap(flagLines),
    );
  }
  if (command.examples.length > 0)
    lines.push(
      "",
      command.examples.length === 1 ? "Example:" : "Examples:",
      ...command.examples.map((e) => `  ${e}`),
    );
  return `${lines.join("\n")}\n`;
}

export const IMAGE_SYNTAX = `IMAGE is written as skopeo writes it:
  oci:DIR[:TAG]               an OCI image layout (a directory with oci-layout)
  oci-archive:FILE[:TAG]      a tarball of an OCI layout (skopeo, buildah)
  docker-archive:FILE[:REF]   a tarball from \`docker save\` or skopeo
  docker://[HOST/]REPO[:TAG][@DIGEST]
                              an image in a registry (no HOST: docker.io;
                              one-part names: library/NAME; no tag: latest)
  PATH                        a directory (OCI layout) or a file (docker-archive)
`;

export const EXIT_STATUS = `\
Exit status: 0 on success, 1 when the image or a layer is refused, 2 on bad
usage, 130, 143 or 129 when interrupted (SIGINT, SIGTERM or SIGHUP; what was
being written is removed), 70 on an internal error (a bug in strata: please
report it).
`;

/** The list of commands, as `strata --help` prints it. */
export function mainHelp(commands: readonly Command[]): string {
  const lines = ["strata: stack the layers of an OCI image into a root filesystem", "", "Usage:"];
  const entry = (usage: string, summary: string): void => {
    const left = `  ${usage.replace(/^strata /, "strata ")}`;
    if (left.length > 37) lines.push(left, `${" ".repeat(39)}${summary}`);
    else lines.push(`${left.padEnd(39)}${summary}`);
  };
  for (const command of commands) entry(command.usage[0] as string, command.summary);
  entry("strata help COMMAND", "help on one command");
  entry("strata --version", "the version and the backends in use");
  return `${lines.join("\n")}\n\n${IMAGE_SYNTAX}\n${EXIT_STATUS}`;
}
