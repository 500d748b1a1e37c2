/*
 * loop.h - the loop that reads and answers a FUSE session's requests,
 * in place of libfuse's multi-threaded loop. Shared with
 * tests/bench/discard.c, so that the ceiling it measures is that of the
 * same transport. Include after <fuse_lowlevel.h>.
 *
 * One thread at a time (the leader) waits for a request, polling for a
 * moment before it sleeps; it reads one, stops leading, answers it and
 * leads again. A waiting thread is woken to lead only when more
 * requests are already queued, or when the leader's request takes
 * longer than a moment (loop.c says why: a request answered by the
 * thread that read it, with no thread woken on the way, keeps the
 * server where its caller runs).
 */
#ifndef LANCEFS_LOOP_H
#define LANCEFS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* Run `se` with up to `threads` threads (at least 1) until it exits
 * (unmount, or fuse_session_exit from a signal handler): 0, or the
 * negative errno of a failed read of the device. */
int loop_run(struct fuse_session *se, unsigned threads);

/* A thread answering a request is about to wait (for a server, a disk,
 * another thread's fetch), and is done waiting: meanwhile it does not
 * count among the threads at work, so another may take a request. No-ops
 * in other threads. For lc_wait_hooks. */
void loop_wait_begin(void);
void loop_wait_end(void);

/* Whether a request of this FUSE opcode may wait while it is answered
 * (for a disk, a server, another thread): only then does a leader that
 * took it, finding more requests queued, call another thread to lead.
 * Closing a file and forgetting inodes take microseconds (a close, a
 * short lock; one that runs long all the same is the standby's to
 * notice), and a program that closes one file and opens the next
 * (cp -r) queues its next request behind its RELEASE: it is served next
 * by the same thread. */
bool loop_may_wait(uint32_t opcode);

/* The leader's rule for polling the device before it sleeps (loop.c
 * says why), apart so that tests can follow it. After a request it
 * polls while `on`; LOOP_POLL_MISSES polls in a row that find nothing
 * turn it off, and a sleep that a poll would have covered turns it on. */
#define LOOP_POLL_MISSES 8
struct loop_poll {
	bool on;
	unsigned misses;	/* polls in a row that found nothing */
};
enum loop_poll_event {
	LOOP_POLL_CAUGHT,	/* a poll found the next request */
	LOOP_POLL_MISSED,	/* a poll found nothing: the leader sleeps */
	LOOP_POLL_SLEPT_SHORT,	/* a sleep ended within the poll window */
};
void loop_poll_note(struct loop_poll *p, enum loop_poll_event e);

#endif
