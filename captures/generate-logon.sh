#!/usr/bin/env bash
# Generate real SMB logon-attack captures (brute force, password spray,
# lockout, anonymous/guest enumeration) for smbscope's tests.
#
#   sudo bash captures/generate-logon.sh                        # every scenario
#   sudo bash captures/generate-logon.sh --only NAME[,NAME...]  # just these
#   bash captures/generate-logon.sh --list                      # the scenario names
#
# --only is repeatable (or SMBSCOPE_LOGON_ONLY=NAME,NAME); every other file in
# captures/logon/ is left alone.  Unknown names are an error.
# SMBSCOPE_LOGON_WORK moves the work dir (default /tmp/smbscope-logon-work).
#
# Runs a private Samba server on 127.0.0.1:445 (own smb.conf, passdb, lock,
# state and cache directories under the work dir; /etc/samba is never
# touched) and drives real smbclient/rpcclient runs against it while tcpdump
# records loopback.  Clients other than 127.0.0.1 reach the server through a
# socat relay per address (127.0.0.2-6), whose outgoing socket is bound to
# that address, so the capture shows genuine TCP connections from there.
# For every scenario <name> it writes, into captures/logon/:
#   <name>.pcap            the capture
#   <name>.expected.json   the ground truth from the scenario definition,
#                          cross-checked against the capture with tshark
#                          (captures/check_logon.py)
# See captures/logon/README.md.  Needs root (port 445, useradd, tcpdump).
# The whole run holds flock /tmp/smbscope-445.lock, so it never overlaps
# another capture generator that takes the same lock.
set -euo pipefail
export LC_ALL=C.UTF-8 LANG=C.UTF-8

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }
ONLY=() LIST_ONLY=0
IFS=, read -r -a ONLY <<<"${SMBSCOPE_LOGON_ONLY:-}"
while (($#)); do
    case $1 in
        --only)   [[ $# -ge 2 ]] || { usage >&2; exit 2; }
                  IFS=, read -r -a more <<<"$2"; ONLY+=(${more[@]+"${more[@]}"}); shift 2 ;;
        --only=*) IFS=, read -r -a more <<<"${1#--only=}"; ONLY+=(${more[@]+"${more[@]}"}); shift ;;
        --list)   LIST_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) printf 'generate-logon.sh: unknown argument %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done

CAPTURES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$CAPTURES/.." && pwd)
OUT_DIR=$CAPTURES/logon
CHECKER=$CAPTURES/check_logon.py
WORK=${SMBSCOPE_LOGON_WORK:-/tmp/smbscope-logon-work}
LOCK=/tmp/smbscope-445.lock
HOST=127.0.0.1
PORT=445
RELAY_BASE=14450              # client 127.0.0.N is relayed from 127.0.0.1:(14450+N)
RELAY_CLIENTS=(127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6)
T_START=$SECONDS

DOMAIN=SMBSCOPE
ALICE_PASS='Alice-Passw0rd!'
BOB_PASS='Bob-Pässwörd!9'        # same as captures/generate.sh
SPRAY_PASS='Winter2024!'         # the one password a spray tries
SPRAY_EXISTING=25                # user01..user25 are in the passdb, user26..user30 are not
LOCKOUT_THRESHOLD=3              # pdbedit -P "bad lockout attempt"
LOCKOUT_MINUTES=30               # "lockout duration" and "reset count minutes"
# bruteforce: twelve wrong guesses for alice, the last one close to the real password
BRUTE_PASSWORDS=(password 123456 Password1 alice Alice123 Welcome1 'Summer2024!' 'Winter2024!'
                 'Passw0rd!' qwerty letmein 'Alice-Passw0rd')
LOCKOUT_PASSWORDS=(password Password1 Welcome1 'Summer2024!' 'Alice-Passw0rd')
RPC_CMDS='srvinfo;netshareenumall;enumdomusers;lsaquery;lookupnames alice'
# Enumeration clients neither sign nor encrypt, so the DCE/RPC is in the clear.
ENUM_OPTS=(--option='client signing = disabled' --option='client ipc signing = disabled'
           --option='client smb encrypt = off')

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'generate-logon.sh: error: %s\n' "$*" >&2; exit 1; }

