/**
 * The `user.rootlesscontainers` xattr (rootless-containers/proto): a protobuf
 * `Resource { uint32 uid = 1; uint32 gid = 2; }` that records the owner a
 * rootless unpack could not apply. umoci writes and reads the same.
 */
export const ROOTLESS_OWNER_XATTR = "user.rootlesscontainers";

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}

/** The xattr value for an owner, or undefined for root:root (no record needed). */
export function encodeRootlessOwner(uid: number, gid: number): Buffer | undefined {
  if (uid === 0 && gid === 0) return undefined;
  const bytes: number[] = [];
  // proto3 leaves out fields that hold their default (0).
  if (uid !== 0) bytes.push(0x08, ...varint(uid));
  if (gid !== 0) bytes.push(0x10, ...varint(gid));
  return Buffer.from(bytes);
}

/**
 * The owner recorded in a `user.rootlesscontainers` value; undefined where it is not one strata or
 * umoci writes.
 */
export function decodeRootlessOwner(value: Buffer): { uid: number; gid: number } | undefined {
  const owner = { uid: 0, gid: 0 };
  let at = 0;
  while (at < value.length) {
    const key = value[at++] as number;
    let number = 0;
    let scale = 1;
    for (;;) {
      if (at >= value.length || scale > 2 ** 35) return undefined;
      const byte = value[at++] as number;
      number += (byte & 0x7f) * scale;
      scale *= 0x80;
      if ((byte & 0x80) === 0) break;
    }
    if (key === 0x08) owner.uid = number;
    else if (key === 0x10) owner.gid = number;
    else if ((key & 7) !== 0) return undefined;
  }
  return owner;
}
