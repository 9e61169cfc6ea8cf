#!/usr/bin/env bash
# Fuzzes the parsers of outside bytes with libFuzzer and AddressSanitizer.
#
#   Scripts/fuzz.sh [TARGET|all] [SECONDS]    (default: all, 60 s each)
#   FUZZ_RUNS=N Scripts/fuzz.sh [TARGET|all]  (N inputs each, seed 1, a fresh
#                                             corpus: the same run every time,
#                                             as the test command uses it)
#
# Builds aa-fuzz with -sanitize=fuzzer,address in its own scratch folder,
# seeds each target's corpus from the project's fixtures and Tests/Fuzz/seeds,
# runs it, and prints one line per target: executions, and "no crash" or the
# input that crashed (copy it to Tests/Fuzz/regressions/TARGET/ once fixed:
# the tests replay every file there). Exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
Scripts/install-deps.sh >&2
scratch=.build-fuzz
flags=(--product aa-fuzz --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
swift build "${flags[@]}" >&2
fuzzer="$(swift build "${flags[@]}" --show-bin-path)/aa-fuzz"
swift build --product aa-fuzz >&2
lister="$(swift build --show-bin-path)/aa-fuzz"

target=${1:-all}
seconds=${2:-60}
targets=$("$lister" --list)
[ "$target" = all ] || targets=$target

# Hardware captures (docs/testing.md), when at hand, seed the report targets too.
captures=${AA_HARDWARE_CAPTURES:-../shared/vectors}

# Where each target's seeds come from, besides Tests/Fuzz/seeds/TARGET.
seeds_for() {
  case "$1" in
    json|doctor-evidence) find Tests/Fixtures/frames -name '*.json' ;;
    toml|initdata|config) echo Tests/Fixtures/initdata/initdata.toml; ls deploy/*.toml ;;
    inspect|snp-evidence|cca-token|hcl|tpm-attest) ls Tests/Fixtures/reports/*.bin Tests/Fixtures/reports/*.cbor
      [ -d "$captures" ] && ls "$captures"/*.bin "$captures"/*.dat "$captures"/*.cbor 2>/dev/null || true ;;
    frames|connection|envelope|messages) find Tests/Fixtures/frames -name '*.bin' ;;
    *) ;;
  esac
}

# Swift's runtime keeps some allocations for the life of the process: leaks
# are checked by the sanitizer runs of the test suite, not here.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
failed=0
if [ -n "${FUZZ_RUNS:-}" ]; then
  limit=(-runs="$FUZZ_RUNS" -seed=1)
  done_what="seed 1"
else
  limit=(-max_total_time="$seconds")
  done_what="${seconds} s"
fi
for name in $targets; do
  corpus="$scratch/corpus/$name"
  [ -n "${FUZZ_RUNS:-}" ] && corpus="$scratch/corpus-fixed/$name" && rm -rf "$corpus"
  mkdir -p "$corpus" "$scratch/crashes"
  { seeds_for "$name"; if [ -d "Tests/Fuzz/seeds/$name" ]; then find "Tests/Fuzz/seeds/$name" -type f; fi; } | while read -r seed; do
    cp "$seed" "$corpus/seed-$(basename "$seed")"
  done
  log="$scratch/$name.log"
  set +e
  # CPU seconds (user + system) of the fuzzing process, its threads included.
  start_cpu=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  AA_FUZZ_TARGET=$name "$fuzzer" "${limit[@]}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$scratch/crashes/$name-" "$corpus" >"$log" 2>&1
  status=$?
  set -e
  cpu=$(( ($(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat) - start_cpu) / $(getconf CLK_TCK) ))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  if [ "$status" -eq 0 ]; then
    echo "$name: $runs executions ($done_what, $cpu CPU-s), no crash"
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | head -1 || true)
    echo "$name: CRASH after $runs executions: ${artifact:-see $log}"
    grep -m1 -E 'ERROR:|Fatal error|Precondition failed' "$log" | sed 's/^/  /' || true
  fi
done
exit "$failed"
