#!/usr/bin/env bash
# Builds bench/data/debian (an OCI layout, tag "minbase") from a Debian
# bookworm minbase rootfs made by debootstrap and packed by umoci, then
# benchmarks it. Needs root, debootstrap and umoci (installed with apt when
# missing) and Debian's mirror.
#   bash bench/debian.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
data=bench/data
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v umoci >/dev/null || missing+=(umoci)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -f "$data/debian/index.json" ]; then
  mkdir -p "$data"
  rm -rf "$data/debian-rootfs" "$data/debian" "$data/debian-bundle"
  debootstrap --variant=minbase bookworm "$data/debian-rootfs" http://deb.debian.org/debian
  umoci init --layout "$data/debian"
  umoci new --image "$data/debian:empty"
  umoci unpack --image "$data/debian:empty" "$data/debian-bundle"
  cp -a "$data/debian-rootfs/." "$data/debian-bundle/rootfs/"
  umoci repack --image "$data/debian:minbase" "$data/debian-bundle"
  rm -rf "$data/debian-rootfs" "$data/debian-bundle"
fi
node bench/run.mjs --image "oci:$data/debian:minbase" "$@"
