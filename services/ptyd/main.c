/*
 * main.c: ptyd's entry: flags, the command and its environment, limits,
 * signals (a signalfd served by the loop), the listener and the one event
 * loop, and shutdown.
 */
#include "ptyd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "admin.h"
#include "execproto.h"
#include "fdlimit.h"
#include "fdwatch.h"
#include "logsink.h"
#include "metrics_http.h"
#include "ptyd_metrics.h"
#include "sigwatch.h"

static const char usage_text[] =
	"usage: ptyd [--listen ADDR:PORT | --listen unix:PATH] [--max-clients N]\n"
	"            [--idle-timeout SECONDS] [--max-session SECONDS] [--detach-timeout SECONDS]\n"
	"            [--replay-buffer BYTES] [--replay-total BYTES] [--check-origin ORIGIN]...\n"
	"            [--title TEXT] [--term NAME] [--cwd DIR] [--ping-interval SECONDS]\n"
	"            [--index FILE] [--log-format text|json] [--admin-socket PATH]\n"
	"            [--admin-group GROUP] [--allow-root] [--verbose]\n"
	"            [--user ACCOUNT | --accounts FILE] [--allow-system-accounts]\n"
	"            [--no-new-privs] [--cgroup PATH | --no-cgroup] [--session-pids-max N]\n"
	"            [--session-memory-max BYTES] [--session-cpu-weight N] [--check]\n"
	"            [--no-exec] [--exec-max-commands N] [--exec-max-per-user N]\n"
	"            [--exec-timeout SECONDS] [--exec-max-command BYTES]\n"
	"            [--exec-audit-text none|truncated] [--no-exec-warm-shell]\n"
	"            [--record DIR [--record-input] [--record-group GROUP]\n"
	"             [--record-max-file BYTES] [--record-max-dir BYTES]]\n"
	"            [--metrics ADDR:PORT | --metrics unix:PATH] [--metrics-allow-remote]\n"
	"            [--help] [--version] [-- COMMAND [ARG...]]\n"
	"       ptyd [--admin-socket PATH] --list [--json]\n"
	"       ptyd [--admin-socket PATH] --end ID-PREFIX\n"
	"\n"
	"Serves a terminal over WebSocket (ttyd's protocol, subprotocol \"tty\", at /ws)\n"
	"behind Caddy and jwt-verify. Each connection starts COMMAND (default: the\n"
	"account's login shell) on a PTY; a client that asks for a session\n"
	"(docs/protocol.md) can drop and resume it. A client offering the subprotocol\n"
	"\"webshell-exec.v1\" runs commands instead, many at once (README: exec).\n"
	"\n"
	"  --listen ADDR:PORT       where to listen (default 127.0.0.1:7681); unix:PATH\n"
	"                           for a unix socket\n"
	"  --max-clients N          refuse upgrades beyond N open connections (0: no limit)\n"
	"  --idle-timeout SECONDS   end a session after SECONDS without typed input\n"
	"                           (resizes, pings, reconnects don't count; 0: off)\n"
	"  --max-session SECONDS    end a session after SECONDS (0: off)\n"
	"  --detach-timeout SECONDS how long a resumable session waits for its client to\n"
	"                           come back (default 300; 0: sessions end with their\n"
	"                           connection)\n"
	"  --replay-buffer BYTES    output kept per session for resuming (default 262144)\n"
	"  --replay-total BYTES     output kept by all sessions together (default\n"
	"                           134217728); at the total, buffers stop growing and\n"
	"                           keep less history\n"
	"  --check-origin ORIGIN    accept upgrades only with this Origin (repeatable)\n"
	"  --title TEXT             window title (default: \"COMMAND (HOSTNAME)\")\n"
	"  --term NAME              TERM for the command (default xterm-256color)\n"
	"  --cwd DIR                directory to start in (default: the user's home)\n"
	"  --ping-interval SECONDS  WebSocket pings; silent peers are dropped after 3x\n"
	"  --index FILE             file served at / (default: 404)\n"
	"  --log-format FORMAT      text (default) or json\n"
	"  --user ACCOUNT           the account shells run as (needs CAP_SETUID and\n"
	"                           CAP_SETGID unless it is ptyd's own)\n"
	"  --accounts FILE          identity -> account map (README: Containment)\n"
	"  --admin-socket PATH      serve the admin interface on this unix socket; with\n"
	"                           --list or --end: the socket to ask (default\n"
	"                           " PTYD_ADMIN_SOCKET_DEFAULT ", web-shell.sh's)\n"
	"  --admin-group GROUP      members of GROUP may use the admin socket (besides\n"
	"                           root and ptyd's own user)\n"
	"  --list                   list sessions, exec commands and shells waiting for\n"
	"                           one: id prefix, state, kind, owner, peer, start,\n"
	"                           last input, bytes in and out, pid\n"
	"  --json                   with --list: JSON instead of a table\n"
	"  --end ID-PREFIX          end the session, command or waiting shell whose id\n"
	"                           starts with ID-PREFIX\n"
	"  --allow-root             allow the account root, and running as root\n"
	"                           without --user (every shell would be root's)\n"
	"  --allow-system-accounts  allow accounts below UID_MIN\n"
	"  --no-new-privs           shells cannot gain privileges (no sudo, su)\n"
	"  --cgroup PATH            make session cgroups under this cgroup path\n"
	"                           (default: below ptyd's own cgroup)\n"
	"  --no-cgroup              no cgroups: process groups only\n"
	"  --session-pids-max N     each session's pids.max\n"
	"  --session-memory-max BYTES  each session's memory.max (K, M, G suffixes)\n"
	"  --session-cpu-weight N   each session's cpu.weight (1-10000)\n"
	"  --check                  validate flags, accounts and cgroups, print what was\n"
	"                           found, exit 0 or 1; never listens\n"
	"  --no-exec                do not serve the exec channel (webshell-exec.v1)\n"
	"  --exec-max-commands N    commands at once on one exec connection (default 16)\n"
	"  --exec-max-per-user N    commands at once for one identity (default 64)\n"
	"  --exec-timeout SECONDS   longest run time of a command (default 0: none)\n"
	"  --exec-max-command BYTES largest start message (default 4194304)\n"
	"  --exec-audit-text MODE   truncated (default: the command's first 200 bytes in\n"
	"                           its audit line) or none (its SHA-256 and length only)\n"
	"  --no-exec-warm-shell     start no bash ahead of exec scripts (default: for\n"
	"                           accounts whose shell is bash, one waits per exec\n"
	"                           connection and per identity for the next plain\n"
	"                           script, ended after 10 s unused; README: exec)\n"
	"  --record DIR             record every session into DIR as asciicast v2 files\n"
	"                           (made 0700, or 0750 with --record-group)\n"
	"  --record-input           record typed input too (passwords included)\n"
	"  --record-group GROUP     recordings 0640 in GROUP (the admins who read them)\n"
	"  --record-max-file BYTES  cut a recording at BYTES (K, M, G suffixes; >= 1M)\n"
	"  --record-max-dir BYTES   remove the oldest recordings beyond BYTES (>= 1M)\n"
	"  --metrics ADDR           Prometheus metrics at http://ADDR/metrics (loopback\n"
	"                           ADDR:PORT or unix:PATH; off by default)\n"
	"  --metrics-allow-remote   let --metrics listen on a non-loopback address\n"
	"  -v, --verbose            debug lines, libwebsockets notices\n"
	"  -h, --help, --version\n";

