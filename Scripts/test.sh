#!/usr/bin/env bash
# The test command. With no argument it runs every stage, in this order (CI
# runs it so, through .ci/run); name stages to run only those:
#
#   Scripts/test.sh                 everything
#   Scripts/test.sh suite hostile   the Swift suite, then the hostile clients
#
# Stages:
#   checks   the generated protobuf-c code and the formatting are up to date
#   peers    the Go and Rust ttrpc peers the interop tests call
#   build    the debug build with the tests
#   fuzz     a short fuzz run of every parser of outside bytes (20,000 inputs,
#            seed 1: the same run every time; Scripts/fuzz.sh fuzzes longer)
#   suite    swift test: codec, handlers, state machine and its property
#            test, integration tests that launch the built binaries on real
#            sockets, interop with the Go and Rust peers, recorded frames
#   hostile  hostile clients against the real binary, on their own so that
#            the latencies they report are the agent's
#   guest    the release build in QEMU guests with a TPM (Scripts/guest-test.sh)
#   address  the suite again under AddressSanitizer and LeakSanitizer
#   thread   the suite again under ThreadSanitizer
#
# A failed stage stops the run (later stages would only repeat its failure
# more slowly); docs/testing.md says what each stage stands on.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

all=(checks peers build fuzz suite hostile guest address thread)
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=("${all[@]}")
for stage in "${stages[@]}"; do
  [[ " ${all[*]} " == *" $stage "* ]] || { echo "unknown stage '$stage': one of ${all[*]}" >&2; exit 2; }
done

Scripts/install-deps.sh --test
# The integration tests find the binaries and the peers here, and must not
# skip the interop tests.
AA_BIN_DIR="$(swift build --show-bin-path)"
AA_INTEROP_DIR="$PWD/.build/interop"
AA_REQUIRE_PEERS=1
export AA_BIN_DIR AA_INTEROP_DIR AA_REQUIRE_PEERS
mkdir -p .build

run_stage() {
  case "$1" in
    # set -e does not hold inside a function called under `if`: chain with &&.
    checks) Scripts/generate-protos.sh --check && Scripts/format.sh --check ;;
    peers) Scripts/build-peers.sh ;;
    build) swift build --build-tests ;;
    fuzz) FUZZ_RUNS=${FUZZ_RUNS:-20000} Scripts/fuzz.sh all ;;
    suite)
      # Swift Testing prints its own closing line; the plain one at the end
      # says the same for readers that only know "N passed, N failed".
      swift test --skip-build 2>&1 | tee .build/test-output.log
      return "${PIPESTATUS[0]}"
      ;;
    hostile) python3 Tests/Hostile/hostile.py "$AA_BIN_DIR" ;;
    guest)
      if Scripts/guest-test.sh >.build/guest-test.log 2>&1; then
        grep -E "^guest " .build/guest-test.log
      else
        tail -60 .build/guest-test.log
        return 1
      fi
      ;;
    address | thread)
      local log=".build/sanitize-$1.log"
      if Scripts/sanitize.sh "$1" >"$log" 2>&1; then
        tail -1 "$log"
      else
        grep -E "^✘|ERROR: AddressSanitizer|WARNING: ThreadSanitizer|LeakSanitizer" "$log" | head -40 || true
        tail -1 "$log"
        return 1
      fi
      ;;
  esac
}

for stage in "${stages[@]}"; do
  echo "== stage $stage"
  started=$SECONDS
  if ! run_stage "$stage"; then
    echo "== stage $stage FAILED after $((SECONDS - started)) s"
    exit 1
  fi
  echo "== stage $stage passed in $((SECONDS - started)) s"
done

count=$(grep -oE 'Test run with [0-9]+ tests' .build/test-output.log 2>/dev/null | grep -oE '[0-9]+' | tail -1 || true)
if [ -n "$count" ] && [[ " ${stages[*]} " == *" suite "* ]]; then
  echo "tests: $count passed, 0 failed"
fi
