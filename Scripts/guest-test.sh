#!/usr/bin/env bash
# Boots the release agent in a QEMU guest, as kata runs it, and checks it
# there (issue 11): Debian's kernel, an initramfs holding busybox, the agent,
# aactl and only the libraries deploy/assemble-guest-root.sh copies, swtpm as
# the guest's TPM (tpm-tis: the kernel's driver, /dev/tpmrm0, the sysfs PCR
# files). Six boots. In the monolithic layout (deploy/assemble-guest-root.sh,
# Tests/Guest/init.sh): one where kata delivered initdata, one where it did
# not, and one where systemd starts the agent from deploy/'s unit. With kata's
# CoCo extension (deploy/build-extension.sh, Tests/Guest/extension-init.sh,
# started by Tests/Guest/kata-launch, a model of kata-agent's launch): the
# extension as built, one with a byte of its file system changed, and one
# whose verity parameters carry another root hash.
# Tests/Guest/check_guest.py judges the serial consoles. Prints the
# durations; exits 1 on any failed check.
#
#   Scripts/guest-test.sh [BIN_DIR]     (default: Scripts/build-release.sh)
#
# KVM is used when /dev/kvm answers a probe boot within 15 s, software
# emulation (TCG) otherwise, so the test never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
Scripts/install-deps.sh --test >&2
bin_dir=${1:-$(Scripts/build-release.sh)}
work=$PWD/.build/guest
mkdir -p "$work"
started=$(date +%s.%N)