/* BYTES: a number with an optional K, M or G suffix (powers of 1024); at least 1 MiB. */
static long long bytes_flag(const char *flag, const char *v)
{
	char num[32];
	size_t len = strlen(v);
	long long n, mult = 1;

	if (len == 0 || len >= sizeof(num))
		args_usage_error("%s %s: not a size", flag, v);
	memcpy(num, v, len + 1);
	switch (num[len - 1]) {
	case 'K': case 'k': mult = 1LL << 10; break;
	case 'M': case 'm': mult = 1LL << 20; break;
	case 'G': case 'g': mult = 1LL << 30; break;
	default: break;
	}
	if (mult != 1)
		num[len - 1] = '\0';
	n = args_number_flag(flag, num, 1, (1LL << 50) / mult);
	if (n * mult < (1LL << 20))
		args_usage_error("%s %s: at least 1M", flag, v);
	return n * mult;
}

enum {
	OPT_LISTEN = 256, OPT_MAX_CLIENTS, OPT_IDLE, OPT_MAX_SESSION, OPT_ORIGIN, OPT_TITLE,
	OPT_TERM, OPT_CWD, OPT_PING, OPT_INDEX, OPT_ALLOW_ROOT, OPT_VERSION, OPT_DETACH,
	OPT_REPLAY_BUFFER, OPT_REPLAY_TOTAL, OPT_LOG_FORMAT,
	OPT_NO_EXEC, OPT_EXEC_MAX_COMMANDS, OPT_EXEC_MAX_PER_USER, OPT_EXEC_TIMEOUT,
	OPT_EXEC_MAX_COMMAND, OPT_EXEC_AUDIT_TEXT, OPT_EXEC_WARM_SHELL, OPT_NO_EXEC_WARM_SHELL,
	OPT_USER, OPT_ACCOUNTS, OPT_ALLOW_SYSTEM, OPT_NO_NEW_PRIVS, OPT_CGROUP, OPT_NO_CGROUP,
	OPT_PIDS_MAX, OPT_MEMORY_MAX, OPT_CPU_WEIGHT, OPT_CHECK,
	OPT_ADMIN_SOCKET, OPT_ADMIN_GROUP, OPT_LIST, OPT_JSON, OPT_END,
	OPT_RECORD, OPT_RECORD_INPUT, OPT_RECORD_GROUP, OPT_RECORD_MAX_FILE, OPT_RECORD_MAX_DIR,
	OPT_METRICS, OPT_METRICS_REMOTE,
};

