#!/usr/bin/env bash
# Runs the whole test suite built with a sanitizer, the agent and aactl that
# the integration tests launch included:
#
#   Scripts/sanitize.sh address   AddressSanitizer and LeakSanitizer
#   Scripts/sanitize.sh thread    ThreadSanitizer
#
# Each builds in its own scratch folder (.build-address, .build-thread) and
# expects the interop peers that Scripts/build-peers.sh puts in .build/interop.
# A report from the sanitizer fails the run (the test process, or the agent
# process a test launched, exits non-zero).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
kind=${1:?usage: Scripts/sanitize.sh address|thread}
case "$kind" in address|thread) ;; *) echo "unknown sanitizer '$kind': address or thread" >&2; exit 2 ;; esac
scratch=".build-$kind"
flags=(--sanitize="$kind" --scratch-path "$scratch")
swift build --build-tests "${flags[@]}"
AA_BIN_DIR="$(swift build "${flags[@]}" --show-bin-path)"
AA_INTEROP_DIR="$PWD/.build/interop"
AA_REQUIRE_PEERS=1
# Tests stretch their time budgets and report instead of bounding RSS.
AA_SANITIZER=$kind
export AA_BIN_DIR AA_INTEROP_DIR AA_REQUIRE_PEERS AA_SANITIZER
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export LSAN_OPTIONS=suppressions="$PWD/Scripts/lsan.supp":print_suppressions=0
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
set +e
swift test --skip-build "${flags[@]}" 2>&1 | tee "$scratch/test-output.log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -eq 0 ]; then echo "sanitizer $kind: clean"; else echo "sanitizer $kind: FAILED (see $scratch/test-output.log)"; fi
exit "$status"