# Debian's kernel, unpacked once (not installed on this machine).
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ && !found { print $2; found = 1 }'
}
package=$(kernel_package)
if [ -z "$package" ]; then  # a machine whose package lists were never fetched
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  package=$(kernel_package)
fi
[ -n "$package" ] || { echo "guest-test: apt knows no linux-image-amd64" >&2; exit 1; }
kernel_dir=$work/kernel/$package
if [ ! -d "$kernel_dir/boot" ]; then
  rm -rf "$kernel_dir" && mkdir -p "$kernel_dir"
  (cd "$kernel_dir" && apt-get download "$package" >/dev/null 2>&1 && dpkg-deb -x ./*.deb . && rm -f ./*.deb)
fi
vmlinuz=$(ls "$kernel_dir"/boot/vmlinuz-*)
modules=$(ls -d "$kernel_dir"/lib/modules/*)

# Each initramfs: what a guest image builder copies (deploy/), busybox, and
# the initdata kata would deliver. The busybox image runs Tests/Guest/init.sh
# as /init, with three vsock modules; the systemd image runs Debian's
# systemd (this machine's package) with the unit from deploy/.
common_root() {  # common_root ROOT
  local root=$1
  rm -rf "$root" && mkdir -p "$root"/{bin,scenario,proc,sys,dev,run,tmp,etc}
  deploy/assemble-guest-root.sh "$bin_dir" "$root" >"$root.files"
  cat >"$root/scenario/aa.toml" <<'TOML'
[token_configs.kbs]
url = "http://127.0.0.1:8080"

[log]
level = "info"
TOML
  {
    printf 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = '"'''"'\n'
    cat "$root/scenario/aa.toml"
    printf "'''\n"
  } >"$root/scenario/initdata.toml"
}
busybox_links() {  # busybox_links ROOT: an applet link wherever no file is
  cp /bin/busybox "$1/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$1/bin/$applet" ] || [ -L "$1/bin/$applet" ] || ln -s busybox "$1/bin/$applet"
  done
}
pack() {  # pack ROOT CPIO
  (cd "$1" && find . | cpio -o -H newc --quiet) >"$2"
}
copy_libraries() {  # copy_libraries ROOT FILE...: what ldd finds for each FILE, at its own path
  local root=$1 library
  shift
  for library in $(ldd "$@" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | sort -u); do
    [ -e "$root$library" ] || { mkdir -p "$root$(dirname "$library")"; cp -L "$library" "$root$library"; }
  done
}
module_order() {  # module_order NAME...: their files and their dependencies', dependencies first
  local name file depends
  for name in "$@"; do
    file=$(find "$modules" -name "$name.ko" | head -1)
    [ -n "$file" ] || continue  # built into the kernel
    depends=$(strings "$file" | sed -n 's/^depends=//p' | tr ',' ' ')
    [ -n "$depends" ] && module_order $depends
    echo "$file"
  done
}

root=$work/root
common_root "$root"
busybox_links "$root"
mkdir -p "$root/modules"
for module in vsock vmw_vsock_virtio_transport_common vsock_loopback; do
  find "$modules" -name "$module.ko" -exec cp {} "$root/modules/" \;
done
cp Tests/Guest/init.sh "$root/init"
pack "$root" "$work/initramfs.cpio"

systemd_root=$work/root-systemd
common_root "$systemd_root"
for file in $(dpkg -L systemd libsystemd-shared libsystemd0 | grep -v '^/usr/share/'); do
  if [ -L "$file" ] || [ -f "$file" ]; then
    mkdir -p "$systemd_root$(dirname "$file")"
    cp -P "$file" "$systemd_root$file"
  fi
done
for elf in /lib/systemd/systemd /bin/systemctl; do
  for library in $(ldd "$elf" | awk '/=> \// { print $3 }'); do
    [ -e "$systemd_root$library" ] || { mkdir -p "$systemd_root$(dirname "$library")"; cp -L "$library" "$systemd_root$library"; }
  done
done
busybox_links "$systemd_root"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$systemd_root/etc/passwd"
printf 'root:x:0:\n' >"$systemd_root/etc/group"
cp /etc/os-release "$systemd_root/etc/os-release"
mkdir -p "$systemd_root/etc/systemd/system"
cp deploy/attestation-agent.service Tests/Guest/systemd/*.service Tests/Guest/systemd/*.target \
  "$systemd_root/etc/systemd/system/"
cp Tests/Guest/systemd/systemd-check.sh "$systemd_root/scenario/"
pack "$systemd_root" "$work/initramfs-systemd.cpio"

# kata's CoCo extension, as deploy/build-extension.sh builds it for an image,
# and two it must refuse: one byte changed inside the agent's binary (the
# first block of its data, so that starting it must read it), and the good
# image under verity parameters that carry another root hash.
extension=$work/extension
deploy/build-extension.sh "$bin_dir" "$extension" >"$work/extension.log"
cat "$work/extension.log"
params=$(cat "$extension/verity_params")
cp "$extension/coco-extension.img" "$work/extension-tampered.img"
# Its first extent's physical offset; awk reads to the end (an early exit
# would cut dump.erofs's pipe: SIGPIPE under pipefail).
agent_data=$(dump.erofs --path=/usr/local/bin/attestation-agent -e "$extension/coco-extension.erofs" |
  awk '$1 == "0:" && !found { sub(/\.\./, "", $7); print $7; found = 1 }')
[ -n "$agent_data" ] || { echo "guest-test: dump.erofs did not locate the agent's data" >&2; exit 1; }
python3 - "$work/extension-tampered.img" $((2048 * 512 + agent_data + 100)) <<'PY'
import sys
path, offset = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as image:
    image.seek(offset)
    byte = image.read(1)
    image.seek(offset)
    image.write(bytes([byte[0] ^ 0x01]))
PY
wrong_hash=$(printf 'another root hash' | sha256sum | cut -d' ' -f1)
wrong_params=$(sed "s/root_hash=[0-9a-f]*/root_hash=$wrong_hash/" <<<"$params")
# kata-agent's launch, modelled (Tests/Guest/kata-launch), built offline.
launcher=$(cd Tests/Guest/kata-launch && CARGO_TARGET_DIR="$work/kata-launch" cargo build --release --quiet \
  2>"$work/kata-launch.log" && rm -f Cargo.lock && echo "$work/kata-launch/release/kata-launch") ||
  { cat "$work/kata-launch.log" >&2; exit 1; }
# The model refuses what kata-agent refuses: a variable kata does not fill.
model=$work/model-check/coco/etc/kata-extensions
mkdir -p "$model"
sed 's/\${aa_attestation_uri}/${no_such_variable}/' deploy/coco-extension/components.toml >"$model/components.toml"
refusal=$("$launcher" --extensions-root "$work/model-check" --dry-run || true)
[[ "$refusal" == *"unknown substitution variable 'no_such_variable'"* ]] ||
  { echo "guest-test: kata-launch accepted an unknown variable: $refusal" >&2; exit 1; }
# The base image of those boots: busybox, glibc (the agent's only library
# from the base), veritysetup, the launcher, the disk, dm-verity and EROFS
# modules; the agent, aactl and the rest of their libraries come on the
# extension's disk.
extension_root=$work/root-extension
rm -rf "$extension_root" && mkdir -p "$extension_root"/{bin,sbin,scenario,proc,sys,dev,run,tmp,etc,modules}
busybox_links "$extension_root"
cp "$launcher" "$extension_root/bin/kata-launch"
cp /usr/sbin/veritysetup "$extension_root/sbin/veritysetup"
copy_libraries "$extension_root" /usr/sbin/veritysetup "$launcher"
for library in $(ldd "$bin_dir/attestation-agent" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'); do
  [ -e "$extension/tree/usr/local/lib/$(basename "$library")" ] || [ -e "$extension_root$library" ] && continue
  mkdir -p "$extension_root$(dirname "$library")"
  cp -L "$library" "$extension_root$library"
done
cp "$root/scenario/"* "$extension_root/scenario/"
for file in $(module_order virtio_pci virtio_blk dm-verity crc32c_generic erofs | awk '!seen[$0]++'); do
  cp "$file" "$extension_root/modules/"
  basename "$file" .ko >>"$extension_root/modules/order"
done
cp Tests/Guest/extension-init.sh "$extension_root/init"
pack "$extension_root" "$work/initramfs-extension.cpio"

# One software TPM for both boots, as one machine's TPM across a reboot.
tpm_state=$work/tpm
rm -rf "$tpm_state" && mkdir -p "$tpm_state"
# The machine's attestation key at upstream's handle, provisioned as an
# operator does before the guest runs (the agent quotes with no other key):
# the same swtpm state over TCP, with tpm2-tools; no resource manager there,
# so transient objects and sessions are flushed between the steps.
provision_attestation_key() {
  local port=$((20000 + (RANDOM % 5000) * 2))
  swtpm socket --tpm2 --tpmstate dir="$tpm_state" --server type=tcp,port=$port,bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear >"$work/swtpm-provision.log" 2>&1 &
  local tpm=$!
  local keys=$work/provision
  rm -rf "$keys" && mkdir -p "$keys"
  export TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$port
  for _ in $(seq 100); do tpm2_getcap properties-fixed >/dev/null 2>&1 && break; sleep 0.05; done
  (cd "$keys" && tpm2_createek -c ek.ctx -G rsa -u ek.pub >/dev/null && tpm2_flushcontext -t &&
    tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa >/dev/null && tpm2_flushcontext -t &&
    tpm2_flushcontext -s && tpm2_evictcontrol -C o -c ak.ctx 0x81010002 >/dev/null && tpm2_flushcontext -t &&
    tpm2_readpublic -c 0x81010002 -f der -o "$work/ak.der" >/dev/null)
  local status=$?
  unset TPM2TOOLS_TCTI
  kill "$tpm" 2>/dev/null || true
  wait "$tpm" 2>/dev/null || true
  return $status
}
boot() {  # boot ACCEL MODE LOG [TIMEOUT]
  local accel=$1 mode=$2 log=$3 limit=${4:-300} initramfs=$work/initramfs.cpio
  local append="console=ttyS0 quiet loglevel=1 panic=-1 aa_test=$mode"
  local disk=()
  if [ "$mode" = systemd ]; then
    initramfs=$work/initramfs-systemd.cpio
    append="console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/lib/systemd/systemd systemd.unit=aa-test.target"
    append+=" systemd.show_status=0 systemd.log_level=warning systemd.log_target=console"
  fi
  # The extension boots: the disk kata attaches (serial extension-coco) and
  # the verity parameters kata puts on the kernel command line.
  local image=$extension/coco-extension.img verity=$params
  case "$mode" in
    extension*|tamper-*)
      initramfs=$work/initramfs-extension.cpio
      [ "$mode" = tamper-data ] && image=$work/extension-tampered.img
      [ "$mode" = tamper-hash ] && verity=$wrong_params
      append+=" kata.extension.coco.verity_params=$verity"
      disk=(-drive "file=$image,if=none,id=coco,format=raw,readonly=on"
        -device "virtio-blk-pci,drive=coco,serial=extension-coco")
      ;;
  esac
  swtpm socket --tpm2 --tpmstate dir="$tpm_state" --ctrl type=unixio,path="$work/swtpm.sock" \
    >"$work/swtpm.log" 2>&1 &
  local tpm=$!
  for _ in $(seq 100); do [ -S "$work/swtpm.sock" ] && break; sleep 0.05; done
  local status=0
  timeout "$limit" qemu-system-x86_64 -accel "$accel" -m 1024 -smp 2 -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$initramfs" -append "$append" \
    -chardev socket,id=tpmchar,path="$work/swtpm.sock" -tpmdev emulator,id=tpm0,chardev=tpmchar \
    -device tpm-tis,tpmdev=tpm0 "${disk[@]}" >"$log" 2>&1 </dev/null || status=$?
  kill "$tpm" 2>/dev/null || true
  wait "$tpm" 2>/dev/null || true
  rm -f "$work/swtpm.sock"
  return $status
}

accel=tcg
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  if boot kvm absent "$work/probe.log" 15 && grep -q "AA-GUEST done" "$work/probe.log"; then
    accel=kvm
  fi
  rm -rf "$tpm_state" && mkdir -p "$tpm_state"
fi
provision_attestation_key || { echo "guest-test: cannot provision the attestation key" >&2; exit 1; }
for mode in initdata absent systemd extension tamper-data tamper-hash; do
  boot_started=$(date +%s.%N)
  boot "$accel" "$mode" "$work/console-$mode.log" || echo "guest-test: the $mode boot ended with status $?" >&2
  awk -v s="$boot_started" -v e="$(date +%s.%N)" -v m="$mode" -v a="$accel" \
    'BEGIN { printf "guest boot (%s, %s): %.1f s\n", m, a, e - s }'
done
status=0
python3 Tests/Guest/check_guest.py "$root/scenario/initdata.toml" "$work" "$work/ak.der" || status=1
awk -v s="$started" -v e="$(date +%s.%N)" -v a="$accel" 'BEGIN { printf "guest test: %.1f s in all (%s)\n", e - s, a }'
exit $status
