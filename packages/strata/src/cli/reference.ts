// The command reference made from the table of commands: the README's list
// of commands and the man page strata(1). gen-docs.mjs writes them; a test
// checks that the committed ones match the table.
import { COMMON_FLAGS, type Command, type Flag } from "./command.js";
import { EXIT_STATUS, IMAGE_SYNTAX, flagLabel } from "./help.js";

/** The README's command list: every usage line, then a table of what each command does. */
export function readmeCommands(commands: readonly Command[]): string {
  const usage = commands.flatMap((command) => command.usage);
  const rows = commands.map(
    (command) => `| [\`${command.name}\`](#strata-${command.name}) | ${command.summary} |`,
  );
  const sections = commands.map((command) =>
    [
      `#### strata ${command.name}`,
      "",
      "```text",
      ...command.usage,
      "```",
      "",
      markdownParagraphs(command.description),
      "",
      ...flagsOfCommand(command).map((flag) => `- \`${flagLabel(flag)}\`: ${flag.help}`),
    ].join("\n"),
  );
  return [
    "```sh",
    ...usage,
    "```",
    "",
    "| command | what it does |",
    "| --- | --- |",
    ...rows,
    "",
    "Every command also takes `-q, --quiet` (no progress, no summary) and `-h, --help`.",
    "",
    "<details><summary>Every command's flags</summary>",
    "",
    sections.join("\n\n"),
    "",
    "</details>",
  ].join("\n");
}

/** Paragraphs as Markdown: wrapped ones joined into one line, indented ones as a text block. */
function markdownParagraphs(text: string): string {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) =>
      /\n {2}/.test(paragraph)
        ? ["```text", paragraph, "```"].join("\n")
        : paragraph.replace(/\s*\n\s*/g, " "),
    )
    .join("\n\n");
}

function flagsOfCommand(command: Command): Flag[] {
  return [...command.flags, ...(command.sections ?? []).flatMap((s) => s.flags)];
}

/** `text` as roff prints it: backslashes, hyphens and a leading dot or quote escaped. */
function roff(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/gm, "\\&$1");
}

/** Paragraphs separated by blank lines, as .PP blocks; indented lines kept as they are. */
function roffParagraphs(text: string): string[] {
  return text
    .trim()
    .split(/\n\s*\n/)
    .flatMap((paragraph) =>
      /\n {2}/.test(paragraph)
        ? [".PP", ".nf", roff(paragraph), ".fi"]
        : [".PP", roff(paragraph.replace(/\s*\n\s*/g, " "))],
    );
}

function roffFlag(flag: Flag): string[] {
  return [".TP", `.B ${roff(flagLabel(flag))}`, roff(flag.help)];
}

function roffCommand(command: Command): string[] {
  const lines = [`.SS ${roff(`strata ${command.name}`)}`, ".nf", ...command.usage.map(roff), ".fi"];
  lines.push(...roffParagraphs(command.description));
  lines.push(...flagsOfCommand(command).flatMap(roffFlag));
  if (command.examples.length > 0)
    lines.push(
      ".PP",
      "Example:",
      ".PP",
      ".nf",
      ".RS 4",
      ...command.examples.map(roff),
      ".RE",
      ".fi",
    );
  return lines;
}

/** The man page strata(1), in roff (man -l strata.1). */
export function manPage(commands: readonly Command[], version: string): string {
  const lines = [
    `.TH STRATA 1 "" "strata ${roff(version)}" "User Commands"`,
    ".SH NAME",
    "strata \\- stack the layers of an OCI image into a root filesystem",
    ".SH SYNOPSIS",
    ".B strata",
    ".I command",
    "[options] [arguments]",
    ".SH DESCRIPTION",
    ".PP",
    roff(
      "strata reads container images (OCI layouts and archives, docker-archive tarballs, " +
        "registries), verifies every blob, and stacks their layers with the OCI changeset rules " +
        "into a root filesystem, a runtime bundle, an overlayfs layer store, a tar or a new image.",
    ),
    ...roffParagraphs(IMAGE_SYNTAX),
    ".SH COMMANDS",
    ...commands.flatMap(roffCommand),
    ".SH OPTIONS OF EVERY COMMAND",
    ...COMMON_FLAGS.flatMap(roffFlag),
    ".SH EXIT STATUS",
    ...roffParagraphs(EXIT_STATUS),
    ".SH ENVIRONMENT",
    ".TP",
    ".B SOURCE_DATE_EPOCH",
    roff("squash and repack: the new image's times, in whole seconds (reproducible builds)."),
    ".TP",
    ".B REGISTRY_AUTH_FILE",
    roff("the registry credentials file read instead of containers' auth.json."),
    ".TP",
    ".B SSL_CERT_FILE, NODE_EXTRA_CA_CERTS",
    roff("more CAs trusted for registries, besides Node's and the system's."),
    ".SH SEE ALSO",
    "skopeo(1), umoci(1), runc(8), containers-auth.json(5), containers-certs.d(5)",
  ];
  return `${lines.join("\n")}\n`;
}
