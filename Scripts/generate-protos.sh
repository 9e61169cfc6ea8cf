#!/usr/bin/env bash
# Regenerates the committed protobuf-c code from Protos/.
#   Scripts/generate-protos.sh          write Sources/C*Protos
#   Scripts/generate-protos.sh --check  fail if the committed code differs
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc-c >/dev/null || { echo "protoc-c is missing: apt-get install protobuf-c-compiler" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc-c --proto_path=Protos --c_out="$out" \
  google/rpc/status.proto ttrpc/request.proto attestation-agent/attestation-agent.proto

# target name -> the protos it holds
layout() {
  local target=$1; shift
  local dest="$out/tree/Sources/$target"
  mkdir -p "$dest/include"
  for p in "$@"; do
    mkdir -p "$dest/include/$(dirname "$p")"
    cp "$out/$p.pb-c.h" "$dest/include/$p.pb-c.h"
    cp "$out/$p.pb-c.c" "$dest/$(basename "$p").pb-c.c"
  done
}
layout CTTRPCProtos google/rpc/status ttrpc/request
layout CAttestationAgentProtos attestation-agent/attestation-agent

if [ "${1:-}" = "--check" ]; then
  status=0
  for target in CTTRPCProtos CAttestationAgentProtos; do
    # Only the generated files are compared: the umbrella headers are ours.
    (cd "$out/tree/Sources/$target" && find . -name '*.pb-c.*') | sort | while read -r f; do
      if ! cmp -s "$out/tree/Sources/$target/$f" "Sources/$target/$f"; then
        echo "drift: Sources/$target/$f differs from what protoc-c generates; run Scripts/generate-protos.sh" >&2
        exit 1
      fi
    done || status=1
  done
  [ $status -eq 0 ] && echo "generated protobuf-c code matches Protos/"
  exit $status
fi

for target in CTTRPCProtos CAttestationAgentProtos; do
  find "Sources/$target" -name '*.pb-c.*' -delete 2>/dev/null || true
  mkdir -p "Sources/$target"
  cp -R "$out/tree/Sources/$target/." "Sources/$target/"
done
echo "generated protobuf-c code into Sources/CTTRPCProtos and Sources/CAttestationAgentProtos"
