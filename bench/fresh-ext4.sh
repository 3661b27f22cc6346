#!/usr/bin/env bash
# Runs bench/run.mjs on a freshly made ext4 filesystem (a loop-mounted sparse
# file), removed afterwards. On these machines the root ext4 (mounted with
# online discard) slows every tool down 3-5x, unevenly, for minutes after
# large trees are deleted; a fresh filesystem gives runs that can be
# compared. Needs root. Arguments go to run.mjs, or to another benchmark
# named first, for example:
#   bash bench/fresh-ext4.sh --rounds 3 --image oci:bench/data/debian:minbase
#   bash bench/fresh-ext4.sh registry.mjs --rounds 3
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
size="${STRATA_BENCH_FS_SIZE:-60G}"
image="$here/out/fresh-ext4.img"
mnt="$here/out/fresh-ext4"
if [ "$(id -u)" != 0 ]; then echo "fresh-ext4: needs root (mkfs and mount)" >&2; exit 2; fi
mkdir -p "$mnt"
truncate -s "$size" "$image"
mkfs.ext4 -q -F "$image"
# STRATA_BENCH_MOUNT_OPTIONS=discard mounts it as the root ext4 here is mounted (online discard).
mount -o "loop${STRATA_BENCH_MOUNT_OPTIONS:+,$STRATA_BENCH_MOUNT_OPTIONS}" "$image" "$mnt"
cleanup() { umount "$mnt" || true; rm -f "$image"; }
trap cleanup EXIT
script=run.mjs
extra=(--keep-trees)
if [[ "${1:-}" == *.mjs ]]; then
  script="$1"
  extra=()
  shift
fi
node "$here/$script" --dest "$mnt" "${extra[@]}" "$@"