/* What the command line asks for besides serving: an admin client request. */
static int opt_list, opt_json;
static const char *opt_end;

static const struct option long_opts[] = {
	{ "accounts", required_argument, NULL, OPT_ACCOUNTS },
	{ "admin-group", required_argument, NULL, OPT_ADMIN_GROUP },
	{ "admin-socket", required_argument, NULL, OPT_ADMIN_SOCKET },
	{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
	{ "allow-system-accounts", no_argument, NULL, OPT_ALLOW_SYSTEM },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "check-origin", required_argument, NULL, OPT_ORIGIN },
	{ "cwd", required_argument, NULL, OPT_CWD },
	{ "exec-audit-text", required_argument, NULL, OPT_EXEC_AUDIT_TEXT },
	{ "exec-max-command", required_argument, NULL, OPT_EXEC_MAX_COMMAND },
	{ "exec-max-commands", required_argument, NULL, OPT_EXEC_MAX_COMMANDS },
	{ "exec-max-per-user", required_argument, NULL, OPT_EXEC_MAX_PER_USER },
	{ "exec-timeout", required_argument, NULL, OPT_EXEC_TIMEOUT },
	{ "detach-timeout", required_argument, NULL, OPT_DETACH },
	{ "end", required_argument, NULL, OPT_END },
	{ "help", no_argument, NULL, 'h' },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "max-session", required_argument, NULL, OPT_MAX_SESSION },
	{ "no-exec", no_argument, NULL, OPT_NO_EXEC },
	{ "exec-warm-shell", no_argument, NULL, OPT_EXEC_WARM_SHELL }, /* the default; kept */
	{ "no-exec-warm-shell", no_argument, NULL, OPT_NO_EXEC_WARM_SHELL },
	{ "no-cgroup", no_argument, NULL, OPT_NO_CGROUP },
	{ "no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "metrics-allow-remote", no_argument, NULL, OPT_METRICS_REMOTE },
	{ "ping-interval", required_argument, NULL, OPT_PING },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "record-group", required_argument, NULL, OPT_RECORD_GROUP },
	{ "record-input", no_argument, NULL, OPT_RECORD_INPUT },
	{ "record-max-dir", required_argument, NULL, OPT_RECORD_MAX_DIR },
	{ "record-max-file", required_argument, NULL, OPT_RECORD_MAX_FILE },
	{ "replay-buffer", required_argument, NULL, OPT_REPLAY_BUFFER },
	{ "replay-total", required_argument, NULL, OPT_REPLAY_TOTAL },
	{ "session-cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT },
	{ "session-memory-max", required_argument, NULL, OPT_MEMORY_MAX },
	{ "session-pids-max", required_argument, NULL, OPT_PIDS_MAX },
	{ "term", required_argument, NULL, OPT_TERM },
	{ "title", required_argument, NULL, OPT_TITLE },
	{ "user", required_argument, NULL, OPT_USER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* --record-group: a group name or number. */
static gid_t record_group(const char *v)
{
	const struct group *gr = getgrnam(v);
	const char *err;
	long long n;

	if (gr != NULL)
		return gr->gr_gid;
	if (args_parse_number(v, 0, 0x7fffffff, &n, &err) != 0)
		args_usage_error("--record-group %s: no such group", v);
	return (gid_t)n;
}

/* Fills cfg from argv; exits 2 with the usage on any bad flag. Returns the command's index. */
static int parse_flags(int argc, char **argv, struct ptyd_config *cfg, const char **title)
{
	const char *err;
	struct stat st;
	int c, no_cgroup = 0;

	if (args_parse_listen("127.0.0.1:7681", 1, &cfg->listen, &err) != 0)
		fatalx("default listen address: %s", err);
	cfg->term = "xterm-256color";
	cfg->exec.max_commands = EXEC_DEFAULT_MAX_COMMANDS;
	cfg->exec.max_per_user = EXEC_DEFAULT_MAX_PER_USER;
	cfg->exec.max_command = EXECPROTO_START_DEFAULT;
	cfg->exec.window = EXEC_DEFAULT_WINDOW;
	cfg->exec.audit_text = EXEC_AUDIT_TRUNCATED;
	cfg->exec.warm_shell = 1;
	cfg->record.group = (gid_t)-1;
	cfg->detach_timeout = PTYD_DETACH_TIMEOUT_DEFAULT;
	cfg->replay_buffer = PTYD_REPLAY_BUFFER_DEFAULT;
	cfg->replay_total = PTYD_REPLAY_TOTAL_DEFAULT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hv", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_ALLOW_ROOT:
			cfg->allow_root = 1;
			cfg->accounts.policy.allow_root = 1;
			break;
		case OPT_ACCOUNTS:
			cfg->accounts.file = optarg;
			break;
		case OPT_ALLOW_SYSTEM:
			cfg->accounts.policy.allow_system = 1;
			break;
		case OPT_CGROUP:
			if (optarg[0] != '/')
				args_usage_error("--cgroup %s: not a cgroup path (it starts with '/')",
						 optarg);
			cfg->contain.cgroup = optarg;
			break;
		case OPT_CHECK:
			cfg->check = 1;
			cfg->contain.check = 1;
			break;
		case OPT_NO_CGROUP:
			no_cgroup = 1;
			break;
		case OPT_NO_NEW_PRIVS:
			cfg->no_new_privs = 1;
			break;
		case OPT_PIDS_MAX:
			cfg->contain.pids_max = args_number_flag("--session-pids-max", optarg, 1, 4194304);
			break;
		case OPT_MEMORY_MAX:
			cfg->contain.memory_max = bytes_flag("--session-memory-max", optarg);
			break;
		case OPT_CPU_WEIGHT:
			cfg->contain.cpu_weight = args_number_flag("--session-cpu-weight", optarg, 1, 10000);
			break;
		case OPT_USER:
			cfg->accounts.user = optarg;
			break;
		case OPT_ORIGIN:
			if (cfg->norigins == PTYD_ORIGINS_MAX)
				args_usage_error("--check-origin %s: %s", optarg, "too many origins");
			if (optarg[0] == '\0')
				args_usage_error("--check-origin: empty");
			cfg->check_origin[cfg->norigins++] = optarg;
			break;
		case OPT_DETACH:
			cfg->detach_timeout = args_number_flag("--detach-timeout", optarg, 0, 31 * 24 * 3600);
			break;
		case OPT_REPLAY_BUFFER:
			cfg->replay_buffer = (size_t)args_number_flag("--replay-buffer", optarg, 0, 1LL << 30);
			break;
		case OPT_REPLAY_TOTAL:
			cfg->replay_total = (size_t)args_number_flag("--replay-total", optarg, 0, 1LL << 40);
			break;
		case OPT_ADMIN_SOCKET:
			if (optarg[0] != '/')
				args_usage_error("--admin-socket %s: must be an absolute path", optarg);
			cfg->admin_socket = optarg;
			break;
		case OPT_ADMIN_GROUP: {
			const struct group *gr = getgrnam(optarg);
			if (gr == NULL)
				args_usage_error("--admin-group %s: no such group", optarg);
			cfg->admin_gid = gr->gr_gid;
			cfg->has_admin_group = 1;
			break;
		}
		case OPT_LIST:
			opt_list = 1;
			break;
		case OPT_JSON:
			opt_json = 1;
			break;
		case OPT_END:
			opt_end = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (log_format_parse(optarg, &cfg->log_format) != 0)
				args_usage_error("--log-format %s: %s", optarg, "must be text or json");
			break;
		case OPT_CWD:
			if (stat(optarg, &st) != 0 || !S_ISDIR(st.st_mode))
				args_usage_error("--cwd: %s: %s", optarg, "not a directory");
			cfg->cwd = optarg;
			break;
		case 'h':
			args_help();
		case OPT_IDLE:
			cfg->idle_timeout = args_number_flag("--idle-timeout", optarg, 0, 31 * 24 * 3600);
			break;
		case OPT_EXEC_AUDIT_TEXT:
			if (strcmp(optarg, "none") == 0)
				cfg->exec.audit_text = EXEC_AUDIT_NONE;
			else if (strcmp(optarg, "truncated") == 0)
				cfg->exec.audit_text = EXEC_AUDIT_TRUNCATED;
			else
				args_usage_error("--exec-audit-text: %s: use none or truncated", optarg);
			break;
		case OPT_EXEC_MAX_COMMAND:
			cfg->exec.max_command = args_number_flag("--exec-max-command", optarg, 1024,
								 64LL << 20);
			break;
		case OPT_EXEC_MAX_COMMANDS:
			cfg->exec.max_commands = args_number_flag("--exec-max-commands", optarg, 1, 100000);
			break;
		case OPT_EXEC_MAX_PER_USER:
			cfg->exec.max_per_user = args_number_flag("--exec-max-per-user", optarg, 1, 1000000);
			break;
		case OPT_EXEC_TIMEOUT:
			cfg->exec.timeout_s = args_number_flag("--exec-timeout", optarg, 0, 31 * 24 * 3600);
			break;
		case OPT_INDEX:
			if (stat(optarg, &st) != 0 || !S_ISREG(st.st_mode) || access(optarg, R_OK) != 0)
				args_usage_error("--index: %s: %s", optarg, "not a readable file");
			cfg->index = optarg;
			break;
		case OPT_LISTEN:
			if (args_parse_listen(optarg, 1, &cfg->listen, &err) != 0)
				args_usage_error("--listen %s: %s", optarg, err);
			break;
		case OPT_MAX_CLIENTS:
			cfg->max_clients = args_number_flag("--max-clients", optarg, 0, 1000000);
			break;
		case OPT_MAX_SESSION:
			cfg->max_session = args_number_flag("--max-session", optarg, 0, 366 * 24 * 3600);
			break;
		case OPT_NO_EXEC:
			cfg->exec.disabled = 1;
			break;
		case OPT_EXEC_WARM_SHELL:
			cfg->exec.warm_shell = 1;
			break;
		case OPT_NO_EXEC_WARM_SHELL:
			cfg->exec.warm_shell = 0;
			break;
		case OPT_METRICS:
			cfg->metrics_arg = optarg;
			break;
		case OPT_METRICS_REMOTE:
			cfg->metrics_allow_remote = 1;
			break;
		case OPT_RECORD:
			if (optarg[0] != '/')
				args_usage_error("--record %s: must be an absolute path", optarg);
			cfg->record.dir = optarg;
			break;
		case OPT_RECORD_GROUP:
			cfg->record.group = record_group(optarg);
			break;
		case OPT_RECORD_INPUT:
			cfg->record.record_input = 1;
			break;
		case OPT_RECORD_MAX_DIR:
			cfg->record.max_dir = (uint64_t)bytes_flag("--record-max-dir", optarg);
			break;
		case OPT_RECORD_MAX_FILE:
			cfg->record.max_file = (uint64_t)bytes_flag("--record-max-file", optarg);
			break;
		case OPT_PING:
			cfg->ping_interval = args_number_flag("--ping-interval", optarg, 0, 3600);
			break;
		case OPT_TERM:
			if (optarg[0] == '\0' || strpbrk(optarg, "=/ \t\n") != NULL)
				args_usage_error("--term: %s: %s", optarg, "not a terminal name");
			cfg->term = optarg;
			break;
		case OPT_TITLE:
			*title = optarg;
			break;
		case 'v':
			cfg->verbose++;
			break;
		case OPT_VERSION:
			args_version(PTYD_VERSION);
		default:
			args_getopt_error(c, argv);
		}
	}
	if (no_cgroup && (cfg->contain.cgroup != NULL || cfg->contain.pids_max ||
			  cfg->contain.memory_max || cfg->contain.cpu_weight))
		args_usage_error("--no-cgroup: cannot go with --cgroup or a --session-* limit");
	cfg->contain_off = no_cgroup;
	/* The operator's commands ask the provisioned ptyd unless told otherwise. */
	if ((opt_list || opt_end != NULL) && cfg->admin_socket == NULL)
		cfg->admin_socket = PTYD_ADMIN_SOCKET_DEFAULT;
	if (opt_json && !opt_list)
		args_usage_error("--json: only with --list");
	if (opt_list && opt_end != NULL)
		args_usage_error("--list and --end: one at a time");
	if (cfg->has_admin_group && cfg->admin_socket == NULL)
		args_usage_error("--admin-group: needs --admin-socket PATH");
	if ((cfg->record.record_input || cfg->record.group != (gid_t)-1 || cfg->record.max_file ||
	     cfg->record.max_dir) && cfg->record.dir == NULL)
		args_usage_error("--record-input, --record-group and --record-max-* need --record DIR");
	if (cfg->metrics_arg != NULL &&
	    metrics_parse_addr(cfg->metrics_arg, cfg->metrics_allow_remote, &cfg->metrics, &err) != 0)
		args_usage_error("--metrics %s: %s", cfg->metrics_arg, err);
	return optind;
}

