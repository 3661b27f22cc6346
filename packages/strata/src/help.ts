/** The flags of every command that reads docker:// images. */
const REGISTRY_OPTIONS = `  --creds USER:PASS             registry credentials (docker:// images), for
                                Basic auth or the registry's token server
  --authfile FILE               read credentials from FILE only (default:
                                $REGISTRY_AUTH_FILE, containers' auth.json,
                                ~/.docker/config.json with its credHelpers)
  --cert-dir DIR                trust the CAs DIR/*.crt and present the client
                                certificate DIR/NAME.cert + NAME.key (default
                                /etc/containers/certs.d/HOST[:PORT])
  --tls-verify=false            accept a registry's certificate unchecked, and
                                plain HTTP (loopback hosts may always use HTTP)
`;

export const MAIN_HELP = `strata: stack the layers of an OCI image into a root filesystem

Usage:
  strata unpack [options] IMAGE DEST   unpack IMAGE into the new directory DEST
  strata bundle [options] IMAGE DIR    write a runtime bundle (config.json + rootfs) for runc
  strata inspect [options] IMAGE       show an image's indexes, manifest, config and layers
  strata referrers [options] IMAGE     list what is attached to an image (signatures, SBOMs)
  strata ls [options] IMAGE [PATH]     list the merged tree, without unpacking
  strata cat [options] IMAGE PATH      print one file of the image, without unpacking
  strata export [options] IMAGE -o FILE|-
                                       the merged tree as one tar (docker export)
  strata squash [options] IMAGE oci:DIR[:TAG]
                                       the image as a one-layer image in a layout
  strata diff [options] LOWER UPPER -o FILE|-
                                       the layer that turns LOWER into UPPER
  strata repack [options] IMAGE ROOTFS oci:DIR[:TAG]
                                       IMAGE plus the changes made in ROOTFS
  strata pull [options] IMAGE oci:DIR[:TAG]
                                       copy a registry image into an OCI layout
  strata unpack --store DIR IMAGE      store IMAGE's layers for overlayfs, once each
  strata mount [options] IMAGE TARGET  mount IMAGE from the layer store (overlayfs)
  strata umount [options] TARGET       unmount it
  strata store ls|du|gc|rm [options]   the layer store: layers, sizes, cleanup
  strata help COMMAND                  help on one command
  strata --version                     the version and the backends in use
                                       (gzip: ISA-L or zlib; zstd; native calls)

IMAGE is written as skopeo writes it:
  oci:DIR[:TAG]               an OCI image layout (a directory with oci-layout)
  docker-archive:FILE[:REF]   a tarball from \`docker save\` or skopeo
  docker://[HOST/]REPO[:TAG][@DIGEST]
                              an image in a registry (no HOST: docker.io;
                              one-part names: library/NAME; no tag: latest)
  PATH                        a directory (OCI layout) or a file (docker-archive)

Exit status: 0 on success, 1 when the image or a layer is refused, 2 on bad
usage, 130 when interrupted (SIGINT/SIGTERM; the staging directory is removed),
70 on an internal error (a bug in strata: please report it).
`;

export const UNPACK_HELP = `Usage: strata unpack [options] IMAGE DEST
       strata unpack --store DIR [options] IMAGE

Apply IMAGE's layers in order (layers[0] first) into DEST, the way a union
filesystem shows them: whiteouts remove lower files, opaque directories hide
lower contents. Every blob's digest and every layer's diff_id is checked.

DEST must not exist or be an empty directory, and must not be a symlink
or lie inside the image layout. strata writes into a private
(0700) staging directory beside it and renames it into place only when the
whole image is unpacked: a failed or interrupted unpack leaves no DEST.

With --store DIR, IMAGE's layers go into the layer store DIR instead (see
strata help mount): each layer once, in its own directory named by its chain
ID, as the kernel's overlayfs stacks it; layers already stored (shared with
another image) are not extracted again. The mount options are printed.

Options:
  --store DIR                   fill the layer store DIR (no DEST)
  --platform OS/ARCH[/VARIANT]  pick this platform from a multi-platform index
                                (default: this machine's, e.g. linux/amd64);
                                an image for another platform is refused
                                (STRATA_PLATFORM_MISMATCH), or only warned
                                about when no --platform is given
${REGISTRY_OPTIONS}  --downloads N                 registry layers downloaded at once (default 1:
                                each is applied while it downloads, in order;
                                more helps where every connection is slow on
                                its own, not on a shared link)
  --rootless                    do not chown: record owners in the
                                user.rootlesscontainers xattr (as umoci does)
                                and write devices as empty files. Implied when
                                not running as root.
  --record FILE                 also write the record of DEST (each entry's
                                inode and change time) to FILE, outside DEST:
                                strata repack --record FILE then reads only
                                what changed in DEST since
  --quiet                       print nothing on success
  --json                        print the result as JSON
  -h, --help                    this help

Limits (per layer; SIZE is a number with an optional K, M, G or T). A layer
that exceeds one is refused with STRATA_LIMIT_EXCEEDED; raise a limit only
for images you trust:
  --max-entries N               entries (default 5000000)
  --max-total-bytes SIZE        bytes of file data (default 256G)
  --max-file-size SIZE          bytes of one file (default 64G)
  --max-path-length N           bytes of one path (default 4096)
  --max-depth N                 components of one path (default 256)
  --max-header-size SIZE        extended (PAX, GNU long-name) headers of one
                                entry together (default 1M)

Examples:
  strata unpack oci:./debian:bookworm rootfs
  strata unpack --platform linux/arm64 oci:./multi:latest rootfs-arm64
  strata unpack docker-archive:./app.tar /tmp/app-rootfs
  strata unpack docker://127.0.0.1:5000/app:1.0 rootfs
`;

