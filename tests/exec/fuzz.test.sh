#!/usr/bin/env bash
# Usage: bash tests/exec/fuzz.test.sh (run by `make test`)
# Summary: fuzzes ptyd's exec channel parsers (execproto.c, tests/fuzz/fuzz_execproto.c)
# briefly from the committed corpus; `make fuzz` runs it longer.
set -euo pipefail

# shellcheck source=tests/lib/tap.sh disable=SC1091
source "$WS_ROOT/tests/lib/tap.sh"
# shellcheck source=tests/lib/fuzz.sh disable=SC1091
source "$WS_ROOT/tests/lib/fuzz.sh"

fuzz_one fuzz_execproto "${FUZZ_SECONDS:-20}"
tap_done