/* --record: the directory is checked and the writer started before anything listens. */
static void start_recorder(struct ptyd *srv)
{
	char err[256];

	if (srv->cfg.record.dir == NULL)
		return;
	srv->recorder = recorder_new(NULL, &srv->cfg.record, err, sizeof(err));
	if (srv->recorder == NULL)
		fatalx("--record %s", err);
}

/* --metrics, and the recorder's timer: both run in the loop's context. */
static void start_audit(struct ptyd *srv)
{
	if (srv->recorder != NULL) {
		recorder_use_loop(srv->recorder, srv->ctx);
		log_info("recording sessions in %s%s", srv->cfg.record.dir,
			 srv->cfg.record.record_input ? " (with input)" : "");
	}
	if (srv->cfg.metrics_arg != NULL) {
		srv->metrics = metrics_new();
		if (srv->metrics == NULL ||
		    ptyd_metrics_init(srv->metrics, session_count_states, srv, srv->recorder) != 0 ||
		    metrics_listen(srv->ctx, srv->metrics, &srv->cfg.metrics) != 0)
			fatalx("cannot serve metrics on %s", srv->cfg.metrics_arg);
		log_info("metrics on %s", srv->cfg.metrics_arg);
	}
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fatal("strdup");
	return d;
}

static char *xprintf(const char *fmt, const char *a, const char *b)
{
	char *d;

	if (asprintf(&d, fmt, a, b) < 0)
		fatal("asprintf");
	return d;
}

