#!/bin/busybox sh
# The init of the guest test's extension boots (Scripts/guest-test.sh puts it
# at /init of an initramfs that has busybox, glibc, veritysetup and the
# kata-launch model, and no agent: the agent comes in kata's CoCo extension,
# a virtio disk with serial extension-coco). It mounts the extension as kata's
# mount unit does (kata-extension-mount.sh's rules, written here in this
# project's words), then starts the agent the way kata-agent does, through
# kata-launch (Tests/Guest/kata-launch), and prints each result on the serial
# console as "AA-GUEST <what> <value>" for Tests/Guest/check_guest.py.
# aa_test= on the kernel command line says which boot this is:
#   extension    the extension as built: launched without initdata, with it,
#                and again with KATA_ATTESTER_VARIANT=nvidia
#   tamper-data  one byte of the extension's file system changed
#   tamper-hash  the verity parameters carry another root hash
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
# Each module after those it depends on (Scripts/guest-test.sh wrote the order).
for module in $(cat /modules/order); do insmod /modules/$module.ko; done

say() { echo "AA-GUEST $*"; }
uptime_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
mode=$(sed -n 's/.*aa_test=\([a-z-]*\).*/\1/p' /proc/cmdline)
say boot "$mode"

# kata's rules: the disk whose serial is extension-NAME; verity parameters
# from kata.extension.NAME.verity_params on the kernel command line;
# partition 1 the file system, partition 2 (when present) its hash tree; a
# hash partition demands parameters and parameters demand a hash partition
# (either alone is refused, never mounted unverified); dm-verity opened
# without a superblock; EROFS mounted read-only at /run/kata-extensions/NAME.
mount_extension() {
    name=$1
    device=""
    for serial in /sys/block/*/serial; do
        [ "$(cat "$serial" 2>/dev/null)" = "extension-$name" ] && device=/dev/$(basename "$(dirname "$serial")")
    done
    [ -n "$device" ] || { echo "no block device with serial extension-$name"; return 1; }
    params=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^kata\.extension\.$name\.verity_params=//p")
    separator=""
    case "$device" in *[0-9]) separator=p ;; esac
    data=$device${separator}1
    hashes=$device${separator}2
    field() { echo "$params" | tr ',' '\n' | sed -n "s/^$1=//p"; }
    if [ -b "$hashes" ]; then
        [ -n "$params" ] || { echo "a hash tree but no verity parameters: refused"; return 1; }
        root_hash=$(field root_hash)
        [ -n "$root_hash" ] || { echo "verity parameters without root_hash: refused"; return 1; }
        DM_DISABLE_UDEV=1 veritysetup open "$data" "extension-$name" "$hashes" "$root_hash" --no-superblock \
            --hash-block-size="$(field hash_block_size)" --data-block-size="$(field data_block_size)" \
            --data-blocks="$(field data_blocks)" --salt="$(field salt)" 2>&1 || return 1
        source=/dev/mapper/extension-$name
    else
        [ -z "$params" ] || { echo "verity parameters but no hash tree: refused"; return 1; }
        source=$data
        [ -b "$source" ] || source=$device
    fi
    mkdir -p "/run/kata-extensions/$name"
    mount -t erofs -o ro "$source" "/run/kata-extensions/$name" 2>&1
}

extension=/run/kata-extensions/coco
socket=/run/confidential-containers/attestation-agent/attestation-agent.sock
initdata=/run/confidential-containers/initdata
started=$(uptime_ms)
if output=$(mount_extension coco); then
    say mounted "yes $(( $(uptime_ms) - started ))"
else
    say mounted "no $(echo "$output" | tr '\n' ' ')"
fi

# kata-launch PREFIX: one launch as kata-agent does it; its lines carry PREFIX.
launch() {
    kata-launch --log /tmp/agent.log >/tmp/launch.out 2>&1
    say "$1-launch-status" $?
    while read -r key rest; do say "$1-$key" "$rest"; done </tmp/launch.out
    pid=$(sed -n 's/^launch-pid [^ ]* //p' /tmp/launch.out)
}
# aactl from the extension, with the library path its manifest gives the agent.
call() {
    output=$(LD_LIBRARY_PATH=$extension/usr/local/lib $extension/usr/local/bin/aactl "$1" --socket "unix://$socket" $2 2>&1)
    say "$3" "$? $(echo "$output" | tr -d '\n')"
}
stop() {
    [ -n "$pid" ] || return
    say "$1-environment" "$(tr '\0' '\n' </proc/$pid/environ | grep '^LD_LIBRARY_PATH=' | tr '\n' ' ')"
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    pid=""
}

launch absent
[ -n "$pid" ] && call status "" absent-status
stop absent
if [ "$mode" = extension ]; then
    mkdir -p $initdata
    cp /scenario/initdata.toml /scenario/aa.toml $initdata/
    launch initdata
    call status "" initdata-status
    call get-evidence "--runtime-data 00112233" initdata-evidence
    say pcr8 "$(cat /sys/class/tpm/tpm0/pcr-sha256/8)"
    stop initdata
    export KATA_ATTESTER_VARIANT=nvidia
    launch nvidia
    unset KATA_ATTESTER_VARIANT
    call status "" nvidia-status
    stop nvidia
fi
say agent-log "$(tr '\n' '|' </tmp/agent.log 2>/dev/null | cut -c1-600)"
say kernel-log "$(dmesg | grep -iE 'verity|erofs' | tail -3 | tr '\n' '|')"
say done
poweroff -f
