# scripts/lib/caddyfile.sh: the pieces of a web-shell Caddyfile, shared by
# web-shell.sh (the real site) and demo.sh (the loopback demo), so both gate
# /ws the same way. Why each piece is there: the comments below and the
# README's provisioning section.
# shellcheck shell=bash

# caddy::log_filter: a global `log` block that redacts the token query
# parameter and drops Sec-WebSocket-Protocol (where browsers carry the token,
# "webshell.bearer.JWT") from every line Caddy logs; a site-level filter would
# miss the error log, which carries the full URI and the request's headers.
caddy::log_filter() {
	cat <<'CADDY'
	log {
		format filter {
			wrap json
			fields {
				request>uri query {
					replace token REDACTED
				}
				request>headers>Sec-Websocket-Protocol delete
			}
		}
	}
CADDY
}

# caddy::ws_route VERIFIER_ADDR PTYD_ADDR: the /ws handler, and before it a
# 400 for any request target holding '#' (a fragment never belongs in one, and
# a log filter would read the token after it as a fragment). Inside `route` the
# written order holds: the client's own X-Webshell-* headers are dropped; the
# verifier decides (its 401 and reason go back to the client, with Caddy's
# Server header only); from its 200 Caddy copies X-Webshell-User and
# X-Webshell-Request-Id, and X-Webshell-Protocol, the client's subprotocol list
# without the token, onto Sec-WebSocket-Protocol (copy_headers A>B sets B,
# replacing the client's list); the query, which may hold the token, is
# dropped. So ptyd never sees a token. Caddy 2.6 sets a header the verifier
# did not send to the literal "{http.reverse_proxy.header.NAME}": such a header
# is removed.
caddy::ws_route() {
	cat <<CADDY
	@fragment expression \`{http.request.orig_uri}.contains("#")\`
	handle @fragment {
		respond "a request target must not hold '#'" 400
	}
	handle /ws {
		route {
			request_header -X-Webshell-User
			request_header -X-Webshell-Request-Id
			request_header -X-Webshell-Protocol
			forward_auth $1 {
				uri /verify
				copy_headers X-Webshell-User X-Webshell-Request-Id X-Webshell-Protocol>Sec-WebSocket-Protocol
				header_down -Server
				transport http {
					dial_timeout 2s
					response_header_timeout 5s
				}
			}
			@unset_user header_regexp X-Webshell-User ^\{http\.reverse_proxy\.header\.
			request_header @unset_user -X-Webshell-User
			@unset_request_id header_regexp X-Webshell-Request-Id ^\{http\.reverse_proxy\.header\.
			request_header @unset_request_id -X-Webshell-Request-Id
			@unset_protocol header_regexp Sec-WebSocket-Protocol ^\{http\.reverse_proxy\.header\.
			request_header @unset_protocol -Sec-WebSocket-Protocol
			rewrite * /ws?
			reverse_proxy $2
		}
	}
CADDY
}
