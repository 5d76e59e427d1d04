#!/usr/bin/env bash
# tests/scripts/scripts.test.sh: each provisioning script answers --help;
# refuses bad arguments with one message and exit 2 (changing nothing), and
# its --dry-run changes nothing. shellcheck: shellcheck.test.sh.
set -euo pipefail
# shellcheck source=tests/lib/tap.sh
source "$WS_ROOT/tests/lib/tap.sh"
trap server_stop_all EXIT

S=$WS_ROOT/scripts

# expect_usage_error NAME WANT_IN_MESSAGE CMD...: exit 2, a message on stderr
# naming the problem, nothing on stdout.
expect_usage_error() {
	local name=$1 want=$2 out err rc=0
	shift 2
	out=$("$@" 2>"$WS_WORK/err") || rc=$?
	err=$(cat "$WS_WORK/err")
	if [[ $rc -eq 2 && $err == *"$want"* && -z $out ]]; then
		tap_ok "$name"
	else
		tap_fail "$name" "exit: $rc (want 2)" "stderr: $err" "stdout: $out" "want in stderr: $want"
	fi
}

# expect_help SCRIPT: --help exits 0 and shows a Usage line naming the script.
expect_help() {
	local script=$1 out rc=0
	out=$("$script" --help 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *"Usage:"*"$(basename "$script")"* ]]; then
		tap_ok "$(basename "$script") --help"
	else
		tap_fail "$(basename "$script") --help" "exit: $rc" "$out"
	fi
}

test_help() {
	local s
	for s in web-shell.sh combine.sh packages.sh demo.sh install-deps.sh; do
		expect_help "$S/$s"
	done
}

test_web_shell_bad_args() {
	openssl genpkey -algorithm ed25519 -out "$WS_WORK/key.pem" 2>/dev/null
	openssl pkey -in "$WS_WORK/key.pem" -pubout -out "$WS_WORK/pub.pem"
	printf 'hello\n' >"$WS_WORK/notpem.txt"
	printf -- '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n' >"$WS_WORK/garbage.pem"
	local k=$WS_WORK/pub.pem w=$S/web-shell.sh
	expect_usage_error "web-shell.sh: unknown option" "unknown argument: --frobnicate" "$w" --frobnicate
	expect_usage_error "web-shell.sh: --fqdn required" "--fqdn is required" "$w" --jwt-public-key-file "$k"
	expect_usage_error "web-shell.sh: key required" "--jwt-public-key-file is required" "$w" --fqdn a.example.com
	expect_usage_error "web-shell.sh: option without value" "option --fqdn needs a value" "$w" --fqdn
	expect_usage_error "web-shell.sh: bad FQDN" "not a host name: 'bad_host.example'" "$w" --fqdn bad_host.example --jwt-public-key-file "$k"
	expect_usage_error "web-shell.sh: FQDN with a path" "not a host name" "$w" --fqdn 'a.example.com/x' --jwt-public-key-file "$k"
	expect_usage_error "web-shell.sh: missing key file" "no such file: $WS_WORK/nope.pem" "$w" --fqdn a.example.com --jwt-public-key-file "$WS_WORK/nope.pem"
	expect_usage_error "web-shell.sh: private key refused" "holds a PRIVATE key" "$w" --fqdn a.example.com --jwt-public-key-file "$WS_WORK/key.pem"
	expect_usage_error "web-shell.sh: not PEM" "not a PEM public key" "$w" --fqdn a.example.com --jwt-public-key-file "$WS_WORK/notpem.txt"
	expect_usage_error "web-shell.sh: PEM garbage" "openssl cannot parse" "$w" --fqdn a.example.com --jwt-public-key-file "$WS_WORK/garbage.pem"
	expect_usage_error "web-shell.sh: bad --tls" "must be acme or internal, not 'self'" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --tls self
	expect_usage_error "web-shell.sh: --email needs acme" "--email only applies to --tls acme" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --tls internal --email a@b.example
	expect_usage_error "web-shell.sh: bad --email" "not an e-mail address" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --email nobody
	expect_usage_error "web-shell.sh: bad --https-port" "not a port number (1-65535, no leading zero): '70000'" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --https-port 70000
	expect_usage_error "web-shell.sh: root shell user" "refusing root" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --shell-user root
	expect_usage_error "web-shell.sh: bad shell user" "not a valid user name" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --shell-user 'x y'
	expect_usage_error "web-shell.sh: bad --bind" "not an IP address" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --bind example.com
	expect_usage_error "web-shell.sh: --source not a checkout" "is not a web-shell checkout" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --source "$WS_WORK"
	expect_usage_error "web-shell.sh: bad --print" "--print: one of" "$w" --fqdn a.example.com --jwt-public-key-file "$k" --print passwd
	test_web_shell_weakening_args
}

