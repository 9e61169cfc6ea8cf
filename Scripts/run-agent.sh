#!/usr/bin/env bash
# Builds the agent (release) and runs it; arguments go to attestation-agent.
# On a machine with no TEE it uses the sample TEE.
#   Scripts/run-agent.sh --attestation_sock unix:///tmp/aa.sock
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
Scripts/install-deps.sh
swift build -c release --product attestation-agent >&2
swift build -c release --product aactl >&2
exec "$(swift build -c release --show-bin-path)/attestation-agent" "$@"
