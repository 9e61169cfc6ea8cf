#!/usr/bin/env bash
# Prints the shared libraries the agent and aactl load, one absolute path a
# line (symlinks not resolved): those ldd finds for the binaries at exec
# (glibc, libm, libstdc++, libgcc, and the ELF loader), and the TPM stack the
# agent loads with dlopen when a TPM is opened (Sources/CTPM/tpm.c:
# tpm2-tss's ESYS, MU, RC and TCTI loader, the device TCTI the loader picks
# for /dev/tpmrm0) with what those link (libcrypto, ...). The image scripts
# (assemble-guest-root.sh, build-extension.sh) copy what it prints.
#
#   deploy/runtime-libraries.sh BIN_DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BIN_DIR" >&2; exit 2; }
bin_dir=$1
tss=(libtss2-esys.so.0 libtss2-mu.so.0 libtss2-rc.so.0 libtss2-tctildr.so.0 libtss2-tcti-device.so.0)

libraries_of() {  # the absolute paths ldd resolves for FILE, loader included
  ldd "$1" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'
}

{
  for exe in attestation-agent aactl; do libraries_of "$bin_dir/$exe"; done
  # The loader's cache, read once (awk stopping early would cut ldconfig's pipe).
  cache=$(ldconfig -p)
  for name in "${tss[@]}"; do
    # This machine's architecture first, where several are installed.
    path=$(awk -v n="$name" '$1 == n && /x86-64|AArch64/ && !found { print $NF; found = 1 }' <<<"$cache")
    [ -n "$path" ] || path=$(awk -v n="$name" '$1 == n && !found { print $NF; found = 1 }' <<<"$cache")
    [ -n "$path" ] || { echo "runtime-libraries: $name is not installed (Debian: libtss2-dev)" >&2; exit 1; }
    echo "$path"
    libraries_of "$path"
  done
} | awk '!seen[$0]++'
