#!/usr/bin/env bash
# Generate real SMB traffic captures for smbscope's tests.
#
#   sudo bash captures/generate.sh                      # every scenario
#   sudo bash captures/generate.sh --only NAME[,NAME...]  # just these scenarios
#   bash captures/generate.sh --list                      # print the scenario names
#
# --only (repeatable, or SMBSCOPE_CAPTURE_ONLY=NAME,NAME) regenerates the named
# scenarios and leaves every other committed file alone; mixed.pcap is rebuilt
# only when one of its parts was regenerated.  Unknown names are an error.
#
# Runs a private Samba server on 127.0.0.1:445 (its own smb.conf, passdb, lock,
# state and cache directories under a work dir; /etc/samba is never touched),
# drives smbclient through each scenario below while tcpdump records loopback,
# and writes for every scenario <name>:
#   <name>.pcap            the capture
#   <name>.keys            smbclient's "debug encryption" key dump (SMB 3.x only)
#   <name>.credentials     DOMAIN\USER:PASSWORD the client used (password logons)
#   <name>.expected.json   expected answers, from the scenario definition below,
#                          cross-checked against the capture with tshark
# See captures/README.md.  Needs root (port 445, useradd, tcpdump).
set -euo pipefail
export LC_ALL=C.UTF-8 LANG=C.UTF-8

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }
ONLY=() LIST_ONLY=0
IFS=, read -r -a ONLY <<<"${SMBSCOPE_CAPTURE_ONLY:-}"
while (($#)); do
    case $1 in
        --only)   [[ $# -ge 2 ]] || { usage >&2; exit 2; }
                  IFS=, read -r -a more <<<"$2"; ONLY+=(${more[@]+"${more[@]}"}); shift 2 ;;
        --only=*) IFS=, read -r -a more <<<"${1#--only=}"; ONLY+=(${more[@]+"${more[@]}"}); shift ;;
        --list)   LIST_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'generate.sh: unknown argument %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done

OUT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECKER="$OUT_DIR/check_capture.py"
WORK=${SMBSCOPE_CAPTURE_WORK:-/tmp/smbscope-capture-work}
HOST=127.0.0.1
PORT=445
T_START=$SECONDS

ALICE_PASS='Alice-Passw0rd!'
BOB_PASS='Bob-Pässwörd!9'        # non-ASCII on purpose (UTF-8 here, UTF-16LE on the wire)
WRONG_PASS='Not-Alices-Passw0rd' # for bad-password
DOMAIN=SMBSCOPE

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'generate.sh: error: %s\n' "$*" >&2; exit 1; }

# Files end up owned by whoever invoked us (sudo user, else the repo owner).
OWNER_UID=${SUDO_UID:-$(stat -c %u "$OUT_DIR/..")}
OWNER_GID=${SUDO_GID:-$(stat -c %g "$OUT_DIR/..")}

