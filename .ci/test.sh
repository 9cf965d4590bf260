#!/usr/bin/env bash
# The whole test suite: installs prerequisites, checks formatting and lints, runs every test,
# then a short fuzz smoke of every cargo-fuzz target (FUZZ_SECONDS each, default 15; 0 skips).
# Interop tests read ../shared/corpus (or $SMBSCOPE_CORPUS) and are skipped with a notice when
# it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/setup.sh
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
if [ "${FUZZ_SECONDS:-15}" != 0 ]; then
    SECONDS_PER_TARGET="${FUZZ_SECONDS:-15}" bash fuzz/smoke.sh
fi
