#!/usr/bin/env bash
# Formats every Swift file of the project with the toolchain's swift-format
# and the rules in .swift-format (line length 120); --check changes nothing
# and fails on any difference or lint warning (the test command runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.swift')
if [ "${1:-}" = "--check" ]; then
  swift-format lint --strict --configuration .swift-format "${files[@]}"
  echo "swift-format: ${#files[@]} files formatted as .swift-format says"
else
  swift-format format --in-place --configuration .swift-format "${files[@]}"
fi
