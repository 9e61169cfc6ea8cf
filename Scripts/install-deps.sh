#!/usr/bin/env bash
# Installs the Debian packages the agent builds with, if missing; with
# --test, also those its tests run (a software TPM and tpm2-tools, FUSE for
# the fake kernel, QEMU, busybox, cpio, systemd, erofs-utils, cryptsetup-bin
# and fdisk for the guest test) and, from PyPI into .build/python, mfusepy.
# Swift itself (6.x, at /opt/swift or on PATH) is expected on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v protoc-c >/dev/null || need+=(protobuf-c-compiler)
[ -f /usr/include/protobuf-c/protobuf-c.h ] || need+=(libprotobuf-c-dev)
[ -f /usr/include/tss2/tss2_esys.h ] || need+=(libtss2-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
# libstdc++'s static archive, which the release build links in (g++ brings it).
compgen -G "/usr/lib/gcc/*/*/libstdc++.a" >/dev/null || need+=(g++)
if [ "${1:-}" = "--test" ]; then
  command -v swtpm >/dev/null || need+=(swtpm)
  command -v tpm2_checkquote >/dev/null || need+=(tpm2-tools)
  command -v openssl >/dev/null || need+=(openssl)
  command -v python3 >/dev/null || need+=(python3)
  /usr/bin/python3 -c "import cryptography" 2>/dev/null || need+=(python3-cryptography)
  command -v fusermount3 >/dev/null || need+=(fuse3)
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  [ -x /bin/busybox ] || need+=(busybox-static)
  command -v cpio >/dev/null || need+=(cpio)
  [ -x /lib/systemd/systemd ] || need+=(systemd)
  # kata's CoCo extension (deploy/build-extension.sh) and the guest that mounts it.
  command -v mkfs.erofs >/dev/null || need+=(erofs-utils)
  command -v veritysetup >/dev/null || need+=(cryptsetup-bin)
  command -v sfdisk >/dev/null || need+=(fdisk)
  command -v strings >/dev/null || need+=(binutils)
  # The stand-in NVIDIA management library the GPU tests build.
  command -v cc >/dev/null || need+=(gcc)
  # Tests/Guest/kata-launch, built offline from Debian's crates.
  command -v cargo >/dev/null || need+=(cargo)
  compgen -G "/usr/share/cargo/registry/toml-0.5*" >/dev/null || need+=(librust-toml-dev)
  compgen -G "/usr/share/cargo/registry/serde_derive-1*" >/dev/null || need+=(librust-serde-derive-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v swift >/dev/null; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "swift is at /opt/swift/usr/bin: add it to PATH" >&2
  else
    echo "Swift 6 is not installed: get a toolchain for this system from swift.org" >&2
  fi
  exit 1
fi
if [ "${1:-}" = "--test" ] && [ ! -f .build/python/mfusepy.py ]; then
  python3 -m pip --version >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .build/python mfusepy
fi
