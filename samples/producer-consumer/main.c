/* producer-consumer - a threaded pipeline that leaks on one error path.
 *
 *   producer-consumer [--messages N] [--consumers N]
 *
 * One producer thread builds --messages (default 1000) messages and puts
 * them on a bounded queue; --consumers (default 2) threads take them off,
 * handle them and free them. Every 50th message (sequence numbers 49, 99,
 * ...) is malformed: handle_message() rejects it and returns early, and on
 * that path nobody frees the message. Everything else is freed, so what is
 * left at the end is exactly the malformed messages: a message header and
 * its payload each (two blocks). The payload of message i is 100 + i % 50
 * bytes; the header is struct message.
 *
 * It prints "rejected N malformed messages (B bytes)" with what it leaked.
 * (glibc also keeps, per thread created, a small block of its own, its
 * thread-local storage vector, in its cache of stacks of finished threads.)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_CAP 16

struct message {
	unsigned long seq;
	size_t len;
	char *payload;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct message *slots[QUEUE_CAP];
	size_t head, count;
	int closed;
} queue = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
};

static unsigned long nmessages = 1000;
static unsigned long handled, rejected, rejected_bytes;	/* under queue.lock */

static void queue_put(struct message *m)
{
	pthread_mutex_lock(&queue.lock);
	while (queue.count == QUEUE_CAP)
		pthread_cond_wait(&queue.not_full, &queue.lock);
	queue.slots[(queue.head + queue.count++) % QUEUE_CAP] = m;
	pthread_cond_signal(&queue.not_empty);
	pthread_mutex_unlock(&queue.lock);
}

/* NULL once the queue is closed and empty. */
static struct message *queue_get(void)
{
	struct message *m = NULL;

	pthread_mutex_lock(&queue.lock);
	while (queue.count == 0 && !queue.closed)
		pthread_cond_wait(&queue.not_empty, &queue.lock);
	if (queue.count) {
		m = queue.slots[queue.head];
		queue.slots[queue.head] = NULL;
		queue.head = (queue.head + 1) % QUEUE_CAP;
		queue.count--;
		pthread_cond_signal(&queue.not_full);
	}
	pthread_mutex_unlock(&queue.lock);
	return m;
}

static struct message *message_new(unsigned long seq)
{
	struct message *m = malloc(sizeof *m);	/* HEADER */

	if (!m)
		return NULL;
	m->seq = seq;
	m->len = 100 + seq % 50;
	m->payload = malloc(m->len);	/* PAYLOAD */
	if (!m->payload) {
		free(m);
		return NULL;
	}
	/* Well-formed messages start with '{'; every 50th does not. */
	memset(m->payload, 'x', m->len);
	m->payload[0] = seq % 50 == 49 ? '?' : '{';
	m->payload[m->len - 1] = '\0';
	return m;
}

static void message_free(struct message *m)
{
	free(m->payload);
	free(m);
}

/* Returns 0 when handled, -1 when the message is malformed. */
static int handle_message(struct message *m)
{
	unsigned long sum = 0;

	if (m->payload[0] != '{') {
		pthread_mutex_lock(&queue.lock);
		rejected++;
		rejected_bytes += sizeof *m + m->len;
		pthread_mutex_unlock(&queue.lock);
		return -1;	/* ERROR PATH: the message is not freed */
	}
	for (size_t i = 0; i < m->len; i++)
		sum += (unsigned char)m->payload[i];
	pthread_mutex_lock(&queue.lock);
	handled++;
	pthread_mutex_unlock(&queue.lock);
	message_free(m);
	return sum ? 0 : -1;
}

static void *producer(void *arg)
{
	for (unsigned long seq = 0; seq < nmessages; seq++) {
		struct message *m = message_new(seq);

		if (!m) {
			fprintf(stderr, "producer-consumer: out of memory\n");
			exit(1);
		}
		queue_put(m);
	}
	pthread_mutex_lock(&queue.lock);
	queue.closed = 1;
	pthread_cond_broadcast(&queue.not_empty);
	pthread_mutex_unlock(&queue.lock);
	return arg;
}

static void *consumer(void *arg)
{
	struct message *m;

	while ((m = queue_get()))
		handle_message(m);
	return arg;
}

int main(int argc, char **argv)
{
	unsigned long nconsumers = 2;
	pthread_t prod, cons[16];

	for (int i = 1; i < argc; i += 2) { /* an option and its value */
		unsigned long *num = NULL;
		char *end;

		if (strcmp(argv[i], "--messages") == 0)
			num = &nmessages;
		else if (strcmp(argv[i], "--consumers") == 0)
			num = &nconsumers;
		if (!num || i + 1 >= argc || (*num = strtoul(argv[i + 1], &end, 10), *end) ||
		    (num == &nconsumers && (nconsumers < 1 || nconsumers > 16))) {
			fprintf(stderr, "usage: producer-consumer [--messages N] [--consumers 1..16]\n");
			return 2;
		}
	}
	for (unsigned long i = 0; i < nconsumers; i++)
		if (pthread_create(&cons[i], NULL, consumer, NULL) != 0)
			return 1;
	if (pthread_create(&prod, NULL, producer, NULL) != 0)
		return 1;
	pthread_join(prod, NULL);
	for (unsigned long i = 0; i < nconsumers; i++)
		pthread_join(cons[i], NULL);
	printf("handled %lu messages, rejected %lu malformed messages (%lu bytes)\n",
	       handled, rejected, rejected_bytes);
	return 0;
}
