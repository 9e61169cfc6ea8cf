#!/usr/bin/env bash
# Builds aa-peer-go offline from Debian's Go packages (GOPATH mode): the
# gogo generator and ttrpc's plugin turn Protos/ into Go, then main.go links
# containerd's ttrpc. Output: $1 (default .build/interop)/aa-peer-go
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$root/.build/interop}" && cd "${1:-$root/.build/interop}" && pwd)
work="$out/go"
mkdir -p "$work/bin" "$work/gen" "$work/gopath/src/aapeer/attestation_agent"
export GOPATH="$work/gopath:/usr/share/gocode" GO111MODULE=off GOCACHE="$work/cache" GOBIN="$work/bin" GOFLAGS=
export PATH="$work/bin:$PATH"
go install github.com/gogo/protobuf/protoc-gen-gogo github.com/containerd/ttrpc/cmd/protoc-gen-gogottrpc
protoc --proto_path="$root/Protos" --gogottrpc_out=plugins=ttrpc,paths=source_relative:"$work/gen" \
  attestation-agent/attestation-agent.proto
cp "$work/gen/attestation-agent/attestation-agent.pb.go" "$work/gopath/src/aapeer/attestation_agent/"
cp "$here/go/main.go" "$work/gopath/src/aapeer/main.go"
(cd "$work/gopath/src/aapeer" && go build -o "$out/aa-peer-go" .)
echo "$out/aa-peer-go"
