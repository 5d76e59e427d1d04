#!/usr/bin/env bash
# tests/provision/fresh-machine.test.sh: web-shell.sh on a fresh Debian 12.
# A minimal root made by debootstrap (cached in build/provision/rootfs.tar),
# a copy of this checkout as a clone would have it, and inside, by chroot,
# web-shell.sh run for real with --tls internal --no-start: it installs all it
# needs by itself. Then the three services are started exactly as the
# installed units say (ExecStart, User, Group), in a private network
# namespace, and through Caddy: a token from a key made here gets a shell as
# the shell user, a bad token gets a 401 with its reason, the token is in no
# log, and a second run changes nothing. Changes nothing on the host.
# tier: slow (debootstrap and apt inside a chroot; make check leaves it out)
set -euo pipefail
# shellcheck source=tests/lib/tap.sh
source "$WS_ROOT/tests/lib/tap.sh"

readonly FQDN=shell.web-shell.test
readonly SHELL_USER=webshell
[[ $WS_BUILD = /* ]] || WS_BUILD=$WS_ROOT/$WS_BUILD
CACHE=$WS_ROOT/build/provision
R=$WS_WORK/root
NETNS_PID=""
SERVICE_PIDS=()
MOUNTS=()

cleanup() {
	local pid m i
	for pid in "${SERVICE_PIDS[@]}" $NETNS_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${SERVICE_PIDS[@]}" $NETNS_PID; do
		wait "$pid" 2>/dev/null || true
	done
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${MOUNTS[i]}
		umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	# The root is big; only its logs are worth keeping.
	if [[ -d $R ]] && ! grep -qF " $R/" /proc/mounts; then
		rm -rf "$R"
	fi
}
trap cleanup EXIT

# mirror: the Debian mirror this machine's apt uses.
mirror() {
	local uri
	uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
		grep -v security | head -n 1 || true)
	if [[ -z $uri ]]; then
		uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n 1 || true)
	fi
	printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# rootfs: the cached minimal Debian 12 root as a tarball, made once.
rootfs() {
	local tar=$CACHE/rootfs.tar tmp=$CACHE/rootfs.tmp
	[[ -s $tar ]] && return 0
	mkdir -p "$CACHE"
	rm -rf "$tmp"
	printf '# debootstrap --variant=minbase bookworm from %s\n' "$(mirror)"
	debootstrap --variant=minbase bookworm "$tmp" "$(mirror)" >"$WS_WORK/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$WS_WORK/debootstrap.log"; return 1; }
	tar -C "$tmp" -cf "$tar.part" .
	mv "$tar.part" "$tar"
	rm -rf "$tmp"
}

# bind SRC DEST: a bind mount undone by cleanup.
bind() {
	mkdir -p "$2"
	mount --bind "$1" "$2"
	MOUNTS+=("$2")
}

# prepare_root: the fresh machine: root, DNS, apt cache, /proc and /dev, no
# service starts by package scripts (as in any chroot), and the checkout.
prepare_root() {
	mkdir -p "$R"
	tar -C "$R" -xf "$CACHE/rootfs.tar"
	# This machine's network, as the fresh machine would have its own: DNS, and
	# any local CA (a TLS-inspecting egress proxy) for npm's registry.
	cp /etc/resolv.conf "$R/etc/resolv.conf"
	# What an installed system has and debootstrap leaves out.
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
	if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
		mkdir -p "$R/usr/local/share/ca-certificates"
		cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
	fi
	printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
	chmod 755 "$R/usr/sbin/policy-rc.d"
	mkdir -p "$CACHE/apt-archives/partial" "$CACHE/npm-cache"
	bind "$CACHE/apt-archives" "$R/var/cache/apt/archives"
	bind "$CACHE/npm-cache" "$R/root/.npm"
	mount -t proc proc "$R/proc"
	MOUNTS+=("$R/proc")
	mkdir -p "$R/dev"
	mount --rbind /dev "$R/dev"
	mount --make-rslave "$R/dev"
	MOUNTS+=("$R/dev")
	# The checkout as a clone of it would be: tracked and new files, no
	# build products, no node_modules.
	mkdir -p "$R/opt/web-shell"
	if git -C "$WS_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$WS_ROOT" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
			tar --null -T - -cf -) | tar -C "$R/opt/web-shell" -xf -
	else
		tar -C "$WS_ROOT" --exclude=./build --exclude=./node_modules --exclude=./examples/web-shell/vendor \
			-cf - . | tar -C "$R/opt/web-shell" -xf -
	fi
	openssl genpkey -algorithm ed25519 -out "$WS_WORK/owner.pem" 2>/dev/null
	openssl pkey -in "$WS_WORK/owner.pem" -pubout -out "$R/root/owner.pub"
}

# in_root CMD...: CMD inside the root with a clean, login-like environment.
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

# snapshot: everything web-shell.sh installs, with contents and times.
snapshot() {
	(cd "$R" && find etc/web-shell etc/caddy etc/systemd/system usr/local/bin usr/share/web-shell \
		-printf '%p %m %u %T@\n' 2>/dev/null | sort && cat etc/caddy/Caddyfile etc/systemd/system/*.service) | md5sum
}

# unit_get FILE KEY: the last value of KEY= in a unit file, prefixes (-@+!:) dropped.
unit_get() {
	sed -n "s/^$2=[-@+!:]*//p" "$1" | tail -n 1
}

# start_unit NAME FILE: runs the unit's ExecStart as its User/Group (with the
# user's supplementary groups, and its AmbientCapabilities), inside the root
# and the private network, after making its RuntimeDirectory as systemd would;
# DynamicUser gets nobody (a transient uid of its own under systemd).
start_unit() {
	local name=$1 file=$2 user group exec home shell rundir caps
	user=$(unit_get "$file" User)
	group=$(unit_get "$file" Group)
	if [[ $(unit_get "$file" DynamicUser) == yes ]]; then
		user=nobody
		group=nogroup
	fi
	[[ -n $user ]] || user=root
	[[ -n $group ]] || group=$(chroot "$R" id -gn "$user")
	home=$(chroot "$R" getent passwd "$user" | cut -d: -f6)
	shell=$(chroot "$R" getent passwd "$user" | cut -d: -f7)
	exec=$(unit_get "$file" ExecStart)
	for rundir in $(unit_get "$file" RuntimeDirectory); do
		mkdir -p "$R/run/$rundir"
		chmod "$(unit_get "$file" RuntimeDirectoryMode)" "$R/run/$rundir"
		chroot "$R" chown "$user:$group" "/run/$rundir"
	done
	# "CAP_SETUID CAP_SETGID" -> +setuid,+setgid, as setpriv names them.
	caps=$(unit_get "$file" AmbientCapabilities | tr '[:upper:]' '[:lower:]' | sed -e 's/cap_/+/g' -e 's/ /,/g')
	local -a cmd as=(--reuid="$user" --regid="$group" --init-groups)
	[[ -z $caps ]] || as+=(--inh-caps="$caps" --ambient-caps="$caps")
	read -r -a cmd <<<"$exec"
	printf '# %s: as %s:%s%s: %s\n' "$name" "$user" "$group" "${caps:+ with $caps}" "$exec"
	nsenter --net="/proc/$NETNS_PID/ns/net" chroot "$R" setpriv "${as[@]}" \
		/usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$user" LOGNAME="$user" \
		SHELL="$shell" LANG=C.UTF-8 "${cmd[@]}" >"$WS_WORK/$name.log" 2>&1 &
	SERVICE_PIDS+=("$!")
}

# in_net CMD...: CMD on the host, inside the services' private network.
in_net() {
	nsenter --net="/proc/$NETNS_PID/ns/net" "$@"
}

wait_port_net() {
	local deadline=$((SECONDS + $2))
	while ((SECONDS < deadline)); do
		if in_net bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	return 1
}

# test_ptyd_reach SOCKET: issue 9 s1: ptyd runs as its own account, and only
# Caddy's user (in ptyd's group) and root may connect to its socket.
test_ptyd_reach() {
	local sock=$1 ptyd_pid uid shell_ids got
	# nsenter, chroot, setpriv and env exec one another: the job's pid is ptyd's.
	ptyd_pid=${SERVICE_PIDS[1]}
	uid=$(chroot "$R" id -u webshell-ptyd 2>/dev/null || true)
	if [[ -n $ptyd_pid && -n $uid && $(stat -c %u "/proc/$ptyd_pid") == "$uid" ]]; then
		tap_ok "ptyd runs as its own account webshell-ptyd (uid $uid), not the shell user"
	else
		tap_fail "ptyd runs as its own account webshell-ptyd" "pid ${ptyd_pid:-none}, uid ${uid:-none}" \
			"$(ps -o user,pid,args -p "${ptyd_pid:-1}")"
	fi
	tap_is "its socket directory: mode 750, group webshell-ptyd" \
		"$(stat -c %a "$(dirname "$sock")")/$(chroot "$R" stat -c %G /run/web-shell-ptyd)" "750/webshell-ptyd"
	got=$(connect_as 65534 65534 "$sock")
	tap_is "a client of another uid (nobody) cannot connect to ptyd" "$got" PermissionError
	shell_ids=$(chroot "$R" id -u "$SHELL_USER"):$(chroot "$R" id -g "$SHELL_USER")
	got=$(connect_as "${shell_ids%:*}" "${shell_ids#*:}" "$sock")
	tap_is "the shell user cannot connect to ptyd either" "$got" PermissionError
	got=$(setpriv --reuid="$(chroot "$R" id -u caddy)" --regid="$(chroot "$R" id -g caddy)" \
		--groups="$(chroot "$R" getent group webshell-ptyd | cut -d: -f3)" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("connected")' "$sock" 2>&1)
	tap_is "Caddy's user, in group webshell-ptyd, can" "$got" connected
}

test_services() {
	local port=$1 ca
	unshare --net bash -c 'ip link set lo up && exec sleep 3600' &
	NETNS_PID=$!
	sleep 0.3
	local units=$R/etc/systemd/system
	local pre
	pre=$(unit_get "$units/jwt-verify.service" ExecStartPre)
	local -a precmd
	read -r -a precmd <<<"$pre"
	tap_check "jwt-verify.service ExecStartPre (--check) accepts the installed key" \
		chroot --userspec=nobody:nogroup "$R" "${precmd[@]}"
	start_unit jwt-verify "$units/jwt-verify.service"
	start_unit ptyd "$units/ptyd.service"
	start_unit caddy "$R/lib/systemd/system/caddy.service"
	local svc p ok=1 sock=$R/run/web-shell-ptyd/ptyd.sock
	for svc in jwt-verify:9222 caddy:$port; do
		p=${svc#*:}
		if ! wait_port_net "$p" 30; then
			ok=0
			tap_fail "${svc%%:*} answers on 127.0.0.1:$p" "$(tail -n 20 "$WS_WORK/${svc%%:*}.log")"
		fi
	done
	if ! wait_socket "$sock" 30; then
		ok=0
		tap_fail "ptyd answers on unix:/run/web-shell-ptyd/ptyd.sock" "$(tail -n 20 "$WS_WORK/ptyd.log")"
	fi
	[[ $ok == 1 ]] || return 0
	tap_ok "jwt-verify, ptyd and caddy started as their units say, all answering"
	test_ptyd_reach "$sock"

	ca=$R/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt
	local deadline=$((SECONDS + 20))
	while [[ ! -s $ca ]] && ((SECONDS < deadline)); do sleep 0.2; done
	local -a curl_args=(curl -sS --cacert "$ca" --resolve "$FQDN:$port:127.0.0.1" --max-time 15)
	local code
	code=$(in_net "${curl_args[@]}" -o "$WS_WORK/index.html" -w '%{http_code}' "https://$FQDN:$port/" || true)
	if [[ $code == 200 ]] && grep -qi '<html' "$WS_WORK/index.html"; then
		tap_ok "the app is served over HTTPS by Caddy's own CA"
	else
		tap_fail "the app is served over HTTPS by Caddy's own CA" "HTTP $code" "$(tail -n 5 "$WS_WORK/caddy.log")"
	fi

	local token out rc=0
	token=$(/usr/bin/python3 "$WS_ROOT/tests/lib/mint_jwt.py" --key "$WS_WORK/owner.pem" --aud "$FQDN" --jti "$(</proc/sys/kernel/random/uuid)")
	# shellcheck disable=SC2016 # expanded by the remote shell
	out=$(in_net /usr/bin/python3 "$WS_ROOT/tests/provision/ttyd_client.py" --url "wss://$FQDN:$port/ws?token=$token" \
		--origin "https://$FQDN:$port" --connect "127.0.0.1:$port" --cafile "$ca" 'echo "I am $(id -un)"' 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *"I am $SHELL_USER"* ]]; then
		tap_ok "a token from the owner's key gets a working shell as $SHELL_USER"
	else
		tap_fail "a token from the owner's key gets a working shell as $SHELL_USER" "exit $rc" "$out" \
			"$(tail -n 5 "$WS_WORK/ptyd.log" "$WS_WORK/jwt-verify.log")"
	fi
	# The operator's view (issue 10): ptyd --list asks the unit's admin socket by default;
	# root may, the shell user may not.
	rc=0
	out=$(chroot "$R" /usr/local/bin/ptyd --list 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *ID* && $out == *STATE* ]]; then
		tap_ok "root on the machine lists sessions with ptyd --list"
	else
		tap_fail "root on the machine lists sessions with ptyd --list" "exit $rc" "$out"
	fi
	rc=0
	out=$(chroot "$R" setpriv --reuid="$SHELL_USER" --regid="$SHELL_USER" --init-groups \
		/usr/local/bin/ptyd --list 2>&1) || rc=$?
	if [[ $rc -ne 0 && $out == *"Permission denied"* ]]; then
		tap_ok "the shell user cannot use the admin socket (${out:0:80})"
	else
		tap_fail "the shell user cannot use the admin socket" "exit $rc" "$out"
	fi
	local other
	other=$(/usr/bin/python3 "$WS_ROOT/tests/lib/mint_jwt.py" --key "$WS_WORK/owner.pem" --aud other.example --jti "$(</proc/sys/kernel/random/uuid)")
	code=$(in_net "${curl_args[@]}" -o "$WS_WORK/401.txt" -w '%{http_code}' "https://$FQDN:$port/ws?token=$other" || true)
	if [[ $code == 401 && $(cat "$WS_WORK/401.txt") == *aud* ]]; then
		tap_ok "a token for another audience: 401 with its reason ($(head -c 80 "$WS_WORK/401.txt"))"
	else
		tap_fail "a token for another audience: 401 with its reason" "HTTP $code" "$(cat "$WS_WORK/401.txt")"
	fi
	local where
	where=$(grep -rlF -e "$token" -e "$other" "$WS_WORK"/*.log "$R/var/log" "$R/var/lib/caddy" 2>/dev/null || true)
	if [[ -z $where ]]; then
		tap_ok "neither token appears in any log"
	else
		tap_fail "neither token appears in any log" "$where"
	fi
}

# A key openssl parses but jwt-verify refuses: exit 2, nothing changed.
test_weak_key() {
	local before after out rc=0
	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 2>/dev/null |
		openssl pkey -pubout -out "$R/root/weak.pub"
	before=$(snapshot)
	out=$(in_root bash /opt/web-shell/scripts/web-shell.sh --fqdn "$FQDN" --jwt-public-key-file /root/weak.pub \
		--tls internal --no-start 2>&1) || rc=$?
	after=$(snapshot)
	if [[ $rc -eq 2 && $out == *"jwt-verify --check rejects /root/weak.pub"*"2048"* && $before == "$after" ]]; then
		tap_ok "a key jwt-verify refuses (RSA 1024): exit 2 with its reason, nothing changed"
	else
		tap_fail "a key jwt-verify refuses (RSA 1024): exit 2 with its reason, nothing changed" "exit $rc" "$out"
	fi
}

# shell_as_token KEY PORT: "I am <user>" through Caddy with a token signed by KEY.
shell_as_token() {
	local token ca=$R/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt
	token=$(/usr/bin/python3 "$WS_ROOT/tests/lib/mint_jwt.py" --key "$1" --aud "$FQDN" --jti "$(</proc/sys/kernel/random/uuid)")
	# shellcheck disable=SC2016 # expanded by the remote shell
	in_net /usr/bin/python3 "$WS_ROOT/tests/provision/ttyd_client.py" --url "wss://$FQDN:$2/ws?token=$token" \
		--origin "https://$FQDN:$2" --connect "127.0.0.1:$2" --cafile "$ca" 'echo "I am $(id -un)"' 2>&1
}

# A new key: one change, installed; the running verifier picks it up on the
# unit's ExecReload (SIGHUP), without a restart.
test_key_change() {
	local port=$1 out rc=0
	shift
	openssl genpkey -algorithm ed25519 -out "$WS_WORK/new.pem" 2>/dev/null
	openssl pkey -in "$WS_WORK/new.pem" -pubout -out "$R/root/owner.pub"
	out=$(in_root bash /opt/web-shell/scripts/web-shell.sh "$@" 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *"write /etc/web-shell/public.pem"* && $out == *"done: 1 change(s)"* ]]; then
		tap_ok "a changed key: installed, and it is the only change"
	else
		tap_fail "a changed key: installed, and it is the only change" "exit $rc" "$out"
	fi
	local reload verifier=${SERVICE_PIDS[0]}
	reload=$(unit_get "$R/etc/systemd/system/jwt-verify.service" ExecReload)
	# shellcheck disable=SC2016 # the unit's literal text
	tap_is "jwt-verify.service reloads with SIGHUP" "$reload" 'kill -HUP $MAINPID'
	kill -HUP "$verifier"
	sleep 0.5
	rc=0
	out=$(shell_as_token "$WS_WORK/new.pem" "$port") || rc=$?
	if [[ $rc -eq 0 && $out == *"I am $SHELL_USER"* ]] && kill -0 "$verifier" 2>/dev/null; then
		tap_ok "after SIGHUP the new key gets a shell, same verifier process"
	else
		tap_fail "after SIGHUP the new key gets a shell, same verifier process" "exit $rc" "$out" \
			"$(tail -n 5 "$WS_WORK/jwt-verify.log")"
	fi
	rc=0
	out=$(shell_as_token "$WS_WORK/owner.pem" "$port") || rc=$?
	if [[ $rc -eq 3 && $out == *"HTTP 401"* ]]; then
		tap_ok "after SIGHUP the old key is refused (401)"
	else
		tap_fail "after SIGHUP the old key is refused (401)" "exit $rc" "$out"
	fi
}

# -f rebuilds and reinstalls even though everything is installed.
test_force() {
	local out rc=0 before
	before=$(stat -c %Y "$R/usr/local/bin/ptyd")
	sleep 1
	out=$(in_root bash /opt/web-shell/scripts/web-shell.sh "$@" -f 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *"build from /opt/web-shell"* && $out == *"done: 1 change(s)"* &&
		$(stat -c %Y "$R/usr/local/bin/ptyd") -gt $before ]]; then
		tap_ok "-f rebuilds and reinstalls the services"
	else
		tap_fail "-f rebuilds and reinstalls the services" "exit $rc" "$(tail -n 15 <<<"$out")"
	fi
}

main() {
	if [[ $(id -u) -ne 0 ]]; then
		tap_skip "fresh Debian 12 machine" "needs root (debootstrap, chroot, mounts); CI runs as root"
		return 0
	fi
	local b
	for b in jwt-verify ptyd; do
		if [[ ! -f $WS_ROOT/services/$b/main.c ]]; then
			tap_skip "fresh Debian 12 machine" "services/$b has no sources yet"
			return 0
		fi
	done
	local t0=$SECONDS
	# One run at a time: the cache and its apt lock are shared.
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
	if ! rootfs; then
		tap_fail "debootstrap a minimal Debian 12 root"
		return 0
	fi
	tap_ok "minimal Debian 12 root (cached: build/provision/rootfs.tar)"
	prepare_root

	local port out rc=0
	port=$(free_port)
	local -a args=(--fqdn "$FQDN" --jwt-public-key-file /root/owner.pub --tls internal
		--https-port "$port" --bind 127.0.0.1 --no-start)
	local t1=$SECONDS
	in_root bash /opt/web-shell/scripts/web-shell.sh "${args[@]}" >"$WS_WORK/run1.log" 2>&1 || rc=$?
	printf '# first run: %ss\n' "$((SECONDS - t1))"
	if [[ $rc -ne 0 ]]; then
		tap_fail "web-shell.sh provisions the fresh root" "exit $rc" "$(tail -n 30 "$WS_WORK/run1.log")"
		return 0
	fi
	tap_ok "web-shell.sh provisions the fresh root (installs its own build deps and caddy)"
	local missing=() f
	for f in usr/local/bin/jwt-verify usr/local/bin/ptyd etc/web-shell/public.pem etc/caddy/Caddyfile \
		etc/systemd/system/jwt-verify.service etc/systemd/system/ptyd.service usr/share/web-shell/www/index.html \
		lib/systemd/system/caddy.service; do
		[[ -e $R/$f ]] || missing+=("$f")
	done
	if [[ ${#missing[@]} -eq 0 ]] && chroot "$R" id "$SHELL_USER" >/dev/null 2>&1; then
		tap_ok "installed: services, key, Caddyfile, units, app, shell user"
	else
		tap_fail "installed: services, key, Caddyfile, units, app, shell user" "missing: ${missing[*]}"
	fi
	if chroot "$R" id -nG "$SHELL_USER" | grep -qwE 'sudo|root|adm'; then
		tap_fail "the shell user has no administrative group" "$(chroot "$R" id "$SHELL_USER")"
	else
		tap_ok "the shell user has no administrative group"
	fi

	test_services "$port"

	local before after
	before=$(snapshot)
	rc=0
	out=$(in_root bash /opt/web-shell/scripts/web-shell.sh "${args[@]}" 2>&1) || rc=$?
	after=$(snapshot)
	if [[ $rc -eq 0 && $out == *"nothing to change"* && $before == "$after" ]]; then
		tap_ok "a second run changes nothing and says so"
	else
		tap_fail "a second run changes nothing and says so" "exit $rc" "$out"
	fi
	test_weak_key
	test_key_change "$port" "${args[@]}"
	test_force "${args[@]}"
	printf '# whole suite: %ss\n' "$((SECONDS - t0))"
}

main
tap_done
