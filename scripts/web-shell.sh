#!/usr/bin/env bash
# Usage: web-shell.sh --fqdn DOMAIN --jwt-public-key-file PATH [options]
# Summary: turns a Debian 12 or Ubuntu 22.04/24.04 machine into a browser-reachable
# shell: Caddy (TLS, forward_auth) -> jwt-verify and ptyd on loopback, a shell
# user, hardened units. Idempotent: a second run with the same arguments
# changes nothing and says so.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=web-shell.sh
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=scripts/lib/caddyfile.sh
source "$HERE/lib/caddyfile.sh"

# Where things go; fixed so that the units and the docs can name them.
readonly PREFIX=/usr/local
readonly BINDIR=$PREFIX/bin
readonly WWWDIR=/usr/share/web-shell/www
readonly CONFDIR=/etc/web-shell
readonly KEY_DEST=$CONFDIR/public.pem
readonly UNITDIR=/etc/systemd/system
readonly CADDYFILE=/etc/caddy/Caddyfile
# The first line of every Caddyfile this script writes: how it knows its own.
readonly CADDY_MARK="# Written by web-shell.sh; edit its arguments, not this file."
readonly VERIFIER_ADDR=127.0.0.1:9222
# ptyd: its own system account, on a unix socket in a directory only that
# account and its group (Caddy's user is added to it) can enter.
readonly PTYD_USER=webshell-ptyd
readonly PTYD_SOCKET_DIR=/run/web-shell-ptyd
readonly PTYD_SOCKET=$PTYD_SOCKET_DIR/ptyd.sock
readonly PTYD_ADDR=unix/$PTYD_SOCKET
# ptyd's admin interface (ptyd --list / --end): root, ptyd's account and the
# --admin-group only; a directory of its own, since Caddy may enter ptyd's.
readonly ADMIN_SOCKET=/run/web-shell-admin/admin.sock
# Recordings (--record): ptyd makes RECORD_DIR 0700, or 0750 in the admin group,
# inside its state directory (0711: entered, never listed, by anyone else).
readonly RECORD_DIR=/var/lib/web-shell-ptyd/recordings
# Groups an --admin-group may not be: ptyd joins it, so it must grant nothing.
readonly PRIVILEGED_GROUPS=(root sudo wheel admin adm shadow disk kmem docker lxd libvirt
	systemd-journal staff tty caddy webshell-ptyd)
# What building and serving needs, from the distribution (libwebsockets-dev brings
# libwebsockets-evlib-uv, the libuv glue ptyd runs on).
readonly BUILD_PACKAGES=(build-essential pkg-config libwebsockets-dev libuv1-dev libcjson-dev libssl-dev
	libsodium-dev)
readonly RUNTIME_PACKAGES=(caddy ca-certificates)