/*
 * The command (default: each account's login shell, argv[0] "-bash"; shown
 * in logs and the title as def's), the fixed part of the clean environment
 * (child.c adds the account's), and the title. Everything set here is owned by cfg.
 */
static void setup_command(struct ptyd_config *cfg, int argc, char **argv, const char *title,
			  const struct account *def)
{
	char *const *shown;
	char *login_shown[2] = { NULL, NULL };
	char host[256], buf[1024], *path_env, *lang;
	const char *shell, *base;
	size_t len;
	int i, n;

	shell = def->shell;
	n = argc > 0 ? argc : 1;
	cfg->argv = calloc((size_t)n + 1, sizeof(char *));
	if (cfg->argv == NULL)
		fatal("calloc");
	if (argc > 0) {
		for (i = 0; i < argc; i++)
			cfg->argv[i] = xstrdup(argv[i]);
		cfg->path = cfg->argv[0];
		cfg->command_given = 1;
		shown = cfg->argv;
	} else {
		/* A login shell: argv[0] is "-" and the shell's name. */
		base = strrchr(shell, '/');
		cfg->argv[0] = xprintf("-%s%s", base != NULL ? base + 1 : shell, "");
		cfg->path = shell;
		login_shown[0] = (char *)shell;
		shown = login_shown;
	}
	len = 0;
	buf[0] = '\0';
	for (i = 0; shown[i] != NULL && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "", shown[i]);
	cfg->cmdline = xstrdup(buf);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (title != NULL) {
		cfg->title = xstrdup(title);
	} else {
		proto_title(buf, sizeof(buf), shown, host);
		cfg->title = xstrdup(buf);
	}
	if (argc == 0)
		cfg->path = cfg->cmdline;

	/* Only these reach the child: nothing else of ptyd's environment leaks. */
	path_env = getenv("PATH");
	lang = getenv("LANG");
	cfg->env[cfg->nenv++] = xprintf("TERM=%s%s", cfg->term, "");
	cfg->env[cfg->nenv++] = xprintf("PATH=%s%s", path_env != NULL ? path_env :
					 "/usr/local/bin:/usr/bin:/bin", "");
	if (lang != NULL)
		cfg->env[cfg->nenv++] = xprintf("LANG=%s%s", lang, "");
}

