#!/usr/bin/env bash
# Builds the binaries that ship into guest images: release, the Swift runtime
# linked in (--static-swift-stdlib), Debian's libprotobuf-c linked in from its
# static archive, stripped, linked by the toolchain's lld with packed relative
# relocations (DT_RELR: the 69,000 pointers a position-independent binary
# fixes up at load take 14 KB instead of 1.7 MB; the loader must be glibc
# 2.36 or later, as for any binary linked on Debian 12). Prints the folder
# that holds them.
#
#   Scripts/build-release.sh            (scratch folder .build-static)
#
# What the agent still loads besides glibc (libc, libm) and libgcc_s: nothing
# at exec; tpm2-tss (and its libcrypto) with dlopen when a TPM is opened.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
Scripts/install-deps.sh >&2
scratch=.build-static
# The linker takes the first libprotobuf-c it finds along -L: a folder that
# holds only the static archive comes before the system's shared library.
static_libs="$PWD/$scratch/static-libs"
mkdir -p "$static_libs"
archive=/usr/lib/$(uname -m)-linux-gnu/libprotobuf-c.a
[ -f "$archive" ] || { echo "build-release: $archive is missing (libprotobuf-c-dev)" >&2; exit 1; }
ln -sf "$archive" "$static_libs/libprotobuf-c.a"
# The same for libstdc++ (the Swift runtime's C++ library): linked in, the
# loader neither maps nor relocates it at exec (1.3 MB less RSS, 78 KB more binary).
cxx_archive=$(g++ -print-file-name=libstdc++.a 2>/dev/null || true)
[ -f "$cxx_archive" ] || cxx_archive=$(ls /usr/lib/gcc/"$(uname -m)"-linux-gnu/*/libstdc++.a 2>/dev/null | tail -1)
[ -f "$cxx_archive" ] || { echo "build-release: libstdc++.a is missing (libstdc++-dev)" >&2; exit 1; }
ln -sf "$cxx_archive" "$static_libs/libstdc++.a"
# SwiftPM takes the linker from a toolset file; the toolchain ships lld.
toolset="$PWD/$scratch/lld-toolset.json"
printf '{ "schemaVersion": "1.0", "linker": { "path": "%s" } }\n' "$(dirname "$(command -v swift)")/ld.lld" >"$toolset"
# --disable-local-rpath: no $ORIGIN run path, so the loader looks for libc
# and the rest only where the system keeps them, not beside the binary.
flags=(-c release --static-swift-stdlib --disable-local-rpath --scratch-path "$scratch" --toolset "$toolset"
  -Xlinker -L"$static_libs" -Xlinker -s
  -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs)
swift build "${flags[@]}" --product attestation-agent >&2
swift build "${flags[@]}" --product aactl >&2
bin=$(swift build "${flags[@]}" --show-bin-path)
# What the agent must not link (docs/design.md, "What the agent links"): one
# innocent call (String.contains of a string, a Foundation import) brings
# back megabytes, and nothing else would notice.
for runtime in _StringProcessing FoundationEssentials ArgumentParser; do
  if strings "$bin/attestation-agent" | grep -q "$runtime"; then
    echo "build-release: the agent links $runtime again (see docs/design.md, \"What the agent links\")" >&2
    exit 1
  fi
done
echo "$bin"
