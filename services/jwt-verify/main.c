/*
 * main.c: jwt-verify, the JWT verifier behind Caddy's forward_auth. Reads as
 * a checklist: flags, keys (or --check), listener, signals, loop, shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "args.h"
#include "http.h"
#include "keys.h"
#include "fdlimit.h"
#include "log.h"
#include "logbatch.h"
#include "metrics_http.h"
#include "replay.h"
#include "verify_metrics.h"
#include "sigwatch.h"

#define JWT_VERIFY_VERSION "0.1.0"
#define MAX_KEYS 16
/*
 * Seconds an idle keep-alive connection is kept, and lws's network timeout:
 * with 5, a connection that has not sent a whole request is closed after 10 s
 * (measured; lws allows two rounds).
 */
#define IDLE_TIMEOUT 15
#define REQUEST_TIMEOUT 5
/* Header bytes of one request, all headers together. */
#define HEADERS_MAX (16 * 1024)
/*
 * Connections whose headers are being read at the same time. Each holds a
 * header buffer (HEADERS_MAX, allocated while in use) from accept until its
 * request is whole: idle or slow clients hold theirs, so there must be more
 * of them than such clients. 4,096 bounds their memory at about 70 MB.
 */
#define HEADER_POOL 4096
/* Descriptors lws plans for: the pool, the listener, signals and metrics. */
#define FD_LIMIT (HEADER_POOL + 64)

struct options {
	const char *keys[MAX_KEYS];
	size_t nkeys;
	struct listen_addr listen;
	const char *listen_arg;
	const char *audience;
	long long leeway;
	long long max_lifetime;
	int single_use;
	int trust_request_id;
	int check;
	const char *metrics_arg;      /* --metrics, or NULL */
	int metrics_allow_remote;
	struct listen_addr metrics;
	enum log_format log_format;
};

static const char usage_text[] =
	"usage: jwt-verify --key FILE[=IDENT,...] [--key ...] [--listen ADDR:PORT] [--audience AUD]\n"
	"                  [--leeway SECONDS] [--max-lifetime SECONDS] [--single-use] [--check]\n"
	"                  [--log-format text|json] [--metrics ADDR:PORT|unix:PATH]\n"
	"                  [--metrics-allow-remote] [--trust-request-id] [--help] [--version]\n"
	"\n"
	"Answers Caddy's forward_auth: GET /verify with a JWT gets 200 and X-Webshell-User,\n"
	"anything else 401 with the reason.\n"
	"\n"
	"  --key FILE[=IDENT,...] PEM public key (Ed25519, RSA >= 2048, P-256/384/521); up to 16.\n"
	"                         IDENTs are bound to this key: no other key may assert them, nor\n"
	"                         its name (key:THUMBPRINT16, the user when sub is absent). With\n"
	"                         IDENTs it may assert only them and its name; without, any\n"
	"                         identity not bound to another key; =*: any (when it is alone).\n"
	"                         With several keys of one type, tokens must carry kid.\n"
	"  --listen ADDR:PORT     where to listen (default 127.0.0.1:9222)\n"
	"  --audience AUD         require this aud claim\n"
	"  --leeway SECONDS       clock skew allowed (default 30, at most 3600)\n"
	"  --max-lifetime SECONDS longest exp - now accepted (default 3600)\n"
	"  --single-use           require jti and refuse a jti seen before\n"
	"  --check                load the keys, print type, RFC 7638 thumbprint and identities,\n"
	"                         exit 0/1\n"
	"  --log-format FORMAT    text (default) or json\n"
	"  --trust-request-id     take the request's X-Webshell-Request-Id when valid (only when\n"
	"                         the proxy in front sets it); default: a random id per request\n"
	"  --metrics ADDR         serve Prometheus metrics at http://ADDR/metrics (loopback or\n"
	"                         unix:PATH; off by default)\n"
	"  --metrics-allow-remote let --metrics listen on a non-loopback address\n"
	"  -h, --help             this help\n"
	"  --version              version of jwt-verify and of libwebsockets\n";

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_KEY = 256, O_LISTEN, O_AUDIENCE, O_LEEWAY, O_MAXLIFE, O_SINGLE, O_CHECK,
	       O_LOGFMT, O_VERSION, O_METRICS, O_METRICS_REMOTE, O_TRUST_ID };
	static const struct option longopts[] = {
		{ "audience", required_argument, NULL, O_AUDIENCE },
		{ "check", no_argument, NULL, O_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "key", required_argument, NULL, O_KEY },
		{ "leeway", required_argument, NULL, O_LEEWAY },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "max-lifetime", required_argument, NULL, O_MAXLIFE },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "metrics-allow-remote", no_argument, NULL, O_METRICS_REMOTE },
		{ "single-use", no_argument, NULL, O_SINGLE },
		{ "trust-request-id", no_argument, NULL, O_TRUST_ID },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *errstr;
	int c;

	_Static_assert(MAX_KEYS == 16, "the usage text says up to 16 keys");
	memset(o, 0, sizeof(*o));
	o->listen_arg = "127.0.0.1:9222";
	o->leeway = 30;
	o->max_lifetime = 3600;
	o->log_format = LOG_FORMAT_TEXT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case O_AUDIENCE:
			if (optarg[0] == '\0')
				args_usage_error("--audience: empty");
			o->audience = optarg;
			break;
		case O_CHECK: o->check = 1; break;
		case 'h': args_help();
		case O_KEY:
			if (optarg[0] == '-')
				args_usage_error("--key %s: a path starting with '-' is refused", optarg);
			if (o->nkeys == MAX_KEYS)
				args_usage_error("--key %s: too many keys", optarg);
			o->keys[o->nkeys++] = optarg;
			break;
		case O_LEEWAY: o->leeway = args_number_flag("--leeway", optarg, 0, 3600); break;
		case O_LISTEN: o->listen_arg = optarg; break;
		case O_LOGFMT:
			if (log_format_parse(optarg, &o->log_format) == -1)
				args_usage_error("--log-format %s: must be text or json", optarg);
			break;
		case O_MAXLIFE:
			o->max_lifetime = args_number_flag("--max-lifetime", optarg, 1, 31 * 24 * 3600);
			break;
		case O_METRICS: o->metrics_arg = optarg; break;
		case O_METRICS_REMOTE: o->metrics_allow_remote = 1; break;
		case O_SINGLE: o->single_use = 1; break;
		case O_TRUST_ID: o->trust_request_id = 1; break;
		case O_VERSION: args_version(JWT_VERIFY_VERSION);
		default: args_getopt_error(c, argv);
		}
	}
	if (optind < argc)
		args_usage_error("%s: unexpected argument", argv[optind]);
	if (o->nkeys == 0)
		args_usage_error("--key FILE is required");
	if (args_parse_listen(o->listen_arg, 0, &o->listen, &errstr) == -1)
		args_usage_error("--listen %s: %s", o->listen_arg, errstr);
	if (o->metrics_arg != NULL &&
	    metrics_parse_addr(o->metrics_arg, o->metrics_allow_remote, &o->metrics, &errstr) == -1)
		args_usage_error("--metrics %s: %s", o->metrics_arg, errstr);
}