static void free_config(struct ptyd_config *cfg)
{
	int i;

	for (i = 0; cfg->argv != NULL && cfg->argv[i] != NULL; i++)
		free(cfg->argv[i]);
	free(cfg->argv);
	free(cfg->cmdline);
	free(cfg->title);
	for (i = 0; i < cfg->nenv; i++)
		free(cfg->env[i]);
}

static void shutdown_deadline(lws_sorted_usec_list_t *sul)
{
	struct ptyd *srv = lws_container_of(sul, struct ptyd, sul_shutdown);

	log_info("shutdown: %lld session(s) did not end in time; killing them", srv->nsessions);
	srv->done = 1;
}

/*
 * SIGHUP: --user and --accounts are read and resolved again (new identities,
 * changed groups); running sessions keep their account. A bad file changes
 * nothing: the old map stays and the reason is logged.
 */
static void reload_accounts(struct ptyd *srv)
{
	struct account_table t;
	char why[1024];

	if (srv->cfg.accounts.user == NULL && srv->cfg.accounts.file == NULL) {
		log_info("SIGHUP: nothing to reload");
		return;
	}
	if (account_table_init(&t, &srv->cfg.accounts, why, sizeof(why)) != 0) {
		log_warnx("SIGHUP: accounts not reloaded, the old ones stay: %s", why);
		return;
	}
	account_table_free(&srv->accounts);
	srv->accounts = t;
	exec_accounts_reloaded(srv);
	if (t.file != NULL)
		log_info("SIGHUP: accounts reloaded from %s: %zu identities%s", t.file, t.map.n,
			 t.map_default.name != NULL ? " and a default" : "");
	else
		log_info("SIGHUP: account %s reloaded", t.user.name);
}

/* SIGCHLD reaps, SIGTERM/SIGINT start the shutdown, SIGHUP reloads the accounts (a sigwatch_fn). */
static void on_signal(void *arg, int sig)
{
	struct ptyd *srv = arg;
	int st;
	pid_t pid;

	switch (sig) {
	case SIGCHLD:
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			if (!exec_reaped(srv, pid, st))
				session_reaped(srv, pid, st);
		contain_reap();
		break;
	case SIGTERM:
	case SIGINT:
		if (srv->stopping)
			break;
		log_info("shutdown: signal %d, ending %lld session(s), closing %lld connection(s)", sig,
			 srv->nsessions, srv->nclients);
		srv->stopping = 1;
		session_shutdown_all(srv);
		tty_shutdown_all(srv);
		exec_shutdown_all(srv);
		ptyd_check_done(srv);
		if (!srv->done)
			lws_sul_schedule(srv->ctx, 0, &srv->sul_shutdown, shutdown_deadline,
					 PTYD_SHUTDOWN_US);
		break;
	case SIGHUP:
		reload_accounts(srv);
		break;
	default:
		break;
	}
}

