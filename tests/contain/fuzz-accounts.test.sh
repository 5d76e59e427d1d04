#!/usr/bin/env bash
# Usage: bash tests/contain/fuzz-accounts.test.sh (run by `make test`)
# Summary: fuzzes ptyd's --accounts parser (tests/fuzz/fuzz_accounts.c) briefly
# from the committed corpus; `make fuzz` runs it longer.
set -euo pipefail

# shellcheck source=tests/lib/tap.sh disable=SC1091
source "$WS_ROOT/tests/lib/tap.sh"
# shellcheck source=tests/lib/fuzz.sh disable=SC1091
source "$WS_ROOT/tests/lib/fuzz.sh"

fuzz_one fuzz_accounts "${FUZZ_SECONDS:-20}"
tap_done
