#!/usr/bin/env bash
# Installs the real tools the conformance tests compare against (Debian's
# umoci, busybox-static, attr, skopeo, runc, zstd, docker-registry with
# apache2-utils' htpasswd for the registry tests, docker.io for docker-archive,
# tmux for the terminal test, chromium for analyse's page, zsh and groff-base
# for the generated completion and man page, and Node 22 from npm for zstd
# through Node's zlib) when they are
# missing, and
# libisal-dev, which the build needs for strata's ISA-L gzip decoder (without
# it gzip goes through Node's zlib, about half as fast), and the arm64 cross
# compiler for the prebuilt binaries the packed packages ship. Needs root for apt;
# as a normal user it only reports, and those tests skip with a message.
set -euo pipefail
missing=()
command -v umoci >/dev/null || missing+=(umoci)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v setfattr >/dev/null || missing+=(attr)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v runc >/dev/null || missing+=(runc)
command -v docker-registry >/dev/null || missing+=(docker-registry)
# Docker's daemon, to load strata's docker-archive output and save archives it reads.
command -v dockerd >/dev/null || missing+=(docker.io)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
# The reference zstd decoder, to check the layers strata compresses with zstd.
command -v zstd >/dev/null || missing+=(zstd)
[ -f /usr/include/isa-l/igzip_lib.h ] || missing+=(libisal-dev)
# The prebuilt arm64 binaries that `pnpm run pack-all` puts in the packages.
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
# Its C library headers: only recommended by the compiler, and apt runs without recommends.
[ -f /usr/aarch64-linux-gnu/include/bits/wordsize.h ] || missing+=(libc6-dev-arm64-cross)
command -v readelf >/dev/null || missing+=(binutils)
# The generated man page and zsh completion are checked by rendering and parsing them.
command -v groff >/dev/null || missing+=(groff-base)
command -v zsh >/dev/null || missing+=(zsh)
# A real terminal for the progress display's test.
command -v tmux >/dev/null || missing+=(tmux)
# A real browser for strata analyse --html's page (headless: the DOM it shows, a screenshot).
command -v chromium >/dev/null || missing+=(chromium)
/usr/bin/python3 -c "import fusepy" 2>/dev/null || missing+=(python3-fusepy fuse)
# Node 22, from the npm registry, for the install test's zstd through Node's own zlib (Node 20
# has none). Kept in test/.tools (ignored by git); a failed download only skips that check.
node22="$(dirname "$0")/.tools/node22"
if [ ! -x "$node22/node_modules/.bin/node" ]; then
  mkdir -p "$node22"
  # A project of its own: npm would otherwise take the repository's workspace as the project.
  echo '{ "private": true }' >"$node22/package.json"
  (cd "$node22" && npm install --no-audit --no-fund --silent node@22 >/dev/null 2>&1) ||
    echo "install-tools: node@22 not installed from npm; the zstd-through-zlib check will skip" >&2
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-tools: missing ${missing[*]}; not root, so conformance tests will skip" >&2
  exit 0
fi
echo "install-tools: installing ${missing[*]} with apt" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
