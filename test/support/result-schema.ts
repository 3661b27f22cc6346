// The --json results' JSON Schema (packages/strata/schema/result.schema.json),
// compiled once: every test that reads a command's --json checks it here, so
// that a field added, renamed or dropped without the schema fails.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { expect } from "vitest";

const SCHEMA = join(import.meta.dirname, "..", "..", "packages", "strata", "schema");
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(
  JSON.parse(readFileSync(join(SCHEMA, "result.schema.json"), "utf8")) as object,
);

/** `stdout` parsed, after checking that it is one result the schema describes. */
export function checkedResult(stdout: string): Record<string, any> {
  const result = JSON.parse(stdout) as Record<string, any>;
  const valid = validate(result);
  // Of a oneOf's errors, those of the branch for this command say what is wrong.
  const errors = (validate.errors ?? []).map(
    (e) => `${e.instancePath} ${e.message} ${e.schemaPath}`,
  );
  expect({ command: result.command, valid, errors: valid ? [] : errors }).toEqual({
    command: result.command,
    valid: true,
    errors: [],
  });
  return result;
}
