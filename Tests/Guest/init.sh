#!/bin/busybox sh
# The guest's init (Scripts/guest-test.sh puts it at /init of the
# initramfs). Does what kata-agent does for the attestation agent, then what
# a user checking it would do, and prints each result on the serial console
# as "AA-GUEST <what> <value>" for Tests/Guest/check_guest.py. The kernel
# command line says which boot this is: aa_test=initdata (kata delivered
# initdata) or aa_test=absent (it did not).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
for module in vsock vmw_vsock_virtio_transport_common vsock_loopback; do
    insmod /modules/$module.ko
done

say() { echo "AA-GUEST $*"; }
uptime_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# Waits up to 6 s (kata's launch_process_timeout) for the socket; prints the
# milliseconds from exec to listening, or "timeout".
await_socket() {
    started=$1
    while [ ! -S "$2" ]; do
        [ $(( $(uptime_ms) - started )) -gt 6000 ] && { say "$3" timeout; return 1; }
        sleep 0.005
    done
    say "$3" $(( $(uptime_ms) - started ))
}

# aactl SUBCOMMAND SOCKET: prints its exit status, then its output on one line.
call() {
    output=$(/usr/local/bin/aactl "$1" --socket "$2" $3 2>&1)
    status=$?
    say "$4" "$status" $(echo "$output" | tr -d '\n')
}

mode=$(sed -n 's/.*aa_test=\([a-z]*\).*/\1/p' /proc/cmdline)
socket=/run/confidential-containers/attestation-agent/attestation-agent.sock
initdata=/run/confidential-containers/initdata
say boot "$mode"
say kernel "$(uname -r)"
say tpm-devices $(ls /dev/tpm*)
say environment-tcti "${AA_TPM_TCTI:-unset}"

# kata-agent's argument vector.
set -- --attestation_sock "unix://$socket"
if [ "$mode" = initdata ]; then
    mkdir -p $initdata
    cp /scenario/initdata.toml /scenario/aa.toml $initdata/
    set -- "$@" --initdata-toml $initdata/initdata.toml -c $initdata/aa.toml
fi
say argv "$*"
started=$(uptime_ms)
/usr/local/bin/attestation-agent "$@" 2>/tmp/agent.log &
agent=$!
if await_socket "$started" "$socket" listening-ms; then
    call status "unix://$socket" "" status
    call get-evidence "unix://$socket" "--runtime-data 00112233" evidence
fi
say pcr8 "$(cat /sys/class/tpm/tpm0/pcr-sha256/8)"
kill -TERM $agent
wait $agent
say exit-after-sigterm $?
say socket-left "$([ -e $socket ] && echo yes || echo no)"

if [ "$mode" = initdata ]; then
    # Restarted with a host-facing vsock listener as well; the kernel's
    # loopback transport (CID 1) carries the calls.
    started=$(uptime_ms)
    /usr/local/bin/attestation-agent "$@" --attestation_sock vsock://-1:50001 2>>/tmp/agent.log &
    agent=$!
    if await_socket "$started" "$socket" restart-listening-ms; then
        call status "unix://$socket" "" restart-status
        for method in get-tee-type get-additional-tees status; do
            call $method vsock://1:50001 "" "vsock-$method"
        done
        call get-evidence vsock://1:50001 "--runtime-data 00" vsock-get-evidence
        call get-token vsock://1:50001 "--type kbs" vsock-get-token
    fi
    kill -TERM $agent
    wait $agent
    say restart-exit-after-sigterm $?
fi
say agent-log "$(tr '\n' '|' </tmp/agent.log | cut -c1-600)"
say done
poweroff -f
