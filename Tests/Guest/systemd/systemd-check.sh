#!/bin/sh
# The checks of the systemd boot (Scripts/guest-test.sh), printed as
# "AA-GUEST <what> <value>" for Tests/Guest/check_guest.py.
say() { echo "AA-GUEST $*"; }
socket=/run/confidential-containers/attestation-agent/attestation-agent.sock
say boot systemd
# Started after attestation-agent.service: the socket must already listen.
say socket-when-ready "$([ -S $socket ] && echo yes || echo no)"
say unit "$(systemctl show attestation-agent -p Type -p ActiveState -p SubState | tr '\n' ' ')"
output=$(/usr/local/bin/aactl status --socket unix://$socket 2>&1)
say status $? $(echo "$output" | tr -d '\n')
systemctl stop attestation-agent
say after-stop "$(systemctl show attestation-agent -p ActiveState -p Result -p ExecMainStatus | tr '\n' ' ')"
say socket-left "$([ -e $socket ] && echo yes || echo no)"
say done
/bin/busybox poweroff -f
