/*
 * admin.h: ptyd's local admin interface: a unix socket (--admin-socket) that
 * only root, ptyd's own user and members of --admin-group may use (checked on
 * every connection with SO_PEERCRED / SO_PEERGROUPS, on top of the socket's
 * mode 0660), and its clients `ptyd --list [--json]` and `ptyd --end PREFIX`.
 *
 * The wire: the client sends one line, "list" or "end PREFIX"; the server
 * answers one JSON document and closes: a list is an array of
 * {"id":"<first 8 hex digits>","kind","state","owner","peer","started",
 * "lastInput","bytesIn","bytesOut","pid"}, terminal sessions first, then
 * exec commands (kind "exec", with "requestId", "account", "command" (text,
 * or null per --exec-audit-text), "commandSha256" (16 hex digits),
 * "commandLength", "pty", "conn", "commandId"), and shells started ahead
 * (kind "exec", state "waiting", or "ending" once killed; "command",
 * "commandSha256" and "commandId" null; "conn" null when it waits for its
 * identity's next connection); an end (of a session, a command or a waiting
 * shell) is {"ended":"<prefix>"} or {"error":"..."}.
 */
#ifndef PTYD_ADMIN_H
#define PTYD_ADMIN_H

#include <libwebsockets.h>

struct ptyd;

/*
 * Creates, binds and listens on --admin-socket; exits (fatal) when it cannot.
 * Called before the TCP listener opens, so that whoever finds ptyd listening
 * finds its admin socket too. Returns the listening descriptor.
 */
int admin_bind(const struct ptyd *srv);
/* Watches the socket admin_bind() made (once the lws vhost exists). */
void admin_listen(struct ptyd *srv, int fd);
/* Removes the socket file (at exit). */
void admin_close(struct ptyd *srv);
/* The lws callback of the listener and its connections ("ptyd-admin"). */
int admin_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len);

/* Where --list and --end ask without --admin-socket: the socket web-shell.sh's unit serves. */
#define PTYD_ADMIN_SOCKET_DEFAULT "/run/web-shell-admin/admin.sock"

/* The clients: run one request against path and print the answer. Return the exit status. */
int admin_client_list(const char *path, int json);
int admin_client_end(const char *path, const char *prefix);

#endif
