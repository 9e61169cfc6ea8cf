#!/usr/bin/env bash
# Runs every test: the generated-code check, then the Swift test suite
# (codec and handler tests, state machine, and integration tests that launch
# the built binaries on real sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
Scripts/install-deps.sh
Scripts/generate-protos.sh --check
swift build --build-tests
# The integration tests find the binaries here.
AA_BIN_DIR="$(swift build --show-bin-path)"
export AA_BIN_DIR
swift test --skip-build
