/* server.c - metrics-service: a small HTTP/1.1 price service on 127.0.0.1.
 *
 *   metrics-service [--port N] [--port-file FILE] [--pid-file FILE]
 *
 * Routes:
 *   GET /api/price?item=NAME&qty=N   the price of N items (timed by with_metrics)
 *   GET /healthz                     "ok"
 *   GET /stats                       what the metrics table holds, as JSON
 *   GET or POST /quit                answer, then shut down cleanly (exit 0)
 *
 * One connection at a time, with keep-alive and an idle timeout: enough for
 * a sample, and it keeps the program short. SIGINT and SIGTERM also shut it
 * down cleanly. --port 0 (the default) picks a free port; the port is
 * printed as "listening on 127.0.0.1:PORT" and written to --port-file.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "http.h"
#include "metrics.h"
#include "price.h"

#define REQUEST_MAX 8192	/* head and body of one request */
#define PATH_MAX_LEN 256
#define IDLE_TIMEOUT_S 5	/* a silent client is dropped after this */

static volatile sig_atomic_t stopping;
static unsigned long requests_served;

static void on_stop_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default:  return "Internal Server Error";
	}
}

int response_printf(struct response *resp, int status, const char *type, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	resp->body = malloc((size_t)n + 1);
	if (!resp->body)
		return -1;
	va_start(ap, fmt);
	vsnprintf(resp->body, (size_t)n + 1, fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->type = type;
	resp->len = (size_t)n;
	return 0;
}

static int handle_stats(struct response *resp)
{
	struct metrics_stats s;

	metrics_get_stats(&s);
	return response_printf(resp, 200, "application/json",
		"{\"pid\":%ld,\"requests\":%lu,\"entries\":%zu,\"samples\":%zu,"
		"\"entry_bytes\":%zu,\"key_bytes\":%zu,\"sample_bytes\":%zu,"
		"\"table_bytes\":%zu,\"failures\":%zu}\n",
		(long)getpid(), requests_served, s.entries, s.samples, s.entry_bytes,
		s.key_bytes, s.sample_bytes, s.table_bytes, s.failures);
}

/* Picks the handler for req and runs it. Sets *quit for /quit. */
static int route(const struct request *req, struct response *resp, int *quit)
{
	int get = strcmp(req->method, "GET") == 0;
	int post = strcmp(req->method, "POST") == 0;

	if (strcmp(req->path, "/api/price") == 0 && get)
		return with_metrics(handle_price, req, resp);
	if (strcmp(req->path, "/healthz") == 0 && get)
		return response_printf(resp, 200, "text/plain", "ok\n");
	if (strcmp(req->path, "/stats") == 0 && get)
		return handle_stats(resp);
	if (strcmp(req->path, "/quit") == 0 && (get || post)) {
		*quit = 1;
		return response_printf(resp, 200, "text/plain", "bye\n");
	}
	if (strcmp(req->path, "/api/price") == 0 || strcmp(req->path, "/healthz") == 0 ||
	    strcmp(req->path, "/stats") == 0 || strcmp(req->path, "/quit") == 0)
		return response_printf(resp, 405, "text/plain", "method not allowed\n");
	return response_printf(resp, 404, "text/plain", "not found\n");
}

/* Writes all of head and body; returns 0 or -1 (client gone). */
static int send_response(int fd, const struct response *resp, int keep_alive)
{
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: %s\r\n\r\n",
			 resp->status, status_text(resp->status), resp->type, resp->len,
			 keep_alive ? "keep-alive" : "close");
	struct iovec iov[2] = {
		{ head, (size_t)n },
		{ resp->body, resp->len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	/* One sendmsg for head and body, so small responses leave in one segment. */
	while (iov[0].iov_len + iov[1].iov_len > 0) {
		ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 0; i < 2; i++) {
			size_t take = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			w -= (ssize_t)take;
		}
	}
	return 0;
}

/* Answers with a fixed error and no keep-alive. */
static void send_error(int fd, int status)
{
	struct response resp = { 0 };

	if (response_printf(&resp, status, "text/plain", "%s\n", status_text(status)) == 0)
		send_response(fd, &resp, 0);
	free(resp.body);
}

/* Case-insensitive header lookup in the head's header lines; returns the
 * value (up to CR) or NULL. */
static const char *header_value(const char *headers, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *line = headers;

	while (line && *line && !(line[0] == '\r' && line[1] == '\n')) {
		const char *eol = strstr(line, "\r\n");

		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			*len = eol ? (size_t)(eol - v) : strlen(v);
			return v;
		}
		line = eol ? eol + 2 : NULL;
	}
	return NULL;
}

/* Reads more bytes into buf; returns bytes read, 0 at end of stream or
 * idle timeout, -1 on error. */
static ssize_t read_more(int fd, char *buf, size_t *len)
{
	for (;;) {
		ssize_t n = recv(fd, buf + *len, REQUEST_MAX - *len, 0);

		if (n > 0) {
			*len += (size_t)n;
			buf[*len] = '\0';
			return n;
		}
		if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR || stopping)
			return -1;
	}
}

/* Serves requests on one connection until the client closes it, asks to
 * close, goes idle, or /quit arrives (then *quit is set). */
