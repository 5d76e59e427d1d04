#!/usr/bin/env bash
# tests/provision/config.test.sh: what web-shell.sh writes is valid for the
# tools that will read it: its Caddyfiles (acme, internal, --no-app) pass
# `caddy validate` and gate /ws as designed, its units pass `systemd-analyze
# verify` with no output at all and their security exposure is printed (and
# gated), and every cloud-init example passes the schema and our key check.
set -euo pipefail
# shellcheck source=tests/lib/tap.sh
source "$WS_ROOT/tests/lib/tap.sh"

W=$WS_ROOT/scripts/web-shell.sh
KEY=$WS_WORK/pub.pem

# caddy_validate NAME FILE: `caddy validate` accepts it and `caddy fmt` leaves it as is.
caddy_validate() {
	local out rc=0
	out=$(XDG_DATA_HOME=$WS_WORK/xdg XDG_CONFIG_HOME=$WS_WORK/xdg caddy validate --adapter caddyfile --config "$2" 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *"Valid configuration"* ]]; then
		tap_ok "caddy validate: $1"
	else
		tap_fail "caddy validate: $1" "$(tail -n 5 <<<"$out")" "$(cat "$2")"
	fi
	tap_check "caddy fmt leaves it unchanged: $1" diff -u "$2" <(caddy fmt "$2")
}

