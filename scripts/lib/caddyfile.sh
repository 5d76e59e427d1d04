# scripts/lib/caddyfile.sh: the pieces of a web-shell Caddyfile, shared by
# web-shell.sh (the real site) and demo.sh (the loopback demo), so both gate
# /ws the same way. Why each piece is there: the comments below and the
# README's provisioning section.
# shellcheck shell=bash

# caddy::log_filter: a global `log` block that redacts the token query
# parameter from every line Caddy logs; a site-level filter would miss the
# error log, which carries the full URI too.
caddy::log_filter() {
	cat <<'CADDY'
	log {
		format filter {
			wrap json
			fields {
				request>uri query {
					replace token REDACTED
				}
			}
		}
	}
CADDY
}

# caddy::ws_route VERIFIER_ADDR PTYD_ADDR: the /ws handler. Inside `route` the
# written order holds: the client's own X-Webshell-User is dropped, the
# verifier decides (its 401 and reason go back to the client), its answer's
# X-Webshell-User is copied, and the query, holding the token, is dropped
# before ptyd sees the request.
caddy::ws_route() {
	cat <<CADDY
	handle /ws {
		route {
			request_header -X-Webshell-User
			forward_auth $1 {
				uri /verify
				copy_headers X-Webshell-User
				transport http {
					dial_timeout 2s
					response_header_timeout 5s
				}
			}
			rewrite * /ws?
			reverse_proxy $2
		}
	}
CADDY
}
