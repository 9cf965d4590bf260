#!/usr/bin/env bash
# Generate real Kerberos SMB captures (a Samba AD DC and smbclient with
# --use-kerberos=required) for smbscope's tests.
#
#   sudo bash captures/generate-kerberos.sh                        # every scenario
#   sudo bash captures/generate-kerberos.sh --only NAME[,NAME...]  # just these
#   bash captures/generate-kerberos.sh --list                      # the scenario names
#   sudo bash captures/generate-kerberos.sh --out DIR              # write elsewhere
#
# --only is repeatable (or SMBSCOPE_KERBEROS_ONLY=NAME,NAME); every other file
# in the output directory (default captures/kerberos/) is left alone.  Each
# scenario carries its own keytab, so scenarios from different runs (different
# domains) can sit side by side.  SMBSCOPE_KERBEROS_WORK moves the work dir
# (default /tmp/smbscope-kerberos-work).
#
# Provisions a throwaway Active Directory domain SMBSCOPE.TEST with
# samba-tool, in a private directory under the work dir (its own smb.conf,
# sam.ldb, KDC, sysvol; /etc/samba and /etc/krb5.conf are never touched), on
# the loopback address 127.0.0.20 (added to lo for the run and removed after)
# with "bind interfaces only".  The DC's winbindd uses the compiled-in socket
# directory /run/samba/winbindd (smbd finds it only there), so no other
# winbindd may run meanwhile.  A user carol is made with samba-tool user
# create; each scenario runs kinit and then smbclient --use-kerberos=required
# against the DC's own share while tcpdump records TCP 445 and port 88.
# For every scenario <name> it writes:
#   <name>.pcap            the capture (KDC exchange and SMB)
#   <name>.keytab          samba-tool domain exportkeytab: the DC's machine
#                          account (the cifs/ service key), or for
#                          keytab-missing-service-key only carol's keys
#   <name>.keys            the session keys smbd logged ("debug encryption")
#   <name>.credentials     DOMAIN\USER:PASSWORD (ntlm-fallback only)
#   <name>.expected.json   the ground truth from the scenario definition,
#                          cross-checked with tshark's keytab decryption and
#                          the logged keys (captures/check_kerberos.py)
# See captures/kerberos/README.md.  Needs root (port 445, ip addr, tcpdump).
# The run holds flock /tmp/smbscope-445.lock like the other generators.
set -euo pipefail
export LC_ALL=C.UTF-8 LANG=C.UTF-8

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }
SCENARIOS=(smb311-signed smb311-aes128gcm smb311-aes256gcm smb302-signed
           keytab-missing-service-key ntlm-fallback rc4-ticket)
