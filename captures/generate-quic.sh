#!/usr/bin/env bash
# Generate real SMB-over-QUIC captures for smbscope's tests.
#
#   sudo bash captures/generate-quic.sh
#
# Samba 4.17 has no SMB over QUIC, so smbclient talks to a private smbd through
# a pair of relays (captures/quic-relay.rs, a cargo example built with quinn +
# rustls):
#
#   smbclient --TCP 127.0.0.1:4450--> quic-relay client
#             --QUIC v1, ALPN "smb", UDP 127.0.0.1:443--> quic-relay server
#             --TCP 127.0.0.1:10445--> smbd
#
# tcpdump records the UDP leg (and, for the exposure scenario, direct TCP/445
# traffic too).  For every scenario <name> it writes, into captures/quic/:
#   <name>.pcap            the capture (loopback, classic pcap)
#   <name>.keylog          the relay client's TLS key log (NSS format), which
#                          decrypts the QUIC packets
#   <name>.keys            smbclient's "debug encryption" dump of the SMB keys
#   <name>.credentials     DOMAIN\USER:PASSWORD (password logons only)
#   <name>.expected.json   expected answers, read from the capture with tshark
#                          (given the key log) and cross-checked
# See captures/README.md ("SMB over QUIC").  Needs root (ports 443/445,
# useradd, tcpdump).  Runs in about a minute once the relay is built.
set -euo pipefail
export LC_ALL=C.UTF-8 LANG=C.UTF-8

CAPTURES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$CAPTURES/.." && pwd)
OUT_DIR=$CAPTURES/quic
CHECKER=$CAPTURES/check_quic.py
WORK=${SMBSCOPE_QUIC_WORK:-/tmp/smbscope-quic-capture-work}
HOST=127.0.0.1
SMB_PORT=445          # direct TCP SMB (only the exposure scenario uses it)
BACKEND_PORT=10445    # what the relay server forwards to (never captured)
QUIC_PORT=443
RELAY_TCP_PORT=4450   # the relay client's TCP side, which smbclient dials
MIGRATE_TO=127.0.0.2  # lo carries all of 127.0.0.0/8
SERVER_NAME=files.smbscope.test
T_START=$SECONDS

ALICE_PASS='Alice-Passw0rd!'
BOB_PASS='Bob-Pässwörd!9'
DOMAIN=SMBSCOPE

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'generate-quic.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (needs ports 443/445, useradd and tcpdump): sudo bash $0"

OWNER_UID=${SUDO_UID:-$(stat -c %u "$REPO")}
OWNER_GID=${SUDO_GID:-$(stat -c %g "$REPO")}

