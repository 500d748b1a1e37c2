/*
 * passthrough.h - FUSE passthrough for staged files (Linux 6.9 and
 * later, CONFIG_FUSE_PASSTHROUGH, a daemon with CAP_SYS_ADMIN).
 *
 * A staged file is a plain file on local disk. Opened in passthrough
 * mode, the kernel reads and writes it itself: a write(2) through the
 * mount goes straight into the staging file, with no WRITE request and
 * no copy through the daemon. Opens, flushes, releases and fsyncs still
 * come to the daemon, as before.
 *
 * libfuse 3.14 (Debian 12) knows nothing of passthrough, so this module
 * sits between it and the device (fuse_session_custom_io): it asks for
 * FUSE_PASSTHROUGH in the INIT reply when the kernel offers it, and sets
 * FOPEN_PASSTHROUGH and the backing id in the reply to an open or create
 * made through pt_reply_open / pt_reply_create.
 *
 * The same hooks carry FUSE over io_uring (uring.h): they ask for it in
 * the INIT reply where the kernel offers it, and hand replies to ring
 * requests to the ring instead of the device.
 *
 * The kernel binds one backing file to an inode while any passthrough
 * open of it lasts, and refuses other opens of that inode that are not
 * passthrough, and passthrough opens while it is open cached. So every
 * open of a staged file is passthrough when it can be (pt_get), and
 * opens that cannot be are direct I/O, which takes no side.
 */
#ifndef LANCEFS_PASSTHROUGH_H
#define LANCEFS_PASSTHROUGH_H

#include <stdbool.h>
#include <stdint.h>

struct fuse_session;
struct fuse_entry_param;
struct fuse_file_info;
typedef struct fuse_req *fuse_req_t;

struct pt;

/* Sit between `se`, mounted, and its device. *out stays NULL (and the
 * mount works without passthrough) where that fails or where
 * LANCEFS_NO_PASSTHROUGH is set. Where the kernel offers FUSE over
 * io_uring (uring.h) and LANCEFS_NO_IO_URING is not set, requests come
 * through rings served by `threads` threads shared out among the CPUs
 * (at least one per CPU). */
int pt_attach(struct pt **out, struct fuse_session *se, unsigned threads);
/* Stop the rings' threads: after the session's loop ended, before the
 * session goes. */
void pt_stop(struct pt *p);
void pt_free(struct pt *p);

/* Whether the kernel took passthrough at INIT (not before it). */
bool pt_on(const struct pt *p);
/* Whether requests came through io_uring. */
bool pt_ring_on(const struct pt *p);

/* A backing id for inode `ino`, whose staged file `fd` is: the one its
 * live opens use, or a new one for `fd` (none for fd -1). 0 where there
 * is none (no passthrough, or the kernel refused: the open is then
 * direct I/O). */
int pt_get(struct pt *p, uint64_t ino, int fd);
/* An open that got `id` from pt_get ended (its RELEASE), or its reply
 * failed. */
void pt_put(struct pt *p, uint64_t ino);

/* fuse_reply_open / fuse_reply_create, with FOPEN_PASSTHROUGH and
 * `backing` when it is not 0. */
int pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
		  int backing);
int pt_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		    const struct fuse_file_info *fi, int backing);

#endif
