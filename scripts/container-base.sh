#!/usr/bin/env bash
# Builds a stand-in for the official `node:24-slim` image on machines that reach no image registry
# (only Debian's mirror and the npm registry): Debian bookworm (debootstrap --variant=minbase, from
# the mirror apt already uses) with Node 24 and npm in /usr/local, the way the official image lays
# them out, imported as CONTAINER_BASE_IMAGE (default connect-bridge-base:node24). Then:
#
#   DOCKER_BUILDKIT=1 docker build --build-arg BASE_IMAGE=connect-bridge-base:node24 \
#     --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t connect-bridge .
#
# Idempotent: does nothing (in well under a second) when the image exists. Needs root (debootstrap,
# chroot), debootstrap, docker, and npm on the host (Node 24 and npm are fetched with the host's npm
# and its CA settings). Environment: CONTAINER_BASE_IMAGE, DEBIAN_MIRROR (overrides the mirror
# read from /etc/apt/sources.list*), NODE_MAJOR (24), NPM_MAJOR (11), DOCKER (the docker CLI).
set -euo pipefail

IMAGE=${CONTAINER_BASE_IMAGE:-connect-bridge-base:node24}
DOCKER=${DOCKER:-docker}
SUITE=bookworm
NODE_MAJOR=${NODE_MAJOR:-24}
NPM_MAJOR=${NPM_MAJOR:-11}

say() { printf 'container-base: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  say "$IMAGE is present"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
command -v npm >/dev/null || die "npm is not on PATH"
"$DOCKER" info >/dev/null 2>&1 || die "the docker daemon does not answer ($DOCKER info)"

# The first Debian mirror apt uses for $SUITE: one-line (*.list) or deb822 (*.sources) entries.
apt_mirror() {
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; deb = 0; ok = 0
        for (j = 1; j <= NF; j++) {
          n = split($j, w, /[ \t]+/)
          if (w[1] == "Types:") for (k = 2; k <= n; k++) if (w[k] == "deb") deb = 1
          if (w[1] == "URIs:") uri = w[2]
          if (w[1] == "Suites:") for (k = 2; k <= n; k++) if (w[k] == suite) ok = 1
        }
        if (deb && ok && uri ~ /^https?:\/\//) { print uri; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) die "unsupported architecture $(uname -m)" ;;
esac

started=$(date +%s)
mirror=${DEBIAN_MIRROR:-$(apt_mirror)}
work=$(mktemp -d /var/tmp/connect-bridge-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

say "debootstrap --variant=minbase $SUITE from $mirror"
if ! debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  die "debootstrap failed"
fi

# Node and npm from the npm registry, as tarballs: `node-linux-<arch>` carries the official binary,
# `npm` is self-contained (bundled dependencies).
say "fetching node-linux-$arch@$NODE_MAJOR and npm@$NPM_MAJOR from the npm registry"
(cd "$work" && npm pack --silent --loglevel=error "node-linux-$arch@$NODE_MAJOR" "npm@$NPM_MAJOR" >/dev/null) ||
  die "npm pack failed"
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work"/node-linux-"$arch"-*.tgz -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$work"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# What an image does not need: downloaded packages, apt lists, documentation, translations.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
  "$rootfs"/tmp/* "$rootfs"/var/tmp/*
# Check that both run in the new root (shared libraries present) before importing.
node_version=$(chroot "$rootfs" /usr/local/bin/node --version) || die "node does not run in the new root"
npm_version=$(chroot "$rootfs" /usr/local/bin/node /usr/local/bin/npm --version) || die "npm does not run in the new root"

tar -C "$rootfs" --numeric-owner -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  --message "debootstrap $SUITE (minbase, $mirror) + node $node_version + npm $npm_version" \
  - "$IMAGE" >/dev/null
say "$IMAGE built: Debian $SUITE, node $node_version, npm $npm_version ($(($(date +%s) - started)) s)"