###############################################################################
# 1. Packages and the relay
###############################################################################
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
install_packages() {
    local need=()
    command -v smbd      >/dev/null 2>&1 || need+=(samba)
    command -v smbpasswd >/dev/null 2>&1 || need+=(samba-common-bin)
    command -v smbclient >/dev/null 2>&1 || need+=(smbclient)
    command -v tcpdump   >/dev/null 2>&1 || need+=(tcpdump)
    command -v tshark    >/dev/null 2>&1 || need+=(tshark)
    command -v python3   >/dev/null 2>&1 || need+=(python3)
    command -v openssl   >/dev/null 2>&1 || need+=(openssl)
    command -v useradd   >/dev/null 2>&1 || need+=(passwd)
    command -v ps        >/dev/null 2>&1 || need+=(procps)
    command -v ss        >/dev/null 2>&1 || need+=(iproute2)
    command -v gcc       >/dev/null 2>&1 || need+=(gcc)   # ring (rustls' crypto) builds C code
    ((${#need[@]})) || return 0
    log "installing: ${need[*]}"
    # Keep Debian's own smbd from starting (and taking port 445) while installing.
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

# Debian's python3 first (the one apt's packages go to).
pick_python() { if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else echo python3; fi; }

RELAY=
build_relay() {
    # Build as the user who ran sudo, so target/ stays theirs.
    local user=${SUDO_USER:-root} home cargo
    home=$(getent passwd "$user" | cut -d: -f6)
    cargo=$(command -v cargo || true)
    [[ -n $cargo ]] || { [[ -x $home/.cargo/bin/cargo ]] && cargo=$home/.cargo/bin/cargo; }
    [[ -n $cargo ]] || die "cargo not found: install the Rust toolchain (https://rustup.rs) first"
    log "building the relay (cargo build --release --example quic-relay)"
    if [[ $user != root ]]; then
        runuser -u "$user" -- env HOME="$home" PATH="$(dirname "$cargo"):$PATH" \
            cargo build --release --example quic-relay --manifest-path "$REPO/Cargo.toml"
    else
        "$cargo" build --release --example quic-relay --manifest-path "$REPO/Cargo.toml"
    fi
    RELAY=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/quic-relay
    [[ -x $RELAY ]] || die "relay binary not found at $RELAY"
    # Run a copy from the work dir, so that every process we start names $WORK.
    install -m 0755 "$RELAY" "$WORK/quic-relay"
    RELAY=$WORK/quic-relay
}

###############################################################################
# Process tracking and cleanup.  Every PID we start goes to $WORK/pids; a later
# run stops leftovers from that list after checking that their command line
# still mentions $WORK.  Nothing else is ever killed.
###############################################################################
SMBD_PID='' TCPDUMP_PID='' RSERVER_PID='' RCLIENT_PID=''

pid_is_ours() {
    local cmd
    [[ -r /proc/$1/cmdline ]] || return 1
    cmd=$( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null ) || return 1
    [[ $cmd == *"$WORK"* ]]
}

session_pids() {
    local p
    for p in $(ps -o pid= -s "$1" 2>/dev/null); do
        pid_is_ours "$p" && echo "$p"
    done
    return 0
}

kill_session() { # TERM the session leader, then KILL our stragglers in that session
    local sid=$1 i pids
    pid_is_ours "$sid" && kill -TERM "$sid" 2>/dev/null || true
    for i in $(seq 50); do
        pids=$(session_pids "$sid")
        [[ -z $pids ]] && break
        sleep 0.1
    done
    pids=$(session_pids "$sid")
    if [[ -n $pids ]]; then
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    fi
    wait "$sid" 2>/dev/null || true
}

stop_pid() { # stop_pid PID [SIGNAL]: one process we started
    local pid=$1 sig=${2:-TERM} i
    [[ -n $pid ]] || return 0
    pid_is_ours "$pid" && kill -"$sig" "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        pid_is_ours "$pid" || break
        sleep 0.1
    done
    pid_is_ours "$pid" && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

kill_leftovers() {
    [[ -f $WORK/pids ]] || return 0
    local pid
    while read -r pid; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        if pid_is_ours "$pid"; then
            log "stopping leftover process $pid from an earlier run"
            kill_session "$pid"
            pid_is_ours "$pid" && kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$WORK/pids"
}

track() { echo "$1" >>"$WORK/pids"; }

stop_capture() { [[ -n $TCPDUMP_PID ]] && stop_pid "$TCPDUMP_PID" INT; TCPDUMP_PID=; }
stop_relays() {
    [[ -n $RCLIENT_PID ]] && stop_pid "$RCLIENT_PID"; RCLIENT_PID=
    [[ -n $RSERVER_PID ]] && stop_pid "$RSERVER_PID"; RSERVER_PID=
    return 0
}
stop_smbd() { [[ -n $SMBD_PID ]] && kill_session "$SMBD_PID"; SMBD_PID=; }

SUCCESS=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_capture
    stop_relays
    stop_smbd
    if ((POLICY_RC_OURS)); then rm -f "$POLICY_RC"; fi
    if ((SUCCESS)); then
        rm -rf "$WORK"
    elif [[ -d $WORK ]]; then
        echo "generate-quic.sh: failed (rc=$rc); work files kept in $WORK (logs in $WORK/logs)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

###############################################################################
# 2. Samba server (the same private set-up as generate.sh: own smb.conf,
#    passdb, lock/state/cache dirs; /etc/samba is never touched)
###############################################################################
tcp_port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
udp_port_in_use() { [[ -n $(ss -Hlun "sport = :$1" 2>/dev/null) ]]; }

setup_work() {
    kill_leftovers
    rm -rf "$WORK"
    mkdir -p "$WORK"/{private,lock,state,cache,pid,ncalrpc,pcap,logs,client,out} \
             "$WORK"/clientstate/{private,lock,state,cache} \
             "$WORK"/shares/{public,data}
    : >"$WORK/pids"
    chmod 755 "$WORK" "$WORK/shares"
    chmod 1777 "$WORK/shares/public" "$WORK/shares/data"
    local i
    for i in $(seq -w 1 48); do
        printf 'smbscope capture test file, line %s: the quick brown fox jumps..\n' "$i"
    done >"$WORK/client/hello.txt"
    cp "$WORK/client/hello.txt" "$WORK/client/guest.txt"
    cat >"$WORK/client.conf" <<EOF
[global]
	workgroup = $DOMAIN
	unix charset = UTF-8
	private dir = $WORK/clientstate/private
	lock directory = $WORK/clientstate/lock
	state directory = $WORK/clientstate/state
	cache directory = $WORK/clientstate/cache
	log file = $WORK/logs/client.log
EOF
    cat >"$WORK/smb.conf" <<EOF
# smbscope SMB-over-QUIC capture server (generated by captures/generate-quic.sh)
[global]
	workgroup = $DOMAIN
	netbios name = SCOPESRV
	server role = standalone server
	interfaces = lo
	bind interfaces only = yes
	smb ports = $SMB_PORT $BACKEND_PORT
	disable netbios = yes
	unix charset = UTF-8
	private dir = $WORK/private
	lock directory = $WORK/lock
	state directory = $WORK/state
	cache directory = $WORK/cache
	pid directory = $WORK/pid
	ncalrpc dir = $WORK/ncalrpc
	passdb backend = tdbsam:$WORK/passdb.tdb
	log file = $WORK/log.smbd
	max log size = 0
	log level = 1
	map to guest = bad user
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes

[public]
	path = $WORK/shares/public
	guest ok = yes
	read only = no

[data]
	path = $WORK/shares/data
	read only = no
	valid users = alice bob
EOF
}

ensure_users() {
    local u p out
    for u in alice bob; do
        if ! id "$u" >/dev/null 2>&1; then
            log "creating local user $u"
            useradd -M -s /usr/sbin/nologin "$u"
        fi
        [[ $u == alice ]] && p=$ALICE_PASS || p=$BOB_PASS
        out=$(printf '%s\n%s\n' "$p" "$p" | smbpasswd -c "$WORK/smb.conf" -a -s "$u" 2>&1) \
            || { echo "$out" >&2; die "smbpasswd -a $u failed"; }
    done
}

start_smbd() {
    local port i who
    for port in $SMB_PORT $BACKEND_PORT; do
        if tcp_port_in_use "$port"; then
            who=$(ss -ltnpH "sport = :$port" 2>/dev/null || true)
            die "TCP port $port on $HOST is already in use${who:+ ($who)}. Stop that server first (e.g. 'systemctl stop smbd')."
        fi
    done
    # Own session: with --no-process-group smbd signals its whole process group on exit.
    setsid smbd --foreground --no-process-group -s "$WORK/smb.conf" \
        </dev/null >>"$WORK/logs/smbd.out" 2>&1 &
    SMBD_PID=$!
    track "$SMBD_PID"
    for i in $(seq 100); do
        kill -0 "$SMBD_PID" 2>/dev/null || { tail -20 "$WORK/log.smbd" "$WORK/logs/smbd.out" >&2 || true; die "smbd exited during start-up"; }
        tcp_port_in_use "$SMB_PORT" && tcp_port_in_use "$BACKEND_PORT" && break
        sleep 0.1
    done
    tcp_port_in_use "$BACKEND_PORT" || die "smbd did not start listening on $HOST:$SMB_PORT and :$BACKEND_PORT within 10 s"
    log "smbd $SMBD_PID up (TCP $SMB_PORT and $BACKEND_PORT)"
}

###############################################################################
# 3. Relays, capture, client
###############################################################################
wait_for() { # wait_for FILE PATTERN PID WHAT
    local i
    for i in $(seq 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "$4 exited during start-up"; }
        sleep 0.1
    done
    cat "$1" >&2
    die "$4 not ready after 10 s"
}

start_relay_server() { # start_relay_server LOGPREFIX [extra args]
    local logf=$WORK/logs/$1.rserver
    shift
    udp_port_in_use "$QUIC_PORT" && die "UDP port $QUIC_PORT is already in use: $(ss -Hlunp "sport = :$QUIC_PORT")"
    "$RELAY" server --listen "$HOST:$QUIC_PORT" --forward "$HOST:$BACKEND_PORT" \
        --cert-name "$CERT_NAME" --cert-out "$WORK/cert.pem" "$@" </dev/null 2>"$logf" &
    RSERVER_PID=$!
    track "$RSERVER_PID"
    wait_for "$logf" 'listening on udp' "$RSERVER_PID" "relay server"
}

start_relay_client() { # start_relay_client LOGPREFIX KEYLOG [extra args]
    local logf=$WORK/logs/$1.rclient keylog=$2
    shift 2
    "$RELAY" client --listen "$HOST:$RELAY_TCP_PORT" --connect "$HOST:$QUIC_PORT" \
        --bind "$HOST:0" --pin-cert "$WORK/cert.pem" --keylog "$keylog" "$@" </dev/null 2>"$logf" &
    RCLIENT_PID=$!
    track "$RCLIENT_PID"
    wait_for "$logf" 'listening on tcp' "$RCLIENT_PID" "relay client"
}

start_capture() { # start_capture FILE FILTER
    local f=$1
    rm -f "$f"
    : >"$WORK/logs/tcpdump.err"
    # --immediate-mode: nothing is left in an unfinished ring block at SIGINT;
    # -B 262144: no drops on loopback bursts (see captures/README.md).
    tcpdump -i lo --immediate-mode -B 262144 -s 0 -U -Z root -w "$f" "$2" \
        2>"$WORK/logs/tcpdump.err" &
    TCPDUMP_PID=$!
    track "$TCPDUMP_PID"
    wait_for "$WORK/logs/tcpdump.err" 'listening on' "$TCPDUMP_PID" "tcpdump"
    sleep 0.3
}

extract_keys() { # extract_keys LOG: print only smbclient's key-dump lines
    grep -E '^(debug encryption: dumping generated session keys|(Session Id|Session Key|Signing Key|App Key|ServerIn Key|ServerOut Key) *\[[0-9A-Fa-f]{4}\]|[[:space:]]*\[[0-9A-Fa-f]{4}\] ([0-9A-Fa-f]{2} ))' "$1" || true
}

shell_words() {
    local a out=()
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
    done
    echo "${out[*]}"
}

# Scenario definition (set by the helpers below).
NAME='' DESC='' TARGET='' DIAL='' CERT_NAME='' USERNAME='' LOGIN='' CMDS=''
CLIENT=() CRED=() ENVV=() SERVER_ARGS=() CLIENT_ARGS=() EXPECT=() ALSO_TCP=0

scenario() {
    NAME=$1 DESC=$2 TARGET="//$SERVER_NAME/data" DIAL=$SERVER_NAME CERT_NAME=$SERVER_NAME USERNAME='' LOGIN='' CMDS=''
    CLIENT=() CRED=() ENVV=() SERVER_ARGS=() CLIENT_ARGS=() EXPECT=() ALSO_TCP=0
}
login() {
    USERNAME=$1 LOGIN=password
    local p
    case $1 in alice) p=$ALICE_PASS ;; bob) p=$BOB_PASS ;; *) die "no password for $1" ;; esac
    CRED=(-U "$DOMAIN\\$1%$p")
}
login_guest() { USERNAME=$1 LOGIN=guest; ENVV=(USER="$1" LOGNAME="$1"); CRED=(-N); }

RW_CMDS='put hello.txt; ls; get hello.txt hello.back; del hello.txt'

# smbclient_run LOG TARGET PORT: one smbclient session, exit status in $RC.
RC=0
smbclient_run() {
    local logf=$1 target=$2 port=$3
    RC=0
    (cd "$WORK/client" && env ${ENVV[@]+"${ENVV[@]}"} timeout 30 smbclient -s "$WORK/client.conf" \
        "$target" -I "$HOST" -p "$port" ${CRED[@]+"${CRED[@]}"} ${CLIENT[@]+"${CLIENT[@]}"} \
        --option='debug encryption = yes' -d 0 -c "$CMDS") >"$logf" 2>&1 || RC=$?
}

SUMMARY=()
run() {
    local pcap=$WORK/pcap/$NAME.pcap keylog=$WORK/out/$NAME.keylog attempt filter i
    local clog=$WORK/logs/$NAME.client tlog=$WORK/logs/$NAME.tcp445 tcp_rc='' quic_rc relay_rc
    filter="udp port $QUIC_PORT and host $HOST"
    ((ALSO_TCP)) && filter="(udp port $QUIC_PORT or tcp port $SMB_PORT) and host $HOST"
    for attempt in 1 2 3; do
        tcp_rc=
        log "scenario $NAME (attempt $attempt): smbclient $TARGET ${CLIENT[*]} via QUIC"
        rm -f "$keylog" "$WORK/cert.pem"
        start_relay_server "$NAME" ${SERVER_ARGS[@]+"${SERVER_ARGS[@]}"}
        start_capture "$pcap" "$filter"
        start_relay_client "$NAME" "$keylog" --server-name "$DIAL" ${CLIENT_ARGS[@]+"${CLIENT_ARGS[@]}"}
        smbclient_run "$clog" "$TARGET" "$RELAY_TCP_PORT"
        quic_rc=$RC
        # The relay client exits by itself once the QUIC connection is closed.
        relay_rc=0
        for i in $(seq 100); do kill -0 "$RCLIENT_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$RCLIENT_PID" 2>/dev/null; then
            log "  relay client still running 10 s after the session; stopping it"
            relay_rc=124
            stop_pid "$RCLIENT_PID"
        else
            wait "$RCLIENT_PID" || relay_rc=$?
        fi
        RCLIENT_PID=
        if ((ALSO_TCP)); then
            sleep 0.3
            smbclient_run "$tlog" "//$HOST/data" "$SMB_PORT"
            tcp_rc=$RC
            RC=$quic_rc
        fi
        sleep 0.5
        stop_capture
        stop_relays
        if grep -qE '[1-9][0-9]* packets dropped by kernel' "$WORK/logs/tcpdump.err"; then
            log "  tcpdump dropped packets; retrying"; continue
        fi
        if ((RC == 124)) || [[ $tcp_rc == 124 ]] || ((relay_rc == 124)); then
            log "  smbclient or the relay client timed out; retrying"; continue
        fi
        if ((RC != 0 || relay_rc != 0)) || [[ -n $tcp_rc && $tcp_rc != 0 ]]; then
            sed 's/^/    | /' "$clog" ${tcp_rc:+"$tlog"} >&2
            sed 's/^/    relay client | /' "$WORK/logs/$NAME.rclient" >&2
            sed 's/^/    relay server | /' "$WORK/logs/$NAME.rserver" >&2
            die "scenario $NAME: smbclient rc=$RC, relay client rc=$relay_rc${tcp_rc:+, direct TCP smbclient rc=$tcp_rc}"
        fi
        break
    done
    ((attempt <= 3)) || die "scenario $NAME: no clean capture after 3 attempts"

    # Key files: the QUIC session's keys, then the direct TCP session's.
    { extract_keys "$clog"; ((ALSO_TCP)) && extract_keys "$tlog"; } >"$WORK/out/$NAME.keys" || true
    [[ -s $WORK/out/$NAME.keys ]] || rm -f "$WORK/out/$NAME.keys"
    if [[ $LOGIN == password ]]; then
        local p
        [[ $USERNAME == alice ]] && p=$ALICE_PASS || p=$BOB_PASS
        printf '%s\\%s:%s\n' "$DOMAIN" "$USERNAME" "$p" >"$WORK/out/$NAME.credentials"
    fi
    cp "$pcap" "$WORK/out/$NAME.pcap"
    local args=(make "$WORK/out/$NAME.pcap" --name "$NAME" --desc "$DESC" --login "$LOGIN" --user "$USERNAME"
                --domain "$DOMAIN" --target "$TARGET" --dial "$DIAL" --cert-name "$CERT_NAME"
                --cert "$WORK/cert.pem" --forward "$HOST:$BACKEND_PORT"
                --relay-client-log "$WORK/logs/$NAME.rclient" --relay-server-log "$WORK/logs/$NAME.rserver"
                --client-command "$(shell_words ${ENVV[@]+"${ENVV[@]}"} smbclient "$TARGET" -I "$HOST" -p "$RELAY_TCP_PORT" ${CRED[@]+"${CRED[@]}"} ${CLIENT[@]+"${CLIENT[@]}"} -c "$CMDS")"
                --relay-server-command "$(shell_words quic-relay server --listen "$HOST:$QUIC_PORT" --forward "$HOST:$BACKEND_PORT" --cert-name "$CERT_NAME" ${SERVER_ARGS[@]+"${SERVER_ARGS[@]}"})"
                --relay-client-command "$(shell_words quic-relay client --listen "$HOST:$RELAY_TCP_PORT" --connect "$HOST:$QUIC_PORT" --server-name "$DIAL" --pin-cert cert.pem --keylog "$NAME.keylog" ${CLIENT_ARGS[@]+"${CLIENT_ARGS[@]}"})"
                --commands "$CMDS" --out "$WORK/out/$NAME.expected.json")
    ((ALSO_TCP)) && args+=(--tcp-command "$(shell_words smbclient "//$HOST/data" -I "$HOST" -p "$SMB_PORT" ${CRED[@]+"${CRED[@]}"} ${CLIENT[@]+"${CLIENT[@]}"} -c "$CMDS")")
    local e
    for e in ${EXPECT[@]+"${EXPECT[@]}"}; do args+=(--expect "$e"); done
    SUMMARY+=("$("$PYTHON" "$CHECKER" "${args[@]}")") \
        || die "scenario $NAME: capture does not match its definition"
    local f
    for f in pcap keylog keys credentials expected.json; do
        rm -f "$OUT_DIR/$NAME.$f"
        [[ -f $WORK/out/$NAME.$f ]] || continue
        install -m 0644 -o "$OWNER_UID" -g "$OWNER_GID" "$WORK/out/$NAME.$f" "$OUT_DIR/$NAME.$f"
    done
}

###############################################################################
# Main
###############################################################################
install_packages
PYTHON=$(pick_python)
setup_work
build_relay
ensure_users
start_smbd
mkdir -p "$OUT_DIR"
chown "$OWNER_UID:$OWNER_GID" "$OUT_DIR"

scenario quic-smb311 "SMB 3.1.1 over QUIC (ALPN smb, SNI $SERVER_NAME), alice, client requires signing: every SMB message signed (AES-128-GMAC), none encrypted; QUIC/TLS 1.3 is the transport security"
login alice
CLIENT=(-m SMB3_11 --option='client signing=required')
CMDS=$RW_CMDS
EXPECT=(dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC signing_everywhere=true cipher=null migrated=false)
run

scenario quic-smb311-encrypted "SMB 3.1.1 over QUIC, alice, client requires SMB encryption: SMB3 TRANSFORM (AES-128-GCM) inside QUIC"
login alice
CLIENT=(-m SMB3_11 --option='client smb encrypt=required')
CMDS=$RW_CMDS
EXPECT=(dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC cipher=AES-128-GCM encrypted=true signing_everywhere=true migrated=false)
run

scenario quic-migration "SMB 3.1.1 over QUIC, alice, signed; after the client's 5th SMB message the relay client rebinds to $MIGRATE_TO (new address and port, new connection ID) and the session goes on"
login alice
CLIENT=(-m SMB3_11 --option='client signing=required')
CLIENT_ARGS=(--migrate-after-messages 5 --migrate-to "$MIGRATE_TO:0")
CMDS=$RW_CMDS
EXPECT=(dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC signing_everywhere=true migrated=true)
run

scenario quic-cid-rotation "SMB 3.1.1 over QUIC, alice, signed; the relay client's connection IDs live 20 ms, so it keeps issuing new ones (NEW_CONNECTION_ID with Retire Prior To) and the server keeps switching its packets to IDs announced only in those encrypted frames"
login alice
CLIENT=(-m SMB3_11 --option='client signing=required')
CLIENT_ARGS=(--cid-lifetime-ms 20)
CMDS=$RW_CMDS
EXPECT=(dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC signing_everywhere=true migrated=false cid_rotation=true)
run

scenario quic-cert-ip "SMB 3.1.1 over QUIC to //$HOST/data: the client dials the IP address (so no SNI) and the server certificate names IP $HOST (IP SAN) instead of a DNS name"
login alice
SERVER_ARGS=(--cert-ip)
TARGET="//$HOST/data" DIAL=$HOST CERT_NAME=$HOST
CLIENT=(-m SMB3_11 --option='client signing=required')
CMDS=$RW_CMDS
EXPECT=(dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC signing_everywhere=true sni=null cert_ip=true migrated=false)
run

scenario quic-and-tcp445 "Exposure: one SMB 3.1.1 session over QUIC (UDP 443) and then one over direct TCP 445 to the same server IP, alice both times, client requires signing"
login alice
CLIENT=(-m SMB3_11 --option='client signing=required')
CMDS=$RW_CMDS
ALSO_TCP=1
EXPECT=(dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC signing_everywhere=true migrated=false tcp445=true)
run

scenario quic-guest "Guest over QUIC: smbclient -N (user 'visitor', no password) to [public], mapped to guest (SessionFlags IS_GUEST), nothing signed"
login_guest visitor
TARGET="//$SERVER_NAME/public"
CMDS='put guest.txt; ls'
EXPECT=(dialect=3.1.1 guest=true user=visitor domain="$DOMAIN" auth=none signing_algorithm=null files=guest.txt migrated=false)
run

stop_smbd

echo
"$PYTHON" "$CHECKER" header
printf '%s\n' "${SUMMARY[@]}"
total=$(du -cb "$OUT_DIR"/*.pcap | tail -1 | cut -f1)
echo
echo "${#SUMMARY[@]} scenarios, pcaps total $total bytes, $((SECONDS - T_START)) s"
echo "samba $(smbd --version 2>/dev/null | sed 's/^Version //'), $(tshark --version 2>/dev/null | head -1)"
SUCCESS=1