OWNER_UID=${SUDO_UID:-$(stat -c %u "$REPO")}
OWNER_GID=${SUDO_GID:-$(stat -c %g "$REPO")}

###############################################################################
# Scenarios: name, server profile, description (the definitions are the sc_*
# functions further down)
###############################################################################
SCENARIOS=(bruteforce spray spray-multi lockout spray-success null-enum guest-enum)
profile_of() {
    case $1 in
        guest-enum) echo guest ;;
        *)          echo strict ;;
    esac
}
describe() {
    case $1 in
        bruteforce)    echo "Brute force: one client (127.0.0.1) tries ${#BRUTE_PASSWORDS[@]} wrong passwords for alice, one smbclient run (TCP connection) each; every SESSION_SETUP fails with LOGON_FAILURE" ;;
        spray)         echo "Password spray: one client (127.0.0.1) tries one password ($SPRAY_PASS) for 30 users user01..user30 (user01..user$SPRAY_EXISTING exist in the passdb, the rest do not); all LOGON_FAILURE" ;;
        spray-multi)   echo "Distributed password spray: 5 client addresses (127.0.0.2..6) take turns, 6 users each (user01..user30), one password ($SPRAY_PASS) towards one server; all LOGON_FAILURE" ;;
        lockout)       echo "Account lockout: bad lockout attempt = $LOCKOUT_THRESHOLD; alice's wrong passwords get LOGON_FAILURE $LOCKOUT_THRESHOLD times, then ACCOUNT_LOCKED_OUT, also for the right password" ;;
        spray-success) echo "Spray then success: one client tries $SPRAY_PASS for 10 users (user01..user09 and bob), then bob logs on with his real password and lists [data]" ;;
        null-enum)     echo "Anonymous enumeration: smbclient -L -N (first the local user with no response, LOGON_FAILURE, then smbclient's anonymous fallback) and rpcclient -U% ($RPC_CMDS): IPC\$, srvsvc/samr/lsarpc pipes, DCE/RPC in the clear" ;;
        guest-enum)    echo "Guest enumeration: unknown user visitor with a made-up password (map to guest = bad user): smbclient -L and rpcclient ($RPC_CMDS) as guest (SessionFlags IS_GUEST), DCE/RPC in the clear" ;;
        *) die "no scenario $1" ;;
    esac
}

if ((LIST_ONLY)); then printf '%s\n' "${SCENARIOS[@]}"; exit 0; fi
for n in ${ONLY[@]+"${ONLY[@]}"}; do
    [[ " ${SCENARIOS[*]} " == *" $n "* ]] || die "--only: no scenario named '$n' (see --list)"
