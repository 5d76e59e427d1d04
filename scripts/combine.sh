#!/usr/bin/env bash
# Usage: combine.sh [--base-url URL] [--dry-run] --script-url X [--script-args "ARGS"] ...
# Summary: runs several provisioning scripts in order, each with its own
# arguments; stops at the first that fails, naming it and its exit code.
# Self-contained, so it can itself be fetched by URL.
set -euo pipefail

PROG=combine.sh

usage() {
	cat <<'USAGE'
Usage: combine.sh [--base-url URL] [--dry-run]
                  --script-url X [--script-args "ARGS"]
                  [--script-url Y [--script-args "ARGS"]]...

Runs each script in the order given, with bash, passing it its ARGS. Stops at
the first script that fails and names it and its exit code.

  --script-url X     the next script: an http(s):// URL (fetched with curl,
                     HTTP errors fail), a path, or a bare name, which resolves
                     next to combine.sh itself: its directory, or --base-url
  --script-args S    arguments for the script named just before; split like a
                     shell splits words ('single', "double" quotes and \
                     escapes respected), never evaluated: no $var, no $(...)
  --base-url URL     where bare names are fetched from (for a combine.sh that
                     was itself fetched by URL)
  --dry-run          print what would run, run nothing
  --help             show this help

Example:
  combine.sh --script-url packages.sh --script-args "curl git" \
             --script-url web-shell.sh --script-args "--fqdn shell.example.com --jwt-public-key-file /etc/web-shell/owner.pem"
USAGE
}

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() {
	printf "%s: %s (see '%s --help')\n" "$PROG" "$*" "$PROG" >&2
	exit 2
}

# split_words STRING: splits STRING into the global array WORDS the way a shell
# splits a simple command's words, without any expansion. Returns 1 (with a
# message in SPLIT_ERROR) on an unterminated quote or a trailing backslash.
split_words() {
	local s=$1 word="" c next lit in_word=0 i=0 n=${#1} bs=$'\\'
	WORDS=()
	SPLIT_ERROR=""
	while ((i < n)); do
		c=${s:i:1}
		case $c in
		' ' | $'\t' | $'\n')
			if ((in_word)); then WORDS+=("$word"); word=""; in_word=0; fi
			;;
		"'")
			in_word=1
			next=${s:i+1}
			[[ $next == *"'"* ]] || { SPLIT_ERROR="unterminated ' quote"; return 1; }
			lit=${next%%"'"*}
			word+=$lit
			i=$((i + ${#lit} + 1))
			;;
		'"')
			in_word=1
			i=$((i + 1))
			while ((i < n)) && [[ ${s:i:1} != '"' ]]; do
				c=${s:i:1}
				# Inside double quotes a backslash only escapes \ " $ ` and newline.
				if [[ $c == "$bs" && $((i + 1)) -lt $n && ${s:i+1:1} == [\\\"\$\`$'\n'] ]]; then
					i=$((i + 1))
					[[ ${s:i:1} == $'\n' ]] || word+=${s:i:1}
				else
					word+=$c
				fi
				i=$((i + 1))
			done
			((i < n)) || { SPLIT_ERROR='unterminated " quote'; return 1; }
			;;
		"$bs")
			((i + 1 < n)) || { SPLIT_ERROR="trailing backslash"; return 1; }
			i=$((i + 1))
			# backslash-newline is a line continuation, as in the shell
			if [[ ${s:i:1} != $'\n' ]]; then word+=${s:i:1}; in_word=1; fi
			;;
		*)
			word+=$c
			in_word=1
			;;
		esac
		i=$((i + 1))
	done
	if ((in_word)); then WORDS+=("$word"); fi
	return 0
}

# resolve X BASE_URL HERE: prints the URL or path script X stands for.
resolve() {
	local x=$1 base_url=$2 here=$3
	if [[ $x =~ ^https?:// || $x == */* ]]; then
		printf '%s\n' "$x"
	elif [[ -n $base_url ]]; then
		printf '%s/%s\n' "${base_url%/}" "$x"
	elif [[ -n $here ]]; then
		printf '%s/%s\n' "$here" "$x"
	else
		die "cannot resolve '$x': combine.sh was not run from a file; give --base-url"
	fi
}

# fetch URL DEST: downloads URL, failing on HTTP errors.
fetch() {
	command -v curl >/dev/null || die "curl is needed to fetch $1"
	curl --fail --silent --show-error --location --proto '=https,http' \
		--retry 3 --connect-timeout 20 -o "$2" "$1" || die "cannot fetch $1"
}

main() {
	local base_url="" dry_run=0
	local -a urls=() args=()
	while [[ $# -gt 0 ]]; do
		case $1 in
		--script-url)
			[[ $# -ge 2 && -n $2 ]] || usage_error "option --script-url needs a value"
			urls+=("$2")
			args+=("")
			shift
			;;
		--script-args)
			[[ $# -ge 2 ]] || usage_error "option --script-args needs a value"
			[[ ${#urls[@]} -gt 0 ]] || usage_error "--script-args must follow a --script-url"
			args[${#args[@]} - 1]=$2
			shift
			;;
		--base-url)
			[[ $# -ge 2 ]] || usage_error "option --base-url needs a value"
			[[ $2 =~ ^https?://[^[:space:]]+$ ]] || usage_error "--base-url is not an http(s) URL: '$2'"
			base_url=$2
			shift
			;;
		--dry-run) dry_run=1 ;;
		-h | --help) usage; exit 0 ;;
		*) usage_error "unknown argument: $1" ;;
		esac
		shift
	done
	[[ ${#urls[@]} -gt 0 ]] || usage_error "no --script-url given"

	# Check every argument string before running anything.
	local i
	for i in "${!urls[@]}"; do
		split_words "${args[i]}" || usage_error "--script-args of ${urls[i]}: $SPLIT_ERROR"
	done

	local here="" tmp
	if [[ -f ${BASH_SOURCE[0]} ]]; then
		here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	fi
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT

	local src script rc n=${#urls[@]}
	for i in "${!urls[@]}"; do
		src=$(resolve "${urls[i]}" "$base_url" "$here")
		split_words "${args[i]}"
		log "[$((i + 1))/$n] $src $(printf '%q ' "${WORDS[@]}")"
		[[ $dry_run -eq 0 ]] || continue
		if [[ $src =~ ^https?:// ]]; then
			script="$tmp/script-$i"
			fetch "$src" "$script"
		else
			[[ -f $src && -r $src ]] || die "script not found: $src"
			script=$src
		fi
		rc=0
		bash "$script" "${WORDS[@]}" || rc=$?
		if [[ $rc -ne 0 ]]; then
			die "$src failed with exit code $rc; stopping (scripts after it not run)"
		fi
	done
	log "all $n scripts succeeded"
}

main "$@"