export const INSPECT_HELP = `Usage: strata inspect [options] IMAGE

Show what IMAGE holds without unpacking it, every field of the image-spec:
the indexes walked (nested ones too) with every manifest they offer and its
platform (os.version and os.features included), the chosen manifest with its
annotations (the spec's pre-defined keys first, each named in full),
artifactType and subject, the config (os, architecture, runtime settings,
volumes, exposed ports, labels, stop signal, history with the steps that made
no layer marked) and the layers with sizes, media types and annotations.
Artifacts (signatures, SBOMs, Helm charts) are shown and marked as not
container images; strata never unpacks them. Harmless deviations from the
spec are shown as warnings naming the producers known to write them.

Options:
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${REGISTRY_OPTIONS}  --json                        print machine-readable JSON
  -h, --help                    this help
`;

export const REFERRERS_HELP = `Usage: strata referrers [options] IMAGE

List the manifests whose subject is IMAGE (its index or its manifest):
signatures, SBOMs, attestations, with artifact type, size, digest and
annotations. In an OCI layout, every manifest index.json reaches is searched;
in a registry, the referrers API (/v2/NAME/referrers/DIGEST) is asked, and
where the registry has none, the index tagged sha256-HEX (the
distribution-spec's fallback).

Options:
  --artifact-type TYPE          only referrers of this artifact type
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${REGISTRY_OPTIONS}  --json                        print machine-readable JSON
  -h, --help                    this help

Example:
  strata referrers --artifact-type application/spdx+json oci:layout:app
`;

const MERGED_LIMITS = `  --max-entries N               at most N entries in a layer and in the merged
                                view (default 5000000; it is held in memory,
                                about 240 bytes an entry); the other --max-*
                                limits of strata help unpack apply too
`;

export const LS_HELP = `Usage: strata ls [options] IMAGE [PATH]

List what IMAGE's merged tree holds at PATH (default /), without unpacking
it: a directory's entries, or the entry itself, as ls -l shows them, with the
layer each comes from (L0 is the first; "-" a directory no entry named).
Symlinks in PATH are followed inside the image. The tree is built from the
layers' headers (every blob read and verified, no file written); memory
follows the number of entries.

Columns: type and mode, owner uid/gid, size, mtime (UTC), layer, path
(-> symlink target).

Options:
  -R, --recursive               every entry below PATH, parents first (tar -tv)
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${MERGED_LIMITS}${REGISTRY_OPTIONS}  --json                        print machine-readable JSON
  -h, --help                    this help

Example:
  strata ls -R oci:debian:bookworm /etc/apt
`;

export const CAT_HELP = `Usage: strata cat [options] IMAGE PATH

Write the bytes of the file at PATH in IMAGE's merged tree to stdout, without
unpacking the image: symlinks are followed inside the image (absolute
targets from its root), and the bytes are read from the layer that holds
them. That layer is read to its end after the file, so its digest is still
checked; a mismatch ends with an error (exit 1) after the bytes.

Options:
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${MERGED_LIMITS}${REGISTRY_OPTIONS}  -h, --help                    this help

Example:
  strata cat oci:debian:bookworm /etc/os-release
`;