/* --check: one line per key, then the verdict. */
static int check_keys(const struct options *o)
{
	char err[512];
	struct keyset *ks;
	size_t i;

	ks = keyset_load(o->keys, o->nkeys, err, sizeof(err));
	if (ks == NULL) {
		fprintf(stderr, "jwt-verify: %s\n", err);
		return 1;
	}
	for (i = 0; i < ks->n; i++) {
		const struct key *k = &ks->keys[i];
		const char *id = k->idents;
		size_t j;

		printf("%s: %s %d bits, thumbprint %s, may assert %s", k->path, key_type_name(k->type),
		       k->bits, k->thumb, k->any_ident ? "any identity" : k->name);
		for (j = 0; j < k->nidents; j++, id += strlen(id) + 1)
			printf(", %s", id);
		printf("%s\n", k->any_ident || k->nidents ? "" : ", any identity no key is bound to");
	}
	printf("keys OK\n");
	keyset_free(ks);
	return 0;
}

/*
 * Says why ADDR:PORT cannot be bound, before lws tries (its own message is
 * vague). Returns 0 if a bind works now.
 */
static int probe_listen(const struct listen_addr *l, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, rc = -1;

	memset(&ss, 0, sizeof(ss));
	if (strchr(l->host, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)l->port);
		inet_pton(AF_INET6, l->host, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)l->port);
		inet_pton(AF_INET, l->host, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1)
		snprintf(err, errlen, "%s", strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

/* SIGHUP: load the whole set anew; on any error keep the old one. */
static void reload_keys(const struct options *o, struct verifier *v)
{
	char err[512];
	struct keyset *ks;

	ks = keyset_load(o->keys, o->nkeys, err, sizeof(err));
	if (ks == NULL) {
		log_warnx("reload failed, keeping the %zu old keys: %s", v->keys->n, err);
		verify_metrics_reload(0);
		return;
	}
	keyset_free(v->keys);
	v->keys = ks;
	log_info("reloaded %zu keys", ks->n);
	verify_metrics_reload(1);
}

static void log_keys(const struct keyset *ks)
{
	size_t i;

	for (i = 0; i < ks->n; i++) {
		struct log_field f[] = {
			{ "path", ks->keys[i].path },
			{ "type", key_type_name(ks->keys[i].type) },
			{ "thumbprint", ks->keys[i].thumb },
			{ "name", ks->keys[i].name },
			{ "identities", ks->keys[i].any_ident ? "*" :
					ks->keys[i].nidents ? "configured" : NULL },
		};
		log_event("key", f, sizeof(f) / sizeof(f[0]));
	}
}

/* What the loop needs besides the verifier: set by signals. */
struct service {
	const struct options *o;
	struct verifier *v;
	int stop;
};

/* SIGTERM/SIGINT end the loop; SIGHUP reloads the keys. */
static void on_signal(void *arg, int sig)
{
	struct service *svc = arg;

	if (sig == SIGHUP)
		reload_keys(svc->o, svc->v);
	else
		svc->stop = 1;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx = NULL;
	struct metrics *reg = NULL;
	struct verifier v;
	struct options o;
	struct service svc;
	char err[512];
	int rc = 1, sigfd;
	unsigned int nofile;
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, 0 };

	args_program("jwt-verify", usage_text);
	log_init("jwt-verify", LOG_FORMAT_TEXT, 0);
	parse_options(argc, argv, &o);
	log_init("jwt-verify", o.log_format, 0);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if (o.check)
		return check_keys(&o);

	memset(&v, 0, sizeof(v));
	v.audience = o.audience;
	v.leeway = o.leeway;
	v.max_lifetime = o.max_lifetime;
	v.trust_request_id = o.trust_request_id;
	v.keys = keyset_load(o.keys, o.nkeys, err, sizeof(err));
	if (v.keys == NULL)
		fatalx("%s", err);
	if (o.single_use && (v.replay = replay_new(REPLAY_CAPACITY)) == NULL)
		fatalx("out of memory for the replay cache");
	if (probe_listen(&o.listen, err, sizeof(err)) == -1)
		fatalx("cannot listen on %s: %s", o.listen_arg, err);

	log_route_lws();
	sigfd = sigwatch_open(sigs);
	memset(&info, 0, sizeof(info));
	info.port = o.listen.port;
	info.iface = o.listen.host;
	info.protocols = http_protocols;
	info.user = &v;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(o.listen.host, ':') == NULL);
	info.max_http_header_data = HEADERS_MAX;
	info.max_http_header_pool2 = HEADER_POOL;
	info.keepalive_timeout = IDLE_TIMEOUT;
	info.timeout_secs = REQUEST_TIMEOUT;
	info.server_string = "jwt-verify";
	nofile = fdlimit_raise();
	if (nofile < FD_LIMIT)
		log_warnx("open file limit %u: fewer than %d idle clients can lock others out "
			  "(LimitNOFILE=%d)", nofile, FD_LIMIT - 64, FD_LIMIT);
	info.fd_limit_per_thread = nofile < FD_LIMIT ? nofile : FD_LIMIT;
	ctx = lws_create_context(&info);
	if (ctx == NULL)
		fatalx("cannot listen on %s", o.listen_arg);
	if (o.metrics_arg != NULL &&
	    ((reg = metrics_new()) == NULL || verify_metrics_init(reg, &v) != 0 ||
	     metrics_listen(ctx, reg, &o.metrics) != 0))
		fatalx("cannot serve metrics on %s", o.metrics_arg);
	svc = (struct service){ .o = &o, .v = &v };
	if (sigwatch_adopt(lws_get_vhost_by_name(ctx, "default"), sigfd, on_signal, &svc) != 0)
		fatalx("cannot watch signals");
	log_keys(v.keys);
	log_info("listening on %s%s%s", o.listen_arg, o.single_use ? ", single-use" : "",
		 o.audience ? ", audience required" : "");

	/* Each turn's lines (a decision per request) leave in one write. */
	logbatch_start();
	while (!svc.stop) {
		rc = lws_service(ctx, 0);
		logbatch_flush();
		if (rc < 0)
			break;
	}
	logbatch_stop();
	/* Only a signal ends the loop cleanly; lws_service() failing is an error. */
	rc = svc.stop ? 0 : 1;
	log_info("stopping%s", rc ? " (event loop failed)" : "");
	lws_context_destroy(ctx);
	metrics_free(reg);
	if (o.metrics_arg != NULL && o.metrics.is_unix)
		unlink(o.metrics.path);
	keyset_free(v.keys);
	replay_free(v.replay);
	return rc;
}
