#!/usr/bin/env bash
# Installs the Debian packages of the interop peers (containerd's Go ttrpc,
# the Rust ttrpc crate family kata-agent uses) and builds both peers offline
# into .build/interop. Prints each peer's path and build time.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/containerd/ttrpc ] || need+=(golang-github-containerd-ttrpc-dev)
command -v protoc >/dev/null || need+=(protobuf-compiler)
[ -d /usr/share/cargo/registry/ttrpc-0.5.2 ] || need+=(librust-ttrpc-dev)
command -v cargo >/dev/null || need+=(cargo)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
for peer in go rust; do
  start=$(date +%s.%N)
  Tests/Interop/build-$peer-peer.sh >/dev/null
  awk -v s="$start" -v e="$(date +%s.%N)" -v p="$peer" 'BEGIN { printf "built aa-peer-%s in %.1f s\n", p, e - s }' >&2
done
