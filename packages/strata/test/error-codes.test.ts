import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STRATA_ERROR_CODES } from "@strata-oci/strata";

const README = readFileSync(join(import.meta.dirname, "..", "..", "..", "README.md"), "utf8");

// Errors take a StrataErrorCode, so the compiler keeps thrown codes inside the list.
describe("error codes", () => {
  it("the README's table explains every code the library has, and no other", () => {
    const table = README.slice(README.indexOf("## Error codes"), README.indexOf("## Library"));
    const documented = [...table.matchAll(/^\| `(STRATA_[A-Z_]+)` \| [^|]+ \| [^|]+ \|$/gm)].map(
      (m) => m[1],
    );
    expect(documented.sort()).toEqual([...STRATA_ERROR_CODES].sort());
  });

  it("each code is declared by one package only", () => {
    expect(new Set(STRATA_ERROR_CODES).size).toBe(STRATA_ERROR_CODES.length);
  });
});
