#!/usr/bin/env bash
# Installs what smbscope needs to build and test on a fresh Debian machine. Idempotent: does
# nothing when everything is already there. Needs root (or sudo) only when it installs.
#
#   build:  libpcap-dev pkg-config gcc
#   tests:  samba smbclient (live capture against a private smbd), rsyslog (syslog sink),
#           tshark (cross-checks), tmux (terminal UI), tcpdump,
#           samba-ad-dc samba-ad-provision krb5-user iproute2 python3-cryptography (a throwaway
#           AD domain on 127.0.0.20: captures/generate-kerberos.sh, run by the Kerberos tests)
#
# Debian starts daemons when their package is installed; a temporary policy-rc.d stops that, so
# no system smbd takes port 445 and no system rsyslogd takes /dev/log. The tests start their own,
# with private configurations.
set -euo pipefail

packages=(libpcap-dev pkg-config gcc samba smbclient rsyslog tshark tmux tcpdump time
          samba-ad-dc samba-ad-provision krb5-user iproute2 python3-cryptography tcpreplay)
need=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done

if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        own_policy=1
    fi
    # An if, not `[ ] && rm`: as the last command of the EXIT trap, a false test would become
    # the script's exit status when policy-rc.d was already there (Debian container images).
    cleanup() { if [ "$own_policy" -eq 1 ]; then $SUDO rm -f "$policy"; fi; }
    trap cleanup EXIT
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        $SUDO debconf-set-selections 2>/dev/null || true
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Samba for tests/live.rs (a private smbd on 127.0.0.1:4445; skipped without it or without
# root). Only as root, and with the standard policy-rc.d "deny" hook so that installing does
# not start the distribution's smbd on port 445.
if [ "$(id -u)" -eq 0 ] && ! { command -v smbd && command -v smbclient && command -v smbpasswd; } >/dev/null 2>&1; then
    echo "setup: installing samba smbclient (for the live capture test)" >&2
    export DEBIAN_FRONTEND=noninteractive
    policy=/usr/sbin/policy-rc.d
    ours=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && ours=1
    fi
    apt-get install -y -qq --no-install-recommends samba smbclient >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends samba smbclient >/dev/null; } \
        || echo "setup: warning: could not install samba; tests/live.rs will be skipped" >&2
    if [ "$ours" -eq 1 ]; then rm -f "$policy"; fi
fi

command -v cargo >/dev/null 2>&1 || {
    echo "setup: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
}
