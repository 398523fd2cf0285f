/* loadgen.c - a bounded load generator for metrics-service.
 *
 *   loadgen (--port N | --port-file FILE) [--requests N] [--first I] [--timeout S]
 *   loadgen (--port N | --port-file FILE) (--get PATH | --post PATH) [--timeout S]
 *
 * Talks only to 127.0.0.1. The first form sends N price requests over one
 * keep-alive connection and reports how many succeeded. Request i asks for
 * "item=<fruit i % 16>&qty=<i / 16 + 1>", a key the service has never seen, except
 * every fourth request, which repeats one of 20 popular keys. --first sets
 * the first i, so a second run continues with new keys instead of repeating
 * the first run's. It stops after N requests or --timeout seconds (default
 * 30), whichever comes first. Exit status: 0 when every request got a 200,
 * 1 otherwise, 2 for bad usage.
 *
 * The second form sends one request and prints the response body to stdout
 * (for /stats, /healthz, /quit); exit status 0 on a 200.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define RESPONSE_MAX 65536

static const char *const fruits[] = {
	"apple", "banana", "cherry", "date", "elderberry", "fig", "grape", "kiwi",
	"lemon", "mango", "nectarine", "orange", "papaya", "quince", "raspberry", "tangerine",
};
#define NFRUITS (sizeof fruits / sizeof fruits[0])

static double deadline;	/* CLOCK_MONOTONIC seconds */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connects to 127.0.0.1:port with send/receive timeouts bounded by the
 * deadline; returns the socket or -1. */
static int connect_local(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	double left = deadline - now_s();
	struct timeval tv;
	int fd, one = 1;

	if (left <= 0)
		return -1;
	if (left > 5)
		left = 5;
	tv.tv_sec = (time_t)left;
	tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends one request and reads its response into buf (NUL-terminated).
 * Returns the HTTP status and sets *body, or -1 on a transport error
 * (the connection is then unusable). */
static int exchange(int fd, const char *method, const char *target, char *buf, char **body)
{
	char req[512];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method,
			 target, strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
	size_t len = 0, head_len, body_len;
	const char *cl;
	char *head_end;
	int status;

	if (n < 0 || (size_t)n >= sizeof req)
		return -1;
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);

		if (w <= 0 && errno != EINTR)
			return -1;
		if (w > 0)
			off += (size_t)w;
	}
	buf[0] = '\0';
	while (!(head_end = strstr(buf, "\r\n\r\n"))) {
		ssize_t r;

		if (len == RESPONSE_MAX)
			return -1;
		r = recv(fd, buf + len, RESPONSE_MAX - len, 0);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
	}
	head_len = (size_t)(head_end - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (!cl || cl > head_end)
		return -1;
	body_len = strtoul(cl + 17, NULL, 10);
	if (body_len > RESPONSE_MAX - head_len)
		return -1;
	while (len < head_len + body_len) {
		ssize_t r = recv(fd, buf + len, RESPONSE_MAX - len, 0);

		if (r <= 0)
			return -1;
		len += (size_t)r;
	}
	buf[head_len + body_len] = '\0';
	*body = buf + head_len;
	return status;
}

static int read_port_file(const char *path)
{
	FILE *f = fopen(path, "r");
	int port = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &port) != 1)
		port = -1;
	fclose(f);
	return port;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: loadgen (--port N | --port-file FILE) [--requests N] [--first I] [--timeout S]\n"
		"       loadgen (--port N | --port-file FILE) (--get PATH | --post PATH) [--timeout S]\n");
}

int main(int argc, char **argv)
{
	const char *method = NULL, *path = NULL;
	long requests = 100, first = 0, timeout = 30;
	long done = 0, ok = 0, errors = 0;
	int port = -1, fd = -1;
	double start;
	char *buf, *body;

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		long *num = NULL;
		char *end;

		if (i + 1 >= argc && strcmp(opt, "--help") != 0) {
			fprintf(stderr, "loadgen: unknown or incomplete option '%s'\n", opt);
			usage(stderr);
			return 2;
		}
		if (strcmp(opt, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(opt, "--port") == 0) {
			port = atoi(argv[++i]);
		} else if (strcmp(opt, "--port-file") == 0) {
			port = read_port_file(argv[++i]);
			if (port < 0) {
				fprintf(stderr, "loadgen: cannot read a port from %s\n", argv[i]);
				return 2;
			}
		} else if (strcmp(opt, "--get") == 0 || strcmp(opt, "--post") == 0) {
			method = opt[2] == 'g' ? "GET" : "POST";
			path = argv[++i];
		} else if (strcmp(opt, "--requests") == 0) {
			num = &requests;
		} else if (strcmp(opt, "--first") == 0) {
			num = &first;
		} else if (strcmp(opt, "--timeout") == 0) {
			num = &timeout;
		} else {
			fprintf(stderr, "loadgen: unknown option '%s'\n", opt);
			usage(stderr);
			return 2;
		}
		if (num) {
			*num = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || *num < 0) {
				fprintf(stderr, "loadgen: %s '%s': want a number >= 0\n", opt, argv[i]);
				return 2;
			}
		}
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "loadgen: need --port N (1..65535) or --port-file FILE\n");
		return 2;
	}

	buf = malloc(RESPONSE_MAX + 1);
	if (!buf) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	start = now_s();
	deadline = start + (double)timeout;

	if (path) {	/* one request, body to stdout */
		int status = -1;

		fd = connect_local(port);
		if (fd >= 0)
			status = exchange(fd, method, path, buf, &body);
		if (status < 0)
			fprintf(stderr, "loadgen: %s 127.0.0.1:%d%s: no response (%s)\n", method, port,
				path, fd < 0 ? strerror(errno) : "connection failed or timed out");
		else
			fputs(body, stdout);
		if (fd >= 0)
			close(fd);
		free(buf);
		return status == 200 ? 0 : 1;
	}

	for (long i = first; i < first + requests; i++) {
		char target[128];
		int status;

		if (now_s() >= deadline) {
			fprintf(stderr, "loadgen: stopped by the %ld s timeout\n", timeout);
			break;
		}
		if (i % 4 == 3)	/* a popular request, seen many times */
			snprintf(target, sizeof target, "/api/price?item=%s&qty=%ld",
				 fruits[(i / 4) % 4], (i / 4) % 5 + 1);
		else		/* a request never seen before */
			snprintf(target, sizeof target, "/api/price?item=%s&qty=%ld",
				 fruits[i % NFRUITS], i / (long)NFRUITS + 1);
		if (fd < 0 && (fd = connect_local(port)) < 0) {
			fprintf(stderr, "loadgen: cannot connect to 127.0.0.1:%d: %s\n", port,
				strerror(errno));
			break;
		}
		done++;
		status = exchange(fd, "GET", target, buf, &body);
		if (status == 200) {
			ok++;
			continue;
		}
		errors++;
		if (errors <= 5)
			fprintf(stderr, "loadgen: GET %s: %s\n", target,
				status < 0 ? "no response" : "unexpected status");
		if (status < 0) {	/* reconnect for the next one */
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	printf("loadgen: %ld of %ld requests sent, %ld ok, %ld errors in %.2f s\n", done, requests,
	       ok, errors, now_s() - start);
	return errors == 0 && done == requests ? 0 : 1;
}
