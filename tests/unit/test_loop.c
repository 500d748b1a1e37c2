/*
 * test_loop.c - fs/loop.c serving a small FUSE file system mounted by
 * the test: stat of a name starting with "slow" takes SLOW_MS, anything
 * else is answered at once, and of one starting with "busy" keeps a CPU
 * busy for BUSY_US. What a user would see: a quick `stat` is not held up
 * behind a slow request, slow requests from several programs run side
 * by side, threads=1 runs one at a time, unmounting ends the loop, and
 * requests that only need a CPU are worked on about twice as many at a
 * time as there are CPUs, however many threads the loop may run. And
 * the rule by which the leader polls before it sleeps. And a program
 * that opens and closes files one after another is served by one
 * thread.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "loop.h"

#define SLOW_MS 300
#define BUSY_US 200

static atomic_int busy_now, busy_most;	/* busy requests being worked on */

static double now_s(void);

/* Keep a CPU busy for `us` microseconds. */
static void spin(unsigned us)
{
	double until = now_s() + us / 1e6;

	while (now_s() < until)
		;
}

/* Keep a CPU busy for BUSY_US, counting who else is. */
static void busy(void)
{
	int n = atomic_fetch_add(&busy_now, 1) + 1, most;

	while ((most = atomic_load(&busy_most)) < n &&
	       !atomic_compare_exchange_weak(&busy_most, &most, n))
		;
	spin(BUSY_US);
	atomic_fetch_sub(&busy_now, 1);
}

/* Names are looked up at once (and kept a minute); the attributes of a
 * "slow" one take SLOW_MS each time (kept 0 s: a stat asks again). */
static void t_attr(struct stat *st, fuse_ino_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = ino == 1 ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = ino == 1 ? 2 : 1;
}

static void t_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	(void)parent;
	memset(&e, 0, sizeof(e));
	if (!strncmp(name, "slow_", 5))
		e.ino = 100 + strtoul(name + 5, NULL, 10);
	else if (!strncmp(name, "busy_", 5))
		e.ino = 1000 + strtoul(name + 5, NULL, 10);
	else if (!strcmp(name, "fast"))
		e.ino = 2;
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	t_attr(&e.attr, e.ino);
	e.entry_timeout = 60;
	fuse_reply_entry(req, &e);
}

static void t_getattr(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino >= 1000) {
		busy();
	} else if (ino >= 100) {
		struct timespec t = { 0, SLOW_MS * 1000000L };

		nanosleep(&t, NULL);
	}
	t_attr(&st, ino);
	fuse_reply_attr(req, &st, 0);
}

/* Which thread answered each open, flush and release, in order. */
#define SERVED_MAX 8192
static pthread_t served[SERVED_MAX];
static atomic_int n_served;

static void note_served(void)
{
	int i = atomic_fetch_add(&n_served, 1);

	if (i < SERVED_MAX)
		served[i] = pthread_self();
}

static void t_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	note_served();
	fuse_reply_open(req, fi);
}

/* A flush answered, its thread still busy a moment after (as a server
 * finishing its work is): the RELEASE that close() sends next, and the
 * program's next request, are both queued when it reads again. */
static void t_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	note_served();
	fuse_reply_err(req, 0);
	spin(100);
}