# expect_one_line NAME WANT CMD...: exit 2 and exactly one line on stderr, holding WANT.
expect_one_line() {
	local name=$1 want=$2 out err rc=0
	shift 2
	out=$("$@" 2>"$WS_WORK/err") || rc=$?
	err=$(cat "$WS_WORK/err")
	if [[ $rc -eq 2 && $err == *"$want"* && -z $out && $(wc -l <"$WS_WORK/err") -eq 1 ]]; then
		tap_ok "$name: exit 2, one line"
	else
		tap_fail "$name: exit 2, one line" "exit: $rc (want 2)" "stderr: $err" "stdout: $out" "want in stderr: $want"
	fi
}

# rsa_key_with_exponent E FILE: an RSA public key (the 2048-bit fixture's
# modulus) with public exponent E, which openssl would never generate.
rsa_key_with_exponent() {
	/usr/bin/python3 - "$WS_ROOT/tests/jwt-verify/fixtures/rsa2048.pub.pem" "$1" >"$2" <<'PY'
import base64, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
n = load_pem_public_key(open(sys.argv[1], "rb").read()).public_numbers().n
e = int(sys.argv[2])
def tlv(tag, body):
    size = len(body)
    if size < 128:
        head = bytes([size])
    else:
        k = (size.bit_length() + 7) // 8
        head = bytes([0x80 | k]) + size.to_bytes(k, "big")
    return bytes([tag]) + head + body
def integer(v):
    return tlv(2, v.to_bytes(v.bit_length() // 8 + 1, "big"))
rsa = tlv(0x30, tlv(6, bytes.fromhex("2a864886f70d010101")) + tlv(5, b""))
der = tlv(0x30, rsa + tlv(3, b"\0" + tlv(0x30, integer(n) + integer(e))))
b64 = base64.b64encode(der).decode()
print("-----BEGIN PUBLIC KEY-----")
for i in range(0, len(b64), 64):
    print(b64[i:i + 64])
print("-----END PUBLIC KEY-----")
PY
}

# in_dir DIR CMD...: CMD run from DIR.
in_dir() {
	(cd "$1" && shift && "$@")
}

# Issue 9 section 8: arguments that would break or weaken the machine.
test_web_shell_weakening_args() {
	local k=$WS_WORK/pub.pem w=$S/web-shell.sh
	local -a base=(--fqdn a.example.com --jwt-public-key-file "$k" --print Caddyfile)
	expect_one_line 'web-shell.sh --email "x@y.z' "--email: not an e-mail address" "$w" "${base[@]}" --email '"x@y.z'
	expect_one_line "web-shell.sh --https-port 0443" "--https-port: not a port number (1-65535, no leading zero): '0443'" \
		"$w" "${base[@]}" --https-port 0443
	expect_one_line "web-shell.sh --bind :" "--bind: not an IP address: ':'" "$w" "${base[@]}" --bind :
	expect_one_line "web-shell.sh --bind 999.1.1.1" "--bind: not an IP address: '999.1.1.1'" "$w" "${base[@]}" --bind 999.1.1.1
	expect_one_line "web-shell.sh --bind 1::2::3" "--bind: not an IP address" "$w" "${base[@]}" --bind 1::2::3
	local a out rc
	for a in 127.0.0.1 ::1 2001:db8::1 ::ffff:192.0.2.1; do
		rc=0
		out=$("$w" "${base[@]}" --bind "$a" 2>&1) || rc=$?
		tap_is "web-shell.sh --bind $a is accepted" "$rc/$(grep -c "default_bind $a" <<<"$out")" "0/1"
	done
	local sys
	for sys in caddy nobody daemon; do
		getent passwd "$sys" >/dev/null || continue
		expect_one_line "web-shell.sh --shell-user $sys" "--shell-user: $sys is an existing system account" \
			"$w" "${base[@]}" --shell-user "$sys"
	done
	expect_one_line "web-shell.sh --shell-user webshell-ptyd" "ptyd's own account" "$w" "${base[@]}" --shell-user webshell-ptyd
	cp "$k" "$WS_WORK/-key.pem"
	expect_one_line "web-shell.sh: a key path starting with -" "a path starting with '-'" \
		in_dir "$WS_WORK" "$w" --fqdn a.example.com --jwt-public-key-file -key.pem --print Caddyfile
	local e
	for e in 1 3 65536 65538; do
		rsa_key_with_exponent "$e" "$WS_WORK/rsa-e$e.pem"
		expect_one_line "web-shell.sh: an RSA key with e=$e" "RSA public exponent below 65537 or even" \
			"$w" --fqdn a.example.com --jwt-public-key-file "$WS_WORK/rsa-e$e.pem" --print Caddyfile
	done
	rsa_key_with_exponent 65537 "$WS_WORK/rsa-e65537.pem"
	rc=0
	"$w" --fqdn a.example.com --jwt-public-key-file "$WS_WORK/rsa-e65537.pem" --print Caddyfile >/dev/null 2>&1 || rc=$?
	tap_is "web-shell.sh: the same key with e=65537 is accepted" "$rc" 0
	expect_one_line "web-shell.sh --allow-origin with a path" "--allow-origin: not an origin" \
		"$w" "${base[@]}" --allow-origin https://app.example.com/page
	# The operator's options (admin group, recording, metrics).
	local g
	for g in sudo adm root caddy webshell-ptyd; do
		expect_one_line "web-shell.sh --admin-group $g" "--admin-group: $g grants other rights" \
			"$w" "${base[@]}" --admin-group "$g"
	done
	expect_one_line "web-shell.sh --admin-group Bad" "--admin-group: not a valid group name: 'Bad'" \
		"$w" "${base[@]}" --admin-group Bad
	expect_one_line "web-shell.sh --record-input alone" "--record-input needs --record" "$w" "${base[@]}" --record-input
	expect_one_line "web-shell.sh --record-max-dir 12x" "--record-max-dir: not a size" \
		"$w" "${base[@]}" --record --record-max-dir 12x
	expect_one_line "web-shell.sh --record-max-dir 512K" "--record-max-dir: at least 1M, not '512K'" \
		"$w" "${base[@]}" --record --record-max-dir 512K
	for a in 0 65535 08080; do
		expect_one_line "web-shell.sh --metrics $a" "--metrics: not a port number (1-65534" "$w" "${base[@]}" --metrics "$a"
	done
	expect_one_line "web-shell.sh --metrics 9221" "--metrics: port 9222 is jwt-verify's own" "$w" "${base[@]}" --metrics 9221
	expect_one_line "web-shell.sh --allow-origin without scheme" "--allow-origin: not an origin" \
		"$w" "${base[@]}" --allow-origin app.example.com
	expect_one_line "web-shell.sh --idle-timeout x" "--idle-timeout: not a number of seconds" "$w" "${base[@]}" --idle-timeout 10m
	expect_one_line "web-shell.sh --max-session -1" "--max-session: not a number of seconds" "$w" "${base[@]}" --max-session -1
	expect_one_line "web-shell.sh --max-clients 0" "--max-clients: not a number of sessions" "$w" "${base[@]}" --max-clients 0
}

# snapshot: what web-shell.sh could change on this machine, as one string.
snapshot() {
	{
		getent passwd webshell-dry || true
		# Only what web-shell.sh writes: other programs may change their own files meanwhile
		# (not "..": /etc changes whenever another suite adds an account).
		ls -lA --time-style=+%s /etc/web-shell /etc/caddy /usr/share/web-shell 2>&1
		ls -l --time-style=+%s /etc/systemd/system/{jwt-verify,ptyd}.service /usr/local/bin/{jwt-verify,ptyd} 2>&1
		md5sum /etc/caddy/Caddyfile 2>&1
	} | md5sum
}

test_web_shell_dry_run() {
	local before after out rc=0
	before=$(snapshot)
	out=$("$S/web-shell.sh" --fqdn dry.example.com --jwt-public-key-file "$WS_WORK/pub.pem" \
		--shell-user webshell-dry --tls internal --https-port 8443 --dry-run 2>&1) || rc=$?
	after=$(snapshot)
	tap_is "web-shell.sh --dry-run exits 0" "$rc" 0
	if [[ $out == *"would: create user webshell-dry"* && $out == *"would: write /etc/caddy/Caddyfile"* &&
		$out == *"would: write /etc/web-shell/public.pem"* && $out == *"nothing was changed"* ]]; then
		tap_ok "web-shell.sh --dry-run lists the user, key and Caddyfile it would write"
	else
		tap_fail "web-shell.sh --dry-run lists the user, key and Caddyfile it would write" "$out"
	fi
	tap_is "web-shell.sh --dry-run changed nothing" "$after" "$before"
	no_trailing_space "web-shell.sh --dry-run" "$out"
}

# A package that no test machine has installed; apt knows it.
test_packages() {
	local p=$S/packages.sh out rc=0
	expect_usage_error "packages.sh: no package" "no package named" "$p"
	expect_usage_error "packages.sh: bad name" "not a package name: '-oAPT::x=1'" "$p" -- -oAPT::x=1
	expect_usage_error "packages.sh: unknown option" "unknown option: --yes" "$p" --yes bash
	out=$("$p" bash coreutils 2>&1) || rc=$?
	tap_is "packages.sh: installed packages: exit 0" "$rc" 0
	tap_is "packages.sh: installed packages: nothing to do" "$out" "packages.sh: already installed: bash coreutils"
	local absent=""
	for absent in cowsay sl fortune-mod hello; do
		dpkg-query -W -f='${Status}' "$absent" 2>/dev/null | grep -q 'install ok installed' || break
	done
	rc=0
	out=$("$p" --dry-run bash "$absent" 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == "packages.sh: would install: $absent" ]] &&
		! dpkg-query -W -f='${Status}' "$absent" 2>/dev/null | grep -q 'install ok installed'; then
		tap_ok "packages.sh --dry-run names the missing package and installs nothing"
	else
		tap_fail "packages.sh --dry-run names the missing package and installs nothing" "exit $rc" "$out"
	fi
	rc=0
	out=$("$p" --dry-run bash no-such-package-webshell 2>&1) || rc=$?
	if [[ $rc -eq 1 && $out == *"error: no such package in apt's lists: no-such-package-webshell"* &&
		$out != *"would install"* ]]; then
		tap_ok "packages.sh --dry-run of a package apt does not know: an error naming it"
	else
		tap_fail "packages.sh --dry-run of a package apt does not know: an error naming it" "exit $rc" "$out"
	fi
	rc=0
	out=$("$p" --check bash "$absent" coreutils 2>&1) || rc=$?
	tap_is "packages.sh --check: the missing ones, exit 1" "$rc/$out" "1/$absent"
	rc=0
	out=$("$p" --check bash coreutils 2>&1) || rc=$?
	tap_is "packages.sh --check: all installed, exit 0, no output" "$rc/$out" "0/"
}

# install-deps.sh --demo wants a subset: no browser, fuzzer, debootstrap, cloud-init or wrk.
test_install_deps() {
	local lists demo
	lists=$(sed -n '/^readonly DEMO_PACKAGES=(/,/^)/p' "$S/install-deps.sh")
	demo=$(grep -vE '^\s*#|^readonly|^\)' <<<"$lists" | tr -s ' \t\n' ' ')
	if [[ $demo == *caddy* && $demo == *libwebsockets-dev* ]] &&
		! grep -qwE 'chromium|cloud-init|debootstrap|wrk|clang' <<<"$demo"; then
		tap_ok "install-deps.sh --demo: the build libraries and Caddy, no Chromium/cloud-init/debootstrap/wrk ($demo)"
	else
		tap_fail "install-deps.sh --demo: the build libraries and Caddy, no Chromium/cloud-init/debootstrap/wrk" "$demo"
	fi
	local rc=0 out
	out=$("$S/install-deps.sh" --demo --check 2>&1) || rc=$?
	tap_is "install-deps.sh --demo --check: nothing missing here" "$rc/$out" "0/"
}

# no_trailing_space NAME TEXT: no line of TEXT ends in a blank.
no_trailing_space() {
	local bad
	bad=$(grep -nE '[[:blank:]]$' <<<"$2" || true)
	if [[ -z $bad ]]; then
		tap_ok "$1: no line ends in a blank"
	else
		tap_fail "$1: no line ends in a blank" "$bad"
	fi
}

test_demo_args() {
	expect_usage_error "demo.sh: unknown argument" "unknown argument: --nope" "$S/demo.sh" --nope
	expect_usage_error "demo.sh: bad DEMO_PORT" "DEMO_PORT: not a port number: 'x'" env DEMO_PORT=x "$S/demo.sh"
	expect_usage_error "demo.sh: two arguments" "unknown argument: x" "$S/demo.sh" --dry-run x
	if [[ ! -x $WS_BUILD/jwt-verify || ! -x $WS_BUILD/ptyd ]]; then
		tap_skip "demo.sh --dry-run" "services not built in $WS_BUILD"
		return
	fi
	# A build dir of its own: the binaries, no demo state yet.
	local b=$WS_WORK/build out rc=0
	mkdir -p "$b"
	cp "$WS_BUILD/jwt-verify" "$WS_BUILD/ptyd" "$b/"
	out=$(BUILD=$b DEMO_PORT=$(free_port) "$S/demo.sh" --dry-run 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *"would make the demo key pair"* && $out == *"reverse_proxy unix/$b/demo/run-"*"/ptyd/ptyd.sock"* &&
		$(find "$b" -mindepth 1 | wc -l) -eq 2 ]]; then
		tap_ok "demo.sh --dry-run shows its commands and Caddyfile, makes and starts nothing"
	else
		tap_fail "demo.sh --dry-run shows its commands and Caddyfile, makes and starts nothing" "exit $rc" "$out" "$(find "$b")"
	fi
	no_trailing_space "demo.sh --dry-run" "$out"
	# Debian's own caddy.service (the caddy package starts it where systemd runs):
	# a process with its command line, as pgrep sees it.
	local fake
	server_start system-caddy "$WS_WORK/system-caddy.log" \
		bash -c 'exec -a "caddy run --environ --config /etc/caddy/Caddyfile --adapter caddyfile" sleep 60'
	fake=$SERVER_PID
	wait_until 5 pgrep -f '^caddy run .*--config /etc/caddy/Caddyfile' >/dev/null || true
	rc=0
	out=$(BUILD=$b DEMO_PORT=$(free_port) "$S/demo.sh" --dry-run 2>&1) || rc=$?
	server_stop "$fake" || true
	if [[ $rc -eq 0 && $out == *"note: Debian's caddy.service is running too"*"systemctl disable --now caddy"* ]]; then
		tap_ok "demo.sh says when Debian's own caddy.service runs beside it, and how to stop it"
	else
		tap_fail "demo.sh says when Debian's own caddy.service runs beside it, and how to stop it" "exit $rc" "$out"
	fi
}

