#!/usr/bin/env bash
# Runs every test: the generated-code and formatting checks, the interop
# peers' build, a short fuzz run of every target, then the Swift test suite (codec and
# handler tests, state machine and its property test, integration tests that
# launch the built binaries on real sockets, interop with containerd's Go
# ttrpc and the Rust ttrpc crate, recorded frames), then the hostile clients,
# then the suite again under AddressSanitizer and ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
Scripts/install-deps.sh --test
Scripts/generate-protos.sh --check
Scripts/format.sh --check
Scripts/build-peers.sh
swift build --build-tests
# A short fuzz run of every parser of outside bytes, the same inputs every
# time (Scripts/fuzz.sh alone fuzzes for as long as you like).
FUZZ_RUNS=${FUZZ_RUNS:-20000} Scripts/fuzz.sh all
# The integration tests find the binaries and the peers here, and must not
# skip the interop tests.
AA_BIN_DIR="$(swift build --show-bin-path)"
AA_INTEROP_DIR="$PWD/.build/interop"
AA_REQUIRE_PEERS=1
export AA_BIN_DIR AA_INTEROP_DIR AA_REQUIRE_PEERS
# Swift Testing prints its own closing line; the plain one below says the
# same for readers that only know "N passed, N failed".
set +e
swift test --skip-build 2>&1 | tee .build/test-output.log
status=${PIPESTATUS[0]}
set -e
# Hostile clients against the real binary while an honest client calls: on
# their own, after the suite, so that the latencies they report are the
# agent's and not the parallel suites'.
if [ "$status" -eq 0 ]; then
  python3 Tests/Hostile/hostile.py "$AA_BIN_DIR" || status=1
fi
# The whole suite again under AddressSanitizer (with leak checks) and
# ThreadSanitizer, each in its own build folder.
if [ "$status" -eq 0 ]; then
  # The release build in a QEMU guest with a TPM (issue 11).
  if Scripts/guest-test.sh >.build/guest-test.log 2>&1; then
    grep -E "^guest " .build/guest-test.log
  else
    status=1
    tail -60 .build/guest-test.log
  fi
fi
if [ "$status" -eq 0 ]; then
  Scripts/sanitize.sh address >.build/sanitize-address.log 2>&1 || status=1
  tail -1 .build/sanitize-address.log
fi
if [ "$status" -eq 0 ]; then
  Scripts/sanitize.sh thread >.build/sanitize-thread.log 2>&1 || status=1
  tail -1 .build/sanitize-thread.log
fi
if [ "$status" -ne 0 ]; then
  for log in .build/sanitize-address.log .build/sanitize-thread.log; do
    [ -f "$log" ] && grep -E "^✘|ERROR: AddressSanitizer|WARNING: ThreadSanitizer|LeakSanitizer" "$log" | head -40 || true
  done
fi
count=$(grep -oE 'Test run with [0-9]+ tests' .build/test-output.log | grep -oE '[0-9]+' | tail -1)
if [ "$status" -eq 0 ] && [ -n "$count" ]; then
  echo "tests: $count passed, 0 failed"
fi
exit "$status"
