import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeName, escapeText, isUtf8, unescapeName } from "@strata-oci/layer";

describe("name spelling (the text strata prints for a name, and reads back)", () => {
  it(
    "property: any bytes spell as text without controls, and the spelling gives the " +
      "bytes back",
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          const spelled = escapeName(bytes);
          expect(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(spelled)).toBe(
            false,
          );
          expect(unescapeName(spelled).equals(Buffer.from(bytes))).toBe(true);
        }),
        { numRuns: 2000 },
      );
    },
  );

  it("property: valid UTF-8 text without controls or backslashes spells as itself", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (text) => {
        fc.pre(
          !/[\u0000-\u001f\u007f-\u009f\\\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/.test(
            text,
          ),
        );
        expect(escapeName(Buffer.from(text))).toBe(text);
      }),
    );
  });

  it("names", () => {
    const cases: Array<[Buffer, string]> = [
      [Buffer.from("plain/name.txt"), "plain/name.txt"],
      [Buffer.from("\u001b[2J"), "\\x1b[2J"],
      [Buffer.from([0x66, 0xe9]), "f\\xe9"],
      [Buffer.from("a\\b"), "a\\\\b"],
      [Buffer.from("x\u009by"), "x\\u{9b}y"],
      [Buffer.from("\u202eexe.txt"), "\\u{202e}exe.txt"],
      [Buffer.from([0xed, 0xa0, 0x80]), "\\xed\\xa0\\x80"],
      [Buffer.from([0xf0, 0x9f, 0x98, 0x80]), "\u{1f600}"],
    ];
    for (const [bytes, spelled] of cases) {
      expect(escapeName(bytes), bytes.toString("hex")).toBe(spelled);
      expect(unescapeName(spelled).equals(bytes)).toBe(true);
    }
    // A backslash that starts no escape stands for itself (typed by hand).
    expect(unescapeName("a\\b").toString()).toBe("a\\b");
    expect(isUtf8(Buffer.from([0xc3, 0xa9]))).toBe(true);
    expect(isUtf8(Buffer.from([0xc3]))).toBe(false);
    expect(escapeText("label\u0007 C:\\dir")).toBe("label\\x07 C:\\dir");
  });
});
