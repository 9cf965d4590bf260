#!/usr/bin/env bash
# Fuzz smoke for CI: runs every cargo-fuzz target for a short while (default 20 s each, one at
# a time), seeded from the project's captures. Needs cargo-fuzz; when it is missing and cannot
# be installed within INSTALL_TIMEOUT seconds, prints a NOTICE and exits 0.
#
#   fuzz/smoke.sh                # every target, 20 s each
#   SECONDS_PER_TARGET=60 fuzz/smoke.sh engine nbss_smb
#
# The stable toolchain is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly flags.
# A crash fails the script (exit 1); its input is under fuzz/artifacts/<target>/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${SECONDS_PER_TARGET:-20}"
install_timeout="${INSTALL_TIMEOUT:-300}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(nbss_smb ntlmssp_spnego compression quic keyfiles engine pcap_file)
fi

if ! cargo fuzz --help >/dev/null 2>&1; then
    echo "fuzz/smoke.sh: cargo-fuzz not found; trying 'cargo install cargo-fuzz' (${install_timeout} s at most)"
    if ! timeout "$install_timeout" cargo install --locked cargo-fuzz >/dev/null 2>&1 ||
        ! cargo fuzz --help >/dev/null 2>&1; then
        echo "NOTICE: fuzz smoke skipped: cargo-fuzz is not installed and could not be installed"
        exit 0
    fi
fi

cd "$here"
if command -v python3 >/dev/null 2>&1; then
    python3 seed.py >/dev/null
fi

export RUSTC_BOOTSTRAP=1
failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== fuzz smoke: $t (${secs} s)"
    if ! cargo fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        2>"/tmp/smbscope-fuzz-$t.log"; then
        tail -n 60 "/tmp/smbscope-fuzz-$t.log"
        failed+=("$t")
    else
        grep -E '^Done [0-9]+ runs' "/tmp/smbscope-fuzz-$t.log" || true
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz smoke FAILED: ${failed[*]} (inputs under fuzz/artifacts/)"
    exit 1
fi
echo "fuzz smoke passed: ${targets[*]}"
