/*
 * loop.c - see loop.h.
 *
 * Why not libfuse's loop: there every idle thread sleeps in a read of
 * the device, so each request wakes one of them, usually on another CPU
 * than its caller's, and each answer wakes the caller back across CPUs.
 * Where waking an idle CPU is dear (a VM's halted vCPU), that is most of
 * what a request costs: a `cp -r` into a server that does nothing ran
 * 2.8 times faster with server and cp pinned to one CPU. Here the thread
 * that answered a request is the one that reads the next: the scheduler
 * keeps a thread that a request wakes near its caller, and a burst of
 * requests from one caller (cp's mkdir, create, write, close, ...) is
 * served without a thread being woken on the way.
 *
 * The roles, under l->mu:
 *   leader   the one thread reading the device (blocking in poll when
 *            nothing is queued); it stops leading as soon as it has a
 *            request, and leads again when it has answered it, unless
 *            another thread leads by then
 *   idle     threads waiting on l->cv, woken one at a time when a
 *            leader finds more requests queued behind the one it took
 *            (or started, up to the limit)
 *   standby  one waiting thread that looks, every STANDBY_NS while
 *            requests come, whether the leader has been gone that long:
 *            then a request takes long (a commit, a fetch from S3), and
 *            the standby leads, so that nothing queued waits behind it.
 *            When nothing happens it sleeps until the next request.
 * Only the leader reads the device, so the device's readers are never
 * woken in a herd.
 *
 * Working threads. Many more threads at work than CPUs only take turns
 * on them: on 2 CPUs, a second epoch of 2,000 images read by 32 readers
 * from a disk cache ran 24 % faster with threads=4 than with 16 (less
 * switching, less contention on the cache's locks). So a leader calls
 * another thread only while fewer requests than twice the CPUs are
 * being worked on; a thread that waits for I/O (loop_wait_begin,
 * through the objstore's lc_wait hooks) does not count meanwhile, and
 * calls another if requests wait with no leader. Twice, because
 * requests also wait in ways nobody announces (a lock, a page fault):
 * on 2 CPUs that epoch read 24 % slower with a bound of 2 than of 4,
 * and bounds of 4, 6 and 8 were alike. Long unannounced waits are the
 * standby's to notice; when it takes the lead, another thread stands
 * by. A request that takes microseconds (a RELEASE, a FORGET: a close,
 * a short lock) calls nobody: close() does not wait for its RELEASE, so
 * a program copying files queues its next request behind it, and the
 * leader that answers the RELEASE serves that one next. Calling another
 * there woke a thread on the other CPU for 3,570 of the 10,000 RELEASEs
 * of a cp -r of 5,000 folders, and handed cp over to it; without those
 * wake-ups the copy of 2,000 folders took 2.23 s instead of 2.44 s
 * (medians of 6 interleaved rounds on 2 vCPUs).
 *
 * Polling. A caller that got its answer sends its next request a few
 * microseconds later (cp: close, then lookup, create, write ...), and a
 * leader asleep by then costs a wake-up; where an idle CPU halts (a
 * VM's vCPU) that is tens of microseconds, longer than the request. So
 * the leader reads the device without sleeping for up to POLL_NS before
 * it sleeps in poll(2), as the kernel's cpuidle-haltpoll does for a
 * guest's idle CPU. On a 2-vCPU VM without halt polling, 3 interleaved
 * rounds of cp -r of 5,000 folders took 4.0-4.6 s instead of 6.1-22 s
 * into a server that does nothing, 5.7-11.7 s instead of 8.7-15.0 s
 * into a lancefs mount; one reader of 2,000 cold images took 0.65 s
 * instead of 0.87 s (5 rounds); 4 readers were alike. What that costs is
 * a CPU busy up to POLL_NS after a request; a leader that finds nothing
 * LOOP_POLL_MISSES times in a row stops polling (requests come seldom, or
 * spaced just past the window) until a sleep ends within POLL_NS. Not
 * with one CPU: the caller cannot run while the leader polls.
 *
 * A polling leader yields its CPU at each look (sched_yield): to the
 * caller, whom an answer may wake on the leader's CPU, and to the
 * commit, cleaner and spares threads, which otherwise share that CPU
 * with a thread doing nothing while they take it from cp on the other.
 * With nothing else to run, the yield returns at once. A cp -r of
 * 10,000 folders until committed took 3.25-3.37 s instead of 3.49-3.81 s
 * (3 interleaved rounds on 2 vCPUs; ext4 + sync 2.42-3.37 s).
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lc.h"
#include "loop.h"

#define STANDBY_NS (2 * 1000 * 1000L)
#define POLL_NS (100 * 1000L)
#define MAX_THREADS 256u

struct loop {
	struct fuse_session *se;
	int fd;			/* the device, non-blocking */
	int stop_fd;		/* an eventfd: wakes the leader to exit */
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* idle threads */
	pthread_cond_t standby_cv;	/* the standby (monotonic clock) */
	bool leader, standby, quiet, wanted, exiting;
	bool next_stands_by;	/* the next thread at the top stands by */
	bool can_poll;		/* more than one CPU */
	struct loop_poll poll;	/* the leader's */
	unsigned idle, threads, max;
	unsigned working;	/* requests being worked on, not waiting */
	unsigned busy_max;	/* calls another thread below this */
	uint64_t steps;		/* times a leader stopped leading */
	int rc;
	pthread_t tids[MAX_THREADS];
	sem_t done;		/* a thread saw the session end */
};