#define PROTOCOLS_MAX 16

static void start_server(struct ptyd *srv, unsigned int nofile, uv_loop_t *loop)
{
	void *foreign_loops[1] = { loop };
	static lws_retry_bo_t retry;
	static struct lws_protocols protocols[PROTOCOLS_MAX];
	int n, k = 0;
	struct lws_context_creation_info info;
	struct ptyd_config *cfg = &srv->cfg;

	memset(&info, 0, sizeof(info));
	/* Text frames are checked for UTF-8 by proto.c, so the 1007 sent is the one logged. */
	/*
	 * lws runs on libuv (epoll), not on its own poll() loop, which scans
	 * every socket on every wake-up: with 300 idle sessions that scan was
	 * most of a keystroke's cost. libuv, not libev: lws 4.1.6's libev glue
	 * re-arms its timer with ev_timer_set() and ev_timer_start(), which do
	 * nothing to a running timer, so a timer scheduled earlier than the
	 * pending one fires late; its libuv glue uses uv_timer_start(), which
	 * moves a running timer. The loop is ptyd's (a "foreign" loop to lws):
	 * ptyd runs it turn by turn, leaves it when done and closes it after
	 * lws. lws's libuv glue does not watch a descriptor whose reading is
	 * paused, hang-ups included: what ptyd reads itself is watched by
	 * fdwatch.c, in the same loop. Closing with a reason: see ws_close() (ws.c).
	 */
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = foreign_loops;
	info.user = srv;
	info.uid = -1;
	info.gid = -1;
	info.fd_limit_per_thread = nofile;
	srv->ctx = lws_create_context(&info);
	if (srv->ctx == NULL)
		fatalx("cannot create the libwebsockets context (on libuv: is "
		       "libwebsockets-evlib-uv installed?)");

	/* --no-exec: the exec protocol is not served at all (lws binds the
	 * first name of the client's list that the vhost knows). */
	for (n = 0; ptyd_protocols[n].name != NULL && n < PROTOCOLS_MAX - 1; n++)
		if (!cfg->exec.disabled || strcmp(ptyd_protocols[n].name, EXECPROTO_NAME) != 0)
			protocols[k++] = ptyd_protocols[n];
	info.protocols = protocols;
	info.vhost_name = "ptyd";
	info.server_string = "ptyd";
	if (cfg->listen.is_unix) {
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = cfg->listen.path;
		info.port = 0;
	} else {
		info.iface = cfg->listen.host;
		info.port = cfg->listen.port;
		if (strchr(cfg->listen.host, ':') == NULL)
			info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	}
	if (cfg->ping_interval > 0) {
		retry.secs_since_valid_ping = (uint16_t)cfg->ping_interval;
		retry.secs_since_valid_hangup = (uint16_t)(cfg->ping_interval * 3);
		info.retry_and_idle_policy = &retry;
	}
	srv->vh = lws_create_vhost(srv->ctx, &info);
	if (srv->vh == NULL)
		fatalx("cannot listen on %s", cfg->listen.is_unix ? cfg->listen.path :
		       cfg->listen.host);
}

/* Says once where sessions are contained, or why only by process group. */
static void start_containment(const struct ptyd_config *cfg)
{
	char why[PATH_MAX + 256];
	int rc;

	if (cfg->contain_off) {
		log_info("--no-cgroup: sessions are contained by process group only");
		return;
	}
	rc = contain_init(&cfg->contain, why, sizeof(why));
	if (rc < 0)
		fatalx("%s", why);
	if (rc == 0)
		log_warnx("cgroup v2 containment is off (%s): sessions are contained by process "
			 "group only; what leaves the group (setsid, daemons) can outlive a session", why);
	else
		log_info("sessions are contained: one cgroup each under %s", why);
}

