import { BLOCK, paddingOf } from "./tar-header.js";

/** One member to write. Names and link targets are written as given, not cleaned. */
export interface TarMember {
  readonly name: string | Buffer;
  readonly type: "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";
  /** Default 0o644 for files, 0o755 for directories, 0o777 for symlinks. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch; default 0. */
  readonly mtime?: number;
  readonly linkname?: string | Buffer;
  readonly data?: string | Buffer;
  readonly xattrs?: ReadonlyMap<string, Buffer> | Readonly<Record<string, string | Buffer>>;
  readonly devMajor?: number;
  readonly devMinor?: number;
  /**
   * Extra PAX records, written as given (hostile tests: NUL in paths, lying sizes, sparse keys).
   */
  readonly pax?: Readonly<Record<string, string | Buffer>>;
}

export interface TarWriteOptions {
  /** Write the two zero blocks that end an archive. Default true; false mimics umoci 0.4.7. */
  readonly endBlocks?: boolean | undefined;
  /** Pad the last member's data to a block. Default true; false mimics umoci 0.4.7. */
  readonly padLast?: boolean | undefined;
}

const TYPEFLAGS: Record<TarMember["type"], string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

function bytes(value: string | Buffer): Buffer {
  return typeof value === "string" ? Buffer.from(value, "utf8") : value;
}

function octal(block: Buffer, offset: number, length: number, value: number): boolean {
  const text = value.toString(8);
  if (text.length > length - 1) return false;
  block.write(text.padStart(length - 1, "0") + "\0", offset, length, "latin1");
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const tail = Buffer.concat([Buffer.from(` ${key}=`, "utf8"), value, Buffer.from("\n")]);
  let length = tail.length + 1;
  while (String(length).length + tail.length !== length)
    length = String(length).length + tail.length;
  return Buffer.concat([Buffer.from(String(length)), tail]);
}

function headerBlock(
  name: Buffer,
  typeflag: string,
  fields: Omit<TarMember, "name" | "type" | "data">,
  size: number,
): Buffer {
  const block = Buffer.alloc(BLOCK);
  name.copy(block, 0, 0, Math.min(name.length, 100));
  octal(block, 100, 8, fields.mode ?? 0);
  octal(block, 108, 8, fields.uid ?? 0);
  octal(block, 116, 8, fields.gid ?? 0);
  octal(block, 124, 12, size);
  octal(block, 136, 12, Math.floor(fields.mtime ?? 0));
  block.write(typeflag, 156, 1, "latin1");
  if (fields.linkname !== undefined) bytes(fields.linkname).copy(block, 157, 0, 100);
  block.write("ustar\0" + "00", 257, 8, "latin1");
  octal(block, 329, 8, fields.devMajor ?? 0);
  octal(block, 337, 8, fields.devMinor ?? 0);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return block;
}

function defaultMode(type: TarMember["type"]): number {
  return type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644;
}

/** What a header says; a file's bytes follow it (`size` of them), then `paddingOf(size)` zeros. */
export type TarHeaderFields = Omit<TarMember, "data">;

const OCTAL_12 = 0o77777777777;

/**
 * The header blocks of one member of `size` bytes: a PAX extended header
 * first wherever ustar cannot hold a field exactly (names and link targets
 * over 100 bytes, any bytes kept as given; sizes of 8 GiB and more; ids over
 * 0o7777777; fractional, negative or huge times; xattrs as SCHILY.xattr.*,
 * empty values kept), then the ustar header. Deterministic: the same fields
 * give the same bytes.
 */
export function encodeHeader(member: TarHeaderFields, size: number): Buffer[] {
  const name = bytes(member.name);
  const pax: Buffer[] = [];
  if (name.length > 100) pax.push(paxRecord("path", name));
  if (member.linkname !== undefined && bytes(member.linkname).length > 100)
    pax.push(paxRecord("linkpath", bytes(member.linkname)));
  if (size > OCTAL_12) pax.push(paxRecord("size", Buffer.from(String(size))));
  for (const [key, value] of [
    ["uid", member.uid],
    ["gid", member.gid],
  ] as const) {
    if (value !== undefined && value > 0o7777777)
      pax.push(paxRecord(key, Buffer.from(String(value))));
  }
  const mtime = member.mtime;
  if (mtime !== undefined && (!Number.isInteger(mtime) || mtime < 0 || mtime > OCTAL_12))
    pax.push(paxRecord("mtime", Buffer.from(String(mtime))));
  const xattrs =
    member.xattrs instanceof Map ? [...member.xattrs] : Object.entries(member.xattrs ?? {});
  for (const [key, value] of xattrs) pax.push(paxRecord(`SCHILY.xattr.${key}`, bytes(value)));
  for (const [key, value] of Object.entries(member.pax ?? {}))
    pax.push(paxRecord(key, bytes(value)));
  const out: Buffer[] = [];
  if (pax.length > 0) {
    const body = Buffer.concat(pax);
    out.push(
      headerBlock(Buffer.from("PaxHeader"), "x", {}, body.length),
      body,
      Buffer.alloc(paddingOf(body.length)),
    );
  }
  const fields = { ...member, mode: member.mode ?? defaultMode(member.type) };
  const uid = member.uid !== undefined && member.uid > 0o7777777 ? 0 : member.uid;
  const gid = member.gid !== undefined && member.gid > 0o7777777 ? 0 : member.gid;
  const time = mtime === undefined || mtime < 0 || mtime > OCTAL_12 ? 0 : mtime;
  out.push(
    headerBlock(
      name,
      TYPEFLAGS[member.type],
      { ...fields, mtime: time, uid: uid ?? 0, gid: gid ?? 0 },
      size > OCTAL_12 ? 0 : size,
    ),
  );
  return out;
}

/** Encodes one member, with a PAX header first when ustar cannot hold it. */
export function encodeMember(member: TarMember): Buffer[] {
  const data = member.data === undefined ? Buffer.alloc(0) : bytes(member.data);
  const size = member.type === "file" ? data.length : 0;
  const out = encodeHeader(member, size);
  if (size > 0) out.push(data, Buffer.alloc(paddingOf(size)));
  return out;
}

/**
 * Builds a whole tar in memory: for tests, fixtures and small layers. Names
 * are written as given, so hostile names can be built on purpose.
 */
export function writeTar(members: readonly TarMember[], options: TarWriteOptions = {}): Buffer {
  const parts = members.flatMap((member) => encodeMember(member));
  const last = members[members.length - 1];
  // encodeMember ends a file with data with its padding block part.
  if (
    options.padLast === false &&
    last?.type === "file" &&
    last.data !== undefined &&
    bytes(last.data).length > 0
  )
    parts.pop();
  if (options.endBlocks !== false) parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