###############################################################################
# 1. Packages
###############################################################################
# Debian's python3 (where python3-cryptography lands), else whatever is on PATH.
pick_python() { if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else echo python3; fi; }

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
install_packages() {
    local need=()
    command -v smbd      >/dev/null 2>&1 || need+=(samba)
    command -v smbpasswd >/dev/null 2>&1 || need+=(samba-common-bin)
    command -v smbclient >/dev/null 2>&1 || need+=(smbclient)
    command -v tcpdump   >/dev/null 2>&1 || need+=(tcpdump)
    command -v tshark    >/dev/null 2>&1 || need+=(tshark)   # for the cross-checks
    command -v python3   >/dev/null 2>&1 || need+=(python3)  # runs check_capture.py
    # AES for check_capture.py's own CMAC/GMAC/CCM/GCM checks
    "$(pick_python)" -c 'import cryptography' >/dev/null 2>&1 || need+=(python3-cryptography)
    command -v useradd   >/dev/null 2>&1 || need+=(passwd)
    command -v ps        >/dev/null 2>&1 || need+=(procps)
    ((${#need[@]})) || return 0
    log "installing: ${need[*]}"
    # Keep the distribution's smbd/nmbd from starting (and taking port 445)
    # during installation: the standard policy-rc.d "deny" hook.
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
# Process tracking and cleanup.  Every process we start is recorded in
# $WORK/pids; a later run kills leftovers from that list (after checking that
# their command line still mentions $WORK), never anything else.
###############################################################################
SMBD_PID=
SMBD_PROFILE=
TCPDUMP_PID=

# pid_is_ours PID: true if PID is alive and its command line mentions $WORK.
pid_is_ours() {
    local cmd
    [[ -r /proc/$1/cmdline ]] || return 1
    cmd=$( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null ) || return 1
    [[ $cmd == *"$WORK"* ]]
}

# session_pids SID: our processes in session SID (smbd runs in its own session).
session_pids() {
    local p
    for p in $(ps -o pid= -s "$1" 2>/dev/null); do
        pid_is_ours "$p" && echo "$p"
    done
    return 0
}

kill_session() { # kill_session SID: TERM the session leader, then KILL stragglers.
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

stop_capture() {
    [[ -n $TCPDUMP_PID ]] || return 0
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=
}

stop_smbd() {
    [[ -n $SMBD_PID ]] || return 0
    kill_session "$SMBD_PID"
    SMBD_PID=
    SMBD_PROFILE=
}

SUCCESS=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_capture
    stop_smbd
    if ((POLICY_RC_OURS)); then rm -f "$POLICY_RC"; fi
    if ((SUCCESS)); then
        rm -rf "$WORK"
    elif [[ -d $WORK ]]; then
        echo "generate.sh: failed (rc=$rc); work files kept in $WORK (smbd log: $WORK/log.smbd)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

###############################################################################
# 2. Samba server
###############################################################################
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

setup_work() {
    kill_leftovers
    rm -rf "$WORK"
    mkdir -p "$WORK"/{private,lock,state,cache,pid,ncalrpc,pcap,logs,client} \
             "$WORK"/clientstate/{private,lock,state,cache} \
             "$WORK"/shares/{public,data,secure}
    : >"$WORK/pids"
    chmod 755 "$WORK" "$WORK/shares"
    chmod 1777 "$WORK/shares/public"
    # Small local files the client uploads (deterministic content, 3 KB).
    local i
    for i in $(seq -w 1 48); do
        printf 'smbscope capture test file, line %s: the quick brown fox jumps..\n' "$i"
    done >"$WORK/client/hello.txt"
    cp "$WORK/client/hello.txt" "$WORK/client/guest.txt"
    # 1 MiB of random bytes for the bulk-transfer scenarios (random, so that
    # nothing on the way can compress it; the pcap is committed, so the bytes
    # need not be reproducible).
    head -c 1048576 /dev/urandom >"$WORK/client/bulk.bin"
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
}

ensure_users() {
    local u
    for u in alice bob; do
        if ! id "$u" >/dev/null 2>&1; then
            log "creating local user $u"
            useradd -M -s /usr/sbin/nologin "$u"
        fi
    done
    # Access is controlled by "valid users"; the directories just need to be
    # writable by both alice and bob.
    chmod 1777 "$WORK/shares/data" "$WORK/shares/secure"
}

# write_conf PROFILE: smb.conf for a server profile (see server_options).
server_options() {
    case $1 in
        default)   ;;
        nt1)       echo "server min protocol = NT1" ;;
        signing)   echo "server signing = mandatory" ;;
        encrypt)   echo "server smb encrypt = required" ;;
        noencrypt) echo "server smb encrypt = off" ;;
        ntlmv1)    echo "ntlm auth = ntlmv1-permitted" ;;
        hmac)      echo "server smb3 signing algorithms = hmac-sha-256" ;;
        cmac)      echo "server smb3 signing algorithms = aes-128-cmac" ;;
        gmac)      echo "server smb3 signing algorithms = aes-128-gmac" ;;
        *) die "unknown server profile $1" ;;
    esac
}

