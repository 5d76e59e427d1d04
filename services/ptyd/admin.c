/*
 * admin.c: the admin socket and its clients (see admin.h). One request per
 * connection, answered from the session table; the connection is a raw lws
 * watcher so a slow admin client never blocks the loop.
 */
#include "ptyd.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "exec.h"
#include "log.h"

/* Longest request line. */
#define ADMIN_REQ_MAX 128
/* Seconds an admin connection may take to send its line and read the answer. */
#define ADMIN_TIMEOUT 5

struct admin_conn {
	struct ptyd *srv;
	int listener;           /* 1: the listening socket */
	char req[ADMIN_REQ_MAX + 1];
	size_t reqlen;
	char *out;              /* the answer, owned */
	size_t outlen, sent;
	char peer[48];          /* "uid=N pid=N" for the log */
	struct ws_rearm rearm;
};

/* 1 when the peer may use the socket: root, ptyd's own uid, or a member of --admin-group. */
static int peer_allowed(struct ptyd *srv, int fd, char *desc, size_t cap)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	gid_t groups[256];
	socklen_t glen = sizeof(groups);
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return 0;
	snprintf(desc, cap, "uid=%u pid=%d", (unsigned)cr.uid, (int)cr.pid);
	if (cr.uid == 0 || cr.uid == geteuid())
		return 1;
	if (!srv->cfg.has_admin_group)
		return 0;
	if (cr.gid == srv->cfg.admin_gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) != 0)
		return 0;
	for (i = 0; i < glen / sizeof(gid_t); i++)
		if (groups[i] == srv->cfg.admin_gid)
			return 1;
	return 0;
}

int admin_bind(const struct ptyd *srv)
{
	const char *path = srv->cfg.admin_socket;
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		fatalx("--admin-socket %s: path too long", path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	/* A stale socket from an earlier run is replaced; anything else is an error. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("--admin-socket %s: exists and is not a socket", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("admin socket");
	/* Created 0600, then opened to the group: no moment where others could connect. */
	if (fchmod(fd, 0600) != 0 && errno != EINVAL)
		log_debug("fchmod on a socket: %s", strerror(errno));
	{
		mode_t old = umask(0177);
		int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
		if (rc != 0)
			fatal("--admin-socket %s: bind", path);
	}
	if (srv->cfg.has_admin_group) {
		if (chown(path, (uid_t)-1, srv->cfg.admin_gid) != 0)
			fatal("--admin-socket %s: chown to the admin group", path);
		if (chmod(path, 0660) != 0)
			fatal("--admin-socket %s: chmod", path);
	}
	if (listen(fd, 16) != 0)
		fatal("--admin-socket %s: listen", path);
	return fd;
}

void admin_listen(struct ptyd *srv, int fd)
{
	lws_sock_file_fd_type u;
	struct admin_conn *ac;
	struct lws *wsi;

	ac = calloc(1, sizeof(*ac));
	if (ac == NULL)
		fatal("calloc");
	ac->srv = srv;
	ac->listener = 1;
	u.filefd = (lws_filefd_type)fd;
	wsi = lws_adopt_descriptor_vhost(srv->vh, LWS_ADOPT_RAW_FILE_DESC, u, "ptyd-admin", NULL);
	if (wsi == NULL)
		fatalx("cannot watch the admin socket");
	lws_set_opaque_user_data(wsi, ac);
	log_info("admin socket on %s", srv->cfg.admin_socket);
}

void admin_close(struct ptyd *srv)
{
	if (srv->cfg.admin_socket != NULL)
		unlink(srv->cfg.admin_socket);
}

/* The fields every row has, sessions' and commands' alike; the row is added to arr. NULL: no memory. */
static cJSON *add_row(cJSON *arr, const char *id, const char *kind, const char *state,
		      const char *owner, const char *peer, time_t started, time_t last_input,
		      uint64_t bytes_in, uint64_t bytes_out, pid_t pid)
{
	cJSON *o = cJSON_CreateObject();
	char prefix[PROTO_ID_LOG + 1];

	if (o == NULL)
		return NULL;
	/* An id prefix only: a whole id never leaves ptyd except to its owner. */
	snprintf(prefix, sizeof(prefix), "%.*s", PROTO_ID_LOG, id);
	cJSON_AddStringToObject(o, "id", prefix);
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "state", state);
	cJSON_AddStringToObject(o, "owner", owner);
	cJSON_AddStringToObject(o, "peer", peer);
	cJSON_AddNumberToObject(o, "started", (double)started);
	cJSON_AddNumberToObject(o, "lastInput", (double)last_input);
	cJSON_AddNumberToObject(o, "bytesIn", (double)bytes_in);
	cJSON_AddNumberToObject(o, "bytesOut", (double)bytes_out);
	cJSON_AddNumberToObject(o, "pid", (double)pid);
	cJSON_AddItemToArray(arr, o);
	return o;
}