# contains NAME FILE TEXT...: FILE holds every TEXT (fixed strings).
contains() {
	local name=$1 file=$2 t missing=()
	shift 2
	for t in "$@"; do grep -qF -- "$t" "$file" || missing+=("$t"); done
	if [[ ${#missing[@]} -eq 0 ]]; then tap_ok "$name"; else tap_fail "$name" "missing: ${missing[*]}"; fi
}

test_caddyfiles() {
	local f=$WS_WORK/Caddyfile.acme
	"$W" --fqdn shell.example.com --jwt-public-key-file "$KEY" --email admin@example.com --print Caddyfile >"$f"
	caddy_validate "web-shell.sh --tls acme" "$f"
	contains "acme Caddyfile: gated /ws, token dropped and redacted, app served" "$f" \
		'email admin@example.com' 'shell.example.com {' 'forward_auth 127.0.0.1:9222' \
		'copy_headers X-Webshell-User' 'request_header -X-Webshell-User' 'rewrite * /ws?' \
		'reverse_proxy unix//run/web-shell-ptyd/ptyd.sock' 'replace token REDACTED' 'root * /usr/share/web-shell/www'
	if grep -qE 'tls internal|https_port|default_bind' "$f"; then
		tap_fail "acme Caddyfile: automatic HTTPS on 443, all interfaces" "$(cat "$f")"
	else
		tap_ok "acme Caddyfile: automatic HTTPS on 443, all interfaces"
	fi

	f=$WS_WORK/Caddyfile.internal
	"$W" --fqdn shell.example.com --jwt-public-key-file "$KEY" --tls internal --https-port 8443 \
		--bind 127.0.0.1 --print Caddyfile >"$f"
	caddy_validate "web-shell.sh --tls internal --https-port --bind" "$f"
	contains "internal Caddyfile: own CA, port, loopback, no redirect server" "$f" \
		'tls internal' 'https_port 8443' 'default_bind 127.0.0.1' 'auto_https disable_redirects' 'skip_install_trust'

	f=$WS_WORK/Caddyfile.noapp
	"$W" --fqdn shell.example.com --jwt-public-key-file "$KEY" --no-app --print Caddyfile >"$f"
	caddy_validate "web-shell.sh --no-app" "$f"
	if grep -q 'file_server' "$f"; then
		tap_fail "--no-app Caddyfile serves no files" "$(cat "$f")"
	else
		tap_ok "--no-app Caddyfile serves no files"
	fi
}

# A root with what `systemd-analyze verify --root` needs: the standard
# targets, kill (ExecReload), and the real service binaries at ExecStart.
stage_root() {
	local r=$WS_WORK/root
	mkdir -p "$r/usr/lib/systemd/system" "$r/usr/local/bin" "$r/usr/bin" "$r/etc/systemd/system"
	cp /lib/systemd/system/*.target /lib/systemd/system/*.slice /lib/systemd/system/*.socket \
		"$r/usr/lib/systemd/system/" 2>/dev/null || true
	cp /usr/bin/kill /usr/bin/chgrp "$r/usr/bin/"
	local bin
	for bin in jwt-verify ptyd; do
		[[ -x $WS_BUILD/$bin ]] || return 1
		cp "$WS_BUILD/$bin" "$r/usr/local/bin/"
	done
}

test_units() {
	local r=$WS_WORK/root unit
	for unit in jwt-verify.service ptyd.service; do
		"$W" --fqdn shell.example.com --jwt-public-key-file "$KEY" --shell-user webshell \
			--print "$unit" >"$WS_WORK/$unit"
		if grep -q '@[A-Z_]*@' "$WS_WORK/$unit"; then
			tap_fail "$unit: every placeholder filled in" "$(grep '@[A-Z_]*@' "$WS_WORK/$unit")"
		else
			tap_ok "$unit: every placeholder filled in"
		fi
	done
	# shellcheck disable=SC2016 # literal $MAINPID, as in the unit
	contains "jwt-verify.service: audience is the FQDN, reload is SIGHUP" "$WS_WORK/jwt-verify.service" \
		'--audience shell.example.com' '--key /etc/web-shell/public.pem' 'ExecReload=kill -HUP $MAINPID' \
		'DynamicUser=yes' 'CapabilityBoundingSet=' 'ProtectSystem=strict' 'PrivateTmp=yes' 'RestrictAddressFamilies='
	contains "ptyd.service: its own account, shells as the shell user, unix socket, origin checked" "$WS_WORK/ptyd.service" \
		'User=webshell-ptyd' 'Group=webshell-ptyd' '--user webshell' '--listen unix:/run/web-shell-ptyd/ptyd.sock' \
		'RuntimeDirectory=web-shell-ptyd' 'RuntimeDirectoryMode=0750' '--check-origin https://shell.example.com' \
		'AmbientCapabilities=CAP_SETUID CAP_SETGID' 'CapabilityBoundingSet=CAP_SETUID CAP_SETGID' 'Delegate=yes' \
		'NoNewPrivileges=yes'
	contains "jwt-verify.service: single-use tokens by default" "$WS_WORK/jwt-verify.service" '--single-use'
	contains "ptyd.service: the admin socket in a directory of its own" "$WS_WORK/ptyd.service" \
		'--admin-socket /run/web-shell-admin/admin.sock' 'RuntimeDirectory=web-shell-ptyd web-shell-admin'
	# Uncommented lines only; jwt-verify's own ExecStartPre (--check) is always there.
	local extra
	extra=$(grep -hvE '^#( |$)|jwt-verify --check' "$WS_WORK/ptyd.service" "$WS_WORK/jwt-verify.service" |
		grep -E '^(SupplementaryGroups|StateDirectory|ExecStartPre)=|^#\?|--record|--metrics|--admin-group' || true)
	if [[ -z $extra ]]; then
		tap_ok "by default: no admin group, recording or metrics (and no marker left)"
	else
		tap_fail "by default: no admin group, recording or metrics (and no marker left)" "$extra"
	fi
	local -a ops=(--fqdn shell.example.com --jwt-public-key-file "$KEY" --shell-user webshell --admin-group wsadmin
		--record --record-input --record-max-dir 2G --metrics 9300)
	"$W" "${ops[@]}" --print ptyd.service >"$WS_WORK/ptyd-ops.service"
	"$W" "${ops[@]}" --print jwt-verify.service >"$WS_WORK/jwt-verify-ops.service"
	contains "--admin-group, --record, --metrics reach ptyd.service" "$WS_WORK/ptyd-ops.service" \
		'--admin-socket /run/web-shell-admin/admin.sock --admin-group wsadmin --record /var/lib/web-shell-ptyd/recordings --record-max-dir 2G --record-input --record-group wsadmin --metrics 127.0.0.1:9301' \
		'ExecStartPre=+/usr/bin/chgrp wsadmin /run/web-shell-admin' 'SupplementaryGroups=wsadmin' \
		'StateDirectory=web-shell-ptyd' 'StateDirectoryMode=0711'
	contains "--metrics reaches jwt-verify.service (loopback only)" "$WS_WORK/jwt-verify-ops.service" \
		'--metrics 127.0.0.1:9300'
	contains "ptyd.service: default limits: 30 min idle, 12 h, 32 sessions" "$WS_WORK/ptyd.service" \
		'--idle-timeout 1800' '--max-session 43200' '--max-clients 32'
	"$W" --fqdn shell.example.com --jwt-public-key-file "$KEY" --no-single-use --print jwt-verify.service >"$WS_WORK/j2"
	if grep -q -e '^ExecStart=.*--single-use' "$WS_WORK/j2"; then
		tap_fail "--no-single-use: jwt-verify without --single-use" "$(grep ExecStart= "$WS_WORK/j2")"
	else
		tap_ok "--no-single-use: jwt-verify without --single-use"
	fi
	"$W" --fqdn shell.example.com --jwt-public-key-file "$KEY" --https-port 8443 --allow-origin https://app.example.com \
		--allow-origin http://localhost:3000 --idle-timeout 0 --max-session 3600 --max-clients 5 \
		--print ptyd.service >"$WS_WORK/p2"
	contains "--allow-origin (repeated), --idle-timeout, --max-session, --max-clients reach ptyd" "$WS_WORK/p2" \
		'--check-origin https://shell.example.com:8443 --check-origin https://app.example.com --check-origin http://localhost:3000' \
		'--idle-timeout 0' '--max-session 3600' '--max-clients 5'
	if ! stage_root; then
		tap_skip "systemd-analyze verify" "build/jwt-verify and build/ptyd are not built yet"
		return
	fi
	# Both variants: the defaults, and with the operator's options (admin group, recording, metrics).
	local variant label out rc name limit score
	for variant in "" -ops; do
		label=${variant:+ with --admin-group, --record, --metrics}
		for unit in jwt-verify ptyd; do
			cp "$WS_WORK/$unit$variant.service" "$r/etc/systemd/system/$unit.service"
		done
		rc=0
		out=$(cd "$WS_WORK" && systemd-analyze verify --man=no --root="$r" jwt-verify.service ptyd.service 2>&1) || rc=$?
		if [[ $rc -eq 0 && -z $out ]]; then
			tap_ok "systemd-analyze verify: both units$label, no output at all"
		else
			tap_fail "systemd-analyze verify: both units$label, no output at all" "exit $rc" "$out"
		fi
		# The gate: jwt-verify under 2.0; ptyd 2.0: 1.8 before it ran as its own account; the
		# difference is what issue 9 s2 requires (CAP_SETUID/CAP_SETGID, Delegate=yes, cgroupfs writable).
		for name in jwt-verify:20 ptyd:20; do
			unit=${name%%:*}.service
			limit=${name##*:}
			rc=0
			out=$(systemd-analyze security --offline=yes --root="$r" --threshold="$limit" "$unit" 2>&1) || rc=$?
			score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
			printf '# %s%s exposure: %s (gate: %s.%s)\n' "$unit" "$label" "${score:-?}" "${limit:0:1}" "${limit:1}"
			if [[ $rc -eq 0 && -n $score ]]; then
				tap_ok "systemd-analyze security: $unit$label exposure $score <= ${limit:0:1}.${limit:1}"
			else
				tap_fail "systemd-analyze security: $unit$label exposure ${score:-?} <= ${limit:0:1}.${limit:1}" "$(tail -n 15 <<<"$out")"
			fi
		done
	done
}

test_cloud_init() {
	local f out rc
	for f in "$WS_ROOT"/cloud-init/*.yaml; do
		tap_check "cloud-init schema: ${f#"$WS_ROOT"/}" cloud-init schema --config-file "$f"
		tap_check "no unknown top-level key: ${f#"$WS_ROOT"/}" /usr/bin/python3 "$WS_ROOT/tests/provision/cloud_config_keys.py" "$f"
		# The inline public key is a real one.
		/usr/bin/python3 -c 'import sys, yaml
for w in yaml.safe_load(open(sys.argv[1])).get("write_files", []):
    if w["path"].endswith(".pem"): sys.stdout.write(w["content"])' "$f" >"$WS_WORK/inline.pem"
		tap_check "inline public key parses: ${f#"$WS_ROOT"/}" openssl pkey -pubin -in "$WS_WORK/inline.pem" -noout
	done
	# The checks can fail: a typo'd top-level key, and a schema error.
	printf '#cloud-config\nruncmds:\n  - [ls]\n' >"$WS_WORK/typo.yaml"
	rc=0
	out=$(/usr/bin/python3 "$WS_ROOT/tests/provision/cloud_config_keys.py" "$WS_WORK/typo.yaml" 2>&1) || rc=$?
	if [[ $rc -eq 1 && $out == *"unknown top-level key 'runcmds'"* ]]; then
		tap_ok "key check catches a top-level typo cloud-init lets through"
	else
		tap_fail "key check catches a top-level typo cloud-init lets through" "exit $rc" "$out"
	fi
	printf "#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 0644\n" >"$WS_WORK/bad.yaml"
	rc=0
	out=$(cloud-init schema --config-file "$WS_WORK/bad.yaml" 2>&1) || rc=$?
	tap_is "cloud-init schema rejects an unquoted mode" "$rc" 1
}

main() {
	openssl genpkey -algorithm ed25519 -out "$WS_WORK/key.pem" 2>/dev/null
	openssl pkey -in "$WS_WORK/key.pem" -pubout -out "$KEY"
	test_caddyfiles
	test_units
	test_cloud_init
	tap_done
}

main "$@"