/* --check: validates the flags, accounts and cgroup; prints what it found; never listens. */
static int check_only(struct ptyd *srv)
{
	char why[PATH_MAX + 256];
	int rc = 0, c;

	printf("ptyd --check: ptyd runs as %s (uid %u)%s\n", srv->accounts.own.name,
	       (unsigned)srv->accounts.own.uid, srv->accounts.switching ?
	       ", may switch accounts (CAP_SETUID, CAP_SETGID)" : "");
	account_table_print(&srv->accounts, stdout);
	printf("command: %s%s\n", srv->cfg.cmdline,
	       srv->cfg.command_given ? "" : " (each account's login shell)");
	if (srv->cfg.no_new_privs)
		printf("no_new_privs: shells cannot gain privileges (sudo, su and setuid programs fail)\n");
	if (srv->cfg.contain_off) {
		printf("cgroup: off (--no-cgroup): process groups only\n");
	} else {
		c = contain_init(&srv->cfg.contain, why, sizeof(why));
		if (c < 0) {
			printf("cgroup: FAILED: %s\n", why);
			rc = 1;
		} else if (c == 0) {
			printf("cgroup: unavailable (%s): process groups only\n", why);
		} else {
			printf("cgroup: one group per session under %s\n", why);
		}
	}
	printf("ptyd --check: %s\n", rc == 0 ? "OK" : "FAILED");
	account_table_free(&srv->accounts);
	free_config(&srv->cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static struct ptyd srv;
	static uv_loop_t loop;
	const char *title = NULL;
	char why[1024];
	unsigned int nofile;
	int first, sigfd, turns, admin_fd = -1;
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, 0 };

	args_program("ptyd", usage_text);
	log_init("ptyd", LOG_FORMAT_TEXT, 0);
	first = parse_flags(argc, argv, &srv.cfg, &title);
	if (opt_list)
		return admin_client_list(srv.cfg.admin_socket, opt_json);
	if (opt_end != NULL)
		return admin_client_end(srv.cfg.admin_socket, opt_end);
	log_init("ptyd", srv.cfg.log_format, srv.cfg.verbose);
	log_route_lws();
	if (account_table_init(&srv.accounts, &srv.cfg.accounts, why, sizeof(why)) != 0) {
		if (srv.cfg.check) {
			printf("ptyd --check: FAILED: %s\n", why);
			return 1;
		}
		fatalx("%s", why);
	}
	setup_command(&srv.cfg, argc - first, argv + first, title,
		      account_table_default(&srv.accounts));
	if (srv.cfg.check)
		return check_only(&srv);
	/* Switching accounts would make it so anyway (a changed uid on the memory a
	 * vfork child shares); said here: no core file or ptrace holds session output. */
	if (srv.accounts.switching && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("cannot make ptyd non-dumpable");
	start_containment(&srv.cfg);
	nofile = fdlimit_raise(); /* 1,000 sessions need ~3,000 fds */
	/* Shells that daemonise end up ours, so we reap them: no zombies. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		log_warn("cannot become a subreaper");
	srv.replay.max = srv.cfg.replay_total;
	/* SIGCHLD, SIGTERM, SIGINT, SIGHUP arrive as loop events (on_signal). */
	sigfd = sigwatch_open(sigs);
	start_recorder(&srv);
	if (uv_loop_init(&loop) != 0)
		fatalx("cannot create the event loop");
	if (srv.cfg.admin_socket != NULL)
		admin_fd = admin_bind(&srv);
	start_server(&srv, nofile, &loop);
	if (sigwatch_adopt(srv.vh, sigfd, on_signal, &srv) != 0)
		fatalx("cannot watch signals");
	fdwatch_init(&loop);
	if (admin_fd >= 0)
		admin_listen(&srv, admin_fd);
	/* From here on a slow log reader cannot stall sessions. */
	if (logsink_start() != 0)
		log_warnx("log lines will be written blocking");
	start_audit(&srv);

	if (srv.cfg.listen.is_unix)
		log_info("listening on unix:%s, command %s", srv.cfg.listen.path, srv.cfg.cmdline);
	else
		log_info("listening on %s:%d, command %s", srv.cfg.listen.host, srv.cfg.listen.port,
			 srv.cfg.cmdline);
	while (!srv.done)
		uv_run(&loop, UV_RUN_ONCE);

	/* Whatever did not close in time is killed and reaped, then all is freed. */
	lws_sul_cancel(&srv.sul_shutdown);
	srv.destroying = 1;
	logsink_stop();
	recorder_loop_gone(srv.recorder);
	/* lws and fdwatch close their libuv handles asynchronously: a few more
	 * turns, then lws's second call frees what is left. */
	lws_context_destroy(srv.ctx);
	fdwatch_close();
	for (turns = 0; turns < 1000 && uv_run(&loop, UV_RUN_NOWAIT) != 0; turns++)
		;
	lws_context_destroy(srv.ctx);
	if (uv_loop_close(&loop) != 0)
		log_warnx("event loop: handles still open at exit");
	session_kill_all(&srv);
	exec_kill_all(&srv);
	contain_shutdown();
	recorder_free(srv.recorder);
	metrics_free(srv.metrics);
	if (srv.cfg.metrics_arg != NULL && srv.cfg.metrics.is_unix)
		unlink(srv.cfg.metrics.path);
	if (srv.cfg.listen.is_unix)
		unlink(srv.cfg.listen.path);
	account_table_free(&srv.accounts);
	admin_close(&srv);
	wsguard_free();
	free_config(&srv.cfg);
	log_info("stopped");
	return 0;
}