static void list_one(const struct session_info *in, void *ctx)
{
	add_row(ctx, in->id, in->kind, in->state, in->owner, in->peer, in->started, in->last_input,
		in->bytes_in, in->bytes_out, in->pid);
}

/*
 * A running command, or a shell started ahead waiting for one (state
 * "waiting": no command, commandSha256 or commandId; conn null when it waits
 * for its identity's next connection), as a row beside the sessions: the same
 * fields and its own.
 */
static void list_exec(const struct exec_info *in, void *ctx)
{
	cJSON *o;
	char hash[17], text[4 * EXEC_AUDIT_TEXT_MAX + 8];

	o = add_row(ctx, in->id, "exec", in->state, in->owner, in->peer, in->started, in->last_input,
		    in->bytes_in, in->bytes_out, in->pid);
	if (o == NULL)
		return;
	if (in->request_id[0] != '\0')
		cJSON_AddStringToObject(o, "requestId", in->request_id);
	else
		cJSON_AddNullToObject(o, "requestId");
	cJSON_AddStringToObject(o, "account", in->account);
	/* The text only where --exec-audit-text lets the audit log carry it, escaped as there. */
	if (in->text != NULL)
		cJSON_AddStringToObject(o, "command", log_escape(text, sizeof(text), in->text,
								  strlen(in->text)));
	else
		cJSON_AddNullToObject(o, "command");
	if (in->sha256 != NULL) {
		memcpy(hash, in->sha256, sizeof(hash) - 1);
		hash[sizeof(hash) - 1] = '\0';
		cJSON_AddStringToObject(o, "commandSha256", hash);
	} else {
		cJSON_AddNullToObject(o, "commandSha256");
	}
	cJSON_AddNumberToObject(o, "commandLength", (double)in->length);
	cJSON_AddBoolToObject(o, "pty", in->pty);
	if (in->conn != 0)
		cJSON_AddNumberToObject(o, "conn", (double)in->conn);
	else
		cJSON_AddNullToObject(o, "conn");
	if (in->waiting)
		cJSON_AddNullToObject(o, "commandId");
	else
		cJSON_AddNumberToObject(o, "commandId", (double)in->command_id);
}

struct match_count {
	const char *prefix;
	int n;
};

static void count_session(const struct session_info *in, void *ctx)
{
	struct match_count *m = ctx;

	if (strcmp(in->state, "ending") != 0 && strncmp(in->id, m->prefix, strlen(m->prefix)) == 0)
		m->n++;
}

/* "end PREFIX": the one session or command whose id starts with it. */
static void answer_end(struct admin_conn *ac, cJSON *ans)
{
	const char *prefix = ac->req + 4;
	struct match_count m = { prefix, 0 };
	size_t i, len = strlen(prefix);
	int rc, cmds;

	for (i = 0; i < len; i++)
		if (!((prefix[i] >= '0' && prefix[i] <= '9') || (prefix[i] >= 'a' && prefix[i] <= 'f')))
			break;
	if (len < 4 || i < len) {
		cJSON_AddStringToObject(ans, "error", "an id prefix is 4 to 32 lowercase hex digits");
		return;
	}
	session_list(ac->srv, NULL, count_session, &m);
	cmds = exec_count_match(ac->srv, prefix);
	if (m.n + cmds > 1) {
		cJSON_AddStringToObject(ans, "error", "several sessions or commands match");
		return;
	}
	if (cmds == 1)
		rc = exec_end_match(ac->srv, prefix);
	else
		rc = session_end_match(ac->srv, NULL, prefix, "ended by an administrator");
	if (rc == 0)
		cJSON_AddStringToObject(ans, "ended", prefix);
	else
		cJSON_AddStringToObject(ans, "error", rc == -2 ? "several sessions match"
							  : "no such session or command");
}

