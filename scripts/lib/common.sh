# scripts/lib/common.sh: logging, usage errors and the dry-run indirection shared
# by web-shell's provisioning scripts (source it; it defines functions only).
# shellcheck shell=bash

# shellcheck source=scripts/lib/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

# DEBUG=1 traces every command with file:line.
if [[ ${DEBUG:-0} == 1 ]]; then
	PS4='+ ${BASH_SOURCE[0]##*/}:${LINENO}: '
	set -x
fi

# The calling script's name, for messages.
PROG=${PROG:-$(basename "${BASH_SOURCE[-1]}")}
# 1 when --dry-run was given: run() prints instead of doing.
DRY_RUN=${DRY_RUN:-0}
# How many changes were made (or would be, under --dry-run).
CHANGES=0

log::info() { printf '%s: %s\n' "$PROG" "$*"; }
log::error() { printf '%s: error: %s\n' "$PROG" "$*" >&2; }

# abort MSG: a runtime failure (exit 1).
abort() {
	log::error "$*"
	exit 1
}

# usage_error MSG: a bad argument: one line naming it (and --help), exit 2.
usage_error() {
	printf "%s: %s (see '%s --help')\n" "$PROG" "$*" "$PROG" >&2
	exit 2
}

# need_value OPTION ARGC: the option takes a value, and there is one.
need_value() {
	[[ $2 -ge 2 ]] || usage_error "option $1 needs a value"
}

# changed MSG: records one change and says what it is (or would be).
changed() {
	CHANGES=$((CHANGES + 1))
	if [[ $DRY_RUN == 1 ]]; then
		log::info "would: $*"
	else
		log::info "$*"
	fi
}

# run CMD...: the one place commands that change the machine go through;
# under --dry-run they are printed, quoted so they can be pasted, not run.
run() {
	if [[ $DRY_RUN == 1 ]]; then
		local line
		printf -v line '%q ' "$@"
		log::info "would run: ${line% }"
		return 0
	fi
	"$@"
}

# is_root: the effective user is root.
is_root() { [[ $(id -u) -eq 0 ]]; }

# system_caddy_running: Debian's own caddy.service (which the caddy package
# starts where systemd runs: a default site on port 80, config
# /etc/caddy/Caddyfile) is running, or any Caddy on that config.
system_caddy_running() {
	if [[ -d /run/systemd/system ]] && systemctl is-active --quiet caddy.service 2>/dev/null; then
		return 0
	fi
	pgrep -f '^(/usr/bin/)?caddy run .*--config /etc/caddy/Caddyfile' >/dev/null 2>&1
}

# note_system_caddy: says so when system_caddy_running, and how to stop it.
note_system_caddy() {
	system_caddy_running || return 0
	log::info "note: Debian's caddy.service is running too (the caddy package starts it: a default" \
		"site on port 80); web-shell's demo and tests run their own Caddy and do not need it;" \
		"'systemctl disable --now caddy' stops it"
}
