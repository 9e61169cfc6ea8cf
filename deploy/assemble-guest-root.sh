#!/usr/bin/env bash
# Copies into a guest root file system what the agent and aactl need to run,
# and nothing of the build machine besides: the two binaries and the shared
# libraries deploy/runtime-libraries.sh lists (those loaded at exec, and the
# TPM stack loaded with dlopen), each at its own path. Prints every file it
# copied, relative to the root. This is the monolithic layout, where kata
# falls back to /usr/local/bin/attestation-agent; build-extension.sh makes
# kata's CoCo extension instead.
#
#   deploy/assemble-guest-root.sh BIN_DIR ROOT
#
# BIN_DIR holds the release build (Scripts/build-release.sh prints it); ROOT
# is the image's root folder, created if missing. The binaries go where
# kata-agent starts them: /usr/local/bin. Scripts/guest-test.sh builds its
# guest with this script.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR ROOT" >&2; exit 2; }
bin_dir=$1
root=$2
mkdir -p "$root/usr/local/bin"
for exe in attestation-agent aactl; do
  cp "$bin_dir/$exe" "$root/usr/local/bin/$exe"
  echo "usr/local/bin/$exe"
done
libraries=$("$(dirname "$0")/runtime-libraries.sh" "$bin_dir")
for library in $libraries; do
  [ -e "$root$library" ] && continue
  mkdir -p "$root$(dirname "$library")"
  cp -L "$library" "$root$library"
  echo "${library#/}"
done