/* Answers one request line into ac->out. */
static void admin_answer(struct admin_conn *ac)
{
	cJSON *ans = NULL;

	if (strcmp(ac->req, "list") == 0) {
		ans = cJSON_CreateArray();
		if (ans != NULL) {
			session_list(ac->srv, NULL, list_one, ans);
			exec_list(ac->srv, list_exec, ans);
		}
	} else if (strncmp(ac->req, "end ", 4) == 0) {
		ans = cJSON_CreateObject();
		if (ans != NULL)
			answer_end(ac, ans);
	} else {
		ans = cJSON_CreateObject();
		cJSON_AddStringToObject(ans, "error", "unknown request (list, end PREFIX)");
	}
	ac->out = ans != NULL ? cJSON_PrintUnformatted(ans) : NULL;
	cJSON_Delete(ans);
	if (ac->out == NULL)
		ac->out = strdup("{\"error\":\"out of memory\"}");
	ac->outlen = ac->out != NULL ? strlen(ac->out) : 0;
	struct log_field f[] = { { "peer", ac->peer }, { "request", ac->req } };
	log_event("admin_request", f, 2);
}

static void admin_accept(struct admin_conn *lst, int lfd)
{
	lws_sock_file_fd_type u;
	struct admin_conn *ac;
	struct lws *wsi;
	char desc[48];
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!peer_allowed(lst->srv, fd, desc, sizeof(desc))) {
			struct log_field f[] = { { "peer", desc }, { "reason", "not root, ptyd or the admin group" } };
			log_event("admin_refused", f, 2);
			(void)!write(fd, "{\"error\":\"permission denied\"}\n", 30);
			close(fd);
			continue;
		}
		ac = calloc(1, sizeof(*ac));
		if (ac == NULL) {
			close(fd);
			continue;
		}
		ac->srv = lst->srv;
		snprintf(ac->peer, sizeof(ac->peer), "%s", desc);
		u.filefd = (lws_filefd_type)fd;
		wsi = lws_adopt_descriptor_vhost(lst->srv->vh, LWS_ADOPT_RAW_FILE_DESC, u, "ptyd-admin",
						 NULL);
		if (wsi == NULL) {
			free(ac);
			close(fd);
			continue;
		}
		lws_set_opaque_user_data(wsi, ac);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, ADMIN_TIMEOUT);
	}
}

/* Reads the request line; returns -1 to close. */
static int admin_read(struct lws *wsi, struct admin_conn *ac)
{
	ssize_t n = read(lws_get_socket_fd(wsi), ac->req + ac->reqlen, ADMIN_REQ_MAX - ac->reqlen);
	char *nl;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0 && ac->out == NULL)
		return -1;
	ac->reqlen += (size_t)n;
	ac->req[ac->reqlen] = '\0';
	nl = strchr(ac->req, '\n');
	if (nl == NULL && ac->reqlen < ADMIN_REQ_MAX)
		return 0;
	if (nl != NULL)
		*nl = '\0';
	else
		ac->req[0] = '\0'; /* too long: answered as unknown */
	if (ac->out == NULL) {
		admin_answer(ac);
		lws_rx_flow_control(wsi, 0);
		lws_callback_on_writable(wsi);
	}
	return 0;
}

int admin_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct admin_conn *ac = lws_get_opaque_user_data(wsi);
	ssize_t n;

	(void)user;
	(void)in;
	(void)len;
	if (ac == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (ac->listener) {
			admin_accept(ac, lws_get_socket_fd(wsi));
			return 0;
		}
		return admin_read(wsi, ac);
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (ac->out == NULL)
			return 0;
		n = write(lws_get_socket_fd(wsi), ac->out + ac->sent, ac->outlen - ac->sent);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ws_rearm_writable(&ac->rearm, wsi);
			return 0;
		}
		if (n < 0)
			return -1;
		ac->sent += (size_t)n;
		if (ac->sent < ac->outlen) {
			ws_rearm_writable(&ac->rearm, wsi);
			return 0;
		}
		return -1; /* answered: close */
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		lws_set_opaque_user_data(wsi, NULL);
		ws_rearm_cancel(&ac->rearm);
		free(ac->out);
		free(ac);
		break;
	default:
		break;
	}
	return 0;
}