export const EXPORT_HELP = `Usage: strata export [options] IMAGE -o FILE|-

Write IMAGE's merged tree as one uncompressed tar, what docker export gives,
without writing a rootfs: directories, symlinks, devices and fifos first,
then every file's bytes read from the layer that holds them (further names
of a file as hardlinks). Owners are numeric, xattrs are SCHILY.xattr PAX
records, names and times exact (PAX where ustar cannot hold them). The same
image gives the same bytes. Memory follows the number of entries. Extract
it as root with: tar --xattrs --xattrs-include='*' --numeric-owner -xpf FILE

Options:
  -o, --output FILE|-           where to write the tar (- for stdout)
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${MERGED_LIMITS}${REGISTRY_OPTIONS}  -h, --help                    this help

Example:
  strata export oci:debian:bookworm -o - | gzip > rootfs.tar.gz
`;

export const SQUASH_HELP = `Usage: strata squash [options] IMAGE oci:DIR[:TAG]

Write IMAGE as a one-layer image into the OCI image layout DIR (made when
missing) as TAG (default "squashed"): the layer is what strata export writes
(unpacking it gives the same tree as unpacking IMAGE), the config is
IMAGE's with rootfs.diff_ids and history replaced. Reproducible: the same
image gives the same digests (the config's created time is kept, or taken
from SOURCE_DATE_EPOCH when set). Blobs are written first, index.json last
and atomically; other tags in DIR are kept.

Options:
  --compress gzip|zstd|none     the layer's compression (default gzip)
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${REGISTRY_OPTIONS}  --json                        print machine-readable JSON
  -h, --help                    this help

Example:
  strata squash docker://debian:bookworm oci:flat:bookworm
`;

export const DIFF_HELP = `Usage: strata diff [options] LOWER UPPER -o FILE|-

Write the OCI layer (an uncompressed tar) that turns the directory LOWER
into the directory UPPER when applied on top of it: added and changed
entries, a .wh.NAME whiteout for each removal, a type change as the new
entry, hardlink groups kept, xattrs, devices and owners. A change is seen in
the metadata (type, mode, owner, size, mtime, xattrs, link target, device)
or, where all of that is the same, in the bytes. Entries in byte order: the
same two trees give the same tar. LOWER may be an image (unpacked to a
temporary directory first).

Options:
  -o, --output FILE|-   where to write the tar (- for stdout)
  --rootless            owners from the user.rootlesscontainers xattr, as a
                        rootless unpack (or umoci) records them. Default when
                        not running as root
  --root                owners from the files themselves (default as root)
  -h, --help            this help

Example:
  strata diff rootfs.orig rootfs -o layer.tar
`;

export const REPACK_HELP = `Usage: strata repack [options] IMAGE ROOTFS oci:DIR[:TAG]

Append to IMAGE (oci:DIR[:TAG] or docker://...) one layer: the changeset
from IMAGE's tree to ROOTFS, as strata diff writes it, with its diff_id and a history step in the config. The new
image goes into the OCI layout DIR as TAG (default "repacked"), the base
layers copied there where missing; blobs first, index.json last, other tags
kept. An unchanged ROOTFS adds no layer, only an empty history step. With
SOURCE_DATE_EPOCH set, times after it are clamped to it and the config's
times are it: the same change gives the same digests.

IMAGE's tree is what --record FILE describes, when ROOTFS was unpacked with
--record FILE: then only ROOTFS is read, and of its files only those whose
inode or change time is not the recorded one (a write, chmod, chown, xattr
or link sets the change time; nothing sets it back); FILE is rewritten for
the new image, for the next repack. Without --record, IMAGE is unpacked
beside ROOTFS and compared with it, metadata first, then bytes.

Options:
  --compress gzip|zstd|none     the new layer's compression (default gzip)
  --record FILE                 the record written by unpack --record FILE
  --rootless                    owners from user.rootlesscontainers (default
                                when not root); --root: from the files
  --created-by TEXT             the history step's created_by
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${REGISTRY_OPTIONS}  --json                        print machine-readable JSON
  -h, --help                    this help

Examples:
  strata unpack oci:app:1 rootfs && echo 'x' > rootfs/etc/x &&
    strata repack oci:app:1 rootfs oci:app:2
  strata unpack --record app.record oci:app:1 rootfs && ... &&
    strata repack --record app.record oci:app:1 rootfs oci:app:2
`;

