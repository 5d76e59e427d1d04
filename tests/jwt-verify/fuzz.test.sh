#!/usr/bin/env bash
# Usage: bash tests/jwt-verify/fuzz.test.sh (run by `make test`)
# Summary: builds the libFuzzer targets on jwt-verify's pure part (fuzz_jwt),
# its RFC 8259 validator (fuzz_verify_parsers) and services/common's parsers and
# escapers (fuzz_common) and runs each briefly (FUZZ_SECONDS, default 20 for
# fuzz_jwt, a quarter of it for the others) from its committed corpus; any crash, sanitizer report or
# contract abort fails. `make fuzz` runs them longer.
set -euo pipefail

# shellcheck source=tests/lib/tap.sh disable=SC1091
source "$WS_ROOT/tests/lib/tap.sh"
# shellcheck source=tests/lib/fuzz.sh disable=SC1091
source "$WS_ROOT/tests/lib/fuzz.sh"

main() {
	local seconds=${FUZZ_SECONDS:-20}
	fuzz_one fuzz_jwt "$seconds"
	fuzz_one fuzz_verify_parsers $(((seconds + 3) / 4))
	fuzz_one fuzz_common $(((seconds + 3) / 4))
	tap_done
}

main "$@"