done
selected() {
    local n
    ((${#ONLY[@]})) || return 0
    for n in "${ONLY[@]}"; do [[ $n == "$1" ]] && return 0; done
    return 1
}

[[ $EUID -eq 0 ]] || die "run as root (needs port 445, useradd and tcpdump): sudo bash $0"

###############################################################################
# The port-445 lock, held on fd 9 for the whole run.  Every long-lived child
# (smbd, tcpdump, socat) is started with 9>&- so that none keeps the lock
# after this script has gone.
###############################################################################
exec 9>>"$LOCK"
if ! flock -n 9; then
    log "waiting for $LOCK (another capture generator is using port $PORT)"
    flock -w 1800 9 || die "could not take $LOCK within 30 minutes"
fi

###############################################################################
# 1. Packages
###############################################################################
pick_python() { if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else echo python3; fi; }

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
install_packages() {
    local need=()
    command -v smbd      >/dev/null 2>&1 || need+=(samba)              # smbd, pdbedit
    command -v smbpasswd >/dev/null 2>&1 || need+=(samba-common-bin)
    command -v smbclient >/dev/null 2>&1 || need+=(smbclient)          # smbclient, rpcclient
    command -v rpcclient >/dev/null 2>&1 || need+=(smbclient)
    command -v tcpdump   >/dev/null 2>&1 || need+=(tcpdump)
    command -v tshark    >/dev/null 2>&1 || need+=(tshark)             # the cross-checks
    command -v python3   >/dev/null 2>&1 || need+=(python3)            # runs check_logon.py
    command -v socat     >/dev/null 2>&1 || need+=(socat)              # the per-address relays
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
SMBD_PID= SMBD_PROFILE= TCPDUMP_PID=
RELAY_PIDS=()

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
    SMBD_PID= SMBD_PROFILE=
}

stop_relays() {
    local p
    for p in ${RELAY_PIDS[@]+"${RELAY_PIDS[@]}"}; do kill_session "$p"; done
    RELAY_PIDS=()
}

# Local Unix accounts made only so that smbpasswd can add a spray user to the
# private passdb; each is deleted again right away (and here, if we were
# interrupted in between).
remove_temp_users() {
    [[ -f $WORK/temp-users ]] || return 0
    local u
    while read -r u; do
        [[ -n $u ]] && id "$u" >/dev/null 2>&1 && userdel "$u" 2>/dev/null || true
    done <"$WORK/temp-users"
    : >"$WORK/temp-users"
}

SUCCESS=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_capture
    stop_relays
    stop_smbd
    remove_temp_users
    if ((POLICY_RC_OURS)); then rm -f "$POLICY_RC"; fi
    if ((SUCCESS)); then
        rm -rf "$WORK"
    elif [[ -d $WORK ]]; then
        echo "generate-logon.sh: failed (rc=$rc); work files kept in $WORK (smbd log: $WORK/log.smbd, client output: $WORK/logs/)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

###############################################################################
# 2. Samba server
###############################################################################
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
who_listens() { command -v ss >/dev/null 2>&1 && ss -ltnpH "sport = :$1" 2>/dev/null || true; }

setup_work() {
    kill_leftovers
    rm -rf "$WORK"
    mkdir -p "$WORK"/{private,lock,state,cache,pid,ncalrpc,pcap,logs,client,def} \
             "$WORK"/clientstate/{private,lock,state,cache} \
             "$WORK"/shares/{public,data}
    : >"$WORK/pids"
    : >"$WORK/temp-users"
    chmod 755 "$WORK" "$WORK/shares"
    chmod 1777 "$WORK/shares/public" "$WORK/shares/data"
    cat >"$WORK/client.conf" <<EOF
[global]
	workgroup = $DOMAIN
	netbios name = SCOPECLIENT
	unix charset = UTF-8
	private dir = $WORK/clientstate/private
	lock directory = $WORK/clientstate/lock
	state directory = $WORK/clientstate/state
	cache directory = $WORK/clientstate/cache
	log file = $WORK/logs/client.log
EOF
}

server_options() { # the smb.conf [global] lines that make a profile
    case $1 in
        strict) printf '%s\n' 'map to guest = never' 'restrict anonymous = 0' ;;
        guest)  printf '%s\n' 'map to guest = bad user' 'restrict anonymous = 0' ;;
        *) die "unknown server profile $1" ;;
    esac
}

write_conf() {
    local extra
    extra=$(server_options "$1" | sed 's/^/\t/')
    cat >"$WORK/smb.conf" <<EOF
# smbscope logon-capture server, profile "$1" (generated by captures/generate-logon.sh)
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
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
$extra

[public]
	path = $WORK/shares/public
	guest ok = yes
	read only = yes

[data]
	path = $WORK/shares/data
	read only = no
	valid users = alice bob
EOF
}

add_passdb_user() { # add_passdb_user USER PASSWORD
    local out
    out=$(printf '%s\n%s\n' "$2" "$2" | smbpasswd -c "$WORK/smb.conf" -a -s "$1" 2>&1) \
        || { echo "$out" >&2; die "smbpasswd -a $1 failed"; }
}