void loop_poll_note(struct loop_poll *p, enum loop_poll_event e)
{
	switch (e) {
	case LOOP_POLL_CAUGHT:
		p->misses = 0;
		break;
	case LOOP_POLL_MISSED:
		if (++p->misses >= LOOP_POLL_MISSES)
			p->on = false;
		break;
	case LOOP_POLL_SLEPT_SHORT:
		if (!p->on) {
			p->on = true;
			p->misses = 0;
		}
		break;
	}
}

static long since_ns(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L +
	       (t.tv_nsec - t0->tv_nsec);
}

/* The next request into buf: > 0, or 0 when the session ends, or a
 * negative errno. Only the leader calls it: the polling state is its own
 * (the next leader takes the role, and the state, under mu). */
static int next_request(struct loop *l, struct fuse_buf *buf)
{
	struct timespec t0;
	bool waiting = false, slept = false;
	int res;

	for (;;) {
		struct pollfd p[2] = { { l->fd, POLLIN, 0 },
				       { l->stop_fd, POLLIN, 0 } };

		res = fuse_session_receive_buf(l->se, buf);
		if (res == -EINTR)
			continue;
		if (res != -EAGAIN)
			break;
		if (!waiting) {
			clock_gettime(CLOCK_MONOTONIC, &t0);
			waiting = true;
		}
		if (!slept && l->poll.on) {
			if (since_ns(&t0) < POLL_NS) {
				sched_yield();	/* the CPU is anyone's */
				continue;
			}
			loop_poll_note(&l->poll, LOOP_POLL_MISSED);
		}
		slept = true;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents)
			return 0;
	}
	if (waiting && !slept)
		loop_poll_note(&l->poll, LOOP_POLL_CAUGHT);
	else if (slept && l->can_poll && since_ns(&t0) <= POLL_NS)
		loop_poll_note(&l->poll, LOOP_POLL_SLEPT_SHORT);
	return res;
}

static bool more_queued(const struct loop *l)
{
	struct pollfd p = { l->fd, POLLIN, 0 };

	return poll(&p, 1, 0) > 0;
}

bool loop_may_wait(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
		return false;
	default:
		return true;
	}
}

