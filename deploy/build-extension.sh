#!/usr/bin/env bash
# Builds kata's CoCo extension from a release build: a read-only EROFS image
# carrying the agent and aactl, protected by a dm-verity hash tree, on a
# two-partition disk as kata-agent's mount script expects it (data, then
# hashes), with the launch manifest kata-agent reads.
#
#   deploy/build-extension.sh BIN_DIR OUT_DIR
#
# BIN_DIR holds the release build (Scripts/build-release.sh prints it).
# OUT_DIR receives:
#   tree/                     the extension's files (what is mounted at
#                             /run/kata-extensions/coco)
#   coco-extension.erofs      the EROFS file system of tree/
#   coco-extension.img        the disk kata attaches: partition 1 the file
#                             system, partition 2 its dm-verity hash tree
#   verity_params             root_hash=...,salt=...,data_blocks=...,
#                             hash_block_size=4096,data_block_size=4096
#   kernel-cmdline            kata.extension.coco.verity_params=<the above>
# and prints the image's size and root hash. Needs Debian's erofs-utils,
# cryptsetup-bin and fdisk (installed when missing).
#
# The tree: usr/local/bin/{attestation-agent,aactl}; usr/local/lib/ with
# every library they load except glibc's (libstdc++, libgcc_s, and the TPM
# stack loaded with dlopen); etc/kata-extensions/components.toml and
# etc/ocicrypt_config.json from deploy/coco-extension/. glibc stays the base
# image's: its ELF loader runs the binaries, and a second libc beside it
# would break; everything else comes with the extension, found through the
# LD_LIBRARY_PATH the manifest sets, so the agent needs nothing of the base
# image but glibc (2.36 or later: the binaries use packed relocations).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR OUT_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
bin_dir=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)

need=()
command -v mkfs.erofs >/dev/null || need+=(erofs-utils)
command -v veritysetup >/dev/null || need+=(cryptsetup-bin)
command -v sfdisk >/dev/null || need+=(fdisk)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

tree=$out/tree
rm -rf "$tree" && mkdir -p "$tree/usr/local/bin" "$tree/usr/local/lib" "$tree/etc/kata-extensions"
cp "$bin_dir/attestation-agent" "$bin_dir/aactl" "$tree/usr/local/bin/"
# glibc's own files (package libc6) stay the base image's. dpkg knows a
# file by the path its package installed it at, /lib or /usr/lib.
package_of() {
  local real
  real=$(readlink -f "$1")
  for path in "$1" "$real" "${real#/usr}" "/usr${real}"; do
    dpkg -S "$path" 2>/dev/null | cut -d: -f1 && return
  done
  true
}
for library in $("$here/runtime-libraries.sh" "$bin_dir"); do
  [ "$(package_of "$library")" = libc6 ] && continue
  cp -L "$library" "$tree/usr/local/lib/$(basename "$library")"
done
cp "$here/coco-extension/components.toml" "$tree/etc/kata-extensions/components.toml"
cp "$here/coco-extension/ocicrypt_config.json" "$tree/etc/ocicrypt_config.json"

# The file system: 4 KiB blocks (the page size, as dm-verity's data blocks
# below), LZ4HC-compressed (56 MB of files in 32 MB; the kernel decompresses
# as it reads), and the same bytes for the same tree: fixed time stamps and
# UUID, every file root's.
erofs=$out/coco-extension.erofs
rm -f "$erofs"
mkfs.erofs --quiet --all-root -zlz4hc -T 0 -U 00000000-0000-0000-0000-000000000000 "$erofs" "$tree"

# The hash tree, without a superblock: kata passes every parameter on the
# kernel command line and opens it with --no-superblock.
hashes=$out/coco-extension.verity
rm -f "$hashes"
# The salt is the file system's SHA-256 rather than random, so that the same
# build gives the same root hash.
salt=$(sha256sum "$erofs" | cut -d' ' -f1)
format=$(veritysetup format --no-superblock --data-block-size=4096 --hash-block-size=4096 --salt="$salt" \
  "$erofs" "$hashes")
field() { awk -F: -v k="$1" '$1 == k { gsub(/[ \t]/, "", $2); print $2 }' <<<"$format"; }
root_hash=$(field "Root hash")
salt=$(field "Salt")
data_blocks=$(field "Data blocks")
[ -n "$root_hash" ] && [ -n "$salt" ] && [ -n "$data_blocks" ] || {
  echo "build-extension: veritysetup said: $format" >&2
  exit 1
}
params="root_hash=$root_hash,salt=$salt,data_blocks=$data_blocks,hash_block_size=4096,data_block_size=4096"
printf '%s\n' "$params" >"$out/verity_params"
printf 'kata.extension.coco.verity_params=%s\n' "$params" >"$out/kernel-cmdline"

# The disk: GPT, partition 1 the file system, partition 2 the hash tree,
# each starting on a MiB boundary.
sectors() { echo $((($(stat -c %s "$1") + 511) / 512)); }
align() { echo $((($1 + 2047) / 2048 * 2048)); }
data_start=2048
data_size=$(sectors "$erofs")
hash_start=$(align $((data_start + data_size)))
hash_size=$(sectors "$hashes")
disk=$out/coco-extension.img
rm -f "$disk"
truncate -s $(((hash_start + hash_size + 2048) * 512)) "$disk"
# Fixed identifiers, derived from the root hash: the same build, the same disk.
id() { echo "${root_hash:$1:8}-${root_hash:$(($1 + 8)):4}-${root_hash:$(($1 + 12)):4}-${root_hash:$(($1 + 16)):4}-${root_hash:$(($1 + 20)):12}"; }
sfdisk -q "$disk" <<SFDISK
label: gpt
label-id: $(id 0)
start=$data_start, size=$data_size, type=linux, uuid=$(id 32), name="coco-data"
start=$hash_start, size=$hash_size, type=linux, uuid=$(id 16), name="coco-verity"
SFDISK
dd if="$erofs" of="$disk" bs=512 seek=$data_start conv=notrunc status=none
dd if="$hashes" of="$disk" bs=512 seek=$hash_start conv=notrunc status=none

echo "extension image: $disk ($(stat -c %s "$disk") bytes; file system $(stat -c %s "$erofs") bytes, tree $(du -sb "$tree" | cut -f1) bytes)"
echo "root hash: $root_hash"