ONLY=() LIST_ONLY=0
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$SRC_DIR/kerberos
IFS=, read -r -a ONLY <<<"${SMBSCOPE_KERBEROS_ONLY:-}"
while (($#)); do
    case $1 in
        --only)   [[ $# -ge 2 ]] || { usage >&2; exit 2; }
                  IFS=, read -r -a more <<<"$2"; ONLY+=(${more[@]+"${more[@]}"}); shift 2 ;;
        --only=*) IFS=, read -r -a more <<<"${1#--only=}"; ONLY+=(${more[@]+"${more[@]}"}); shift ;;
        --out)    [[ $# -ge 2 ]] || { usage >&2; exit 2; }; OUT_DIR=$2; shift 2 ;;
        --out=*)  OUT_DIR=${1#--out=}; shift ;;
        --list)   LIST_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'generate-kerberos.sh: unknown argument %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done
for o in ${ONLY[@]+"${ONLY[@]}"}; do
    [[ " ${SCENARIOS[*]} " == *" $o "* ]] || {
        printf 'generate-kerberos.sh: unknown scenario %s (known: %s)\n' "$o" "${SCENARIOS[*]}" >&2; exit 2; }
done
if ((LIST_ONLY)); then printf '%s\n' "${SCENARIOS[@]}"; exit 0; fi
selected() { ((${#ONLY[@]} == 0)) || [[ " ${ONLY[*]} " == *" $1 "* ]]; }
((EUID == 0)) || { echo "generate-kerberos.sh: needs root (port 445, ip addr, tcpdump); try sudo" >&2; exit 1; }

CHECKER="$SRC_DIR/check_kerberos.py"
WORK=${SMBSCOPE_KERBEROS_WORK:-/tmp/smbscope-kerberos-work}
ADDR=127.0.0.20
REALM=SMBSCOPE.TEST
DOMAIN=SMBSCOPE
DC=smbscopedc
FQDN=$DC.smbscope.test
ADMIN_PASS='Admin-Passw0rd!'
CAROL_PASS='Carol-Passw0rd!'
LOCK=/tmp/smbscope-445.lock
T_START=$SECONDS

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'generate-kerberos.sh: error: %s\n' "$*" >&2; exit 1; }

OWNER_UID=${SUDO_UID:-$(stat -c %u "$SRC_DIR/..")}
OWNER_GID=${SUDO_GID:-$(stat -c %g "$SRC_DIR/..")}

###############################################################################
# 1. Packages
###############################################################################
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
install_packages() {
    local need=()
    command -v samba      >/dev/null 2>&1 || need+=(samba-ad-dc)      # the AD DC (samba binary)
    command -v samba-tool >/dev/null 2>&1 || need+=(samba-ad-provision samba-common-bin)
    command -v kinit      >/dev/null 2>&1 || need+=(krb5-user)        # MIT kinit/klist
    command -v smbclient  >/dev/null 2>&1 || need+=(smbclient)
    command -v tcpdump    >/dev/null 2>&1 || need+=(tcpdump)
    command -v tshark     >/dev/null 2>&1 || need+=(tshark)
    command -v ip         >/dev/null 2>&1 || need+=(iproute2)
    command -v python3    >/dev/null 2>&1 || need+=(python3)
    /usr/bin/python3 -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
    ((${#need[@]})) || return 0
    log "installing: ${need[*]}"
    # Keep the distribution's samba services from starting during installation.
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        POLICY_RC_OURS=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${need[@]}"; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get update
        apt-get install -y --no-install-recommends "${need[@]}"
    fi
    if ((POLICY_RC_OURS)); then rm -f "$POLICY_RC"; POLICY_RC_OURS=0; fi
}

###############################################################################
# 2. Processes and cleanup: every process we start is a session leader whose
# command line names $WORK; cleanup kills exactly those.
###############################################################################
SAMBA_PID= TCPDUMP_PID= ADDR_OURS=0

pid_is_ours() {
    local cmd
    [[ -r /proc/$1/cmdline ]] || return 1
    cmd=$( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null ) || return 1
    [[ $cmd == *"$WORK"* ]]
}

stop_samba() {
    [[ -n $SAMBA_PID ]] || return 0
    local i
    # samba's children rename themselves ("samba: task[s3fs]"), so the whole
    # session is signalled, not matched by command line.
    kill -TERM -- "-$SAMBA_PID" 2>/dev/null || true
    for i in $(seq 100); do
        [[ -z $(ps -o pid= -s "$SAMBA_PID" 2>/dev/null) ]] && break
        sleep 0.1
    done
    kill -KILL -- "-$SAMBA_PID" 2>/dev/null || true
    wait "$SAMBA_PID" 2>/dev/null || true
    SAMBA_PID=
}

stop_capture() {
    [[ -n $TCPDUMP_PID ]] || return 0
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=
}

kill_leftovers() {
    [[ -f $WORK/samba.sid ]] || return 0
    local sid; sid=$(cat "$WORK/samba.sid")
    if [[ $sid =~ ^[0-9]+$ ]] && [[ -n $(ps -o pid= -s "$sid" 2>/dev/null) ]]; then
        log "stopping the samba left over from an earlier run (session $sid)"
        kill -KILL -- "-$sid" 2>/dev/null || true
        sleep 1
    fi
}

SUCCESS=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_capture
    stop_samba
    if ((ADDR_OURS)); then ip addr del "$ADDR/32" dev lo 2>/dev/null || true; fi
    if ((POLICY_RC_OURS)); then rm -f "$POLICY_RC"; fi
    if ((SUCCESS)); then
        rm -rf "$WORK"
    elif [[ -d $WORK ]]; then
        echo "generate-kerberos.sh: failed (rc=$rc); work files kept in $WORK (samba log: $WORK/logs/samba.log, client output: $WORK/logs/)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

###############################################################################
# 3. The domain controller
###############################################################################
D= # the DC's private directory
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

write_dc_conf() { # write_dc_conf [KDC_ENCTYPES]
    # provision merges the [global] of /etc/samba/smb.conf into what it
    # writes; this clean file replaces it so nothing of the host leaks in.
    cat >"$D/etc/smb.conf" <<EOF
[global]
	netbios name = ${DC^^}
	workgroup = $DOMAIN
	realm = $REALM
	server role = active directory domain controller
	interfaces = $ADDR
	bind interfaces only = yes
	server services = s3fs, rpc, nbt, ldap, cldap, kdc, winbindd, ntp_signd
	disable netbios = yes
	smb ports = 445
	private dir = $D/private
	lock directory = $D
	state directory = $D/state
	cache directory = $D/cache
	binddns dir = $D/bind-dns
	pid directory = $D/run
	ncalrpc dir = $D/ncalrpc
	log file = $WORK/logs/samba.log
	max log size = 0
	log level = 1
	# smbd logs every session's keys: the .keys files and their cross-check.
	debug encryption = yes
${1:+	kdc supported enctypes = $1}
[netlogon]
	path = $D/state/sysvol/${REALM,,}/scripts
	read only = no
[sysvol]
	path = $D/state/sysvol
	read only = no
[share]
	path = $WORK/share
	read only = no
EOF
}

provision() {
    D=$WORK/dc
    mkdir -p "$D" "$WORK/logs" "$WORK/share" "$WORK/client" "$WORK/pcap" "$WORK/out"
    chmod 0777 "$WORK/share"   # carol's uid comes from idmap.ldb
    log "provisioning $REALM in $D"
    samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" --server-role=dc \
        --dns-backend=NONE --adminpass="$ADMIN_PASS" --targetdir="$D" \
        --host-ip="$ADDR" --host-name="$DC" --option="interfaces=$ADDR" \
        --option="bind interfaces only=yes" --option="netbios name=${DC^^}" \
        >"$WORK/logs/provision.log" 2>&1 \
        || { tail -20 "$WORK/logs/provision.log" >&2; die "samba-tool domain provision failed"; }
    write_dc_conf
    cat >"$WORK/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
[realms]
	$REALM = {
		kdc = $ADDR
	}
[domain_realm]
	.${REALM,,} = $REALM
	${REALM,,} = $REALM
EOF
}

SAMBA_PROFILE=unset
start_samba() { # start_samba [KDC_ENCTYPES]: (re)start with that KDC enctype set
    local i
    [[ -n $SAMBA_PID && $SAMBA_PROFILE == "${1:-}" ]] && return 0
    stop_samba
    write_dc_conf "${1:-}"
    SAMBA_PROFILE=${1:-}
    if ! ip -4 addr show dev lo | grep -q "inet $ADDR/"; then
        ip addr add "$ADDR/32" dev lo || die "cannot add $ADDR to lo"
        ADDR_OURS=1
    fi
    ! port_open "$ADDR" 445 || die "something already listens on $ADDR:445"
    if [[ -S /run/samba/winbindd/pipe ]] && pgrep -x winbindd >/dev/null; then
        die "a winbindd is running; the DC's own winbindd needs /run/samba/winbindd (stop it first)"
    fi
    mkdir -p /run/samba/winbindd
    log "starting samba (AD DC) on $ADDR${1:+ with kdc supported enctypes = $1}"
    setsid samba -s "$D/etc/smb.conf" --foreground --no-process-group \
        >"$WORK/logs/samba.out" 2>&1 9>&- &
    SAMBA_PID=$!
    echo "$SAMBA_PID" >"$WORK/samba.sid"
    for i in $(seq 300); do
        port_open "$ADDR" 445 && port_open "$ADDR" 88 && wbinfo -p >/dev/null 2>&1 && break
        kill -0 "$SAMBA_PID" 2>/dev/null || { tail -20 "$WORK/logs/samba.out" >&2; die "samba exited"; }
        sleep 0.1
    done
    port_open "$ADDR" 445 && port_open "$ADDR" 88 || die "samba not listening on $ADDR:445/88 after 30 s"
}

samba_tool() { samba-tool "$@" -s "$D/etc/smb.conf" >>"$WORK/logs/samba-tool.log" 2>&1 \
    || { tail -5 "$WORK/logs/samba-tool.log" >&2; die "samba-tool $1 $2 failed"; }; }

###############################################################################
# 4. Capture and the scenarios
###############################################################################
start_capture() { # start_capture FILE
    local f=$1 i
    rm -f "$f"
    : >"$WORK/logs/tcpdump.err"
    tcpdump -i lo --immediate-mode -B 262144 -s 0 -U -Z root -w "$f" \
        "host $ADDR and (tcp port 445 or port 88)" 2>"$WORK/logs/tcpdump.err" 9>&- &
    TCPDUMP_PID=$!
    for i in $(seq 100); do
        grep -q 'listening on' "$WORK/logs/tcpdump.err" && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$WORK/logs/tcpdump.err" >&2; die "tcpdump failed to start"; }
        sleep 0.1
    done
    grep -q 'listening on' "$WORK/logs/tcpdump.err" || die "tcpdump not ready after 10 s"
    sleep 0.3
}

COMMANDS='put hello.txt; ls; get hello.txt hello.back; mkdir newdir; ls newdir\*; rmdir newdir; del hello.txt'

# What each scenario does: the smbclient options, the keytab it ships, and
# what the capture must show (check_kerberos.py --expect KEY=VALUE).
scenario() { # scenario NAME -> sets DESC PROTO OPTS KEYTAB_OF AUTH EXPECT
    OPTS=() EXPECT=() KEYTAB_OF=machine AUTH=kerberos PROTO=SMB3_11 KDC_ENCTYPES=
    case $1 in
        smb311-signed)
            DESC="SMB 3.1.1, Kerberos (AES-256 ticket), client requires signing"
            OPTS=(--option='client signing=required')
            EXPECT=(dialect=3.1.1 signing_algorithm=AES-128-GMAC encrypted=false) ;;
        smb311-aes128gcm)
            DESC="SMB 3.1.1, Kerberos, client requires encryption with AES-128-GCM"
            OPTS=(--option='client smb encrypt=required' --option='client smb3 encryption algorithms=aes-128-gcm')
            EXPECT=(dialect=3.1.1 cipher=AES-128-GCM encrypted=true) ;;
        smb311-aes256gcm)
            DESC="SMB 3.1.1, Kerberos, client requires encryption with AES-256-GCM (the full 32-byte session key)"
            OPTS=(--option='client smb encrypt=required' --option='client smb3 encryption algorithms=aes-256-gcm')
            EXPECT=(dialect=3.1.1 cipher=AES-256-GCM encrypted=true) ;;
        smb302-signed)
            DESC="SMB 3.0.2, Kerberos, client requires signing (AES-128-CMAC)"
            PROTO=SMB3_02
            OPTS=(--option='client signing=required')
            EXPECT=(dialect=3.0.2 signing_algorithm=AES-128-CMAC encrypted=false) ;;
        rc4-ticket)
            # A DC account always gets AES tickets whatever its
            # msDS-SupportedEncryptionTypes; restricting the whole KDC to
            # rc4-hmac (0x4) is what makes the ticket and its keys RC4.
            DESC="SMB 3.1.1, Kerberos with an RC4 ticket and session key (KDC limited to rc4-hmac)"
            KDC_ENCTYPES=4
            OPTS=(--option='client signing=required')
            EXPECT=(dialect=3.1.1 signing_algorithm=AES-128-GMAC encrypted=false ticket_enctype=rc4-hmac) ;;
        keytab-missing-service-key)
            DESC="SMB 3.1.1, Kerberos, encrypted (AES-128-GCM); the keytab holds only carol's keys, not the cifs/ service key"
            KEYTAB_OF=user
            OPTS=(--option='client smb encrypt=required' --option='client smb3 encryption algorithms=aes-128-gcm')
            EXPECT=(dialect=3.1.1 cipher=AES-128-GCM encrypted=true) ;;
        ntlm-fallback)
            DESC="SMB 3.1.1 to the server's DNS name, but with Kerberos off: NTLMv2"
            AUTH=ntlmv2
            OPTS=(--option='client signing=required')
            EXPECT=(dialect=3.1.1 signing_algorithm=AES-128-GMAC encrypted=false) ;;
        *) die "no definition for scenario $1" ;;
    esac
}

