// The shape the architecture issue set for package sources: no file over 400
// lines, no function over 80, no line over 100 characters. Measured here so
// that growth shows up as a failing test, not as a review finding a week on.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
const MAX_LINE_LENGTH = 100;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

const PACKAGE_SOURCES = readdirSync(join(ROOT, "packages")).flatMap((name) => {
  const src = join(ROOT, "packages", name, "src");
  try {
    return sourceFiles(src);
  } catch {
    return [];
  }
});

interface FunctionSize {
  readonly where: string;
  readonly lines: number;
}

/** Every function-like node of a file with its length in lines (its body's, braces included). */
export function functionSizes(path: string, text: string): FunctionSize[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const sizes: FunctionSize[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const body = node.body as ts.Node;
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(body.getEnd()).line;
      const name = ts.getNameOfDeclaration(node as ts.Declaration)?.getText(file) ?? "(anonymous)";
      sizes.push({
        where: `${relative(ROOT, path)}:${first + 1} ${name}`,
        lines: last - first + 1,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return sizes;
}

describe("package sources keep the agreed shape", () => {
  it("finds the sources it measures", () => {
    expect(PACKAGE_SOURCES.length).toBeGreaterThan(100);
  });

  it(`no file over ${MAX_FILE_LINES} lines`, () => {
    const long = PACKAGE_SOURCES.map((path) => ({
      path: relative(ROOT, path),
      lines: readFileSync(path, "utf8").split("\n").length - 1,
    })).filter((file) => file.lines > MAX_FILE_LINES);
    expect(long).toEqual([]);
  });

  it(`no function over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = PACKAGE_SOURCES.flatMap((path) =>
      functionSizes(path, readFileSync(path, "utf8")),
    ).filter((size) => size.lines > MAX_FUNCTION_LINES);
    expect(long).toEqual([]);
  });

  it(`no line over ${MAX_LINE_LENGTH} characters`, () => {
    const long = PACKAGE_SOURCES.flatMap((path) =>
      readFileSync(path, "utf8")
        .split("\n")
        .flatMap((line, i) =>
          line.length > MAX_LINE_LENGTH ? [`${relative(ROOT, path)}:${i + 1}`] : [],
        ),
    );
    expect(long).toEqual([]);
  });

  it("the function measure counts what it should (a 3-line function, a nested arrow)", () => {
    const sizes = functionSizes("x.ts", "function f() {\n  const g = () => 1;\n}\n");
    expect(sizes.map((size) => size.lines)).toEqual([3, 1]);
  });
});