ensure_users() {
    local u i
    # alice and bob log on for real, so they need Unix accounts (as in generate.sh).
    for u in alice bob; do
        if ! id "$u" >/dev/null 2>&1; then
            log "creating local user $u"
            useradd -M -s /usr/sbin/nologin "$u"
        fi
    done
    add_passdb_user alice "$ALICE_PASS"
    add_passdb_user bob "$BOB_PASS"
    # The spray users only need passdb entries (they never log on).
    # smbpasswd insists on a Unix account when it adds one, so a missing
    # account is created for that moment and deleted again.
    log "adding user01..user$(printf %02d $SPRAY_EXISTING) to the private passdb"
    for i in $(seq -w 1 "$SPRAY_EXISTING"); do
        u=user$i
        if ! id "$u" >/dev/null 2>&1; then
            echo "$u" >>"$WORK/temp-users"
            useradd -M -s /usr/sbin/nologin "$u"
        fi
        add_passdb_user "$u" "Spray-User$i-Passw0rd!"
    done
    remove_temp_users
    local n
    n=$(pdbedit -s "$WORK/smb.conf" -L 2>/dev/null | grep -c '^user[0-9]*:' || true)
    [[ $n == "$SPRAY_EXISTING" ]] || die "private passdb has $n spray users, expected $SPRAY_EXISTING"
}

reset_alice() { # a fresh passdb entry: bad password count 0, not locked
    pdbedit -s "$WORK/smb.conf" -x -u alice >/dev/null 2>&1 || true
    add_passdb_user alice "$ALICE_PASS"
}

set_policy() { # set_policy NAME VALUE (account policy in the private state dir)
    pdbedit -s "$WORK/smb.conf" -P "$1" -C "$2" >/dev/null 2>&1 || die "pdbedit -P '$1' -C $2 failed"
    local v
    v=$(pdbedit -s "$WORK/smb.conf" -P "$1" 2>/dev/null | sed -n 's/.*value is: //p')
    [[ $v == "$2" ]] || die "account policy '$1' is '$v' after setting it to $2"
}

start_smbd() { # start_smbd PROFILE (no-op if already running with it)
    local profile=$1 i
    [[ $SMBD_PROFILE == "$profile" && -n $SMBD_PID ]] && return 0
    stop_smbd
    if port_in_use "$HOST" "$PORT"; then
        local who; who=$(who_listens "$PORT")
        die "port $PORT on $HOST is already in use${who:+ ($who)}. Stop that server first (e.g. 'systemctl stop smbd')."
    fi
    write_conf "$profile"
    # Own session: with --no-process-group smbd signals its whole process
    # group on exit, which must not be this script.
    setsid smbd --foreground --no-process-group -s "$WORK/smb.conf" \
        </dev/null >>"$WORK/logs/smbd.out" 2>&1 9>&- &
    SMBD_PID=$!
    echo "$SMBD_PID" >>"$WORK/pids"
    for i in $(seq 100); do
        kill -0 "$SMBD_PID" 2>/dev/null || { tail -20 "$WORK/log.smbd" "$WORK/logs/smbd.out" >&2 || true; die "smbd exited during start-up"; }
        port_in_use "$HOST" "$PORT" && break
        sleep 0.1
    done
    port_in_use "$HOST" "$PORT" || die "smbd did not start listening on $HOST:$PORT within 10 s"
    SMBD_PROFILE=$profile
    log "smbd $SMBD_PID up (profile $profile)"
}