export_keytab() { # export_keytab machine|user FILE
    rm -f "$2"
    case $1 in
        machine) samba_tool domain exportkeytab "$2" --principal="${DC^^}\$" ;;
        user)    samba_tool domain exportkeytab "$2" --principal="carol" ;;
    esac
    [[ -s $2 ]] || die "exportkeytab wrote nothing to $2"
}

SUMMARY=() GENERATED=()
run_scenario() {
    local name=$1 pcap="$WORK/pcap/$1.pcap" out="$WORK/logs/$1.smbclient" rc=0 attempt ok=0 auth_opts
    scenario "$name"
    start_samba "$KDC_ENCTYPES"
    export KRB5_CONFIG=$WORK/krb5.conf KRB5CCNAME=FILE:$WORK/ccache
    if [[ $AUTH == kerberos ]]; then
        auth_opts=(--use-kerberos=required --use-krb5-ccache="$WORK/ccache")
    else
        auth_opts=(--use-kerberos=off -U "$DOMAIN\\carol%$CAROL_PASS")
    fi
    local cmd=(smbclient -s "$WORK/client.conf" "//$FQDN/share" -I "$ADDR" "${auth_opts[@]}" -m "$PROTO" "${OPTS[@]}" -c "$COMMANDS")
    for attempt in 1 2 3; do
        log "scenario $name (attempt $attempt)"
        kdestroy -q 2>/dev/null || true
        : >"$WORK/logs/samba.log"   # the keys of this scenario only
        start_capture "$pcap"
        if [[ $AUTH == kerberos ]]; then
            printf '%s\n' "$CAROL_PASS" | kinit "carol@$REALM" >"$WORK/logs/$name.kinit" 2>&1 \
                || { cat "$WORK/logs/$name.kinit" >&2; die "kinit carol@$REALM failed"; }
        fi
        echo "hello from $name" >"$WORK/client/hello.txt"
        rc=0
        (cd "$WORK/client" && timeout 60 "${cmd[@]}" </dev/null 9>&-) >"$out" 2>&1 || rc=$?
        sleep 0.5
        stop_capture
        ((rc == 0)) || { sed 's/^/    | /' "$out" >&2; die "scenario $name: smbclient exited $rc"; }
        if grep -qE '[1-9][0-9]* packets dropped by kernel' "$WORK/logs/tcpdump.err"; then
            log "  tcpdump dropped packets; retrying"; continue
        fi
        ok=1; break
    done
    ((ok)) || die "scenario $name: no clean capture after 3 attempts"
    # smbd's "debug encryption" dump, one block per session, unindented.
    awk '/dumping generated session keys/{on=1; next} /^\[20[0-9][0-9]\//{on=0} on{sub(/^  /,""); print}' \
        "$WORK/logs/samba.log" >"$WORK/out/$name.keys"
    [[ -s $WORK/out/$name.keys ]] || die "scenario $name: smbd logged no session keys"
    export_keytab "$KEYTAB_OF" "$WORK/out/$name.keytab"
    local cred=()
    if [[ $AUTH != kerberos ]]; then
        printf '%s\\carol:%s\n' "$DOMAIN" "$CAROL_PASS" >"$WORK/out/$name.credentials"
        cred=(--credentials "$WORK/out/$name.credentials")
    fi
    local line
    line=$(/usr/bin/python3 "$CHECKER" make "$name" --pcap "$pcap" --keytab "$WORK/out/$name.keytab" \
             --keys "$WORK/out/$name.keys" ${cred[@]+"${cred[@]}"} --out "$WORK/out/$name.expected.json" \
             --desc "$DESC" --auth "$AUTH" --user carol --realm "$REALM" --domain "$DOMAIN" \
             --target "//$FQDN/share" --commands "$COMMANDS" --keytab-of "$KEYTAB_OF" \
             --client-command "$(printf '%q ' "${cmd[@]}")" --versions "$VERSIONS" \
             ${EXPECT[@]/#/--expect=}) \
        || die "scenario $name: the capture does not match its definition (capture: $pcap)"
    SUMMARY+=("$line")
    local f
    for f in "$name.keys" "$name.keytab" "$name.expected.json" ${cred[@]+"$name.credentials"}; do
        install -m 0644 -o "$OWNER_UID" -g "$OWNER_GID" "$WORK/out/$f" "$OUT_DIR/$f"
    done
    # A keytab is a secret in real life; this one is a throwaway test domain's.
    chmod 0600 "$OUT_DIR/$name.keytab"
    install -m 0644 -o "$OWNER_UID" -g "$OWNER_GID" "$pcap" "$OUT_DIR/$name.pcap"
    GENERATED+=("$name")
}

###############################################################################
# Main
###############################################################################
install_packages
command -v flock >/dev/null || die "flock (util-linux) is missing"
exec 9>"$LOCK"
flock -w 600 9 || die "another capture generator holds $LOCK"
kill_leftovers
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT_DIR"
chown "$OWNER_UID:$OWNER_GID" "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
provision
cat >"$WORK/client.conf" <<EOF
[global]
	workgroup = $DOMAIN
	realm = $REALM
	client min protocol = SMB2_02
EOF
start_samba
samba_tool user create carol "$CAROL_PASS"
VERSIONS=$(/usr/bin/python3 -c 'import json, sys; print(json.dumps(dict(a.split("=", 1) for a in sys.argv[1:])))' \
    "samba=$(samba --version 2>/dev/null | sed 's/^Version //')" \
    "smbclient=$(smbclient --version 2>/dev/null | sed 's/^Version //')" \
    "krb5=$(dpkg-query -W -f '${Version}' krb5-user 2>/dev/null || echo unknown)" \
    "tshark=$(tshark --version 2>/dev/null | head -1 | sed 's/^TShark (Wireshark) //; s/\.$//')" \
    "tcpdump=$(tcpdump --version 2>&1 | head -1 | sed 's/^tcpdump version //')")
for s in "${SCENARIOS[@]}"; do
    selected "$s" && run_scenario "$s"
done
stop_samba

echo
printf '%s\n' "${SUMMARY[@]}"
echo
echo "${#GENERATED[@]} scenarios (${GENERATED[*]}) in $OUT_DIR, $((SECONDS - T_START)) s"
echo "samba $(samba --version 2>/dev/null | sed 's/^Version //'), $(tshark --version 2>/dev/null | head -1)"
SUCCESS=1