/* Client side: one request, the whole answer parsed. NULL (reported) on failure. */
static cJSON *admin_request(const char *path, const char *req)
{
	struct sockaddr_un sa;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	cJSON *ans;
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ptyd: --admin-socket %s: path too long\n", path);
		return NULL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = errno;
		fprintf(stderr, "ptyd: %s: %s%s\n", path, strerror(err),
			err == ENOENT || err == ECONNREFUSED ? " (is ptyd running with --admin-socket "
			"there? name another with --admin-socket PATH)" : err == EACCES ?
			" (root, ptyd's account or its --admin-group only)" : "");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* A refusal may come (and the server close) before the request is out: read it anyway. */
	signal(SIGPIPE, SIG_IGN);
	if ((write(fd, req, strlen(req)) != (ssize_t)strlen(req) || write(fd, "\n", 1) != 1) &&
	    errno != EPIPE) {
		fprintf(stderr, "ptyd: %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (nb == NULL)
				break;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL) {
		fprintf(stderr, "ptyd: out of memory\n");
		return NULL;
	}
	buf[len] = '\0';
	ans = cJSON_Parse(buf);
	if (ans == NULL)
		fprintf(stderr, "ptyd: %s: no answer (%zu bytes)\n", path, len);
	free(buf);
	return ans;
}

static const char *num_str(const cJSON *o, const char *key, char *buf, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	snprintf(buf, cap, "%.0f", cJSON_IsNumber(it) ? it->valuedouble : 0.0);
	return buf;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(it) && it->valuestring[0] != '\0' ? it->valuestring : "-";
}

static const char *time_str(const cJSON *o, const char *key, char *buf, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	time_t t = cJSON_IsNumber(it) ? (time_t)it->valuedouble : 0;
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, cap, "-");
	else
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/*
 * A command's text (escaped by the server), else "sha256:" and its hash's
 * prefix; "(waiting for a script)" for a shell started ahead; "-" for terminals.
 */
static const char *command_str(const cJSON *o, char *buf, size_t cap)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "command");
	const cJSON *hash = cJSON_GetObjectItemCaseSensitive(o, "commandSha256");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");

	if (cJSON_IsString(kind) && strcmp(kind->valuestring, "exec") == 0 && cJSON_IsNull(hash))
		snprintf(buf, cap, "(waiting for a script)");
	else if (cJSON_IsString(text))
		snprintf(buf, cap, "%s", text->valuestring);
	else if (cJSON_IsString(hash))
		snprintf(buf, cap, "sha256:%s", hash->valuestring);
	else
		snprintf(buf, cap, "-");
	return buf;
}

static int answer_error(const cJSON *ans)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(ans, "error");

	if (!cJSON_IsString(err))
		return 0;
	fprintf(stderr, "ptyd: %s\n", err->valuestring);
	return 1;
}

int admin_client_list(const char *path, int json)
{
	cJSON *ans = admin_request(path, "list"), *o;
	char a[32], b[32], c[32], d[32], e[32], f[4 * EXEC_AUDIT_TEXT_MAX + 32];
	char *text;

	if (ans == NULL)
		return 1;
	if (answer_error(ans)) {
		cJSON_Delete(ans);
		return 1;
	}
	if (json) {
		text = cJSON_Print(ans);
		if (text != NULL)
			printf("%s\n", text);
		free(text);
	} else {
		printf("%-8s  %-8s  %-8s  %-20s  %-16s  %-20s  %-20s  %10s  %10s  %7s  %-16s  %s\n",
		       "ID", "STATE", "KIND", "OWNER", "PEER", "STARTED", "LAST INPUT", "BYTES IN",
		       "BYTES OUT", "PID", "REQUEST ID", "COMMAND");
		cJSON_ArrayForEach(o, ans) {
			printf("%-8s  %-8s  %-8s  %-20s  %-16s  %-20s  %-20s  %10s  %10s  %7s  %-16s  %s\n",
			       str_of(o, "id"), str_of(o, "state"), str_of(o, "kind"), str_of(o, "owner"),
			       str_of(o, "peer"), time_str(o, "started", a, sizeof(a)),
			       time_str(o, "lastInput", b, sizeof(b)), num_str(o, "bytesIn", c, sizeof(c)),
			       num_str(o, "bytesOut", d, sizeof(d)), num_str(o, "pid", e, sizeof(e)),
			       str_of(o, "requestId"), command_str(o, f, sizeof(f)));
		}
	}
	cJSON_Delete(ans);
	return 0;
}

int admin_client_end(const char *path, const char *prefix)
{
	char req[ADMIN_REQ_MAX];
	cJSON *ans;
	int rc;

	if (strlen(prefix) > PROTO_ID_HEX || strchr(prefix, '\n') != NULL) {
		fprintf(stderr, "ptyd: --end %s: an id prefix is 4 to 32 lowercase hex digits\n", prefix);
		return 2;
	}
	snprintf(req, sizeof(req), "end %s", prefix);
	ans = admin_request(path, req);
	if (ans == NULL)
		return 1;
	rc = answer_error(ans);
	if (rc == 0)
		printf("ended %s\n", str_of(ans, "ended"));
	cJSON_Delete(ans);
	return rc;
}