static void t_release(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	note_served();
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops t_ops = {
	.lookup = t_lookup,
	.getattr = t_getattr,
	.open = t_open,
	.flush = t_flush,
	.release = t_release,
};

struct server {
	char dir[64];
	struct fuse_session *se;
	pthread_t thread;
	unsigned threads;
	int rc;
};

static void *serve(void *arg)
{
	struct server *s = arg;

	s->rc = loop_run(s->se, s->threads);
	return NULL;
}

static int server_start(struct server *s, unsigned threads)
{
	char a0[] = "test_loop";
	char *argv[] = { a0, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);

	snprintf(s->dir, sizeof(s->dir), "/tmp/lancefs-loop-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	s->threads = threads;
	s->se = fuse_session_new(&args, &t_ops, sizeof(t_ops), NULL);
	fuse_opt_free_args(&args);
	if (!s->se || fuse_session_mount(s->se, s->dir))
		return -1;
	return pthread_create(&s->thread, NULL, serve, s) ? -1 : 0;
}

/* Unmount from outside, as `lancefs umount` does: the loop must end by
 * itself. */
static int server_stop(struct server *s)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "fusermount3 -u %s", s->dir);
	if (system(cmd))
		return -1;
	pthread_join(s->thread, NULL);
	fuse_session_unmount(s->se);
	fuse_session_destroy(s->se);
	rmdir(s->dir);
	return s->rc;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

struct stat_job {
	char path[128];
	int rc;
	pthread_t t;
};

static void *stat_main(void *arg)
{
	struct stat_job *j = arg;
	struct stat st;

	j->rc = stat(j->path, &st) ? errno : 0;
	return NULL;
}

/* A server with `threads` threads; n programs stat slow names at once:
 * the seconds it took, or -1. */
static double slow_together(unsigned threads, int n)
{
	struct server s;
	struct stat_job jobs[8];
	double t0, took;
	int ok = 1, started = 0;

	if (server_start(&s, threads))
		return -1;
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(jobs[i].path, sizeof(jobs[i].path), "%s/slow_%d",
			 s.dir, i);
		if (pthread_create(&jobs[i].t, NULL, stat_main, &jobs[i]))
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(jobs[i].t, NULL);
		ok = ok && !jobs[i].rc;
	}
	ok = ok && started == n;
	took = now_s() - t0;
	return server_stop(&s) == 0 && ok ? took : -1;
}