export const BUNDLE_HELP = `Usage: strata bundle [options] IMAGE DIR [-- COMMAND ARGS...]

Write an OCI runtime bundle that runc starts: DIR/rootfs (as strata unpack
writes it) and DIR/config.json from the image's config, following the
image-spec's conversion rules and runc's defaults (namespaces, /proc, /dev,
/sys, masked paths, capabilities, noNewPrivileges). DIR is created 0700 and
appears only when complete. The user is resolved through the image's own
/etc/passwd and /etc/group; Volumes become tmpfs mounts.

With --store DIR, rootfs is IMAGE mounted from the layer store DIR (see
strata help mount) with an upper directory of its own: nothing is copied;
strata umount DIR/rootfs removes the mount and its changes. Needs root.

Options (as for unpack, plus):
  --store DIR            rootfs mounted from this layer store
  --tty                  allocate a terminal (terminal: true, TERM=xterm
                         when the image sets no TERM); default no terminal
  --args JSON            the command, as a JSON list: '["/bin/sh","-c","id"]'
                         (or write it after --)
  --env K=V              set an environment variable (repeatable)
  --cwd DIR              working directory (default: the image's, or /)
  --user USER[:GROUP]    user, as name, uid, name:group, uid:gid, ...
  --rootless             a user namespace mapping you to root, no network
                         namespace, no cgroup mount (as runc spec --rootless);
                         the default when not run as root. Only your uid can
                         be mapped, so an image user other than root runs as
                         root in the namespace (with a warning)
  --json                 print config.json instead of a summary

Example:
  strata bundle oci:./busybox:latest bundle -- /bin/sh -c 'id; pwd'
  runc run -b bundle demo
`;

export const PULL_HELP = `Usage: strata pull [options] docker://[HOST/]REPO[:TAG][@DIGEST] oci:DIR[:TAG]

Copy a registry image (the manifest for the platform, its config and layers)
into the OCI image layout DIR, made when missing, as TAG (default: the
reference's tag, else latest). Every blob is verified before it gets its name;
blobs DIR already has are kept and shared; index.json is replaced last and
atomically, other tags kept. Later unpacks of oci:DIR:TAG need no network.

Options:
  --platform OS/ARCH[/VARIANT]  the platform to copy from a multi-platform index
${REGISTRY_OPTIONS}  --quiet                       print nothing on success
  --json                        print the result as JSON
  -h, --help                    this help

Example:
  strata pull docker://127.0.0.1:5000/app:1.0 oci:./images:app-1.0
  strata unpack oci:./images:app-1.0 rootfs
`;

const STORE_DEFAULT = `the layer store: --store DIR, else $STRATA_STORE,
else /var/lib/strata (root) or $XDG_DATA_HOME/strata (~/.local/share/strata)`;

export const MOUNT_HELP = `Usage: strata mount [options] IMAGE TARGET

Mount IMAGE's merged tree on the existing directory TARGET with the kernel's
overlayfs, from ${STORE_DEFAULT}.
Layers the store lacks are stored first. The mount shows what strata unpack
writes, entry by entry: whiteouts are overlay whiteouts, opaque directories
carry trusted.overlay.opaque, parents that are symlinks in lower layers are
followed, hardlinks to lower files are copied up with all their names.
Read-only by default; --writable gives it an upper and work directory of its
own (like a container's rootfs), removed again by strata umount. Needs root.

Options:
  --store DIR                   the layer store
  --writable                    a private upper layer for changes
  --platform OS/ARCH[/VARIANT]  choose from a multi-platform index
${REGISTRY_OPTIONS}  --json                        print the result as JSON
  -h, --help                    this help

Example:
  strata mount oci:./debian:bookworm /mnt/debian && ls /mnt/debian &&
    strata umount /mnt/debian
`;

export const UMOUNT_HELP = `Usage: strata umount [options] TARGET

Unmount what strata mount mounted on TARGET: the mount names its store and
its record, so no --store is needed. A writable mount's upper and work
directories (its changes) and its record are removed with it. Any other
mount (one strata did not make) is refused: use umount(8) for those.

Options:
  --store DIR                   the store it must have come from (checked)
  -h, --help                    this help
`;

export const STORE_HELP = `Usage: strata store ls|du|gc|rm [options] [IMAGE]

Look after ${STORE_DEFAULT}.

  strata store ls         every stored layer: chain ID, entries, bytes, the
                          images that use it
  strata store du         bytes stored, and how much of it images share
  strata store rm IMAGE   stop keeping IMAGE, every platform of it or the one
                          --platform names (its layers stay until gc)
  strata store gc         remove the layers no kept image and no mount uses;
                          waits while an image is being stored

The store must be yours alone: one another user could have written (its
owner, its mode, a directory above it) is refused, as is a damaged record.

Options:
  --store DIR             the layer store
  --platform P            store rm: only this platform (os/arch[/variant])
  --json                  print the result as JSON
  -h, --help              this help
`;
