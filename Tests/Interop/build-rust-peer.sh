#!/usr/bin/env bash
# Builds aa-peer-rust offline against Debian's vendored crates (ttrpc 0.5.2,
# protobuf 2). Output: $1 (default .build/interop)/aa-peer-rust
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$root/.build/interop}" && cd "${1:-$root/.build/interop}" && pwd)
cd "$here/rust"
CARGO_TARGET_DIR="$out/rust" cargo build --release --quiet 2>"$out/rust-build.log" || { cat "$out/rust-build.log" >&2; exit 1; }
rm -f Cargo.lock
cp "$out/rust/release/aa-peer-rust" "$out/aa-peer-rust"
echo "$out/aa-peer-rust"
