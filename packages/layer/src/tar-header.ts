/**
 * Pure codecs for tar header blocks and PAX records: no I/O, no state.
 * Covers ustar, GNU (base-256 numbers, long names via 'L'/'K') and PAX.
 */

export const BLOCK = 512;

/** One 512-byte header as written, before PAX or GNU long-name overrides. */
export interface RawTarHeader {
  readonly name: Buffer;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly typeflag: string;
  readonly linkname: Buffer;
  readonly devMajor: number;
  readonly devMinor: number;
}

/** Thrown by the pure codecs; the reader turns it into a CorruptLayerError with context. */
export class TarFormatError extends Error {}

function field(block: Buffer, offset: number, length: number): Buffer {
  const slice = block.subarray(offset, offset + length);
  const nul = slice.indexOf(0);
  return nul === -1 ? slice : slice.subarray(0, nul);
}

/**
 * Parses an octal field, or a GNU base-256 one (high bit of the first byte
 * set). Base-256 numbers with the sign bit (0xff first) are negative: only
 * `signed` fields (mtime) may hold one, as GNU tar writes dates before 1970.
 */
export function parseNumber(block: Buffer, offset: number, length: number, signed = false): number {
  const first = block[offset] ?? 0;
  if (first & 0x80) return parseBase256(block, offset, length, signed);
  // Octal digits, optionally surrounded by spaces and ended by NUL or space;
  // parsed from the bytes directly: this runs eight times per entry.
  let i = offset;
  const end = offset + length;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const byte = block[i] ?? 0;
    if (byte >= 0x30 && byte <= 0x37) {
      value = value * 8 + (byte - 0x30);
      digits++;
    } else if (byte === 0 || byte === 0x20) {
      break;
    } else {
      throw new TarFormatError(
        `bad octal field ${JSON.stringify(block.toString("latin1", offset, end))} in tar header`,
      );
    }
  }
  for (; i < end; i++) {
    const byte = block[i];
    if (byte !== 0 && byte !== 0x20)
      throw new TarFormatError(
        `bad octal field ${JSON.stringify(block.toString("latin1", offset, end))} in tar header`,
      );
  }
  return digits === 0 ? 0 : value;
}

function parseBase256(block: Buffer, offset: number, length: number, signed: boolean): number {
  // As Go's archive/tar: bit 0x40 of the first byte is the sign, and the
  // field is a two's complement number once the 0x80 marker is taken out.
  const first = block[offset] ?? 0;
  const negative = (first & 0x40) !== 0;
  if (negative && !signed) throw new TarFormatError("negative base-256 number in tar header");
  let value = BigInt((first & 0x7f) | (negative ? 0x80 : 0));
  for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(block[offset + i] ?? 0);
  if (negative) value -= 1n << BigInt(8 * length);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new TarFormatError("base-256 number in tar header out of range");
  }
  return Number(value);
}

/** True when every byte of the block is zero (the end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function checksumMatches(block: Buffer): boolean {
  const stored = parseNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** Decodes one header block. The caller has checked that it is not a zero block. */
export function parseHeader(block: Buffer): RawTarHeader {
  if (!checksumMatches(block)) throw new TarFormatError("tar header checksum mismatch");
  const magic = block.toString("latin1", 257, 263);
  let name = field(block, 0, 100);
  // Only POSIX ustar uses the prefix field; GNU keeps atime/ctime there.
  if (magic === "ustar\0") {
    const prefix = field(block, 345, 155);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from("/"), name]);
  }
  return {
    name: Buffer.from(name),
    mode: parseNumber(block, 100, 8),
    uid: parseNumber(block, 108, 8),
    gid: parseNumber(block, 116, 8),
    size: parseNumber(block, 124, 12),
    mtime: parseNumber(block, 136, 12, true),
    typeflag: String.fromCharCode(block[156] ?? 0),
    linkname: Buffer.from(field(block, 157, 100)),
    devMajor: parseNumber(block, 329, 8),
    devMinor: parseNumber(block, 337, 8),
  };
}

/**
 * Decodes PAX extended header records ("LEN KEY=VALUE\n"). Values stay bytes:
 * paths must round-trip exactly and xattr values are binary.
 */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the record block with NULs
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw new TarFormatError("PAX record without a length");
    const lengthText = data.toString("latin1", pos, space);
    if (!/^[0-9]+$/.test(lengthText)) throw new TarFormatError("PAX record with a bad length");
    const length = parseInt(lengthText, 10);
    const end = pos + length;
    if (length <= space - pos + 1 || end > data.length || data[end - 1] !== 0x0a) {
      throw new TarFormatError("PAX record overruns its header");
    }
    const equals = data.indexOf(0x3d, space + 1);
    if (equals === -1 || equals >= end) throw new TarFormatError("PAX record without '='");
    const key = data.toString("utf8", space + 1, equals);
    records.set(key, Buffer.from(data.subarray(equals + 1, end - 1)));
    pos = end;
  }
  return records;
}

/** Number of padding bytes after `size` bytes of entry data. */
export function paddingOf(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}
