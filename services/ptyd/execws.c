/*
 * execws.c: the libwebsockets callbacks of the exec channel: the
 * "webshell-exec.v1" WebSocket protocol (commands' pipes are watched by
 * fdwatch.c). Glue only: every decision is exec.c's.
 */
#include "ptyd.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "exec.h"
#include "log.h"

int exec_callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		     void *in, size_t len)
{
	struct exec_pss *pss = user;
	struct ptyd *srv = lws_context_user(lws_get_context(wsi));
	const unsigned char *b = in;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		/* Small frames (status, acks) must not wait for Nagle. */
		setsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		pss->c = exec_conn_new(srv, wsi);
		if (pss->c == NULL) {
			log_warnx("exec: cannot allocate a connection");
			return -1;
		}
		break;
	case LWS_CALLBACK_RECEIVE:
		if (pss->c == NULL)
			return -1;
		if (wsguard_unmasked(lws_get_socket_fd(wsi))) { /* RFC 6455 5.1 (see wsguard.c) */
			exec_conn_close(pss->c, LWS_CLOSE_STATUS_PROTOCOL_ERR, "unmasked frame");
			return 0;
		}
		exec_conn_rx(pss->c, in, len, lws_frame_is_binary(wsi), lws_is_final_fragment(wsi),
			     lws_remaining_packet_payload(wsi));
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss->c == NULL)
			return -1;
		return exec_conn_writeable(pss->c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (pss->c != NULL)
			exec_conn_peer_close(pss->c, len >= 2 ? (b[0] << 8) | b[1] :
					     LWS_CLOSE_STATUS_NO_STATUS);
		break;
	case LWS_CALLBACK_CLOSED:
		if (pss->c != NULL)
			exec_conn_gone(pss->c);
		pss->c = NULL;
		break;
	default:
		break;
	}
	return 0;
}
