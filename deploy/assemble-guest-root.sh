#!/usr/bin/env bash
# Copies into a guest root file system what the agent and aactl need to run,
# and nothing of the build machine besides: the two binaries, the shared
# libraries they load at exec (glibc, libm, libstdc++, libgcc), and the TPM
# stack they load with dlopen when a TPM is opened (tpm2-tss's ESYS, MU, RC,
# TCTI loader and device TCTI, and what those link: libcrypto, ...). Prints
# every file it copied, relative to the root.
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

# tpm2-tss libraries the agent opens with dlopen (Sources/CTPM/tpm.c), and
# the TCTI the loader picks for /dev/tpmrm0.
tss=(libtss2-esys.so.0 libtss2-mu.so.0 libtss2-rc.so.0 libtss2-tctildr.so.0 libtss2-tcti-device.so.0)

copy() {  # copy FILE: into ROOT at the same path, symlinks resolved
  local source=$1
  [ -e "$root$source" ] && return
  mkdir -p "$root$(dirname "$source")"
  cp -L "$source" "$root$source"
  echo "${source#/}"
}

libraries_of() {  # the absolute paths ldd resolves for FILE, loader included
  ldd "$1" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'
}

for exe in attestation-agent aactl; do
  cp "$bin_dir/$exe" "$root/usr/local/bin/$exe"
  echo "usr/local/bin/$exe"
  for library in $(libraries_of "$bin_dir/$exe"); do copy "$library"; done
done
# The loader's cache, read once (awk stopping early would cut ldconfig's pipe).
cache=$(ldconfig -p)
for name in "${tss[@]}"; do
  # This machine's architecture first, where several are installed.
  path=$(awk -v n="$name" '$1 == n && /x86-64|AArch64/ && !found { print $NF; found = 1 }' <<<"$cache")
  [ -n "$path" ] || path=$(awk -v n="$name" '$1 == n && !found { print $NF; found = 1 }' <<<"$cache")
  [ -n "$path" ] || { echo "assemble-guest-root: $name is not installed (Debian: libtss2-dev)" >&2; exit 1; }
  copy "$path"
  for library in $(libraries_of "$path"); do copy "$library"; done
done
