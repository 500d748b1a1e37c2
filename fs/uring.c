/*
 * uring.c - see uring.h.
 *
 * One thread per ring and one ring entry per thread: a thread answering
 * a slow request (a commit, a fetch from S3) holds only its own entry,
 * and the other threads of its CPU's queue take the next requests, as
 * loop.c's threads do over /dev/fuse. Only these threads submit to
 * their rings, and they live as long as the mount: the kernel fails an
 * entry whose submitter exited.
 *
 * Measured (cp -r of 10,000 folders of a 100 KB JPEG and a meta.json
 * into a new dataset, until committed, 2 vCPUs, 3 interleaved rounds):
 * 3.67-3.79 s with 2 threads per CPU and 3.62-4.12 s with 4, against
 * 4.08-4.73 s over /dev/fuse.
 *
 * Placement. A thread stays on its queue's CPU, where the requests it
 * serves come from. An answer wakes the caller while that thread still
 * runs, so the scheduler moves the caller to the other CPU when it is
 * idle: into a server that does nothing (tests/bench/discard.c), cp
 * moved at 87,500 of its 90,800 waits, and its copy of those folders took
 * 4.9-5.2 s, against 2.1 s with both on one CPU. Not pinned, the threads
 * run on the other CPU and cp stays put (3.9-4.3 s there), but a lancefs
 * copy took 4.6-5.5 s instead of 4.2-4.6 s: the commit, cleaner and
 * filler threads work on that CPU. Two ways to keep the caller in place
 * were measured and left out, as they did not speed up lancefs (whose
 * own threads keep the other CPU busy: cp moved at 14,000-22,000 of its
 * 99,000 waits): a thread that makes itself SCHED_IDLE around its
 * answer (3.2-3.6 s into the server that does nothing; and a busy CPU
 * could starve the thread), and a thread spinning on the other CPU
 * (2.1-2.8 s; lancefs 3.9-4.0 s against 3.9-4.3 s, for a CPU burnt).
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "lc.h"
#include "uring.h"

/* Linux 6.14's protocol (7.42), newer than Debian 12's <linux/fuse.h>:
 * an entry's header buffer, and the command in an SQE128's command
 * area. */
#define CMD_REGISTER 1
#define CMD_COMMIT_AND_FETCH 2
struct ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};
struct req_header {
	char in_out[128];	/* fuse_in_header in, fuse_out_header out */
	char op_in[128];	/* the request's first argument */
	struct ent_in_out ent;
};
struct cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#define STOP_TAG ((void *)1)
/* Room before the payload in a worker's buffer for the in header and
 * the first argument: the request is laid out there as /dev/fuse gives
 * it, and only those come apart from the payload. */
#define ROOM (sizeof(struct fuse_in_header) + sizeof(((struct req_header *)0)->op_in))

struct worker {
	struct uring *u;
	unsigned qid;
	bool started;
	pthread_t tid;
	struct io_uring ring;
	bool ring_ok;
	struct req_header *h;
	char *buf;		/* ROOM, then the payload the kernel fills */
	char *payload;		/* buf + ROOM */
	struct iovec iov[2];
	uint64_t unique;	/* the request being answered */
	bool replied;
};

struct uring {
	struct fuse_session *se;
	int fd;			/* the device */
	int stop_fd;		/* an eventfd each ring polls */
	size_t payload;
	unsigned n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go;			/* 1: register, -1: end before it */
	atomic_bool served;	/* a request came through a ring */
	struct worker *w;
};

static _Thread_local struct worker *serving;

/* The CPUs the kernel may ever have (its nr_cpu_ids): every one needs a
 * queue before the kernel uses any. 0 where that cannot be read. */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned max = 0, v;
	int c = 0;

	if (!f)
		return 0;
	/* a CPU list, as "0-3" or "0,2-5": the last number is the top */
	while (c != EOF) {
		if (fscanf(f, "%u", &v) == 1 && v + 1 > max)
			max = v + 1;
		c = fgetc(f);
	}
	fclose(f);
	return max;
}