###############################################################################
# 3. Relays for the other client addresses
###############################################################################
# smbclient cannot choose its source address, so a client "at 127.0.0.N"
# dials a socat relay on 127.0.0.1:(14450+N), and the relay makes the real
# connection to 127.0.0.1:445 from a socket bound to 127.0.0.N.  Only that
# second leg is on port 445, and it is all the capture contains.  (SNAT by
# uid in the nat table was tried first: it rewrites only the client's
# packets on lo, while the server's replies are already translated back to
# 127.0.0.1 before tcpdump sees them, so the two directions disagree.)
relay_port() { echo $((RELAY_BASE + ${1##*.})); }
start_relays() {
    ((${#RELAY_PIDS[@]})) && return 0
    local a p pid i
    for a in "${RELAY_CLIENTS[@]}"; do
        p=$(relay_port "$a")
        if port_in_use "$HOST" "$p"; then
            local who; who=$(who_listens "$p")
            die "relay port $HOST:$p for client $a is already in use${who:+ ($who)}"
        fi
        setsid socat -lf "$WORK/logs/socat-$a.log" \
            "TCP-LISTEN:$p,bind=$HOST,reuseaddr,fork" "TCP:$HOST:$PORT,bind=$a" \
            </dev/null >/dev/null 2>&1 9>&- &
        pid=$!
        echo "$pid" >>"$WORK/pids"
        RELAY_PIDS+=("$pid")
        for i in $(seq 50); do
            port_in_use "$HOST" "$p" && break
            kill -0 "$pid" 2>/dev/null || { cat "$WORK/logs/socat-$a.log" >&2 || true; die "socat relay for $a exited"; }
            sleep 0.1
        done
        port_in_use "$HOST" "$p" || die "socat relay for $a did not listen on $HOST:$p"
    done
    log "relays up for ${RELAY_CLIENTS[*]} (ports $(relay_port "${RELAY_CLIENTS[0]}")-$(relay_port "${RELAY_CLIENTS[-1]}"))"
}
relays_idle() { # wait until no relay child (one per open connection) is left
    local i p busy
    for i in $(seq 100); do
        busy=0
        for p in ${RELAY_PIDS[@]+"${RELAY_PIDS[@]}"}; do
            [[ -n $(ps -o pid= --ppid "$p" 2>/dev/null) ]] && busy=1
        done
        ((busy)) || return 0
        sleep 0.1
    done
    die "relay connections still open after 10 s"
}
port_for() { # the port a client at address $1 dials
    if [[ $1 == "$HOST" ]]; then echo "$PORT"; else relay_port "$1"; fi
}

###############################################################################
# 4. Capture
###############################################################################
start_capture() { # start_capture FILE
    local f=$1 i
    rm -f "$f"
    : >"$WORK/logs/tcpdump.err"
    # --immediate-mode: no buffering in the kernel ring (otherwise packets still
    # in an unfinished TPACKET_V3 block are lost on SIGINT); -B 262144 keeps it
    # from dropping loopback bursts.  -Z root: don't drop to user tcpdump.
    # Port 445 only: the relays' first legs (ports 1445x) stay out.
    tcpdump -i lo --immediate-mode -B 262144 -s 0 -U -Z root -w "$f" \
        "tcp port $PORT and host $HOST" 2>"$WORK/logs/tcpdump.err" 9>&- &
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

###############################################################################
# 5. Scenario steps.  Each client run appends a "step" line to the
# definition file $DEF, followed by what the definition says that run must
# show on the wire (logon / tree / pipe / rpc lines); check_logon.py compares
# the two.  See read_definition() in check_logon.py.
###############################################################################
NAME= DEF= STEP_N=0

shell_words() { # quote arguments for display, like a user would type them
    local a out=()
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
    done
    echo "${out[*]}"
}

# step CLIENT EXPECTED_RC [VAR=VALUE...] -- PROGRAM ARGS...
# Runs PROGRAM -s <private client.conf> ARGS (one TCP connection).
step() {
    local client=$1 erc=$2 envv=() rc=0 out
    shift 2
    while [[ $1 != -- ]]; do envv+=("$1"); shift; done
    shift
    STEP_N=$((STEP_N + 1))
    out="$WORK/logs/$NAME.$STEP_N.out"
    (cd "$WORK/client" && env ${envv[@]+"${envv[@]}"} timeout 30 "$1" -s "$WORK/client.conf" "${@:2}" </dev/null 9>&-) \
        >"$out" 2>&1 || rc=$?
    ((rc != 124)) || die "scenario $NAME: $(shell_words "$@") timed out after 30 s (output: $out)"
    printf 'step\t%s\t%s\t%s\t%s\n' "$client" "$erc" "$rc" "$(shell_words ${envv[@]+"${envv[@]}"} "$@")" >>"$DEF"
    if (( (erc == 0) != (rc == 0) )); then
        sed 's/^/    | /' "$out" >&2
        die "scenario $NAME: $(shell_words "$@") exited $rc, but the definition expects $( ((erc)) && echo failure || echo success)"
    fi
}
logon() { printf 'logon\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$DEF"; } # CLIENT USER DOMAIN STATUS GUEST AUTH
tree()  { printf 'tree\t%s\t%s\n' "$@" >>"$DEF"; }                  # PATH STATUS
pipe()  { printf 'pipe\t%s\n' "$1" >>"$DEF"; }                      # NAME
rpc()   { printf 'rpc\t%s\t%s\t%s\n' "$@" >>"$DEF"; }               # PIPE OPNUM NAME
note()  { printf 'note\t%s\t%s\n' "$@" >>"$DEF"; }                  # KEY VALUE

# try_logon CLIENT USER PASSWORD STATUS: smbclient //127.0.0.1/data -U DOMAIN\USER%PASSWORD -c ls
try_logon() {
    local client=$1 user=$2 pass=$3 status=$4 erc=1 port=()
    [[ $status == STATUS_SUCCESS ]] && erc=0
    [[ $client == "$HOST" ]] || port=(-p "$(port_for "$client")")
    step "$client" "$erc" -- smbclient "//$HOST/data" ${port[@]+"${port[@]}"} -U "$DOMAIN\\$user%$pass" -c ls
    logon "$client" "$user" "$DOMAIN" "$status" 0 ntlmv2
    if [[ $status == STATUS_SUCCESS ]]; then tree "\\\\$HOST\\data" STATUS_SUCCESS; fi
}

# The DCE/RPC requests each rpcclient command must send (pipe, opnum, the
# operation name tshark gives it).  The capture has more: binds, Connect5,
# OpenDomain, OpenPolicy, Close, ...; those are recorded, not required.
rpc_for() {
    case $1 in
        srvinfo)         echo 'srvsvc 21 NetSrvGetInfo' ;;
        netshareenumall) echo 'srvsvc 15 NetShareEnumAll' ;;
        enumdomusers)    echo 'samr 13 EnumDomainUsers' ;;
        lsaquery)        echo 'lsarpc 7 lsa_QueryInfoPolicy' ;;
        lookupnames)     echo 'lsarpc 14 lsa_LookupNames' ;;
        *) die "rpc_for: no expectation for rpcclient command '$1'" ;;
    esac
}
expect_share_list() { # what smbclient -L must do after its logon
    tree "\\\\$HOST\\IPC\$" STATUS_SUCCESS
    pipe srvsvc
    rpc srvsvc 15 NetShareEnumAll
}
expect_rpcclient() { # what rpcclient -c "$RPC_CMDS" must do after its logon
    local c p o n seen=() cmds=()
    tree "\\\\$HOST\\IPC\$" STATUS_SUCCESS
    IFS=';' read -r -a cmds <<<"$RPC_CMDS"
    for c in "${cmds[@]}"; do
        read -r p o n <<<"$(rpc_for "${c%% *}")"
        [[ " ${seen[*]-} " == *" $p "* ]] || { seen+=("$p"); pipe "$p"; }
        rpc "$p" "$o" "$n"
    done
}

# ---- the scenario definitions ---------------------------------------------------
sc_bruteforce() {
    local p
    for p in "${BRUTE_PASSWORDS[@]}"; do
        try_logon "$HOST" alice "$p" STATUS_LOGON_FAILURE
    done
}

sc_spray() {
    local i
    for i in $(seq -w 1 30); do
        # user26..user30 are not in the passdb; with "map to guest = never"
        # Samba answers them exactly like the others.
        try_logon "$HOST" "user$i" "$SPRAY_PASS" STATUS_LOGON_FAILURE
    done
}

sc_spray_multi() {
    local round c u
    for round in 1 2 3 4 5 6; do
        for c in 0 1 2 3 4; do
            u=$(printf 'user%02d' $((c * 6 + round)))
            try_logon "${RELAY_CLIENTS[c]}" "$u" "$SPRAY_PASS" STATUS_LOGON_FAILURE
        done
    done
}

sc_lockout() {
    local i=0 p status
    reset_alice
    set_policy "bad lockout attempt" "$LOCKOUT_THRESHOLD"
    set_policy "lockout duration" "$LOCKOUT_MINUTES"
    set_policy "reset count minutes" "$LOCKOUT_MINUTES"
    for p in "${LOCKOUT_PASSWORDS[@]}"; do
        i=$((i + 1))
        # Samba 4.17 (tdbsam): the attempt that reaches the threshold still
        # gets LOGON_FAILURE; every later one gets ACCOUNT_LOCKED_OUT.
        if ((i <= LOCKOUT_THRESHOLD)); then status=STATUS_LOGON_FAILURE; else status=STATUS_ACCOUNT_LOCKED_OUT; fi
        try_logon "$HOST" alice "$p" "$status"
    done
    # Even the right password is refused while the account is locked.
    try_logon "$HOST" alice "$ALICE_PASS" STATUS_ACCOUNT_LOCKED_OUT
    local v
    v=$(pdbedit -s "$WORK/smb.conf" -v -u alice 2>/dev/null)
    note alice_account_flags "$(sed -n 's/^Account Flags: *//p' <<<"$v")"
    note alice_bad_password_count "$(sed -n 's/^Bad password count *: *//p' <<<"$v")"
    note lockout_policy "bad lockout attempt=$LOCKOUT_THRESHOLD, lockout duration=$LOCKOUT_MINUTES, reset count minutes=$LOCKOUT_MINUTES"
    [[ $(sed -n 's/^Account Flags: *//p' <<<"$v") == *L* ]] || die "scenario lockout: alice is not flagged L (locked) in the passdb"
}
post_lockout() { # leave no lockout behind for later scenarios
    set_policy "bad lockout attempt" 0
    reset_alice
}

sc_spray_success() {
    local u
    for u in user01 user02 user03 user04 user05 bob user06 user07 user08 user09; do
        try_logon "$HOST" "$u" "$SPRAY_PASS" STATUS_LOGON_FAILURE
    done
    try_logon "$HOST" bob "$BOB_PASS" STATUS_SUCCESS
}

sc_null_enum() {
    # smbclient -N sends the local user name (USER) with empty responses;
    # with "map to guest = never" that fails, and smbclient retries on the
    # same connection as anonymous (empty user, domain and response).
    step "$HOST" 0 USER=root LOGNAME=root -- smbclient -L "//$HOST" -N "${ENUM_OPTS[@]}"
    logon "$HOST" root "$DOMAIN" STATUS_LOGON_FAILURE 0 none
    logon "$HOST" '' '' STATUS_SUCCESS 0 anonymous
    expect_share_list
    step "$HOST" 0 -- rpcclient -U% "${ENUM_OPTS[@]}" -c "$RPC_CMDS" "$HOST"
    logon "$HOST" '' '' STATUS_SUCCESS 0 anonymous
    expect_rpcclient
}

sc_guest_enum() {
    # visitor is in no passdb: "map to guest = bad user" makes it a guest.
    step "$HOST" 0 -- smbclient -L "//$HOST" -U "$DOMAIN\\visitor%guess-this" "${ENUM_OPTS[@]}"
    logon "$HOST" visitor "$DOMAIN" STATUS_SUCCESS 1 ntlmv2
    expect_share_list
    step "$HOST" 0 -- rpcclient -U "$DOMAIN\\visitor%guess-this" "${ENUM_OPTS[@]}" -c "$RPC_CMDS" "$HOST"
    logon "$HOST" visitor "$DOMAIN" STATUS_SUCCESS 1 ntlmv2
    expect_rpcclient
}

###############################################################################
# 6. Running a scenario
###############################################################################
SUMMARY=() GENERATED=()
run_scenario() {
    local name=$1 fn="sc_${1//-/_}" post="post_${1//-/_}" pcap="$WORK/pcap/$1.pcap" attempt ok=0
    local profile; profile=$(profile_of "$name")
    NAME=$name DEF="$WORK/def/$name.def"
    start_smbd "$profile"
    for attempt in 1 2 3; do
        log "scenario $name (attempt $attempt, server profile $profile)"
        : >"$DEF"; STEP_N=0
        start_capture "$pcap"
        "$fn"
        relays_idle
        sleep 0.5
        stop_capture
        declare -F "$post" >/dev/null && "$post"
        if grep -qE '[1-9][0-9]* packets dropped by kernel' "$WORK/logs/tcpdump.err"; then
            log "  tcpdump dropped packets; retrying"; continue
        fi
        ok=1; break
    done
    ((ok)) || die "scenario $name: no clean capture after 3 attempts"
    local json="$WORK/$name.expected.json" line
    line=$("$PYTHON" "$CHECKER" make "$name" --pcap "$pcap" --def "$DEF" --out "$json" \
              --desc "$(describe "$name")" --server "$HOST" --server-profile "$profile" \
              --server-options "$(server_options "$profile" | paste -sd';' -)" \
              --versions "$VERSIONS") \
        || die "scenario $name: the capture does not match its definition (definition: $DEF, capture: $pcap)"
    SUMMARY+=("$line")
    install -m 0644 -o "$OWNER_UID" -g "$OWNER_GID" "$pcap" "$OUT_DIR/$name.pcap"
    install -m 0644 -o "$OWNER_UID" -g "$OWNER_GID" "$json" "$OUT_DIR/$name.expected.json"
    GENERATED+=("$name")
}

###############################################################################
# Main
###############################################################################
install_packages
PYTHON=$(pick_python)
command -v flock >/dev/null || die "flock (util-linux) is missing"
if port_in_use "$HOST" "$PORT"; then
    who=$(who_listens "$PORT")
    die "port $PORT on $HOST is already in use${who:+ ($who)}, although this script holds $LOCK. Stop that server first (e.g. 'systemctl stop smbd')."
fi
setup_work
write_conf strict
ensure_users
VERSIONS=$("$PYTHON" -c 'import json, sys; print(json.dumps(dict(a.split("=", 1) for a in sys.argv[1:])))' \
    "smbd=$(smbd --version 2>/dev/null | sed 's/^Version //')" \
    "smbclient=$(smbclient --version 2>/dev/null | sed 's/^Version //')" \
    "rpcclient=$(rpcclient --version 2>/dev/null | sed 's/^Version //')" \
    "tshark=$(tshark --version 2>/dev/null | head -1 | sed 's/^TShark (Wireshark) //; s/\.$//')" \
    "tcpdump=$(tcpdump --version 2>&1 | head -1 | sed 's/^tcpdump version //')" \
    "socat=$(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p')")
mkdir -p "$OUT_DIR"
chown "$OWNER_UID:$OWNER_GID" "$OUT_DIR"
selected spray-multi && start_relays
for s in "${SCENARIOS[@]}"; do
    selected "$s" && run_scenario "$s"
done
stop_relays
stop_smbd

echo
printf '%s\n' "${SUMMARY[@]}"
total=$(du -cb "$OUT_DIR"/*.pcap | tail -1 | cut -f1)
echo
echo "${#GENERATED[@]} scenarios (${GENERATED[*]}), pcaps in captures/logon total $total bytes, $((SECONDS - T_START)) s"
echo "samba $(smbd --version 2>/dev/null | sed 's/^Version //'), $(tshark --version 2>/dev/null | head -1)"
SUCCESS=1
