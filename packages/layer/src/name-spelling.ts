// How strata writes a name (or any text from an image) where a person reads
// it: a terminal obeys escape sequences, BEL, CR and bidi overrides that an
// image puts in its names, labels and annotations (GNU ls escapes them too),
// and a name that is not UTF-8 must not print like another one. The
// spelling round-trips: `unescapeName` gives the bytes back, so that what
// `strata ls` shows is what `strata cat` takes.
//   \\        a backslash
//   \xNN      a byte that is a control character or not part of valid UTF-8
//   \u{HHHH}  a C1 control, a bidirectional or invisible formatting character

const BACKSLASH = 0x5c;

/**
 * Code points shown escaped even though they are valid UTF-8: C1 controls, bidi controls,
 * separators, BOM.
 */
function isHidden(code: number): boolean {
  return (
    (code >= 0x80 && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0xfeff
  );
}

/**
 * The length of the valid UTF-8 sequence at `i`, and its code point; length 0 when the byte starts
 * none.
 */
function utf8At(bytes: Uint8Array, i: number): { length: number; code: number } {
  const lead = bytes[i] as number;
  const next = (k: number): number => bytes[i + k] ?? -1;
  const cont = (b: number): boolean => b >= 0x80 && b <= 0xbf;
  if (lead < 0x80) return { length: 1, code: lead };
  if (lead >= 0xc2 && lead <= 0xdf && cont(next(1)))
    return { length: 2, code: ((lead & 0x1f) << 6) | (next(1) & 0x3f) };
  if (lead >= 0xe0 && lead <= 0xef) {
    const b1 = next(1);
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    if (b1 >= low && b1 <= high && cont(next(2)))
      return { length: 3, code: ((lead & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (next(2) & 0x3f) };
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const b1 = next(1);
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    if (b1 >= low && b1 <= high && cont(next(2)) && cont(next(3))) {
      return {
        length: 4,
        code:
          ((lead & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((next(2) & 0x3f) << 6) | (next(3) & 0x3f),
      };
    }
  }
  return { length: 0, code: -1 };
}

const hex2 = (byte: number): string => `\\x${byte.toString(16).padStart(2, "0")}`;

/**
 * `bytes` spelled for people (see above): every control, invisible and undecodable byte escaped,
 * backslashes doubled.
 */
export function escapeName(bytes: Uint8Array): string {
  let out = "";
  let plainFrom = 0;
  let i = 0;
  const flush = (): void => {
    if (plainFrom < i)
      out += Buffer.from(bytes.buffer, bytes.byteOffset + plainFrom, i - plainFrom).toString(
        "utf8",
      );
  };
  while (i < bytes.length) {
    const { length, code } = utf8At(bytes, i);
    if (length > 0 && code >= 0x20 && code !== 0x7f && code !== BACKSLASH && !isHidden(code)) {
      i += length;
      continue;
    }
    flush();
    if (length === 0 || code < 0x80) out += code === BACKSLASH ? "\\\\" : hex2(bytes[i] as number);
    else out += `\\u{${code.toString(16)}}`;
    i += Math.max(length, 1);
    plainFrom = i;
  }
  flush();
  return out;
}

/**
 * Text from an image (a label, an annotation, an author) made safe for a terminal: controls and
 * invisible characters escaped, backslashes kept.
 */
export function escapeText(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code < 0x20 || code === 0x7f) out += hex2(code);
    else if (isHidden(code) || (code >= 0xd800 && code <= 0xdfff))
      out += `\\u{${code.toString(16)}}`;
    else out += char;
  }
  return out;
}

/** Whether `bytes` is valid UTF-8 (its string decodes and encodes back to it). */
export function isUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length;) {
    const { length } = utf8At(bytes, i);
    if (length === 0) return false;
    i += length;
  }
  return true;
}

/**
 * The bytes `escapeName` spelled as `text`; a backslash that starts no escape stands for itself.
 */
export function unescapeName(text: string): Buffer {
  const parts: Buffer[] = [];
  let plain = "";
  const flush = (): void => {
    if (plain !== "") parts.push(Buffer.from(plain, "utf8"));
    plain = "";
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char !== "\\") {
      plain += char;
      continue;
    }
    const rest = text.slice(i + 1);
    const byte = /^x([0-9a-fA-F]{2})/.exec(rest);
    const code = /^u\{([0-9a-fA-F]{1,6})\}/.exec(rest);
    if (rest.startsWith("\\")) {
      plain += "\\";
      i += 1;
    } else if (byte !== null) {
      flush();
      parts.push(Buffer.from([parseInt(byte[1] as string, 16)]));
      i += 3;
    } else if (code !== null && parseInt(code[1] as string, 16) <= 0x10ffff) {
      plain += String.fromCodePoint(parseInt(code[1] as string, 16));
      i += (code[0] as string).length;
    } else {
      plain += "\\";
    }
  }
  flush();
  return Buffer.concat(parts);
}
