/** Attributes of a node in a tree snapshot or the reference model. */
export interface NodeAttributes {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  xattrs: ReadonlyMap<string, Buffer>;
}

/**
 * A node of the in-memory reference tree. Non-directory nodes are objects
 * shared between hardlinked paths, as inodes are on disk.
 */
export type ModelNode =
  | { kind: "dir"; attrs: NodeAttributes }
  | { kind: "file"; attrs: NodeAttributes; content: Buffer }
  | { kind: "symlink"; attrs: NodeAttributes; target: Buffer }
  | { kind: "char" | "block"; attrs: NodeAttributes; devMajor: number; devMinor: number }
  | { kind: "fifo"; attrs: NodeAttributes };
