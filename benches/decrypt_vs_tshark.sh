#!/usr/bin/env bash
# Decryption + signature throughput: smbscope vs tshark on the same encrypted SMB3 capture, in
# the same run. The capture is the project's own AES-128-GCM session repeated COPIES times
# (mergecap -a), written under target/. Prints MB/s, peak RSS and the ratio; the 2-core
# machines here are noisy, so compare ratios, not absolute numbers.
#
#   bash benches/decrypt_vs_tshark.sh            # COPIES=400 by default
#   COPIES=2000 SCENARIO=smb311-enc-aes256ccm bash benches/decrypt_vs_tshark.sh
set -euo pipefail
cd "$(dirname "$0")/.."

COPIES=${COPIES:-400}
SCENARIO=${SCENARIO:-smb311-enc-aes128gcm}
for tool in tshark mergecap /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install tshark time)" >&2; exit 2; }
done

work=target/bench-decrypt
mkdir -p "$work"
src="captures/$SCENARIO.pcap"
keys="captures/$SCENARIO.keys"
big="$work/$SCENARIO-x$COPIES.pcap"
if [ ! -f "$big" ]; then
    files=()
    for _ in $(seq "$COPIES"); do files+=("$src"); done
    mergecap -a -F pcap -w "$big" "${files[@]}"
fi
bytes=$(stat -c %s "$big")

# tshark takes the session id (wire order) and session key as hex from Samba's dump.
# Samba's dump: "<label> [0000] xx xx ... (ASCII)"; take the first N byte tokens.
hexof() {
    grep "^$1" "$keys" | head -1 | sed -E 's/^[^]]*\] //' |
        awk -v want="$2" '{ for (i = 1; i <= NF && n < want; i++)
            if ($i ~ /^[0-9A-Fa-f][0-9A-Fa-f]$/) { printf "%s", tolower($i); n++ } }'
}
sid=$(hexof "Session Id" 8)
skey=$(hexof "Session Key" 16)

cargo build --release --quiet
run() { # name, command...
    local name=$1; shift
    local t
    /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >/dev/null 2>&1
    t=$(tail -1 "$work/$name.time")
    local secs=${t% *} rss=${t#* }
    awk -v n="$name" -v b="$bytes" -v s="$secs" -v r="$rss" \
        'BEGIN { printf "%-10s %8.2f s %10.1f MB/s %8.1f MB peak RSS\n", n, s, b/1e6/(s>0?s:0.001), r/1024 }'
    echo "$secs" > "$work/$name.secs"
}
echo "capture: $big ($((bytes / 1000000)) MB, $COPIES copies of $SCENARIO)"
run smbscope ./target/release/smbscope analyze --format json --no-progress --keys "$keys" "$big"
run tshark tshark -n -r "$big" -o "uat:smb2_seskey_list:$sid,$skey,\"\",\"\"" \
    -T fields -e smb2.cmd -e smb2.tree -e smb2.filename
awk -v a="$(cat "$work/smbscope.secs")" -v b="$(cat "$work/tshark.secs")" \
    'BEGIN { printf "ratio: smbscope is %.1fx tshark\n", (a>0 ? b/a : 0) }'
# What each decrypted, as a sanity check that both did the work.
./target/release/smbscope analyze --format json --no-progress --keys "$keys" "$big" \
    | grep -o '"decrypted":{[^}]*}' | sort | uniq -c | head -3