static void serve_connection(int fd, int *quit)
{
	char *buf = malloc(REQUEST_MAX + 1);
	size_t len = 0;

	if (!buf) {
		send_error(fd, 500);
		return;
	}
	buf[0] = '\0';
	while (!*quit && !stopping) {
		struct request req;
		struct response resp = { 0 };
		char path[PATH_MAX_LEN];
		char *head_end, *method, *target, *version, *sp, *eol;
		const char *v;
		size_t vlen, head_len, body_len = 0, used;
		int keep_alive, rc;

		while (!(head_end = strstr(buf, "\r\n\r\n"))) {
			if (len == REQUEST_MAX) {
				send_error(fd, 431);
				goto out;
			}
			if (read_more(fd, buf, &len) <= 0)
				goto out;
		}
		head_len = (size_t)(head_end - buf) + 4;

		/* Request line: METHOD SP TARGET SP VERSION CRLF */
		eol = strstr(buf, "\r\n");
		method = buf;
		sp = memchr(buf, ' ', (size_t)(eol - buf));
		if (!sp) {
			send_error(fd, 400);
			goto out;
		}
		*sp = '\0';
		target = sp + 1;
		sp = memchr(target, ' ', (size_t)(eol - target));
		if (!sp || *target != '/') {
			send_error(fd, 400);
			goto out;
		}
		*sp = '\0';
		version = sp + 1;
		*eol = '\0';
		if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
			send_error(fd, 505);
			goto out;
		}
		keep_alive = strcmp(version, "HTTP/1.1") == 0;
		if ((v = header_value(eol + 2, "Connection", &vlen)) != NULL) {
			if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
				keep_alive = 0;
			else if (vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0)
				keep_alive = 1;
		}
		if ((v = header_value(eol + 2, "Content-Length", &vlen)) != NULL)
			body_len = strtoul(v, NULL, 10);
		if (body_len > REQUEST_MAX - head_len) {
			send_error(fd, 413);
			goto out;
		}
		while (len < head_len + body_len)	/* the body is read and ignored */
			if (read_more(fd, buf, &len) <= 0)
				goto out;

		/* The path is the target up to '?', the query what follows it. */
		vlen = strcspn(target, "?");
		if (vlen >= sizeof path) {
			send_error(fd, 404);
			goto out;
		}
		memcpy(path, target, vlen);
		path[vlen] = '\0';
		req.method = method;
		req.target = target;
		req.path = path;
		req.query = target[vlen] ? target + vlen + 1 : "";

		rc = route(&req, &resp, quit);
		requests_served++;
		if (rc != 0) {
			free(resp.body);
			send_error(fd, 500);
			goto out;
		}
		if (*quit)
			keep_alive = 0;
		rc = send_response(fd, &resp, keep_alive);
		free(resp.body);
		if (rc != 0 || !keep_alive)
			goto out;

		/* Keep what the client already sent of its next request. */
		used = head_len + body_len;
		memmove(buf, buf + used, len - used + 1);
		len -= used;
	}
out:
	free(buf);
}

/* Writes "VALUE\n" to path through a temporary file and a rename, so a
 * reader never sees it half written. Returns 0 or -1. */
static int write_number_file(const char *path, long value)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%ld\n", value);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: metrics-service [--port N] [--port-file FILE] [--pid-file FILE]\n"
		     "  --port N          port on 127.0.0.1 (0, the default: any free port)\n"
		     "  --port-file FILE  write the port there once listening\n"
		     "  --pid-file FILE   write the process id there once listening\n");
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *pid_file = NULL;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addr_len = sizeof addr;
	struct sigaction sa = { .sa_handler = on_stop_signal };	/* no SA_RESTART */
	struct metrics_stats s;
	long port = 0;
	int lfd, one = 1, quit = 0;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || port < 0 || port > 65535) {
				fprintf(stderr, "metrics-service: --port '%s': want 0..65535\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
			port_file = argv[++i];
		} else if (strcmp(argv[i], "--pid-file") == 0 && i + 1 < argc) {
			pid_file = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "metrics-service: unknown or incomplete option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("metrics-service: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &addr_len) != 0) {
		fprintf(stderr, "metrics-service: cannot listen on 127.0.0.1:%ld: %s\n", port,
			strerror(errno));
		close(lfd);
		return 1;
	}
	port = ntohs(addr.sin_port);
	if ((pid_file && write_number_file(pid_file, (long)getpid()) != 0) ||
	    (port_file && write_number_file(port_file, port) != 0)) {
		fprintf(stderr, "metrics-service: cannot write %s: %s\n",
			pid_file ? pid_file : port_file, strerror(errno));
		close(lfd);
		return 1;
	}
	printf("listening on 127.0.0.1:%ld (pid %ld)\n", port, (long)getpid());
	fflush(stdout);

	while (!quit && !stopping) {
		struct timeval idle = { .tv_sec = IDLE_TIMEOUT_S };
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("metrics-service: accept");
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		serve_connection(fd, &quit);
		close(fd);
	}
	close(lfd);

	/* The metrics table is left as it is: nothing ever frees it, which is
	 * the bug this sample is about. */
	metrics_get_stats(&s);
	fprintf(stderr, "metrics-service: served %lu requests; metrics table: %zu entries, %zu bytes\n",
		requests_served, s.entries, s.table_bytes);
	return quit || stopping ? 0 : 1;
}