write_conf() {
    local extra
    extra=$(server_options "$1")
    cat >"$WORK/smb.conf" <<EOF
# smbscope capture server, profile "$1" (generated by captures/generate.sh)
[global]
	workgroup = $DOMAIN
	netbios name = SCOPESRV
	server role = standalone server
	interfaces = lo
	bind interfaces only = yes
	smb ports = $PORT
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
${extra:+	$extra}

[public]
	path = $WORK/shares/public
	guest ok = yes
	read only = no

[data]
	path = $WORK/shares/data
	read only = no
	valid users = alice bob

[secure]
	path = $WORK/shares/secure
	read only = no
	valid users = alice bob
	smb encrypt = required
EOF
}

add_samba_users() {
    local u p out
    for u in alice bob; do
        [[ $u == alice ]] && p=$ALICE_PASS || p=$BOB_PASS
        out=$(printf '%s\n%s\n' "$p" "$p" | smbpasswd -c "$WORK/smb.conf" -a -s "$u" 2>&1) \
            || { echo "$out" >&2; die "smbpasswd -a $u failed"; }
    done
}

start_smbd() { # start_smbd PROFILE (no-op if already running with it)
    local profile=$1 i
    [[ $SMBD_PROFILE == "$profile" && -n $SMBD_PID ]] && return 0
    stop_smbd
    if port_in_use; then
        local who=""
        command -v ss >/dev/null 2>&1 && who=$(ss -ltnpH "sport = :$PORT" 2>/dev/null || true)
        die "port $PORT on $HOST is already in use${who:+ ($who)}. Stop that server first (e.g. 'systemctl stop smbd')."
    fi
    write_conf "$profile"
    # Own session: with --no-process-group smbd signals its whole process
    # group on exit, which must not be this script.  $! is smbd's PID
    # (setsid execs in place since a background job is not a group leader).
    setsid smbd --foreground --no-process-group -s "$WORK/smb.conf" \
        </dev/null >>"$WORK/logs/smbd.out" 2>&1 &
    SMBD_PID=$!
    echo "$SMBD_PID" >>"$WORK/pids"
    for i in $(seq 100); do
        kill -0 "$SMBD_PID" 2>/dev/null || { tail -20 "$WORK/log.smbd" "$WORK/logs/smbd.out" >&2 || true; die "smbd exited during start-up"; }
        port_in_use && break
        sleep 0.1
    done
    port_in_use || die "smbd did not start listening on $HOST:$PORT within 10 s"
    SMBD_PROFILE=$profile
    log "smbd $SMBD_PID up (profile $profile)"
}

###############################################################################
# 3. Capture + client
###############################################################################
start_capture() { # start_capture FILE
    local f=$1 i
    rm -f "$f"
    : >"$WORK/logs/tcpdump.err"
    # --immediate-mode: no buffering in the kernel ring (otherwise packets still
    # in an unfinished TPACKET_V3 block are lost on SIGINT); -B 262144 keeps it
    # from dropping loopback bursts.  -Z root: don't drop to user tcpdump.
    tcpdump -i lo --immediate-mode -B 262144 -s 0 -U -Z root -w "$f" \
        "tcp port $PORT and host $HOST" 2>"$WORK/logs/tcpdump.err" &
    TCPDUMP_PID=$!
    echo "$TCPDUMP_PID" >>"$WORK/pids"
    for i in $(seq 100); do
        grep -q 'listening on' "$WORK/logs/tcpdump.err" && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$WORK/logs/tcpdump.err" >&2; die "tcpdump failed to start"; }
        sleep 0.1
    done
    grep -q 'listening on' "$WORK/logs/tcpdump.err" || die "tcpdump not ready after 10 s"
    sleep 0.3
}

# Scenario definition state (set by the helpers below).
NAME= DESC= PROFILE= TARGET= SHARE= LOGIN= PASS= USERNAME= CMDS= EXPECT_RC=
CLIENT=() CRED=() EXPECT=() ENVV=() ROUNDTRIP=()