static bool may_wait(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;

	return (buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(*in) ||
	       loop_may_wait(in->opcode);
}

static void *worker(void *arg);

/* The loop whose request this thread is working on, if any. */
static _Thread_local struct loop *serving;

/* Under mu. */
static void start_thread(struct loop *l)
{
	sigset_t all, old;

	if (l->threads >= l->max || l->exiting)
		return;
	/* signals go to the thread that runs loop_run */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (!lc_thread_start(&l->tids[l->threads], "lancefs fuse", worker, l))
		l->threads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Requests wait behind the one just taken: one more thread leads. */
static void call_another(struct loop *l)
{
	if (l->idle) {
		pthread_cond_signal(&l->cv);
	} else if (l->threads < l->max) {
		start_thread(l);
	} else if (l->standby) {
		l->wanted = true;
		pthread_cond_signal(&l->standby_cv);
	}
}

static void deadline(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_nsec += STANDBY_NS;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

/* Watch the leader until this thread should lead (true) or exit
 * (false); under mu. */
static bool stand_by(struct loop *l)
{
	l->standby = true;
	while (!l->exiting) {
		bool led = l->leader;
		uint64_t steps = l->steps;
		struct timespec t;

		if (l->quiet) {
			pthread_cond_wait(&l->standby_cv, &l->mu);
		} else {
			deadline(&t);
			pthread_cond_timedwait(&l->standby_cv, &l->mu, &t);
		}
		if (l->leader)
			l->wanted = false;
		else if (l->wanted || (!led && steps == l->steps))
			break;	/* wanted, or no leader all along */
		/* nothing happened: sleep until a leader stops leading */
		l->quiet = l->leader && led && steps == l->steps;
	}
	l->wanted = false;
	l->quiet = false;
	l->standby = false;
	return !l->exiting;
}

/* The session ended for the leader (`res`: 0 or a negative errno);
 * under mu. loop_run wakes and stops the other threads. */
static void end(struct loop *l, int res)
{
	if (res < 0 && !l->rc)
		l->rc = res;
	l->exiting = true;
	fuse_session_exit(l->se);
	sem_post(&l->done);
}

void loop_wait_begin(void)
{
	struct loop *l = serving;
	bool call;

	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->working--;
	call = !l->leader && !l->exiting && l->working < l->busy_max;
	pthread_mutex_unlock(&l->mu);
	if (!call || !more_queued(l))
		return;
	pthread_mutex_lock(&l->mu);
	if (!l->leader && !l->exiting)
		call_another(l);
	pthread_mutex_unlock(&l->mu);
}

void loop_wait_end(void)
{
	struct loop *l = serving;

	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->working++;
	pthread_mutex_unlock(&l->mu);
}

static void *worker(void *arg)
{
	struct loop *l = arg;
	struct fuse_buf buf = { 0 };

	pthread_mutex_lock(&l->mu);
	while (!l->exiting) {
		bool more;
		int res;

		if (l->leader || l->next_stands_by) {
			if (l->standby) {
				l->idle++;
				pthread_cond_wait(&l->cv, &l->mu);
				l->idle--;
				continue;
			}
			l->next_stands_by = false;
			if (!stand_by(l))
				continue;
			/* no leader for a while: lead, and let another
			 * thread stand by, even if this one is serving a
			 * request by the time it comes (on a busy machine
			 * it took it for a leader's place, and the next
			 * slow request waited for a serving thread) */
			if (l->idle || l->threads < l->max)
				l->next_stands_by = true;
			if (l->idle)
				pthread_cond_signal(&l->cv);
			else
				start_thread(l);
		}
		l->leader = true;
		pthread_mutex_unlock(&l->mu);
		res = next_request(l, &buf);
		more = res > 0 && may_wait(&buf) && more_queued(l);
		pthread_mutex_lock(&l->mu);
		l->leader = false;
		l->steps++;
		if (res <= 0) {
			end(l, res);
			break;
		}
		if (l->quiet) {
			l->quiet = false;
			pthread_cond_signal(&l->standby_cv);
		}
		l->working++;
		if (more && l->working < l->busy_max)
			call_another(l);
		pthread_mutex_unlock(&l->mu);
		serving = l;
		fuse_session_process_buf(l->se, &buf);
		serving = NULL;
		pthread_mutex_lock(&l->mu);
		l->working--;
	}
	pthread_mutex_unlock(&l->mu);
	free(buf.mem);
	return NULL;
}

int loop_run(struct fuse_session *se, unsigned threads)
{
	struct loop *l = calloc(1, sizeof(*l));
	pthread_condattr_t a;
	unsigned n;
	long cpus;
	int flags, rc;

	if (!l)
		return -ENOMEM;
	l->se = se;
	l->fd = fuse_session_fd(se);
	l->max = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS :
							     threads;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	l->can_poll = cpus > 1;
	l->poll.on = l->can_poll;
	l->busy_max = cpus < 1 ? 2 : cpus > MAX_THREADS / 2 ? MAX_THREADS :
							     2 * (unsigned)cpus;
	flags = fcntl(l->fd, F_GETFL);
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (flags < 0 || fcntl(l->fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    l->stop_fd < 0) {
		rc = -errno;
		if (l->stop_fd >= 0)
			close(l->stop_fd);
		free(l);
		return rc;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&l->standby_cv, &a);
	pthread_condattr_destroy(&a);
	sem_init(&l->done, 0, 0);

	pthread_mutex_lock(&l->mu);
	start_thread(l);	/* the leader */
	/* the standby, where there may be two, whichever comes first */
	l->next_stands_by = l->max > 1;
	start_thread(l);
	rc = l->threads ? 0 : -EAGAIN;
	pthread_mutex_unlock(&l->mu);
	/* a signal handler ends the session (fuse_set_signal_handlers):
	 * it interrupts this wait, or is seen within a second */
	while (!rc && !fuse_session_exited(se)) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec++;
		sem_timedwait(&l->done, &t);
	}

	pthread_mutex_lock(&l->mu);
	l->exiting = true;	/* no thread starts from now on */
	n = l->threads;
	pthread_cond_broadcast(&l->cv);
	pthread_cond_broadcast(&l->standby_cv);
	pthread_mutex_unlock(&l->mu);
	if (eventfd_write(l->stop_fd, 1) < 0 && !rc)
		rc = -errno;
	for (unsigned i = 0; i < n; i++)
		pthread_join(l->tids[i], NULL);
	if (!rc)
		rc = l->rc;
	fcntl(l->fd, F_SETFL, flags);
	sem_destroy(&l->done);
	pthread_cond_destroy(&l->standby_cv);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	close(l->stop_fd);
	free(l);
	return rc;
}
