#!/usr/bin/env bash
# Usage: bash tests/ptyd/fuzz.test.sh (run by `make test`)
# tier: slow
# Summary: fuzzes ptyd's pure code briefly from the committed corpus
# (FUZZ_SECONDS each, default 10): fuzz_ptyd_json (init and resize JSON) and
# fuzz_ptyd_stream (message reassembly, UTF-8 checks of text frames, the
# replay ring and its safe boundary). `make fuzz` runs them longer.
set -euo pipefail

# shellcheck source=tests/lib/tap.sh disable=SC1091
source "$WS_ROOT/tests/lib/tap.sh"
# shellcheck source=tests/lib/fuzz.sh disable=SC1091
source "$WS_ROOT/tests/lib/fuzz.sh"

fuzz_one fuzz_ptyd_json "${FUZZ_SECONDS:-10}"
fuzz_one fuzz_ptyd_stream "${FUZZ_SECONDS:-10}"
tap_done