scenario() { # scenario NAME DESCRIPTION
    NAME=$1 DESC=$2 PROFILE=default TARGET= SHARE= LOGIN= PASS= USERNAME= CMDS= EXPECT_RC=0
    CLIENT=() CRED=() EXPECT=() ENVV=() ROUNDTRIP=()
}
server()   { PROFILE=$1; }
share()    { SHARE=$1; TARGET="//$HOST/$1"; }
target()   { TARGET=$1; SHARE=${1##*/}; }
client()   { CLIENT+=("$@"); }
commands() { CMDS=$1; }
expect()   { EXPECT+=("$@"); }
fails()    { EXPECT_RC=1; }
roundtrip() { ROUNDTRIP=("$1" "$2"); } # roundtrip SENT FETCHED: local files that must be equal afterwards
login() { # login USER [PASSWORD]: DOMAIN\USER%PASSWORD logon
    USERNAME=$1
    case $1 in alice) PASS=$ALICE_PASS ;; bob) PASS=$BOB_PASS ;; *) die "no password for $1" ;; esac
    [[ $# -ge 2 ]] && PASS=$2
    LOGIN=password
    CRED=(-U "$DOMAIN\\$USERNAME%$PASS")
    EXPECT+=("user=$USERNAME" "domain=$DOMAIN")
}
login_guest() { # unknown user without a password -> "map to guest = bad user"
    USERNAME=$1 LOGIN=guest
    ENVV=(USER="$1" LOGNAME="$1")   # smbclient -N sends $USER
    CRED=(-N)
}
login_anonymous() { # real anonymous NTLMSSP: empty user, empty password
    USERNAME= LOGIN=anonymous
    CRED=(-U '%')
}

# Commands (smbclient -c).  Keep files small so captures stay small; only the
# bulk-transfer scenarios move the 1 MiB bulk.bin (pcaps of 2-3 MB).
RW_CMDS='put hello.txt; ls; get hello.txt hello.back; mkdir newdir; ls newdir\*; rmdir newdir; del hello.txt'
BULK_CMDS='put bulk.bin; get bulk.bin bulk.back; del bulk.bin'

extract_keys() { # extract_keys LOG OUT: keep only smbclient's key-dump lines
    grep -E '^(debug encryption: dumping generated session keys|(Session Id|Session Key|Signing Key|App Key|ServerIn Key|ServerOut Key) *\[[0-9A-Fa-f]{4}\]|[[:space:]]*\[[0-9A-Fa-f]{4}\] ([0-9A-Fa-f]{2} ))' "$1" >"$2" || true
    [[ -s $2 ]] || rm -f "$2"
}

shell_words() { # quote arguments for display, like a user would type them
    local a out=()
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
    done
    echo "${out[*]}"
}

# selected NAME: is NAME to be generated (no --only, or named by it)?
selected() {
    local n
    ((${#ONLY[@]})) || return 0
    for n in "${ONLY[@]}"; do [[ $n == "$1" ]] && return 0; done
    return 1
}

SUMMARY=() ALL_NAMES=() GENERATED=() LISTING=0
run() {
    local pcap="$WORK/pcap/$NAME.pcap" clog="$WORK/logs/$NAME.client" attempt rc
    [[ -n $TARGET && -n $CMDS ]] || die "scenario $NAME: target/commands missing"
    if ((LISTING)); then ALL_NAMES+=("$NAME"); return 0; fi
    selected "$NAME" || return 0
    start_smbd "$PROFILE"
    for attempt in 1 2 3; do
        log "scenario $NAME (attempt $attempt): smbclient $TARGET ${CLIENT[*]}"
        start_capture "$pcap"
        ((${#ROUNDTRIP[@]})) && rm -f "$WORK/client/${ROUNDTRIP[1]}"
        rc=0
        (cd "$WORK/client" && env ${ENVV[@]+"${ENVV[@]}"} timeout 30 smbclient -s "$WORK/client.conf" "$TARGET" \
            ${CRED[@]+"${CRED[@]}"} ${CLIENT[@]+"${CLIENT[@]}"} \
            --option='debug encryption = yes' -d 0 -c "$CMDS") >"$clog" 2>&1 || rc=$?
        sleep 0.5
        stop_capture
        if grep -qE '[1-9][0-9]* packets dropped by kernel' "$WORK/logs/tcpdump.err"; then
            log "  tcpdump dropped packets; retrying"; continue
        fi
        if ((rc == 124)); then log "  smbclient timed out; retrying"; continue; fi
        if ((EXPECT_RC == 0 && rc != 0)); then
            sed 's/^/    | /' "$clog" >&2; die "scenario $NAME: smbclient failed (rc=$rc) but should succeed"
        fi
        if ((EXPECT_RC != 0 && rc == 0)); then
            sed 's/^/    | /' "$clog" >&2; die "scenario $NAME: smbclient succeeded but should fail"
        fi
        break
    done
    ((attempt <= 3)) || die "scenario $NAME: no clean capture after 3 attempts"
    if ((${#ROUNDTRIP[@]})); then
        cmp -s "$WORK/client/${ROUNDTRIP[0]}" "$WORK/client/${ROUNDTRIP[1]}" \
            || die "scenario $NAME: ${ROUNDTRIP[1]} (fetched back) differs from ${ROUNDTRIP[0]} (sent)"
        rm -f "$WORK/client/${ROUNDTRIP[1]}"
    fi

    rm -f "$OUT_DIR/$NAME".{pcap,keys,credentials,expected.json}
    extract_keys "$clog" "$WORK/$NAME.keys"
    local args=(make "$NAME" --pcap "$pcap" --desc "$DESC" --server-profile "$PROFILE"
                --server-options "$(server_options "$PROFILE" | paste -sd';' -)"
                --client-command "$(shell_words ${ENVV[@]+"${ENVV[@]}"} smbclient "$TARGET" ${CRED[@]+"${CRED[@]}"} ${CLIENT[@]+"${CLIENT[@]}"} -c "$CMDS")"
                --login "$LOGIN" --target "$TARGET" --commands "$CMDS" --client-rc "$rc"
                --out "$WORK/$NAME.expected.json")
    [[ -f $WORK/$NAME.keys ]] && args+=(--keys "$WORK/$NAME.keys")
    if [[ $LOGIN == password ]]; then
        printf '%s\\%s:%s\n' "$DOMAIN" "$USERNAME" "$PASS" >"$WORK/$NAME.credentials"
        args+=(--credentials "$WORK/$NAME.credentials")
    fi
    local e
    for e in ${EXPECT[@]+"${EXPECT[@]}"}; do args+=(--expect "$e"); done
    SUMMARY+=("$("$PYTHON" "$CHECKER" "${args[@]}")") \
        || { sed 's/^/    | /' "$clog" >&2; die "scenario $NAME: capture does not match its definition"; }
    local f
    for f in "$NAME.pcap:$pcap" "$NAME.keys:$WORK/$NAME.keys" \
             "$NAME.credentials:$WORK/$NAME.credentials" "$NAME.expected.json:$WORK/$NAME.expected.json"; do
        [[ -f ${f#*:} ]] || continue
        install -m 0644 -o "$OWNER_UID" -g "$OWNER_GID" "${f#*:}" "$OUT_DIR/${f%%:*}"
    done
    GENERATED+=("$NAME")
}

###############################################################################
# Scenarios (run once with LISTING=1 to collect the names, then for real)
###############################################################################
define_scenarios() {
# ---- SMB1 --------------------------------------------------------------------
scenario smb1-nt1 "SMB1 (Samba picks \"NT LANMAN 1.0\") logon as alice, client signing default (off for SMB1): unsigned"
server nt1; share data; login alice
client -m NT1 --option='client min protocol=NT1'
commands "$RW_CMDS"
expect dialect=SMB1 signing_algorithm=null
run

scenario smb1-signed "SMB1 (Samba picks \"NT LANMAN 1.0\") logon as alice, client requires signing: MD5 signatures"
server nt1; share data; login alice
client -m NT1 --option='client min protocol=NT1' --option='client signing=required'
commands "$RW_CMDS"
expect dialect=SMB1 client_signing_required=true signing_algorithm=MD5
run

# ---- SMB 2.x -----------------------------------------------------------------
scenario smb202-signing-required "SMB 2.0.2, client requires signing (HMAC-SHA256)"
share data; login alice
client -m SMB2_02 --option='client signing=required'
commands "$RW_CMDS"
expect dialect=2.0.2 client_signing_required=true signing_algorithm=HMAC-SHA256
run

scenario smb21-unsigned "SMB 2.1, client signing disabled: file I/O unsigned (Samba still signs the final SESSION_SETUP response)"
share data; login alice
client -m SMB2_10 --option='client signing=disabled'
commands "$RW_CMDS"
expect dialect=2.1 client_signing_required=false signing_algorithm=HMAC-SHA256 signing_everywhere=false
run

# ---- SMB 3.0 / 3.0.2 ---------------------------------------------------------
scenario smb30-signed "SMB 3.0, client requires signing (AES-128-CMAC)"
share data; login alice
client -m SMB3_00 --option='client signing=required'
commands "$RW_CMDS"
expect dialect=3.0 client_signing_required=true signing_algorithm=AES-128-CMAC
run

scenario smb302-signed "SMB 3.0.2, client requires signing (AES-128-CMAC)"
share data; login alice
client -m SMB3_02 --option='client signing=required'
commands "$RW_CMDS"
expect dialect=3.0.2 client_signing_required=true signing_algorithm=AES-128-CMAC
run

# ---- SMB 3.1.1 ------------------------------------------------------------------
scenario smb311-default "SMB 3.1.1 with client and server defaults: signing enabled but not required, so only SESSION_SETUP/TREE_CONNECT are signed and file I/O is not"
share data; login alice
commands "$RW_CMDS"
expect dialect=3.1.1 signing_algorithm=AES-128-GMAC signing_everywhere=false
run

# ---- SMB 3.1.1 signing algorithms ---------------------------------------------
for alg in hmac:hmac-sha-256:HMAC-SHA256 cmac:aes-128-cmac:AES-128-CMAC gmac:aes-128-gmac:AES-128-GMAC; do
    IFS=: read -r short opt wire <<<"$alg"
    scenario "smb311-sign-$short" "SMB 3.1.1, client requires signing, $wire chosen through the SIGNING_CAPABILITIES context"
    server "$short"; share data; login alice
    client -m SMB3_11 --option='client signing=required' --option="client smb3 signing algorithms=$opt"
    commands "$RW_CMDS"
    expect dialect=3.1.1 client_signing_required=true signing_algorithm="$wire"
    run
done

# ---- SMB 3.x encryption --------------------------------------------------------
for c in aes-128-ccm:AES-128-CCM aes-128-gcm:AES-128-GCM aes-256-ccm:AES-256-CCM aes-256-gcm:AES-256-GCM; do
    IFS=: read -r opt wire <<<"$c"
    scenario "smb311-enc-${opt//-/}" "SMB 3.1.1, client requires encryption with $wire (session-wide TRANSFORM)"
    share data; login alice
    client -m SMB3_11 --option='client smb encrypt=required' --option="client smb3 encryption algorithms=$opt"
    commands "$RW_CMDS"
    expect dialect=3.1.1 client_signing_required=true cipher="$wire" signing_algorithm=AES-128-GMAC encrypted=true
    run
done

scenario smb30-enc-aes128ccm "SMB 3.0, client requires encryption (3.0 always uses AES-128-CCM)"
share data; login alice
client -m SMB3_00 --option='client smb encrypt=required'
commands "$RW_CMDS"
expect dialect=3.0 client_signing_required=true cipher=AES-128-CCM signing_algorithm=AES-128-CMAC encrypted=true
run

scenario smb311-share-encrypt "SMB 3.1.1 to [secure] (smb encrypt = required on the share): per-share encryption, TREE_CONNECT ShareFlags 0x8000"
target "//$HOST/secure"; login alice
client -m SMB3_11
commands "$RW_CMDS"
expect dialect=3.1.1 signing_algorithm=AES-128-GMAC cipher=AES-128-GCM encrypted=true share_encrypt=true
run

scenario smb21-share-encrypt-refused "SMB 2.1 client to the encrypted share [secure]: TREE_CONNECT refused with ACCESS_DENIED"
target "//$HOST/secure"; login alice
client -m SMB2_10
commands 'ls'
fails
expect dialect=2.1 signing_algorithm=HMAC-SHA256 tree_status=STATUS_ACCESS_DENIED statuses=STATUS_ACCESS_DENIED files=
run

scenario server-encrypt-required "Server-wide 'server smb encrypt = required', client defaults: SESSION_SETUP SessionFlags ENCRYPT_DATA"
server encrypt; share data; login alice
client -m SMB3_11
commands "$RW_CMDS"
expect dialect=3.1.1 signing_algorithm=AES-128-GMAC cipher=AES-128-GCM encrypted=true session_encrypt_data=true share_encrypt=true
run

scenario server-no-encryption "Server 'server smb encrypt = off', client 'client smb encrypt = desired' (SMB 3.1.1): no cipher agreed, traffic stays in clear"
server noencrypt; share data; login alice
client -m SMB3_11 --option='client smb encrypt=desired'
commands "$RW_CMDS"
expect dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC cipher=null encrypted=false
run

# ---- Server-side signing -------------------------------------------------------
scenario server-signing-required "Server 'server signing = mandatory', client defaults (SMB 3.1.1)"
server signing; share data; login alice
commands "$RW_CMDS"
expect dialect=3.1.1 server_signing_required=true signing_algorithm=AES-128-GMAC
run

# ---- Guest / anonymous / users --------------------------------------------------
scenario guest "smbclient -N (user 'visitor', no password) to [public]: mapped to guest (SessionFlags IS_GUEST)"
share public; login_guest visitor
commands 'put guest.txt; ls'
expect dialect=3.1.1 user=visitor domain=SMBSCOPE auth=none guest=true signing_algorithm=null files=guest.txt
run

scenario anonymous "Anonymous NTLMSSP logon (smbclient -U %: empty user, domain and NT response) listing [public]"
share public; login_anonymous
commands 'ls'
expect dialect=3.1.1 user= domain= auth=anonymous anonymous=true signing_algorithm=null files=
run

scenario bob-nonascii "bob with a non-ASCII password (Bob-Pässwörd!9), SMB 3.1.1 signed"
share data; login bob
client -m SMB3_11 --option='client signing=required'
commands "$RW_CMDS"
expect dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC
run

scenario ntlmv1 "NTLMv1 logon without extended session security (client ntlmv2 auth = no, ntlmssp_client:ntlm2 = no; server ntlm auth = ntlmv1-permitted), SMB 3.1.1, signing not required (file I/O unsigned)"
server ntlmv1; share data; login alice
client -m SMB3_11 --option='client ntlmv2 auth = no' --option='ntlmssp_client:ntlm2 = no'
commands "$RW_CMDS"
expect dialect=3.1.1 auth=ntlmv1 ntlm_ess=false signing_algorithm=AES-128-GMAC
run

scenario ntlmv1-ess "NTLMv1 with extended session security, i.e. NTLM2 session response (client ntlmv2 auth = no; server ntlm auth = ntlmv1-permitted), SMB 3.1.1, signing not required (file I/O unsigned)"
server ntlmv1; share data; login alice
client -m SMB3_11 --option='client ntlmv2 auth = no'
commands "$RW_CMDS"
expect dialect=3.1.1 auth=ntlmv1 ntlm_ess=true signing_algorithm=AES-128-GMAC
run

scenario bad-password "alice with a wrong password: SESSION_SETUP fails with LOGON_FAILURE"
share data; login alice "$WRONG_PASS"
client -m SMB3_11
commands 'ls'
fails
expect dialect=3.1.1 signing_algorithm=null statuses=STATUS_LOGON_FAILURE tree_status=none files=
run

scenario smb311-by-name "SMB 3.1.1 to //localhost/data (server addressed by name, -I 127.0.0.1): tree path and NETNAME context carry 'localhost'"
target "//localhost/data"; login alice
client -I "$HOST" -m SMB3_11 --option='client signing=required'
commands "$RW_CMDS"
expect dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC
run

# ---- Bulk transfers (for throughput benchmarks) --------------------------------
# put + get of the 1 MiB bulk.bin: WRITE requests and READ responses of up to
# smbclient's I/O size, each spanning many TCP segments.
scenario smb311-enc-bulk "SMB 3.1.1, client requires encryption with AES-128-GCM; put and get of a 1 MiB random file (large TRANSFORM messages)"
share data; login alice
client -m SMB3_11 --option='client smb encrypt=required' --option='client smb3 encryption algorithms=aes-128-gcm'
commands "$BULK_CMDS"; roundtrip bulk.bin bulk.back
expect dialect=3.1.1 client_signing_required=true cipher=AES-128-GCM signing_algorithm=AES-128-GMAC encrypted=true
run

scenario smb311-signed-bulk "SMB 3.1.1, client requires signing (AES-128-GMAC); put and get of a 1 MiB random file (large signed messages)"
share data; login alice
client -m SMB3_11 --option='client signing=required'
commands "$BULK_CMDS"; roundtrip bulk.bin bulk.back
expect dialect=3.1.1 client_signing_required=true signing_algorithm=AES-128-GMAC signing_everywhere=true
run

scenario smb311-unsigned-bulk "SMB 3.1.1, client signing disabled, cleartext; put and get of a 1 MiB random file (file I/O unsigned)"
share data; login alice
client -m SMB3_11 --option='client signing=disabled'
commands "$BULK_CMDS"; roundtrip bulk.bin bulk.back
expect dialect=3.1.1 client_signing_required=false signing_algorithm=AES-128-GMAC signing_everywhere=false encrypted=false
run
}

###############################################################################
# Main
###############################################################################
LISTING=1
define_scenarios
LISTING=0
if ((LIST_ONLY)); then printf '%s\n' "${ALL_NAMES[@]}"; exit 0; fi
for n in ${ONLY[@]+"${ONLY[@]}"}; do
    [[ " ${ALL_NAMES[*]} " == *" $n "* ]] || die "--only: no scenario named '$n' (see --list)"
done

[[ $EUID -eq 0 ]] || die "run as root (needs port 445, useradd and tcpdump): sudo bash $0"
install_packages
PYTHON=$(pick_python)
setup_work
ensure_users
write_conf default
add_samba_users

define_scenarios
stop_smbd

###############################################################################
# mixed.pcap: several scenarios in one file (secure and insecure sessions side by side), for
# the README's first command and the TUI. mergecap orders packets by time; the scenarios ran one
# after the other, so their connections stay apart. Its facts are those of its parts.
###############################################################################
MIXED_PARTS=(smb311-sign-gmac smb311-enc-aes128gcm smb311-share-encrypt server-signing-required
             smb21-unsigned smb1-nt1 guest anonymous ntlmv1 bad-password)
mixed_files=() remix=0
for part in "${MIXED_PARTS[@]}"; do
    mixed_files+=("$OUT_DIR/$part.pcap")
    selected "$part" && remix=1
done
if ((remix)); then
    mergecap -F pcap -w "$OUT_DIR/mixed.pcap" "${mixed_files[@]}"
    chown "$OWNER_UID:$OWNER_GID" "$OUT_DIR/mixed.pcap"
else
    log "mixed.pcap left as it is (none of its parts was regenerated)"
fi

###############################################################################
# Summary
###############################################################################
chown "$OWNER_UID:$OWNER_GID" "$OUT_DIR"
echo
"$PYTHON" "$CHECKER" header
printf '%s\n' "${SUMMARY[@]}"
total=$(du -cb "$OUT_DIR"/*.pcap | tail -1 | cut -f1)
echo
echo "${#SUMMARY[@]} scenarios, pcaps total $total bytes, $((SECONDS - T_START)) s"
echo "samba $(smbd --version 2>/dev/null | sed 's/^Version //'), $(tshark --version 2>/dev/null | head -1)"
SUCCESS=1
