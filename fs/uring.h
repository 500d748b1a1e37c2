/*
 * uring.h - FUSE over io_uring (Linux 6.14 and later, where the
 * administrator turned it on: the fuse module's enable_uring).
 *
 * Over /dev/fuse, a request is read by whichever daemon thread waits,
 * on whichever CPU, and the answer wakes its caller back, often on
 * another; on a VM each such wake-up of an idle vCPU costs more than
 * the request. Over io_uring the kernel queues a request on the queue
 * of the CPU its caller runs on, and a thread pinned to that CPU
 * answers it: no wake-up crosses CPUs, and the request and answer move
 * through shared buffers without a read(2) or writev(2) of the device.
 *
 * libfuse 3.14 knows nothing of it, so this module, like passthrough.c,
 * sits between libfuse and the device: passthrough.c's hooks ask for it
 * in the INIT reply, hand each ring request to fuse_session_process_buf
 * as /dev/fuse would have given it, and take the reply (uring_reply)
 * instead of writing it to the device. INIT, FORGET and INTERRUPT still
 * come through /dev/fuse, and notifications go there, so the device's
 * own loop (loop.c) keeps running beside the rings.
 */
#ifndef LANCEFS_URING_H
#define LANCEFS_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fuse_session;
struct uring;

/* Before the INIT reply: `per_cpu` threads (at least 1) for each CPU the
 * kernel may have, each with its own ring and buffers for `payload`
 * bytes of request data. NULL where that fails (no io_uring here, or
 * no memory): then the INIT reply must not ask for it, since the kernel
 * holds every request until each CPU's queue has a thread. */
struct uring *uring_new(struct fuse_session *se, int fd, size_t payload,
			unsigned per_cpu);
/* After the INIT reply went: the threads (started, waiting) register and
 * answer requests until the connection ends or uring_free. A failed
 * registration turns the kernel back to /dev/fuse for all requests. */
void uring_run(struct uring *u);
/* Stop the threads (each finishes the request it answers) and free. */
void uring_free(struct uring *u);
/* Whether requests have come through the rings. */
bool uring_on(const struct uring *u);

/* For the device's writev hook: true where this thread answers a ring
 * request and `iov` is its reply, which goes into the ring (*res: the
 * bytes taken, or a negative errno). False for anything else, which
 * goes to the device. */
bool uring_reply(const struct iovec *iov, int count, ssize_t *res);

#endif