/* Queue REGISTER or COMMIT_AND_FETCH of w's entry. */
static int queue_cmd(struct worker *w, uint32_t op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct cmd_req c = { .qid = (uint16_t)w->qid };
	unsigned char *raw = (unsigned char *)sqe;

	if (!sqe)
		return -EBUSY;
	/* an SQE128: the command area runs from `cmd` to its end */
	memset(raw, 0, 128);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = w->u->fd;
	sqe->cmd_op = op;
	if (op == CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)w->iov;
		sqe->len = 2;
	} else {
		c.commit_id = w->h->ent.commit_id;
	}
	memcpy(raw + offsetof(struct io_uring_sqe, cmd), &c, sizeof(c));
	io_uring_sqe_set_data(sqe, w);
	return 0;
}

static int submit(struct worker *w)
{
	int rc;

	do
		rc = io_uring_submit(&w->ring);
	while (rc == -EINTR || rc == -EAGAIN);
	return rc < 0 ? rc : 0;
}

/* The request in w's entry as a read of /dev/fuse gives it: the in
 * header and the first argument (op_in) go just before the payload,
 * which stays where the kernel put it. NULL where the lengths do not
 * add up. */
static char *assemble(struct worker *w)
{
	const struct fuse_in_header *in = (const void *)w->h->in_out;
	size_t pay = w->h->ent.payload_sz, arg0;
	char *start;

	if (pay > w->u->payload || in->len < sizeof(*in) + pay)
		return NULL;
	arg0 = in->len - sizeof(*in) - pay;
	if (arg0 > sizeof(w->h->op_in))
		return NULL;
	start = w->payload - arg0 - sizeof(*in);
	memcpy(start, in, sizeof(*in));
	memcpy(start + sizeof(*in), w->h->op_in, arg0);
	return start;
}

/* Answer w's request with `error` alone. */
static void fail(struct worker *w, int error)
{
	struct fuse_out_header o = { .len = sizeof(o), .error = error,
				     .unique = w->unique };

	memcpy(w->h->in_out, &o, sizeof(o));
	w->h->ent.payload_sz = 0;
}

