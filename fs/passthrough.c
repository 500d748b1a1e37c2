/*
 * passthrough.c - see passthrough.h.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "passthrough.h"
#include "uring.h"

/* Linux 6.9's protocol (7.40), newer than Debian 12's <linux/fuse.h>:
 * FUSE_PASSTHROUGH is bit 37 of the INIT flags (bit 5 of flags2), the
 * reply's max_stack_depth follows flags2 (its unused[0] here), the open
 * reply's backing id takes its padding. */
#define INIT2_PASSTHROUGH (1u << 5)
/* Linux 6.14's (7.42): FUSE_OVER_IO_URING, bit 41 (bit 9 of flags2) */
#define INIT2_IO_URING (1u << 9)
#define OPEN_PASSTHROUGH (1u << 7)
struct backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define IOC_BACKING_OPEN _IOW(229, 1, struct backing_map)
#define IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)
/* A staging on a stacked file system (overlayfs, as in a container)
 * stays allowed: the kernel's limit. */
#define STACK_DEPTH 2

struct binding {
	uint64_t ino;
	int id;
	unsigned refs;
};

struct pt {
	int fd;			/* the device */
	atomic_bool offered;	/* the kernel's INIT offered it */
	atomic_bool replied;	/* the INIT reply went */
	atomic_bool on;
	atomic_bool ring_offered;	/* and FUSE over io_uring */
	unsigned ring_threads;	/* per CPU; 0: not wanted */
	struct fuse_session *se;
	struct uring *u;	/* the rings, where the kernel took them */
	pthread_mutex_t mu;
	struct binding *v;	/* the live backing ids */
	size_t n, cap;
};

/* The custom I/O callbacks get the session's user data, the file
 * system's: a process mounts once, so the module's state is here. */
static struct pt *cur;
/* The backing id the reply this thread is sending carries. */
static _Thread_local int pending;

static void see_init(struct pt *p, const void *buf, ssize_t n)
{
	const struct fuse_in_header *h = buf;
	const struct fuse_init_in *in = (const void *)(h + 1);

	if (n < (ssize_t)(sizeof(*h) + sizeof(*in)) ||
	    h->opcode != FUSE_INIT || !(in->flags & FUSE_INIT_EXT))
		return;
	if (in->flags2 & INIT2_PASSTHROUGH)
		atomic_store(&p->offered, true);
	if (in->flags2 & INIT2_IO_URING)
		atomic_store(&p->ring_offered, true);
}

/* The request data a ring entry must hold: the kernel's largest, as
 * the INIT reply sets it (at least 32 pages without max_pages). */
static size_t ring_payload(const struct fuse_init_out *o)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = o->max_write;

	if (o->max_pages * page > n)
		n = o->max_pages * page;
	if (32 * page > n)
		n = 32 * page;
	return n;
}

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (!atomic_load_explicit(&cur->replied, memory_order_relaxed))
		see_init(cur, buf, n);
	return n;
}

/* The first reply answers INIT (the kernel sends nothing before). */
static void patch_init(struct pt *p, struct iovec *iov, int count)
{
	struct fuse_init_out *o;

	atomic_store(&p->replied, true);
	if (count < 2 || iov[1].iov_len != sizeof(*o))
		return;
	o = iov[1].iov_base;
	if (!(o->flags & FUSE_INIT_EXT))
		return;
	if (atomic_load(&p->offered)) {
		o->flags2 |= INIT2_PASSTHROUGH;
		o->unused[0] = STACK_DEPTH;
		atomic_store(&p->on, true);
	}
	/* the rings are made before the kernel is told: it holds every
	 * request until each CPU's queue has a thread */
	if (atomic_load(&p->ring_offered) && p->ring_threads &&
	    (p->u = uring_new(p->se, p->fd, ring_payload(o),
			      p->ring_threads)))
		o->flags2 |= INIT2_IO_URING;
}

/* The open reply ends the payload (fuse_open_out, alone or after the
 * entry of a create). */