usage() {
	cat <<'USAGE'
Usage: web-shell.sh --fqdn DOMAIN --jwt-public-key-file PATH [--shell-user NAME] [-f]
                    [--tls acme|internal] [--email ADDR] [--https-port PORT]
                    [--bind ADDR] [--allow-origin ORIGIN]... [--no-single-use]
                    [--idle-timeout SECONDS] [--max-session SECONDS]
                    [--max-clients N] [--admin-group GROUP] [--record]
                    [--record-input] [--record-max-dir BYTES] [--metrics PORT]
                    [--source DIR] [--no-start] [--no-app]
                    [--dry-run] [--print FILE] [--help]

Provisions this machine (Debian 12, Ubuntu 22.04 or 24.04) as a web-shell
host: Caddy on HTTPS in front of jwt-verify (127.0.0.1:9222) and ptyd (a
unix socket only Caddy may reach; ptyd runs as its own account and starts
shells as the shell user), both built from source, run by hardened units.

  --fqdn DOMAIN                the host name browsers connect to; also the
                               JWT audience (required)
  --jwt-public-key-file PATH   PEM public key whose private half signs the
                               tokens; installed as /etc/web-shell/public.pem
                               (required)
  --shell-user NAME            the user shells run as (default: webshell);
                               created if missing, with no password, no sudo
  -f                           rebuild and reinstall the services even when
                               they are installed
  --tls acme|internal          acme (default): a Let's Encrypt certificate
                               (needs DNS and ports 80+443); internal: Caddy's
                               own CA, for private networks and tests
  --email ADDR                 ACME account e-mail (only with --tls acme)
  --https-port PORT            HTTPS port (default: 443); another port also
                               turns off the HTTP->HTTPS redirect server
  --bind ADDR                  listen on this address only (default: all)
  --allow-origin ORIGIN        also accept terminals opened by a page from
                               ORIGIN (https://app.example.com[:PORT]);
                               repeatable; https://DOMAIN is always allowed
  --no-single-use              accept a token more than once until it expires
                               (default: each token opens one connection)
  --idle-timeout SECONDS       end a session after SECONDS without typed input
                               (default 1800; 0: never)
  --max-session SECONDS        end a session after SECONDS (default 43200,
                               12 hours; 0: no limit)
  --max-clients N              at most N sessions at once (default 32)
  --admin-group GROUP          members may list and end sessions (ptyd --list,
                               ptyd --end ID) and read recordings; created if
                               missing (default: root only)
  --record                     record every session (asciicast v2) into
                               /var/lib/web-shell-ptyd/recordings
  --record-input               also record typed input (passwords included)
  --record-max-dir BYTES       remove the oldest recordings beyond BYTES
                               (K, M, G suffixes; default 1G)
  --metrics PORT               Prometheus metrics on 127.0.0.1 only:
                               jwt-verify on PORT, ptyd on PORT+1
  --source DIR                 the checkout to build from (default: the one
                               this script lives in)
  --no-start                   install and enable everything, start nothing
                               (images, containers, CI)
  --no-app                     do not serve the example app at https://DOMAIN/
  --dry-run                    print every change it would make, change nothing
  --print FILE                 print the generated Caddyfile, jwt-verify.service
                               or ptyd.service for these arguments and exit
  --help                       show this help

Every argument is checked before anything changes; a bad one is one message
and exit status 2. DEBUG=1 traces every command.
USAGE
}

# Options, filled by parse_args.
FQDN=""
KEY_FILE=""
SHELL_USER=webshell
FORCE=0
TLS=acme
EMAIL=""
HTTPS_PORT=443
BIND=""
ORIGINS=()
SINGLE_USE=1
IDLE_TIMEOUT=1800
MAX_SESSION=43200
MAX_CLIENTS=32
ADMIN_GROUP=""
RECORD=0
RECORD_INPUT=0
RECORD_MAX_DIR=1G
METRICS_PORT=""
SOURCE=""
NO_START=0
NO_APP=0
PRINT=""
# "ID VERSION_ID" from /etc/os-release, set by check_system.
OS=""

parse_args() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		--fqdn) need_value "$1" $#; FQDN=$2; shift ;;
		--jwt-public-key-file) need_value "$1" $#; KEY_FILE=$2; shift ;;
		--shell-user) need_value "$1" $#; SHELL_USER=$2; shift ;;
		-f | --force) FORCE=1 ;;
		--tls) need_value "$1" $#; TLS=$2; shift ;;
		--email) need_value "$1" $#; EMAIL=$2; shift ;;
		--https-port) need_value "$1" $#; HTTPS_PORT=$2; shift ;;
		--bind) need_value "$1" $#; BIND=$2; shift ;;
		--allow-origin) need_value "$1" $#; ORIGINS+=("$2"); shift ;;
		--single-use) SINGLE_USE=1 ;;
		--no-single-use) SINGLE_USE=0 ;;
		--idle-timeout) need_value "$1" $#; IDLE_TIMEOUT=$2; shift ;;
		--max-session) need_value "$1" $#; MAX_SESSION=$2; shift ;;
		--max-clients) need_value "$1" $#; MAX_CLIENTS=$2; shift ;;
		--admin-group) need_value "$1" $#; ADMIN_GROUP=$2; shift ;;
		--record) RECORD=1 ;;
		--record-input) RECORD_INPUT=1 ;;
		--record-max-dir) need_value "$1" $#; RECORD_MAX_DIR=$2; shift ;;
		--metrics) need_value "$1" $#; METRICS_PORT=$2; shift ;;
		--source) need_value "$1" $#; SOURCE=$2; shift ;;
		--no-start) NO_START=1 ;;
		--no-app) NO_APP=1 ;;
		--dry-run) DRY_RUN=1 ;;
		--print) need_value "$1" $#; PRINT=$2; shift ;;
		-h | --help) usage; exit 0 ;;
		*) usage_error "unknown argument: $1" ;;
		esac
		shift
	done
}

