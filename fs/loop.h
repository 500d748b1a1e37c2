/*
 * loop.h - the loop that reads and answers a FUSE session's requests,
 * in place of libfuse's multi-threaded loop. Shared with
 * tests/bench/discard.c, so that the ceiling it measures is that of the
 * same transport. Include after <fuse_lowlevel.h>.
 *
 * One thread at a time (the leader) waits for a request (polling for a
 * moment before it sleeps); it reads one,
 * stops leading, answers it and leads again. A waiting thread is woken
 * to lead only when more requests are already queued, or when the
 * leader's request takes longer than a moment (loop.c says why: a
 * request answered by the thread that read it, with no thread woken on
 * the way, keeps the server where its caller runs).
 */
#ifndef LANCEFS_LOOP_H
#define LANCEFS_LOOP_H

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

#endif