static void patch_open(struct iovec *iov, int count, int id)
{
	struct fuse_open_out *o;

	if (count < 2 || iov[1].iov_len < sizeof(*o))
		return;
	o = (void *)((char *)iov[1].iov_base + iov[1].iov_len - sizeof(*o));
	o->open_flags |= OPEN_PASSTHROUGH;
	o->padding = (uint32_t)id;
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	ssize_t res;

	(void)userdata;
	if (!atomic_load_explicit(&cur->replied, memory_order_relaxed)) {
		patch_init(cur, iov, count);
		res = writev(fd, iov, count);
		if (cur->u && res > 0) {
			uring_run(cur->u);
		} else if (cur->u) {
			uring_free(cur->u);
			cur->u = NULL;
		}
		return res;
	}
	if (pending)
		patch_open(iov, count, pending);
	if (uring_reply(iov, count, &res))
		return res;
	return writev(fd, iov, count);
}

static ssize_t pt_splice_send(int fdin, off_t *offin, int fdout,
			      off_t *offout, size_t len, unsigned int flags,
			      void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int pt_attach(struct pt **out, struct fuse_session *se, unsigned threads)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	static const struct fuse_custom_io io = {
		.writev = pt_writev,
		.read = pt_read,
		.splice_send = pt_splice_send,
	};
	struct pt *p;

	*out = NULL;
	if (getenv("LANCEFS_NO_PASSTHROUGH") || cur)
		return 0;
	if (!(p = calloc(1, sizeof(*p))))
		return ENOMEM;
	p->fd = fuse_session_fd(se);
	p->se = se;
	if (!getenv("LANCEFS_NO_IO_URING")) {
		/* the mount's threads, shared out among the CPUs */
		p->ring_threads = cpus > 0 ? threads / (unsigned)cpus : 0;
		if (p->ring_threads < 1)
			p->ring_threads = 1;
	}
	pthread_mutex_init(&p->mu, NULL);
	cur = p;
	if (fuse_session_custom_io(se, &io, p->fd)) {
		cur = NULL;
		pt_free(p);
		return 0;
	}
	*out = p;
	return 0;
}

void pt_free(struct pt *p)
{
	/* backing ids end with the connection */
	if (!p)
		return;
	/* the rings went at pt_stop */
	if (cur == p)
		cur = NULL;
	free(p->v);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

bool pt_on(const struct pt *p)
{
	return p && atomic_load(&p->on);
}

bool pt_ring_on(const struct pt *p)
{
	return p && uring_on(p->u);
}

void pt_stop(struct pt *p)
{
	if (!p)
		return;
	uring_free(p->u);
	p->u = NULL;
}

static struct binding *find(struct pt *p, uint64_t ino)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].ino == ino)
			return &p->v[i];
	return NULL;
}

/* Room for one more binding (under mu): false where memory is out, and
 * the open goes without. */
static bool room(struct pt *p)
{
	size_t cap = p->cap ? 2 * p->cap : 16;
	struct binding *v;

	if (p->n < p->cap)
		return true;
	if (!(v = realloc(p->v, cap * sizeof(*v))))
		return false;
	p->v = v;
	p->cap = cap;
	return true;
}

int pt_get(struct pt *p, uint64_t ino, int fd)
{
	struct backing_map map = { .fd = fd };
	struct binding *b;
	int id = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	if ((b = find(p, ino))) {
		/* the kernel wants the backing its live opens have */
		b->refs++;
		id = b->id;
	} else if (fd >= 0 && atomic_load(&p->on) && room(p)) {
		id = ioctl(p->fd, IOC_BACKING_OPEN, &map);
		if (id > 0) {
			p->v[p->n++] = (struct binding){ ino, id, 1 };
		} else {
			/* not root, not this kernel, a staging too deep
			 * in stacked file systems: none from now on, but
			 * where the process is out of something */
			if (errno != EMFILE && errno != ENFILE &&
			    errno != ENOMEM)
				atomic_store(&p->on, false);
			id = 0;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return id;
}

void pt_put(struct pt *p, uint64_t ino)
{
	struct binding *b;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	if ((b = find(p, ino)) && !--b->refs) {
		(void)ioctl(p->fd, IOC_BACKING_CLOSE, &b->id);
		*b = p->v[--p->n];
	}
	pthread_mutex_unlock(&p->mu);
}

int pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
		  int backing)
{
	int rc;

	pending = backing;
	rc = fuse_reply_open(req, fi);
	pending = 0;
	return rc;
}

int pt_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		    const struct fuse_file_info *fi, int backing)
{
	int rc;

	pending = backing;
	rc = fuse_reply_create(req, e, fi);
	pending = 0;
	return rc;
}