# valid_hostname NAME: RFC 1123 labels, at least two of them, 253 bytes at most.
valid_hostname() {
	local label='[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
	[[ ${#1} -le 253 && $1 =~ ^($label\.)+$label$ && ! $1 =~ ^[0-9.]+$ ]]
}

# valid_ipv4 ADDR: four decimal octets 0-255, no leading zeros.
valid_ipv4() {
	local octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
	[[ $1 =~ ^$octet\.$octet\.$octet\.$octet$ ]]
}

# valid_ipv6 ADDR: eight groups of 1-4 hex digits, or fewer with one "::"
# (an IPv4 tail counts as two groups).
valid_ipv6() {
	local a=$1 groups=0 g
	local -a parts
	[[ $a == *:* && $a =~ ^[0-9a-fA-F:.]+$ ]] || return 1
	if [[ $a =~ :([0-9]+\.[0-9.]+)$ ]]; then
		local tail=${BASH_REMATCH[1]}
		valid_ipv4 "$tail" || return 1
		a="${a%"$tail"}0:0"
	fi
	[[ $a != *:::* ]] || return 1
	local rest=${a/::/}
	[[ $rest == "${rest/::/}" ]] || return 1 # at most one "::"
	if [[ $a == *::* ]]; then
		[[ $a != :[!:]* && $a != *[!:]: ]] || return 1
	else
		[[ $a != :* && $a != *: ]] || return 1
	fi
	IFS=: read -ra parts <<<"$a"
	for g in "${parts[@]}"; do
		[[ -z $g ]] && continue
		[[ $g =~ ^[0-9a-fA-F]{1,4}$ ]] || return 1
		groups=$((groups + 1))
	done
	if [[ $a == *::* ]]; then ((groups < 8)); else ((groups == 8)); fi
}

# valid_origin ORIGIN: a web origin as browsers send it: scheme, host, optional port.
valid_origin() {
	local o=$1 host port
	[[ $o =~ ^https?://([^/:]+)(:([0-9]+))?$ ]] || return 1
	host=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]}
	[[ -z $port ]] || valid_port "$port" || return 1
	valid_hostname "$host" || valid_ipv4 "$host" || [[ $host == localhost ]]
}

# valid_port N: 1-65535 written in decimal without leading zeros (bash would
# read 0443 as octal, and browsers send 443).
valid_port() {
	[[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && (($1 <= 65535))
}

# valid_count N MAX: a plain decimal number from 0 to MAX.
valid_count() {
	[[ $1 =~ ^(0|[1-9][0-9]{0,6})$ ]] && (($1 <= $2))
}

# uid_min: the first uid of ordinary accounts (/etc/login.defs, default 1000).
uid_min() {
	local v
	v=$(awk '$1 == "UID_MIN" { print $2 }' /etc/login.defs 2>/dev/null | tail -n 1)
	[[ $v =~ ^[0-9]+$ ]] || v=1000
	printf '%s\n' "$v"
}

# check_shell_user: a new account, or an ordinary one; never an existing
# system account (caddy, www-data, nobody, ...: shells would hold its files and
# rights; the only system account web-shell makes is ptyd's own).
check_shell_user() {
	local entry uid
	[[ $SHELL_USER != "$PTYD_USER" ]] ||
		usage_error "--shell-user: $PTYD_USER is ptyd's own account; shells must run as another"
	entry=$(getent passwd "$SHELL_USER" || true)
	[[ -n $entry ]] || return 0
	uid=$(cut -d: -f3 <<<"$entry")
	if [[ $uid -lt $(uid_min) || $uid -eq 65534 ]]; then
		usage_error "--shell-user: $SHELL_USER is an existing system account (uid $uid); shells would get its files and rights: name a new or an ordinary account"
	fi
}

# check_admin_group: a group name that grants nothing but our admin socket.
check_admin_group() {
	[[ -n $ADMIN_GROUP ]] || return 0
	[[ $ADMIN_GROUP =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] ||
		usage_error "--admin-group: not a valid group name: '$ADMIN_GROUP'"
	local g
	for g in "${PRIVILEGED_GROUPS[@]}" "$SHELL_USER"; do
		[[ $ADMIN_GROUP != "$g" ]] ||
			usage_error "--admin-group: $ADMIN_GROUP grants other rights and ptyd would join it: name a group of its own (e.g. web-shell-admin)"
	done
}

# rsa_exponent_ok PATH: not an RSA key, or one whose public exponent is odd
# and at least 65537 (e=1 makes every signature valid; small ones are weak).
rsa_exponent_ok() {
	local text line hex
	command -v openssl >/dev/null || return 0
	text=$(openssl pkey -pubin -in "$1" -noout -text 2>/dev/null) || return 0
	[[ $text == *"Public-Key:"* && $text == *"Modulus:"* ]] || return 0
	line=$(grep -m1 '^Exponent:' <<<"$text" || true)
	if [[ $line =~ ^Exponent:\ ([0-9]+)\  ]]; then
		local e=${BASH_REMATCH[1]}
		((${#e} > 18 || (e >= 65537 && e % 2 == 1)))
		return
	fi
	# A large exponent is printed as hex bytes on the lines after "Exponent:".
	hex=$(sed -n '/^Exponent:/,$p' <<<"$text" | tail -n +2 | tr -d ' :\n')
	[[ $hex =~ [13579bdfBDF]$ ]]
}

# check_key_file PATH: a readable, small PEM public key (not a private one).
# The full check (jwt-verify --check) runs once the verifier is built.
check_key_file() {
	local f=$1
	[[ $f != -* ]] || usage_error "--jwt-public-key-file: a path starting with '-' ($f); write ./$f"
	[[ -e $f ]] || usage_error "--jwt-public-key-file: no such file: $f"
	[[ -f $f ]] || usage_error "--jwt-public-key-file: not a regular file: $f"
	[[ -r $f ]] || usage_error "--jwt-public-key-file: cannot read $f"
	[[ $(stat -c %s -- "$f") -le 16384 ]] || usage_error "--jwt-public-key-file: $f is too large for a public key"
	if grep -q -e 'PRIVATE KEY-----' -- "$f"; then
		usage_error "--jwt-public-key-file: $f holds a PRIVATE key; give its public key (openssl pkey -in KEY -pubout)"
	fi
	if ! grep -q -e '^-----BEGIN PUBLIC KEY-----' -- "$f" || ! grep -q -e '^-----END PUBLIC KEY-----' -- "$f"; then
		usage_error "--jwt-public-key-file: $f is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
	fi
	if command -v openssl >/dev/null && ! openssl pkey -pubin -in "$f" -noout 2>/dev/null; then
		usage_error "--jwt-public-key-file: $f: openssl cannot parse this public key"
	fi
	rsa_exponent_ok "$f" ||
		usage_error "--jwt-public-key-file: $f: an RSA public exponent below 65537 or even is refused (e=1 lets anyone forge tokens); make a new key"
}

# validate_args: every argument, before anything changes (exit 2 on a bad one).
validate_args() {
	[[ -n $FQDN ]] || usage_error "--fqdn is required"
	[[ -n $KEY_FILE ]] || usage_error "--jwt-public-key-file is required"
	FQDN=${FQDN,,}
	valid_hostname "$FQDN" || usage_error "--fqdn: not a host name: '$FQDN'"
	[[ $SHELL_USER =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || usage_error "--shell-user: not a valid user name: '$SHELL_USER'"
	[[ $SHELL_USER != root ]] || usage_error "--shell-user: refusing root; shells must run unprivileged"
	check_shell_user
	[[ $TLS == acme || $TLS == internal ]] || usage_error "--tls: must be acme or internal, not '$TLS'"
	if [[ -n $EMAIL ]]; then
		[[ $TLS == acme ]] || usage_error "--email only applies to --tls acme"
		# Only what an address needs: the value goes into the Caddyfile as is.
		[[ $EMAIL =~ ^[A-Za-z0-9._%+-]+@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$ ]] ||
			usage_error "--email: not an e-mail address (letters, digits, . _ % + - before the @): '$EMAIL'"
	fi
	valid_port "$HTTPS_PORT" ||
		usage_error "--https-port: not a port number (1-65535, no leading zero): '$HTTPS_PORT'"
	if [[ -n $BIND ]]; then
		valid_ipv4 "$BIND" || valid_ipv6 "$BIND" ||
			usage_error "--bind: not an IP address: '$BIND'"
	fi
	local origin
	for origin in "${ORIGINS[@]}"; do
		valid_origin "$origin" ||
			usage_error "--allow-origin: not an origin (https://HOST[:PORT], no path): '$origin'"
	done
	valid_count "$IDLE_TIMEOUT" 2592000 ||
		usage_error "--idle-timeout: not a number of seconds (0-2592000): '$IDLE_TIMEOUT'"
	valid_count "$MAX_SESSION" 2592000 ||
		usage_error "--max-session: not a number of seconds (0-2592000): '$MAX_SESSION'"
	if [[ $MAX_CLIENTS == 0 ]] || ! valid_count "$MAX_CLIENTS" 100000; then
		usage_error "--max-clients: not a number of sessions (1-100000): '$MAX_CLIENTS'"
	fi
	check_admin_group
	[[ $RECORD_MAX_DIR =~ ^[1-9][0-9]{0,12}[KMG]?$ ]] ||
		usage_error "--record-max-dir: not a size (a number of bytes with an optional K, M or G): '$RECORD_MAX_DIR'"
	# ptyd refuses less than 1M at start: a unit that could not start is refused here.
	local size=${RECORD_MAX_DIR%[KMG]} unit=${RECORD_MAX_DIR##*[0-9]}
	case $unit in K) size=$((size << 10)) ;; M) size=$((size << 20)) ;; G) size=$((size << 30)) ;; esac
	((size >= 1 << 20)) || usage_error "--record-max-dir: at least 1M, not '$RECORD_MAX_DIR'"
	[[ $RECORD == 1 || $RECORD_INPUT == 0 ]] || usage_error "--record-input needs --record"
	if [[ -n $METRICS_PORT ]]; then
		if ! valid_port "$METRICS_PORT" || ((METRICS_PORT == 65535)); then
			usage_error "--metrics: not a port number (1-65534; ptyd takes the next one): '$METRICS_PORT'"
		fi
		((METRICS_PORT != 9222 && METRICS_PORT + 1 != 9222)) ||
			usage_error "--metrics: port 9222 is jwt-verify's own"
	fi
	case $PRINT in
	"" | Caddyfile | jwt-verify.service | ptyd.service) ;;
	*) usage_error "--print: one of Caddyfile, jwt-verify.service, ptyd.service, not '$PRINT'" ;;
	esac
	SOURCE=${SOURCE:-$(dirname "$HERE")}
	[[ -f $SOURCE/Makefile && -d $SOURCE/services ]] ||
		usage_error "--source: $SOURCE is not a web-shell checkout (no Makefile and services/)"
	SOURCE=$(cd "$SOURCE" && pwd)
	check_key_file "$KEY_FILE"
}

# check_system: root and a supported OS.
check_system() {
	if ! is_root; then
		[[ $DRY_RUN == 1 ]] || abort "must run as root (or with --dry-run to see what it would do)"
		log::info "not root: showing what would be done"
	fi
	local id="" version=""
	if [[ -r /etc/os-release ]]; then
		# shellcheck disable=SC1091 # the running system's file
		id=$(. /etc/os-release && printf '%s' "${ID:-}")
		# shellcheck disable=SC1091
		version=$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")
	fi
	OS="$id $version"
	case $OS in
	"debian 12" | "ubuntu 22.04" | "ubuntu 24.04") log::info "system: $OS" ;;
	*) abort "unsupported system '${id:-unknown} ${version:-}': needs Debian 12 or Ubuntu 22.04/24.04" ;;
	esac
}

# install_caddy_repo: Ubuntu 22.04 has no caddy package; use Caddy's own apt
# repository (the one caddyserver.com documents) there.
readonly CADDY_REPO=https://dl.cloudsmith.io/public/caddy/stable
install_caddy_repo() {
	[[ $OS == "ubuntu 22.04" ]] || return 0
	local list=/etc/apt/sources.list.d/caddy-stable.list
	local keyring=/usr/share/keyrings/caddy-stable-archive-keyring.gpg
	[[ -f $list ]] && return 0
	changed "add Caddy's apt repository ($list)"
	run "$HERE/packages.sh" curl gnupg debian-keyring debian-archive-keyring apt-transport-https
	# shellcheck disable=SC2016 # expanded by that shell
	run bash -c 'set -o pipefail; curl -fsSL "$1" | gpg --dearmor --yes -o "$2"' fetch-key \
		"$CADDY_REPO/gpg.key" "$keyring"
	run curl -fsSL -o "$list" "$CADDY_REPO/debian.deb.txt"
	run apt-get update -q
}

# missing_packages PKG...: prints those not installed (packages.sh asks dpkg).
missing_packages() {
	"$HERE/packages.sh" --check "$@" || true
}

# app_needs_node: building the app would run npm or node (without make yet:
# when the checkout has no node_modules, npm ci will run).
app_needs_node() {
	if command -v make >/dev/null; then
		make -C "$SOURCE" -n BUILD="$SOURCE/build/web-shell.sh" install-app 2>/dev/null |
			grep -qE '(^|[ /])(npm|node) '
	else
		[[ ! -d $SOURCE/node_modules ]]
	fi
}

install_packages() {
	local -a missing
	install_caddy_repo
	local -a wanted=("${RUNTIME_PACKAGES[@]}" "${BUILD_PACKAGES[@]}")
	# The app's vendored xterm.js comes from npm (package-lock.json) when the
	# checkout has not built it yet; node may come from elsewhere (nodesource).
	if [[ $NO_APP == 0 ]] && ! { command -v node && command -v npm; } >/dev/null && app_needs_node; then
		wanted+=(nodejs npm)
	fi
	mapfile -t missing < <(missing_packages "${wanted[@]}")
	if [[ ${#missing[@]} -eq 0 ]]; then
		log::info "packages: all installed"
		return 0
	fi
	changed "install packages: ${missing[*]}"
	run "$HERE/packages.sh" "${missing[@]}"
}

# ensure_user: the shell user, with a home and bash, a locked password, no sudo.
ensure_user() {
	if getent passwd "$SHELL_USER" >/dev/null; then
		log::info "user $SHELL_USER: exists"
	else
		changed "create user $SHELL_USER (home /home/$SHELL_USER, no password, no sudo)"
		run useradd --create-home --user-group --shell /bin/bash "$SHELL_USER"
	fi
	if id -nG "$SHELL_USER" 2>/dev/null | tr ' ' '\n' | grep -qxE 'sudo|wheel|admin|root'; then
		log::error "warning: $SHELL_USER is in an administrative group ($(id -nG "$SHELL_USER")); web shells get its rights"
	fi
}

# ensure_ptyd_account: ptyd's own system account (no home, no login shell),
# and Caddy's user in its group, the only group that may enter ptyd's socket
# directory. Sets CADDY_GROUPS_CHANGED: a running Caddy must restart (a reload
# keeps its old groups).
CADDY_GROUPS_CHANGED=0
ensure_ptyd_account() {
	if getent passwd "$PTYD_USER" >/dev/null; then
		log::info "user $PTYD_USER: exists"
	else
		changed "create the system user $PTYD_USER for ptyd (no home, no login)"
		run useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "web-shell ptyd" "$PTYD_USER"
	fi
	if id -nG caddy 2>/dev/null | tr ' ' '\n' | grep -qxF "$PTYD_USER"; then
		log::info "user caddy: in group $PTYD_USER"
	else
		changed "add user caddy to group $PTYD_USER (only Caddy may reach ptyd's socket)"
		run usermod --append --groups "$PTYD_USER" caddy
		CADDY_GROUPS_CHANGED=1
	fi
}

# ensure_admin_group: the --admin-group, a system group, created if missing.
ensure_admin_group() {
	[[ -n $ADMIN_GROUP ]] || return 0
	if getent group "$ADMIN_GROUP" >/dev/null; then
		log::info "group $ADMIN_GROUP: exists"
	else
		changed "create the system group $ADMIN_GROUP (may list and end sessions, read recordings)"
		run groupadd --system "$ADMIN_GROUP"
	fi
}

# shell_home: the shell user's home directory.
shell_home() {
	local home
	home=$(getent passwd "$SHELL_USER" | cut -d: -f6)
	printf '%s\n' "${home:-/home/$SHELL_USER}"
}

# build_and_install: make install from the checkout, unless already installed.
build_and_install() {
	local -a targets=(install-services)
	[[ $NO_APP == 1 ]] || targets+=(install-app)
	local installed=1
	[[ -x $BINDIR/jwt-verify && -x $BINDIR/ptyd ]] || installed=0
	[[ $NO_APP == 1 || -f $WWWDIR/index.html ]] || installed=0
	if [[ $installed == 1 && $FORCE == 0 ]]; then
		log::info "services: installed in $BINDIR (-f rebuilds)"
		return 0
	fi
	local build=$SOURCE/build/web-shell.sh
	local what="services into $BINDIR"
	[[ $NO_APP == 1 ]] || what+=", app into $WWWDIR"
	changed "build from $SOURCE and install $what"
	if [[ $FORCE == 1 ]]; then
		run rm -rf "$build"
	fi
	run make -C "$SOURCE" -j2 --no-print-directory BUILD="$build" PREFIX="$PREFIX" WWWDIR="$WWWDIR" "${targets[@]}"
}

# check_key_with_verifier: the key as jwt-verify itself will load it.
KEY_CHECKED=0
check_key_with_verifier() {
	local verifier=$BINDIR/jwt-verify
	[[ $KEY_CHECKED == 0 || $FORCE == 1 ]] || return 0
	if [[ ! -x $verifier ]]; then
		[[ $DRY_RUN == 1 ]] && return 0
		abort "$verifier missing after the build"
	fi
	local out
	if ! out=$("$verifier" --check --key "$KEY_FILE" 2>&1); then
		# A bad argument, found by the verifier itself.
		usage_error "--jwt-public-key-file: jwt-verify --check rejects $KEY_FILE: $(tail -n 1 <<<"$out")"
	fi
	log::info "key: $KEY_FILE accepted by jwt-verify --check"
	KEY_CHECKED=1
}

# put_file SRC DEST MODE: installs SRC as DEST (root-owned) when it differs;
# returns 0 when it changed (or would), 1 when DEST was already the same.
put_file() {
	local src=$1 dest=$2 mode=$3
	if [[ -f $dest ]] && cmp -s "$src" "$dest" &&
		[[ $(stat -c '%a %u' "$dest") == "${mode#0} 0" ]]; then
		log::info "unchanged: $dest"
		return 1
	fi
	changed "write $dest"
	run install -D -o root -g root -m "$mode" "$src" "$dest"
	return 0
}

# site_origin: the origin of the site itself, as browsers send it.
site_origin() {
	local origin="https://$FQDN"
	[[ $HTTPS_PORT == 443 ]] || origin+=":$HTTPS_PORT"
	printf '%s\n' "$origin"
}

# render_unit NAME: units/NAME with this machine's values filled in. Every
# value was validated (no |, %, quote or blank can reach the unit). Lines
# marked "#?ADMIN ", "#?RECORD " are kept (unmarked) only with --admin-group,
# --record.
render_unit() {
	local site origins o single_use="" ptyd_opts="" verify_opts=""
	local -a marks=()
	site=$(site_origin)
	origins="--check-origin $site"
	for o in "${ORIGINS[@]}"; do
		[[ $o == "$site" ]] || origins+=" --check-origin $o"
	done
	[[ $SINGLE_USE == 0 ]] || single_use=" --single-use"
	if [[ -n $ADMIN_GROUP ]]; then
		ptyd_opts+=" --admin-group $ADMIN_GROUP"
	else
		marks+=(-e '/^#?ADMIN /d')
	fi
	if [[ $RECORD == 1 ]]; then
		ptyd_opts+=" --record $RECORD_DIR --record-max-dir $RECORD_MAX_DIR"
		[[ $RECORD_INPUT == 0 ]] || ptyd_opts+=" --record-input"
		[[ -z $ADMIN_GROUP ]] || ptyd_opts+=" --record-group $ADMIN_GROUP"
	else
		marks+=(-e '/^#?RECORD /d')
	fi
	if [[ -n $METRICS_PORT ]]; then
		verify_opts=" --metrics 127.0.0.1:$METRICS_PORT"
		ptyd_opts+=" --metrics 127.0.0.1:$((METRICS_PORT + 1))"
	fi
	marks+=(-e 's|^#?[A-Z]* ||')
	sed "${marks[@]}" -e "s| @PTYD_OPTIONS@|$ptyd_opts|g" -e "s| @VERIFY_OPTIONS@|$verify_opts|g" \
		-e "s|@ADMIN_SOCKET@|$ADMIN_SOCKET|g" -e "s|@ADMIN_GROUP@|$ADMIN_GROUP|g" \
		-e "s|@BINDIR@|$BINDIR|g" -e "s|@FQDN@|$FQDN|g" -e "s|@SHELL_USER@|$SHELL_USER|g" \
		-e "s|@SHELL_HOME@|$(shell_home)|g" -e "s|@CHECK_ORIGINS@|$origins|g" \
		-e "s| @SINGLE_USE@|$single_use|g" -e "s|@IDLE_TIMEOUT@|$IDLE_TIMEOUT|g" \
		-e "s|@MAX_SESSION@|$MAX_SESSION|g" -e "s|@MAX_CLIENTS@|$MAX_CLIENTS|g" \
		-e "s|@PTYD_USER@|$PTYD_USER|g" -e "s|@PTYD_SOCKET@|$PTYD_SOCKET|g" "$SOURCE/units/$1"
}

# render_caddyfile: the site: /ws gated by jwt-verify, the app at /.
render_caddyfile() {
	printf '%s\n' "$CADDY_MARK"
	printf '# web-shell for %s; redo with: web-shell.sh --fqdn %s ...\n' "$FQDN" "$FQDN"
	printf '{\n'
	[[ -z $EMAIL ]] || printf '\temail %s\n' "$EMAIL"
	[[ -z $BIND ]] || printf '\tdefault_bind %s\n' "$BIND"
	if [[ $HTTPS_PORT != 443 ]]; then
		printf '\thttps_port %s\n' "$HTTPS_PORT"
		# The redirect server would send browsers to :443, where nothing is.
		printf '\tauto_https disable_redirects\n'
	fi
	# Caddy's CA belongs in the browsers that connect, not in this machine's store.
	[[ $TLS == acme ]] || printf '\tskip_install_trust\n'
	caddy::log_filter
	printf '}\n\n%s {\n' "$FQDN"
	[[ $TLS == acme ]] || printf '\ttls internal\n'
	caddy::ws_route "$VERIFIER_ADDR" "$PTYD_ADDR"
	if [[ $NO_APP == 0 ]]; then
		printf '\thandle {\n\t\troot * %s\n\t\tfile_server\n\t}\n' "$WWWDIR"
	else
		printf '\thandle {\n\t\trespond "web-shell: connect a client to /ws" 404\n\t}\n'
	fi
	printf '}\n'
}

# install_config: key, units and Caddyfile; sets the *_CHANGED flags.
KEY_CHANGED=0
UNITS_CHANGED=0
CADDY_CHANGED=0
install_config() {
	local tmp
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$tmp'" EXIT

	if put_file "$KEY_FILE" "$KEY_DEST" 0644; then KEY_CHANGED=1; fi
	local unit
	for unit in jwt-verify.service ptyd.service; do
		render_unit "$unit" >"$tmp/$unit"
		if put_file "$tmp/$unit" "$UNITDIR/$unit" 0644; then UNITS_CHANGED=1; fi
	done
	render_caddyfile >"$tmp/Caddyfile"
	if command -v caddy >/dev/null; then
		caddy validate --adapter caddyfile --config "$tmp/Caddyfile" >"$tmp/validate.log" 2>&1 ||
			abort "the Caddyfile for $FQDN does not validate: $(tail -n 3 "$tmp/validate.log")"
	fi
	if [[ -f $CADDYFILE ]] && ! head -n 1 "$CADDYFILE" | grep -qxF "$CADDY_MARK" &&
		! cmp -s "$tmp/Caddyfile" "$CADDYFILE"; then
		local backup
		backup="$CADDYFILE.before-web-shell.$(date +%Y%m%d%H%M%S)"
		changed "keep the existing $CADDYFILE as $backup"
		run cp -p "$CADDYFILE" "$backup"
	fi
	if put_file "$tmp/Caddyfile" "$CADDYFILE" 0644; then CADDY_CHANGED=1; fi
}

# enable_units: enabled at boot; works offline too (no systemd running).
enable_units() {
	local unit
	for unit in jwt-verify.service ptyd.service caddy.service; do
		if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
			log::info "enabled: $unit"
		else
			changed "enable $unit"
			run systemctl enable --quiet "$unit"
		fi
	done
}

# start_services: (re)start only what changed, then wait until all three answer.
start_services() {
	if [[ $NO_START == 1 ]]; then
		if command -v systemctl >/dev/null; then
			enable_units
		else
			log::info "no systemctl here: units installed in $UNITDIR, not enabled"
		fi
		log::info "--no-start: nothing started"
		return 0
	fi
	if [[ $UNITS_CHANGED == 1 ]]; then
		run systemctl daemon-reload
	fi
	enable_units
	local unit
	for unit in jwt-verify.service ptyd.service; do
		if ! systemctl is-active --quiet "$unit" 2>/dev/null; then
			changed "start $unit"
			run systemctl start "$unit"
		elif [[ $UNITS_CHANGED == 1 ]]; then
			changed "restart $unit (unit changed)"
			run systemctl restart "$unit"
		elif [[ $KEY_CHANGED == 1 && $unit == jwt-verify.service ]]; then
			# SIGHUP: keys re-read, open connections and the process kept.
			changed "reload jwt-verify.service (key changed)"
			run systemctl reload "$unit"
		fi
	done
	if ! systemctl is-active --quiet caddy.service 2>/dev/null; then
		changed "start caddy.service"
		run systemctl start caddy.service
	elif [[ $CADDY_GROUPS_CHANGED == 1 ]]; then
		changed "restart caddy.service (its user joined group $PTYD_USER)"
		run systemctl restart caddy.service
	elif [[ $CADDY_CHANGED == 1 ]]; then
		changed "reload caddy.service (Caddyfile changed)"
		run systemctl reload caddy.service
	fi
	[[ $DRY_RUN == 0 ]] || return 0
	local host=${BIND:-127.0.0.1}
	[[ $host != *:* ]] || host=127.0.0.1
	wait_tcp 127.0.0.1 9222 30 || abort "jwt-verify does not answer on $VERIFIER_ADDR (journalctl -u jwt-verify)"
	wait_socket "$PTYD_SOCKET" 30 || abort "ptyd does not answer on unix:$PTYD_SOCKET (journalctl -u ptyd)"
	wait_tcp "$host" "$HTTPS_PORT" 60 || abort "caddy does not answer on port $HTTPS_PORT (journalctl -u caddy)"
	log::info "all three services answer"
}

main() {
	parse_args "$@"
	validate_args
	case $PRINT in
	Caddyfile) render_caddyfile; return 0 ;;
	?*) render_unit "$PRINT"; return 0 ;;
	esac
	check_system
	# With the verifier already installed, its own check comes before any change.
	if [[ -x $BINDIR/jwt-verify ]]; then
		check_key_with_verifier
	fi
	local url="https://$FQDN"
	[[ $HTTPS_PORT == 443 ]] || url+=":$HTTPS_PORT"
	log::info "provisioning $url/ from $SOURCE$([[ $DRY_RUN == 0 ]] || printf ' (dry run)')"
	install_packages
	ensure_user
	ensure_ptyd_account
	ensure_admin_group
	build_and_install
	check_key_with_verifier
	install_config
	start_services
	if [[ $CHANGES -eq 0 ]]; then
		log::info "nothing to change: already provisioned"
	elif [[ $DRY_RUN == 1 ]]; then
		log::info "dry run: $CHANGES change(s) would be made; nothing was changed"
	else
		log::info "done: $CHANGES change(s)"
	fi
	if [[ $NO_START == 0 && $DRY_RUN == 0 ]]; then
		log::info "connect: $url/  (WebSocket: wss://${url#https://}/ws?token=JWT, aud=$FQDN)"
		log::info "sessions: ptyd --list, ptyd --end ID (as root${ADMIN_GROUP:+ or a member of $ADMIN_GROUP})"
		[[ $RECORD == 0 ]] || log::info "recordings: $RECORD_DIR (asciinema play FILE)"
		[[ -z $METRICS_PORT ]] || log::info "metrics: http://127.0.0.1:$METRICS_PORT/metrics (jwt-verify), http://127.0.0.1:$((METRICS_PORT + 1))/metrics (ptyd)"
	fi
}

main "$@"