bool uring_reply(const struct iovec *iov, int count, ssize_t *res)
{
	struct worker *w = serving;
	const struct fuse_out_header *out;
	size_t len = 0;

	if (!w || w->replied || count < 1 || iov[0].iov_len != sizeof(*out))
		return false;
	out = iov[0].iov_base;
	if (out->unique != w->unique)
		return false;	/* a notification */
	for (int i = 1; i < count; i++)
		len += iov[i].iov_len;
	w->replied = true;
	if (len > w->u->payload) {	/* cannot be: the kernel's limit */
		fail(w, -EIO);
		*res = -EINVAL;
		return true;
	}
	/* over the request's payload, done with by now (replies are made
	 * in lancefs's and libfuse's own memory, never in the request) */
	len = 0;
	for (int i = 1; i < count; i++) {
		memcpy(w->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(w->h->in_out, out, sizeof(*out));
	w->h->ent.payload_sz = (uint32_t)len;
	*res = (ssize_t)(sizeof(*out) + len);
	return true;
}

/* Answer the request in w's entry. */
static void answer(struct worker *w)
{
	const struct fuse_in_header *in = (const void *)w->h->in_out;
	char *req = assemble(w);

	w->unique = in->unique;
	w->replied = false;
	if (req) {
		struct fuse_buf fb = { .mem = req, .size = in->len };

		serving = w;
		fuse_session_process_buf(w->u->se, &fb);
		serving = NULL;
	}
	/* a request libfuse does not answer: the entry must be committed
	 * all the same */
	if (!w->replied)
		fail(w, req ? -ENOSYS : -EPROTO);
	if (!atomic_load_explicit(&w->u->served, memory_order_relaxed))
		atomic_store(&w->u->served, true);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	uint32_t last = CMD_REGISTER;
	cpu_set_t cpus;
	int go;

	/* where its queue's requests come from (fails for a CPU offline,
	 * whose queue gets none) */
	CPU_ZERO(&cpus);
	CPU_SET(w->qid, &cpus);
	(void)sched_setaffinity(0, sizeof(cpus), &cpus);
	/* the kernel takes registrations once the INIT reply went */
	pthread_mutex_lock(&w->u->mu);
	while (!w->u->go)
		pthread_cond_wait(&w->u->cv, &w->u->mu);
	go = w->u->go;
	pthread_mutex_unlock(&w->u->mu);
	if (!sqe || go < 0)
		return NULL;
	io_uring_prep_poll_add(sqe, w->u->stop_fd, POLLIN);
	io_uring_sqe_set_data(sqe, STOP_TAG);
	if (queue_cmd(w, CMD_REGISTER) || submit(w)) {
		syslog(LOG_ERR, "io_uring: CPU %u: cannot register", w->qid);
		goto lost;
	}
	for (;;) {
		struct io_uring_cqe *cqe;
		void *tag;
		int rc = io_uring_wait_cqe(&w->ring, &cqe);

		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			syslog(LOG_ERR, "io_uring: CPU %u: %s", w->qid,
			       strerror(-rc));
			goto lost;
		}
		rc = cqe->res;
		tag = io_uring_cqe_get_data(cqe);
		io_uring_cqe_seen(&w->ring, cqe);
		if (tag == STOP_TAG)
			break;
		if (rc == -EINTR || rc == -EAGAIN) {
			/* not taken: again */
			if (queue_cmd(w, last) || submit(w))
				goto lost;
			continue;
		}
		/* the connection ended (unmount); or the kernel refused the
		 * registration, and then uses /dev/fuse (uring.h) */
		if (rc == -ENOTCONN || rc == -ECONNABORTED ||
		    (rc < 0 && last == CMD_REGISTER))
			break;
		if (rc < 0) {
			syslog(LOG_ERR, "io_uring: CPU %u: %s", w->qid,
			       strerror(-rc));
			goto lost;
		}
		answer(w);
		last = CMD_COMMIT_AND_FETCH;
		if (queue_cmd(w, last) || submit(w))
			goto lost;
	}
	return NULL;
lost:
	/* the kernel waits for every queue (and this CPU's callers for
	 * this one): without it the mount would hang; it ends instead,
	 * and the unmount aborts what waits */
	fuse_session_exit(w->u->se);
	return NULL;
}

struct uring *uring_new(struct fuse_session *se, int fd, size_t payload,
			unsigned per_cpu)
{
	unsigned cpus = possible_cpus();
	sigset_t all, old;
	bool ok = true;
	struct uring *u;

	if (!cpus || !(u = calloc(1, sizeof(*u))))
		return NULL;
	u->se = se;
	u->fd = fd;
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	u->payload = payload;
	u->n = cpus * (per_cpu ? per_cpu : 1);
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (u->stop_fd < 0 || !(u->w = calloc(u->n, sizeof(*u->w)))) {
		uring_free(u);
		return NULL;
	}
	for (unsigned i = 0; i < u->n; i++) {
		struct worker *w = &u->w[i];
		struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };

		w->u = u;
		w->qid = i % cpus;
		w->h = calloc(1, sizeof(*w->h));
		w->buf = malloc(ROOM + payload);
		/* the entry's command, and the poll for the end */
		if (!w->h || !w->buf ||
		    io_uring_queue_init_params(2, &w->ring, &p) < 0) {
			uring_free(u);
			return NULL;
		}
		w->ring_ok = true;
		w->payload = w->buf + ROOM;
		w->iov[0] = (struct iovec){ w->h, sizeof(*w->h) };
		w->iov[1] = (struct iovec){ w->payload, payload };
	}
	/* every thread up before the kernel is told (signals go to the
	 * thread that runs the loop) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < u->n && ok; i++)
		ok = u->w[i].started = !lc_thread_start(&u->w[i].tid,
				"lancefs ring", worker_main, &u->w[i]);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ok) {
		uring_free(u);
		return NULL;
	}
	return u;
}

static void release(struct uring *u, int go)
{
	pthread_mutex_lock(&u->mu);
	if (!u->go)
		u->go = go;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

void uring_run(struct uring *u)
{
	release(u, 1);
}

bool uring_on(const struct uring *u)
{
	return u && atomic_load(&u->served);
}

void uring_free(struct uring *u)
{
	if (!u)
		return;
	release(u, -1);
	if (u->stop_fd >= 0)
		(void)eventfd_write(u->stop_fd, 1);
	for (unsigned i = 0; u->w && i < u->n; i++) {
		struct worker *w = &u->w[i];

		if (w->started)
			pthread_join(w->tid, NULL);
		if (w->ring_ok)
			io_uring_queue_exit(&w->ring);
		free(w->h);
		free(w->buf);
	}
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	free(u->w);
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	free(u);
}