# make install/uninstall honour DESTDIR, PREFIX and WWWDIR (web-shell.sh relies on them).
test_make_install() {
	if [[ ! -x $WS_BUILD/jwt-verify || ! -x $WS_BUILD/ptyd ]]; then
		tap_skip "make install DESTDIR= PREFIX=" "services not built in $WS_BUILD"
		return
	fi
	local d=$WS_WORK/destdir out rc=0
	out=$(make -C "$WS_ROOT" -s --no-print-directory install DESTDIR="$d" PREFIX=/opt/ws \
		WWWDIR=/srv/www 2>&1) || rc=$?
	if [[ $rc -eq 0 && -x $d/opt/ws/bin/jwt-verify && -x $d/opt/ws/bin/ptyd && -f $d/srv/www/index.html &&
		-f $d/srv/www/vendor/xterm.js ]]; then
		tap_ok "make install: services in DESTDIR/PREFIX/bin, app with its vendored files in DESTDIR/WWWDIR"
	else
		tap_fail "make install: services in DESTDIR/PREFIX/bin, app with its vendored files in DESTDIR/WWWDIR" \
			"exit $rc" "$out" "$(find "$d" -maxdepth 4 2>/dev/null)"
	fi
	make -C "$WS_ROOT" -s --no-print-directory uninstall DESTDIR="$d" PREFIX=/opt/ws WWWDIR=/srv/www >/dev/null 2>&1 || true
	tap_is "make uninstall removes them" "$(find "$d" -type f | wc -l)" 0
}

main() {
	test_help
	test_web_shell_bad_args
	test_web_shell_dry_run
	test_packages
	test_install_deps
	test_demo_args
	test_make_install
	tap_done
}

main "$@"
