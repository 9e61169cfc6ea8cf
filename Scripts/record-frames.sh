#!/usr/bin/env bash
# Re-records Tests/Fixtures/frames/: the hand-made frames, and the frames the
# Go and Rust peer clients exchange with the agent.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
Scripts/install-deps.sh
Scripts/build-peers.sh
swift build --product attestation-agent
bin=$(swift build --show-bin-path)
python3 Scripts/make-frame-fixtures.py
for peer in go rust; do
  python3 Scripts/record-peer-frames.py "$bin/attestation-agent" ".build/interop/aa-peer-$peer" "Tests/Fixtures/frames/$peer"
done
