#!/usr/bin/env bash
# Builds the shipping binaries (Scripts/build-release.sh) and measures them: size, what it links, start-up, memory,
# calls per second; then the same loads against the Rust ttrpc server of
# Tests/Interop (Scripts/bench-vs-rust.py). Prints numbers only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
# valgrind's callgrind counts instructions and allocations per call.
if ! command -v valgrind >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq valgrind >/dev/null
fi
bin=$(Scripts/build-release.sh)
for exe in attestation-agent aactl; do
  awk -v n="$(stat -c %s "$bin/$exe")" -v e="$exe" 'BEGIN { printf "%s: %.1f MiB stripped\n", e, n / 1048576 }'
done
echo "dynamic libraries of attestation-agent:"
ldd "$bin/attestation-agent" | awk '{print "  " $1}'
if strings "$bin/attestation-agent" | grep -q 'FoundationInternationalization\|libicu'; then
  echo "WARNING: full Foundation (ICU) is linked"
else
  echo "full Foundation (ICU): not linked"
fi
python3 Scripts/bench.py "$bin" "$@"
# Side by side with the Rust ttrpc server kata's crates use, one load generator.
Scripts/build-peers.sh >/dev/null
python3 Scripts/bench-vs-rust.py "$bin" .build/interop/aa-peer-rust