TEST(quick_request_not_held_behind_slow)
{
	struct server s;
	struct stat_job slow;
	struct stat st;
	struct timespec pause = { 0, 30 * 1000000L };
	char fast[128];
	double t0, quick;
	bool made, seen;

	CHECK(server_start(&s, 16) == 0);
	snprintf(slow.path, sizeof(slow.path), "%s/slow_1", s.dir);
	snprintf(fast, sizeof(fast), "%s/fast", s.dir);
	made = !pthread_create(&slow.t, NULL, stat_main, &slow);
	nanosleep(&pause, NULL);	/* the slow stat is under way */
	t0 = now_s();
	seen = stat(s.dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       stat(fast, &st) == 0 && S_ISREG(st.st_mode);
	quick = now_s() - t0;
	if (made)
		pthread_join(slow.t, NULL);
	CHECK_EQ_U64(server_stop(&s), 0);
	CHECK(made && seen);
	CHECK_EQ_U64(slow.rc, 0);
	/* served within a few ms, not after the slow one's 300 */
	if (quick > SLOW_MS / 2 / 1000.0)
		fprintf(stderr, "a quick stat took %.3f s\n", quick);
	CHECK(quick <= SLOW_MS / 2 / 1000.0);
}

TEST(slow_requests_run_side_by_side)
{
	double took = slow_together(16, 8);

	CHECK(took > 0);
	/* one at a time would take 8 x 300 ms; all at once, one 300 ms and
	 * the standby's few ms per extra thread. Two at a time (600 ms) was
	 * what a loop whose threads all served, with none left to stand
	 * by, gave most runs (the second thread loop_run starts, or the one
	 * a standby calls when it leads, found no leader and led) */
	if (took > 1.5 * SLOW_MS / 1000.0)
		fprintf(stderr, "8 slow stats took %.3f s\n", took);
	CHECK(took <= 1.5 * SLOW_MS / 1000.0);
}

TEST(one_thread_runs_one_at_a_time)
{
	CHECK(slow_together(1, 3) >= 3 * SLOW_MS / 1000.0);
}

static void *busy_main(void *arg)
{
	struct stat_job *j = arg;
	struct stat st;

	for (int i = 0; i < 40 && !j->rc; i++)
		j->rc = stat(j->path, &st) ? errno : 0;
	return NULL;
}

/* 16 programs stat names whose answer takes 0.2 ms of CPU,
 * 40 times each, from a server that may run 16 threads: at most six
 * more requests than twice the CPUs are worked on at once (the standby
 * leads while a thread kept off its CPU by a busy machine seems slow:
 * 8 on 2 CPUs, the old bound, seen beside six programs spinning), where
 * each program would otherwise have a thread of its own taking turns on
 * the CPUs. */
TEST(busy_requests_take_turns)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct server s;
	struct stat_job jobs[16];
	int started = 0;

	CHECK(server_start(&s, 16) == 0);
	for (int i = 0; i < 16; i++) {
		snprintf(jobs[i].path, sizeof(jobs[i].path), "%s/busy_%d",
			 s.dir, i);
		jobs[i].rc = 0;
		if (pthread_create(&jobs[i].t, NULL, busy_main, &jobs[i]))
			break;
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(jobs[i].t, NULL);
	CHECK_EQ_U64(server_stop(&s), 0);
	CHECK_EQ_U64(started, 16);
	for (int i = 0; i < started; i++)
		CHECK_EQ_U64(jobs[i].rc, 0);
	fprintf(stderr, "%d busy requests at once at most, %ld CPUs\n",
		atomic_load(&busy_most), cpus);
	CHECK(atomic_load(&busy_most) >= 1);
	if (2 * cpus + 6 < 12)	/* else as many as there are programs */
		CHECK(atomic_load(&busy_most) <= 2 * cpus + 6);
}

/* One program opens and closes a file again and again, as cp -r does:
 * close() does not wait for the RELEASE, so the next open is often
 * queued behind it. The thread that answers the RELEASE serves the open
 * too, instead of waking another thread for it (on another CPU, where
 * the program must then be woken from): nearly every request is
 * answered by the thread that answered the one before. */
TEST(one_program_served_by_one_thread)
{
	struct server s;
	char fast[128];
	int n, switches = 0, ok = 1;

	atomic_store(&n_served, 0);
	CHECK(server_start(&s, 16) == 0);
	snprintf(fast, sizeof(fast), "%s/fast", s.dir);
	for (int i = 0; i < 2000 && ok; i++) {
		int fd = open(fast, O_RDONLY);

		ok = fd >= 0 && close(fd) == 0;
	}
	CHECK_EQ_U64(server_stop(&s), 0);
	CHECK(ok);
	n = atomic_load(&n_served);
	CHECK(n >= 3 * 2000 && n <= SERVED_MAX);
	for (int i = 1; i < n; i++)
		switches += !pthread_equal(served[i], served[i - 1]);
	fprintf(stderr, "%d of %d requests answered by another thread than "
		"the one before\n", switches, n);
	/* without the rule, a sixth to a quarter switch; a leader kept off
	 * its CPU by a busy machine is replaced after 2 ms (74 of 6000 seen
	 * beside a CI run), which is no failure */
	CHECK(switches <= n / 20);
}

/* The leader's polling rule: polls that keep finding nothing (requests
 * come seldom) stop it, a request that polling would have caught starts
 * it again, and then as many fruitless polls stop it again; a poll that
 * finds a request starts the count anew. */
TEST(polling_stops_when_fruitless_and_restarts)
{
	struct loop_poll p = { true, 0 };

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < LOOP_POLL_MISSES - 1; i++) {
			loop_poll_note(&p, LOOP_POLL_MISSED);
			CHECK(p.on);
		}
		loop_poll_note(&p, LOOP_POLL_MISSED);
		CHECK(!p.on);
		loop_poll_note(&p, LOOP_POLL_SLEPT_SHORT);
		CHECK(p.on);
	}
	for (int i = 0; i < LOOP_POLL_MISSES - 1; i++)
		loop_poll_note(&p, LOOP_POLL_MISSED);
	loop_poll_note(&p, LOOP_POLL_CAUGHT);
	for (int i = 0; i < LOOP_POLL_MISSES - 1; i++)
		loop_poll_note(&p, LOOP_POLL_MISSED);
	CHECK(p.on);
	loop_poll_note(&p, LOOP_POLL_MISSED);
	CHECK(!p.on);
}

TEST_MAIN(TEST_ENTRY(quick_request_not_held_behind_slow),
	  TEST_ENTRY(slow_requests_run_side_by_side),
	  TEST_ENTRY(one_thread_runs_one_at_a_time),
	  TEST_ENTRY(busy_requests_take_turns),
	  TEST_ENTRY(one_program_served_by_one_thread),
	  TEST_ENTRY(polling_stops_when_fruitless_and_restarts))
