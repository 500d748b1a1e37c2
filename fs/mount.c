/*
 * mount.c - the view served through the libfuse low-level API.
 *
 * Inode numbers. Everything the view shows is named by (snapshot, kind,
 * row number, file), so we encode that into the 64-bit inode number and
 * keep no per-row state: listing a million rows costs no memory here.
 *
 *   1                      the mount root
 *   bit 62..51  slot       a snapshot the kernel holds inodes of (1..4095)
 *   bit 50..48  kind       ROOT, VERSIONS, TAGS, ROW, FILE
 *   bit 47..40  file       file column of a row, 255 = meta.json
 *   bit 39..0   row        the row's number (stable id or position)
 *
 * A slot holds a reference on its snapshot and counts the kernel's lookups
 * of every inode in it; when that count reaches zero and the snapshot is
 * no longer the one the root shows, the slot is freed. Rows numbered 2^40
 * or more cannot be encoded and answer EOVERFLOW.
 *
 * Everything in a snapshot is immutable, so entries, attributes, file
 * pages and directory listings are cached by the kernel for a long time.
 */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"
#include "view.h"

#define MAX_SLOTS 4095
#define SLOT_SHIFT 51
#define KIND_SHIFT 48
#define FILE_SHIFT 40
#define ROW_MASK ((1ull << 40) - 1)
#define META_FILE 255
#define CACHE_TTL 86400.0

enum ino_kind {
	IK_ROOT = 1,
	IK_VERSIONS,
	IK_TAGS,
	IK_ROW,
	IK_FILE,
	IK_CTL,
	IK_CTLFILE,
};

struct slot {
	struct vnode root;	/* ROOT of the snapshot; kind NONE if free */
	uint64_t lookups;	/* kernel references to inodes of the slot */
};

/* The last rendering of each control file: stat's size and the bytes a
 * read returns right after must agree while the counters move on. */
struct ctl_cache {
	struct lc_buf data;
	struct timespec when;	/* monotonic, for its age */
	struct timespec made;	/* wall clock: the file's mtime */
};

struct lfs {
	pthread_mutex_t ctl_mu;		/* protects ctl */
	struct ctl_cache ctl[VIEW_CTL_COUNT];
	struct view *v;
	struct fuse_session *se;
	struct vnode top;	/* the mount root: ROOT or DBROOT */
	pthread_mutex_t mu;	/* protects slots */
	struct slot slots[MAX_SLOTS + 1];
	uid_t uid;
	gid_t gid;
	bool foreground;
	bool no_open;		/* the kernel handles opens (zero-message) */
	unsigned refresh;	/* seconds between checks; 0 = off */
	pthread_t refresher;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stopping;		/* protected by stop_mu */
	atomic_ullong refreshes;
	atomic_ullong requests, bytes_read, errors, opens;
};

/*
 * An open file. The content is loaded at the first read that reaches us:
 * with keep_cache the kernel serves a warm file from its page cache and
 * sends no read at all, so an open costs no decode.
 */
struct open_file {
	pthread_mutex_t mu;	/* protects loaded, data, rc */
	struct vnode node;
	bool loaded;
	int rc;
	struct lc_buf data;
};

static void log_err(struct lfs *fs, const char *what, const struct lc_err *e)
{
	atomic_fetch_add(&fs->errors, 1);
	if (fs->foreground)
		fprintf(stderr, "lancefs: %s: %s\n", what, e->msg);
	else
		syslog(LOG_ERR, "%s: %s", what, e->msg);
}

/* The errno a failed view call turns into at the FUSE boundary. */
static int reply_errno(struct lfs *fs, const char *what, int rc,
		       const struct lc_err *e)
{
	if (rc == ENOENT || rc == ENOTDIR || rc == EISDIR)
		return rc;
	if (e->code)
		log_err(fs, what, e);
	switch (e->kind) {
	case LC_EK_CORRUPT:
	case LC_EK_UNSUPPORTED:
	case LC_EK_REMOTE:
		return EIO;
	case LC_EK_LIMIT:
		return EFBIG;
	default:
		return rc > 0 ? rc : EIO;
	}
}

/* ------------------------------------------------------------ inodes */

/* Slot of the node's snapshot, taking one lookup reference. */
static int slot_take(struct lfs *fs, const struct vnode *n, unsigned *out)
{
	unsigned free_slot = 0;
	int rc = 0;

	pthread_mutex_lock(&fs->mu);
	for (unsigned s = 1; s <= MAX_SLOTS; s++) {
		if (fs->slots[s].root.kind == VN_NONE) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (fs->slots[s].root.snap == n->snap &&
		    fs->slots[s].root.ds == n->ds) {
			fs->slots[s].lookups++;
			*out = s;
			goto out;
		}
	}
	if (!free_slot) {
		rc = ENFILE;
		goto out;
	}
	vnode_copy(&fs->slots[free_slot].root, n);
	fs->slots[free_slot].root.kind = VN_ROOT;
	fs->slots[free_slot].root.file = 0;
	memset(&fs->slots[free_slot].root.row, 0,
	       sizeof(fs->slots[free_slot].root.row));
	fs->slots[free_slot].lookups = 1;
	*out = free_slot;
out:
	pthread_mutex_unlock(&fs->mu);
	return rc;
}

static void slot_forget(struct lfs *fs, unsigned s, uint64_t n)
{
	struct vnode dead = { 0 };

	if (!s || s > MAX_SLOTS)
		return;
	pthread_mutex_lock(&fs->mu);
	if (fs->slots[s].root.kind != VN_NONE) {
		fs->slots[s].lookups -= n < fs->slots[s].lookups ?
						n : fs->slots[s].lookups;
		if (!fs->slots[s].lookups &&
		    !view_is_current(&fs->slots[s].root)) {
			dead = fs->slots[s].root;
			memset(&fs->slots[s].root, 0,
			       sizeof(fs->slots[s].root));
		}
	}
	pthread_mutex_unlock(&fs->mu);
	vnode_reset(&dead);	/* never free a snapshot under the lock */
}

/* The inode number of `n`, taking one kernel lookup reference. */
static int ino_of(struct lfs *fs, const struct vnode *n, fuse_ino_t *out)
{
	uint64_t kind, file = 0, row = 0;
	unsigned s;
	int rc;

	switch (n->kind) {
	case VN_ROOT:
		kind = IK_ROOT;
		break;
	case VN_VERSIONS:
		kind = IK_VERSIONS;
		break;
	case VN_TAGS:
		kind = IK_TAGS;
		break;
	case VN_CTL:
		kind = IK_CTL;
		break;
	case VN_CTLFILE:
		kind = IK_CTLFILE;
		file = (uint64_t)n->file;
		break;
	case VN_ROW:
	case VN_FILE:
		kind = n->kind == VN_ROW ? IK_ROW : IK_FILE;
		row = n->row.number;
		if (row > ROW_MASK)
			return EOVERFLOW;
		if (n->kind == VN_FILE && n->file == VIEW_META_JSON)
			file = META_FILE;
		else if (n->kind == VN_FILE && (file = (uint64_t)n->file) >=
						       META_FILE)
			return EOVERFLOW;	/* 255+ file columns */
		break;
	default:
		return EINVAL;
	}
	if (!n->snap)
		return EINVAL;
	rc = slot_take(fs, n, &s);
	if (rc)
		return rc;
	*out = (uint64_t)s << SLOT_SHIFT | kind << KIND_SHIFT |
	       file << FILE_SHIFT | row;
	return 0;
}

/* The node an inode number names. */
static int node_of(struct lfs *fs, fuse_ino_t ino, struct vnode *out,
		   struct lc_err *err)
{
	unsigned s = (unsigned)(ino >> SLOT_SHIFT) & MAX_SLOTS;
	unsigned kind = (unsigned)(ino >> KIND_SHIFT) & 7;
	unsigned file = (unsigned)(ino >> FILE_SHIFT) & 255;
	struct vnode root;
	int rc = 0;

	if (ino == FUSE_ROOT_ID) {
		if (fs->top.kind == VN_DBROOT) {
			vnode_copy(out, &fs->top);
			return 0;
		}
		return view_root(out, fs->v, err);	/* follows refresh */
	}
	pthread_mutex_lock(&fs->mu);
	if (!s || fs->slots[s].root.kind == VN_NONE)
		rc = ESTALE;
	else
		vnode_copy(&root, &fs->slots[s].root);
	pthread_mutex_unlock(&fs->mu);
	if (rc)
		return rc;
	switch (kind) {
	case IK_ROOT:
		*out = root;
		return 0;
	case IK_VERSIONS:
	case IK_TAGS:
	case IK_CTL:
		*out = root;
		out->kind = kind == IK_VERSIONS ? VN_VERSIONS :
			    kind == IK_TAGS ? VN_TAGS : VN_CTL;
		return 0;
	case IK_CTLFILE:
		if (file >= VIEW_CTL_COUNT) {
			vnode_reset(&root);
			return ESTALE;
		}
		*out = root;
		out->kind = VN_CTLFILE;
		out->file = (int)file;
		return 0;
	case IK_ROW:
	case IK_FILE:
		rc = view_row(out, &root, ino & ROW_MASK, err);
		vnode_reset(&root);
		if (rc)
			return rc;
		if (kind == IK_FILE) {
			out->kind = VN_FILE;
			out->file = file == META_FILE ? VIEW_META_JSON :
							 (int)file;
			if (file != META_FILE &&
			    file >= view_file_columns(out)) {
				vnode_reset(out);
				return ESTALE;
			}
		}
		return 0;
	default:
		vnode_reset(&root);
		return ESTALE;
	}
}

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * A control file's content: one rendering serves a second, and carries
 * its time as the file's mtime. The kernel caches pages (no open, so no
 * direct_io); a new rendering has a new mtime, which makes the kernel
 * drop them, and stat's size always matches the bytes a read returns.
 */
static int ctl_content(struct lfs *fs, const struct vnode *n,
		       struct lc_buf *out, struct timespec *made,
		       struct lc_err *err)
{
	struct ctl_cache *c = &fs->ctl[n->file];
	int rc = 0;

	pthread_mutex_lock(&fs->ctl_mu);
	if (!c->data.data || since(&c->when) > 1.0) {
		lc_buf_reset(&c->data);
		rc = view_read_file(&c->data, fs->v, n, err);
		clock_gettime(CLOCK_MONOTONIC, &c->when);
		clock_gettime(CLOCK_REALTIME, &c->made);
	}
	if (!rc)
		rc = lc_buf_append(out, c->data.data, c->data.len, err);
	if (made)
		*made = c->made;
	pthread_mutex_unlock(&fs->ctl_mu);
	return rc;
}

/* Control files change all the time; everything else never does. */
static double ttl_of(const struct vnode *n)
{
	return n->kind == VN_CTL || n->kind == VN_CTLFILE ? 0.0 : CACHE_TTL;
}

static int fill_stat(struct lfs *fs, struct stat *st, fuse_ino_t ino,
		     const struct vnode *n, struct lc_err *err)
{
	struct view_attr a;
	int rc = view_getattr(&a, fs->v, n, err);

	if (rc)
		return rc;
	if (n->kind == VN_CTLFILE) {
		struct lc_buf b;
		struct timespec made;

		lc_buf_init(&b, 0);
		rc = ctl_content(fs, n, &b, &made, err);
		a.size = b.len;
		lc_buf_reset(&b);
		if (rc)
			return rc;
		a.mtime_sec = made.tv_sec;
		a.mtime_nsec = (int32_t)made.tv_nsec;
	}
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = a.is_dir ? S_IFDIR | 0555 : S_IFREG | 0444;
	st->st_nlink = (nlink_t)a.nlink;
	st->st_size = (off_t)a.size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a.size + 511) / 512);
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtim.tv_sec = a.mtime_sec;
	st->st_mtim.tv_nsec = a.mtime_nsec;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	return 0;
}

/* ------------------------------------------------------------ ops */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lfs *fs = userdata;

	/* Zero-message opens: an ENOSYS answer to open tells the kernel to
	 * stop sending OPEN and RELEASE; a warm file is then read from the
	 * page cache with no request at all. */
	fs->no_open = conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e = { 0 };
	struct lc_err err = { 0 };
	struct vnode dir, n;
	double ttl;
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	rc = node_of(fs, parent, &dir, &err);
	if (rc)
		goto fail;
	rc = view_lookup(&n, fs->v, &dir, name, &err);
	vnode_reset(&dir);
	if (rc == ENOENT) {
		/* a negative entry: the kernel caches the miss */
		e.entry_timeout = CACHE_TTL;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc)
		goto fail;
	ttl = ttl_of(&n);
	rc = ino_of(fs, &n, &e.ino);
	if (!rc) {
		rc = fill_stat(fs, &e.attr, e.ino, &n, &err);
		if (rc)
			slot_forget(fs, (unsigned)(e.ino >> SLOT_SHIFT) &
						MAX_SLOTS, 1);
	}
	vnode_reset(&n);
	if (rc)
		goto fail;
	e.attr_timeout = ttl;
	e.entry_timeout = ttl;
	fuse_reply_entry(req, &e);
	return;
fail:
	fuse_reply_err(req, reply_errno(fs, name, rc, &err));
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct lfs *fs = fuse_req_userdata(req);

	if (ino != FUSE_ROOT_ID)
		slot_forget(fs, (unsigned)(ino >> SLOT_SHIFT) & MAX_SLOTS,
			    nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct lfs *fs = fuse_req_userdata(req);

	for (size_t i = 0; i < count; i++)
		if (forgets[i].ino != FUSE_ROOT_ID)
			slot_forget(fs, (unsigned)(forgets[i].ino >>
						   SLOT_SHIFT) & MAX_SLOTS,
				    forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct stat st;
	struct vnode n;
	double ttl = 0;
	int rc;

	(void)fi;
	atomic_fetch_add(&fs->requests, 1);
	rc = node_of(fs, ino, &n, &err);
	if (!rc) {
		rc = fill_stat(fs, &st, ino, &n, &err);
		ttl = ttl_of(&n);
		vnode_reset(&n);
	}
	if (rc)
		fuse_reply_err(req, reply_errno(fs, "getattr", rc, &err));
	else
		fuse_reply_attr(req, &st, ttl);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);

	(void)ino;
	atomic_fetch_add(&fs->requests, 1);
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

struct dir_fill {
	struct lfs *fs;
	fuse_req_t req;
	char *buf;
	size_t size, used;
	bool plus;
	int rc;
	struct lc_err *err;
};

/*
 * The inode number a plain directory entry carries. readdir(3) skips
 * entries whose d_ino is 0, and the real number would need a lookup
 * reference; stat() on the entry gives the real one.
 */
static ino_t dirent_ino(uint64_t index)
{
	return (ino_t)(index + 2);
}

static int dir_fill_cb(void *ctx, uint64_t index, const char *name,
		       const struct vnode *node)
{
	struct dir_fill *d = ctx;
	size_t need;

	if (d->plus && !node->snap) {
		/* @versions and @tags list names whose snapshots are not
		 * open yet: no attributes, the kernel looks them up */
		struct fuse_entry_param e = { 0 };

		e.attr.st_mode = S_IFDIR;
		e.attr.st_ino = dirent_ino(index);
		need = fuse_add_direntry_plus(d->req, d->buf + d->used,
					      d->size - d->used, name, &e,
					      (off_t)index + 1);
		if (need > d->size - d->used)
			return 1;
	} else if (d->plus) {
		struct fuse_entry_param e = { 0 };
		int rc = ino_of(d->fs, node, &e.ino);

		if (!rc)
			rc = fill_stat(d->fs, &e.attr, e.ino, node, d->err);
		if (rc) {
			if (e.ino)
				slot_forget(d->fs, (unsigned)(e.ino >>
							SLOT_SHIFT) & MAX_SLOTS,
					    1);
			d->rc = rc;
			return rc;
		}
		e.attr_timeout = ttl_of(node);
		e.entry_timeout = e.attr_timeout;
		need = fuse_add_direntry_plus(d->req, d->buf + d->used,
					      d->size - d->used, name, &e,
					      (off_t)index + 1);
		if (need > d->size - d->used) {
			/* did not fit: the kernel never saw it */
			slot_forget(d->fs, (unsigned)(e.ino >> SLOT_SHIFT) &
						   MAX_SLOTS, 1);
			return 1;
		}
	} else {
		struct stat st = { 0 };
		bool is_dir = node->kind != VN_FILE;

		st.st_mode = is_dir ? S_IFDIR : S_IFREG;
		st.st_ino = dirent_ino(index);
		need = fuse_add_direntry(d->req, d->buf + d->used,
					 d->size - d->used, name, &st,
					 (off_t)index + 1);
		if (need > d->size - d->used)
			return 1;
	}
	d->used += need;
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       bool plus)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct dir_fill d = { fs, req, NULL, size, 0, plus, 0, &err };
	struct vnode n;
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = node_of(fs, ino, &n, &err);
	if (!rc) {
		rc = view_readdir(fs->v, &n, (uint64_t)off, dir_fill_cb, &d,
				  &err);
		vnode_reset(&n);
	}
	if (rc == 1)
		rc = 0;
	if (d.rc && !d.used)
		rc = d.rc;
	if (rc)
		fuse_reply_err(req, reply_errno(fs, "readdir", rc, &err));
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct open_file *of;
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	of = calloc(1, sizeof(*of));
	if (!of) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&of->mu, NULL);
	lc_buf_init(&of->data, 0);
	rc = node_of(fs, ino, &of->node, &err);
	if (!rc && fs->no_open) {
		vnode_reset(&of->node);
		pthread_mutex_destroy(&of->mu);
		free(of);
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (!rc && of->node.kind == VN_CTLFILE) {
		/* made fresh at each open, read whole now */
		rc = view_read_file(&of->data, fs->v, &of->node, &err);
		of->loaded = true;
		fi->direct_io = 1;
	} else if (!rc) {
		fi->keep_cache = 1;	/* a snapshot never changes */
	}
	if (rc) {
		vnode_reset(&of->node);
		lc_buf_reset(&of->data);
		pthread_mutex_destroy(&of->mu);
		free(of);
		fuse_reply_err(req, reply_errno(fs, "open", rc, &err));
		return;
	}
	atomic_fetch_add(&fs->opens, 1);
	fi->fh = (uint64_t)(uintptr_t)of;
	fuse_reply_open(req, fi);
}

/*
 * A read with no open handle (zero-message opens): find the node and its
 * content again. The view's value cache keeps the value across the
 * chunks of one file, so a big image is decoded once.
 */
static void read_stateless(fuse_req_t req, struct lfs *fs, fuse_ino_t ino,
			   size_t size, off_t off)
{
	struct lc_err err = { 0 };
	struct vnode n = { 0 };
	struct lc_buf b;
	int rc;

	lc_buf_init(&b, 0);
	rc = node_of(fs, ino, &n, &err);
	if (!rc && n.kind == VN_CTLFILE) {
		struct lc_buf whole;

		lc_buf_init(&whole, 0);
		rc = ctl_content(fs, &n, &whole, NULL, &err);
		if (!rc && (uint64_t)off < whole.len)
			rc = lc_buf_append(&b, whole.data + off,
					   whole.len - (size_t)off < size ?
						   whole.len - (size_t)off :
						   size, &err);
		lc_buf_reset(&whole);
	} else if (!rc) {
		rc = view_read_range(&b, fs->v, &n, (uint64_t)off, size,
				     &err);
	}
	vnode_reset(&n);
	if (rc) {
		lc_buf_reset(&b);
		fuse_reply_err(req, reply_errno(fs, "read", rc, &err));
		return;
	}
	atomic_fetch_add(&fs->bytes_read, b.len);
	fuse_reply_buf(req, b.len ? (const char *)b.data : NULL, b.len);
	lc_buf_reset(&b);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	struct lc_err err = { 0 };
	size_t len = 0;
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	if (!of) {
		read_stateless(req, fs, ino, size, off);
		return;
	}
	pthread_mutex_lock(&of->mu);
	if (!of->loaded) {
		of->rc = view_read_file(&of->data, fs->v, &of->node, &err);
		of->loaded = true;
	}
	rc = of->rc;
	pthread_mutex_unlock(&of->mu);
	if (rc) {
		fuse_reply_err(req, reply_errno(fs, "read", rc, &err));
		return;
	}
	/* the buffer never changes once loaded */
	if ((uint64_t)off < of->data.len) {
		len = of->data.len - (size_t)off;
		if (len > size)
			len = size;
	}
	atomic_fetch_add(&fs->bytes_read, len);
	fuse_reply_buf(req, len ? (const char *)of->data.data + off : NULL,
		       len);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)ino;
	if (!of) {
		fuse_reply_err(req, 0);
		return;
	}
	vnode_reset(&of->node);
	lc_buf_reset(&of->data);
	pthread_mutex_destroy(&of->mu);
	free(of);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct lfs *fs = fuse_req_userdata(req);
	const struct lance_manifest *m;
	struct statvfs sv = { 0 };
	uint64_t bytes = 0, rows = 0;
	struct vnode root;

	(void)ino;
	if (node_of(fs, FUSE_ROOT_ID, &root, NULL))
		memset(&root, 0, sizeof(root));
	m = view_manifest(&root);
	for (size_t i = 0; m && i < m->n_fragments; i++) {
		rows += m->fragments[i].physical_rows -
			m->fragments[i].deletion.num_deleted;
		for (size_t j = 0; j < m->fragments[i].n_files; j++)
			bytes += m->fragments[i].files[j].size;
	}
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = (bytes + 4095) / 4096;
	sv.f_files = rows;
	sv.f_namemax = 255;
	vnode_reset(&root);
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops lfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
};

/* ------------------------------------------------------------ refresh */

struct diff_ctx {
	struct lfs *fs;
	const struct vnode *other;	/* the root to look names up in */
	bool check_same;		/* also invalidate moved rows */
};

/* Invalidate the kernel's entry for each row of one root that the other
 * root lacks (or holds as a different physical row). */
static int diff_cb(void *ctx, uint64_t index, const char *name,
		   const struct vnode *node)
{
	struct diff_ctx *d = ctx;
	struct vnode other;
	bool stale;

	(void)index;
	if (view_lookup(&other, d->fs->v, d->other, name, NULL)) {
		stale = true;
	} else {
		stale = d->check_same && !view_same_row(node, &other);
		vnode_reset(&other);
	}
	if (stale)
		fuse_lowlevel_notify_inval_entry(d->fs->se, FUSE_ROOT_ID, name,
						 strlen(name));
	return 0;
}

static void refresh_once(struct lfs *fs)
{
	struct lc_err err = { 0 };
	struct vnode old, cur;
	bool changed;

	if (view_refresh(&changed, &old, fs->v, &err)) {
		log_err(fs, "refresh", &err);
		return;
	}
	if (!changed)
		return;
	atomic_fetch_add(&fs->refreshes, 1);
	if (!view_root(&cur, fs->v, &err)) {
		/* rows gone or moved, then rows new (cached as misses) */
		struct diff_ctx gone = { fs, &cur, true };
		struct diff_ctx added = { fs, &old, false };

		if (view_readdir(fs->v, &old, 0, diff_cb, &gone, &err) ||
		    view_readdir(fs->v, &cur, 0, diff_cb, &added, &err))
			log_err(fs, "refresh", &err);
		vnode_reset(&cur);
	}
	/* the root listing and its attributes */
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	vnode_reset(&old);
}

static void *refresh_main(void *arg)
{
	struct lfs *fs = arg;

	pthread_mutex_lock(&fs->stop_mu);
	while (!fs->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += fs->refresh;
		pthread_cond_timedwait(&fs->stop_cv, &fs->stop_mu, &until);
		if (fs->stopping)
			break;
		pthread_mutex_unlock(&fs->stop_mu);
		refresh_once(fs);
		pthread_mutex_lock(&fs->stop_mu);
	}
	pthread_mutex_unlock(&fs->stop_mu);
	return NULL;
}

static int status_fn(void *ctx, struct lc_buf *b, struct lc_err *err)
{
	struct lfs *fs = ctx;

	return lc_buf_printf(b, err, ",\"mount\":{\"requests\":%llu,"
			     "\"bytes_read\":%llu,\"opens\":%llu,"
			     "\"failed_requests\":%llu,\"refresh\":%u,"
			     "\"refreshes\":%llu}",
			     (unsigned long long)atomic_load(&fs->requests),
			     (unsigned long long)atomic_load(&fs->bytes_read),
			     (unsigned long long)atomic_load(&fs->opens),
			     (unsigned long long)atomic_load(&fs->errors),
			     fs->refresh,
			     (unsigned long long)atomic_load(&fs->refreshes));
}

/* ------------------------------------------------------------ main */

static const char mount_usage[] =
	"usage: lancefs mount [-f] [-d] [-o OPT[,OPT...]] SOURCE MOUNTPOINT\n";

/* True when something is mounted on `dir` (even a dead FUSE daemon's
 * mount, which stat cannot reach: ENOTCONN). */
static bool is_mount_point(const char *dir)
{
	char parent[4200];
	struct stat a, b;

	if (stat(dir, &a) < 0)
		return errno == ENOTCONN;
	snprintf(parent, sizeof(parent), "%s/..", dir);
	if (stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

/* Split -o options into ours (view) and FUSE's. */
static int split_mount_opts(struct view_opts *vo, struct lc_buf *fuse_opts,
			    int *threads, unsigned *refresh, char *arg,
			    struct lc_err *err)
{
	for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
		int rc = view_opts_parse(vo, tok, err);

		if (rc != ENOENT) {
			if (rc)
				return rc;
			continue;
		}
		if (!strncmp(tok, "threads=", 8)) {
			*threads = atoi(tok + 8);
			if (*threads < 1 || *threads > 64)
				return LC_USAGE(err, "threads=%s: want 1..64",
						tok + 8);
			continue;
		}
		if (!strncmp(tok, "refresh=", 8)) {
			char *end;
			long v = strtol(tok + 8, &end, 10);

			if (*end || v < 0 || v > 86400)
				return LC_USAGE(err, "refresh=%s: want seconds"
						" (0..86400)", tok + 8);
			*refresh = (unsigned)v;
			continue;
		}
		if (!strcmp(tok, "rw") || !strcmp(tok, "defaults") ||
		    !strcmp(tok, "auto") || !strcmp(tok, "noauto") ||
		    !strcmp(tok, "user") || !strcmp(tok, "users") ||
		    !strcmp(tok, "nouser") || !strcmp(tok, "nofail") ||
		    !strcmp(tok, "_netdev") || !strncmp(tok, "x-", 2))
			continue;	/* fstab words, and rw: writes come
					 * later; the mount is ro */
		if (fuse_opts->len && lc_buf_append(fuse_opts, ",", 1, err))
			return ENOMEM;
		if (lc_buf_append(fuse_opts, tok, strlen(tok), err))
			return ENOMEM;
	}
	return 0;
}

int lancefs_mount_main(int argc, char **argv)
{
	struct view_opts vo = { 0 };
	struct lc_err err = { 0 };
	struct lc_buf fo;
	struct lfs *fs = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	bool foreground = false, debug = false, refresher = false;
	unsigned refresh = 0;
	/* One FUSE thread per core: measured on 2 cores (tests/bench/
	 * mount.sh), two threads read cold images 1.3-3.8x faster than one
	 * and warm ones as fast; -o threads=1 gives the single loop. */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = cores < 1 ? 1 : cores > 16 ? 16 : (int)cores;
	int opt, rc = 1;
	const char *source, *mnt;

	lc_buf_init(&fo, 0);
	optind = 1;
	while ((opt = getopt(argc, argv, "fdo:")) != -1) {
		switch (opt) {
		case 'f':
			foreground = true;
			break;
		case 'd':
			foreground = debug = true;
			break;
		case 'o':
			if (split_mount_opts(&vo, &fo, &threads, &refresh,
					     optarg, &err))
				goto usage_err;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	source = argv[optind];
	mnt = argv[optind + 1];

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		goto out;
	pthread_mutex_init(&fs->mu, NULL);
	pthread_mutex_init(&fs->ctl_mu, NULL);
	for (int i = 0; i < VIEW_CTL_COUNT; i++)
		lc_buf_init(&fs->ctl[i].data, 0);
	pthread_mutex_init(&fs->stop_mu, NULL);
	pthread_cond_init(&fs->stop_cv, NULL);
	fs->refresh = refresh;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->foreground = foreground;
	if (view_open(&fs->v, source, &vo, &err) ||
	    view_root(&fs->top, fs->v, &err)) {
		fprintf(stderr, "lancefs: %s\n", err.msg);
		rc = err.kind == LC_EK_NOTFOUND || err.kind == LC_EK_USAGE ?
			     1 : 2;
		goto out;
	}
	view_set_status_fn(fs->v, status_fn, fs);
	if (fs->top.kind == VN_ROOT) {
		/* a dataset root follows refresh: only remember the kind */
		vnode_reset(&fs->top);
		fs->top.kind = VN_ROOT;
	}
	if (fuse_opt_add_arg(&args, "lancefs") ||
	    fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, "ro,default_permissions,subtype=lancefs") ||
	    (fo.len && (fuse_opt_add_arg(&args, "-o") ||
			fuse_opt_add_arg(&args, (char *)fo.data))) ||
	    (debug && fuse_opt_add_arg(&args, "-d")))
		goto out;
	{
		char fsname[4200];

		snprintf(fsname, sizeof(fsname), "fsname=%s", source);
		for (char *p = fsname; *p; p++)
			if (*p == ',')
				*p = '_';
		if (fuse_opt_add_arg(&args, "-o") ||
		    fuse_opt_add_arg(&args, fsname))
			goto out;
	}
	if (is_mount_point(mnt)) {
		fprintf(stderr, "lancefs: %s is already a mount point (unmount "
			"it first: lancefs umount %s)\n", mnt, mnt);
		goto out;
	}
	fs->se = fuse_session_new(&args, &lfs_ops, sizeof(lfs_ops), fs);
	if (!fs->se) {
		fprintf(stderr, "lancefs: bad mount options\n");
		goto out;
	}
	if (fuse_set_signal_handlers(fs->se)) {
		fprintf(stderr, "lancefs: cannot set signal handlers\n");
		goto out;
	}
	if (fuse_session_mount(fs->se, mnt)) {
		fprintf(stderr, "lancefs: cannot mount on %s (is it an "
			"existing, empty folder, is /dev/fuse there, and is "
			"nothing mounted there already?)\n", mnt);
		goto out_handlers;
	}
	if (!foreground)
		openlog("lancefs", LOG_PID, LOG_DAEMON);
	if (fuse_daemonize(foreground)) {
		fprintf(stderr, "lancefs: cannot daemonize\n");
		goto out_unmount;
	}
	/* threads die in fuse_daemonize's fork: start them after it */
	if (fs->refresh && fs->top.kind != VN_DBROOT) {
		if (pthread_create(&fs->refresher, NULL, refresh_main, fs))
			fprintf(stderr, "lancefs: refresh disabled: cannot "
				"start a thread\n");
		else
			refresher = true;
	}
	if (threads > 1) {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();

		fuse_loop_cfg_set_max_threads(cfg, (unsigned)threads);
		rc = fuse_session_loop_mt(fs->se, cfg) ? 2 : 0;
		fuse_loop_cfg_destroy(cfg);
	} else {
		rc = fuse_session_loop(fs->se) ? 2 : 0;
	}
	if (refresher) {
		pthread_mutex_lock(&fs->stop_mu);
		fs->stopping = true;
		pthread_cond_signal(&fs->stop_cv);
		pthread_mutex_unlock(&fs->stop_mu);
		pthread_join(fs->refresher, NULL);
	}
out_unmount:
	fuse_session_unmount(fs->se);
out_handlers:
	fuse_remove_signal_handlers(fs->se);
out:
	if (fs) {
		if (fs->se)
			fuse_session_destroy(fs->se);
		for (unsigned s = 1; s <= MAX_SLOTS; s++)
			vnode_reset(&fs->slots[s].root);
		vnode_reset(&fs->top);
		view_free(fs->v);
		pthread_mutex_destroy(&fs->mu);
		for (int i = 0; i < VIEW_CTL_COUNT; i++)
			lc_buf_reset(&fs->ctl[i].data);
		pthread_mutex_destroy(&fs->ctl_mu);
		pthread_mutex_destroy(&fs->stop_mu);
		pthread_cond_destroy(&fs->stop_cv);
		free(fs);
	}
	fuse_opt_free_args(&args);
	lc_buf_reset(&fo);
	view_opts_reset(&vo);
	return rc;
usage_err:
	fprintf(stderr, "lancefs: %s\n", err.msg);
	rc = 1;
	goto out;
usage:
	fputs(mount_usage, stderr);
	rc = 1;
	goto out;
}

/*
 * mount(8) helpers. `mount -t lancefs SRC DIR -o OPTS` and fstab lines of
 * type lancefs run `mount.lancefs SRC DIR [-n] [-s] [-f] [-v] -o OPTS`;
 * type fuse.lancefs goes through mount.fuse3, which runs
 * `lancefs SRC DIR -o OPTS`. Both become `lancefs mount -o OPTS SRC DIR`.
 */
int lancefs_mount_helper(int argc, char **argv)
{
	char *args[8];
	const char *pos[2] = { NULL, NULL };
	const char *opts = NULL;
	int n = 0, np = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			opts = argv[++i];
		else if (!strncmp(argv[i], "-o", 2) && argv[i][2])
			opts = argv[i] + 2;
		else if (argv[i][0] == '-')
			continue;	/* -n -s -v; -f (fake) we ignore */
		else if (np < 2)
			pos[np++] = argv[i];
	}
	if (np != 2) {
		fputs("usage: mount.lancefs SOURCE MOUNTPOINT [-o OPTS]\n",
		      stderr);
		return 1;
	}
	args[n++] = (char *)"mount";
	if (opts) {
		args[n++] = (char *)"-o";
		args[n++] = (char *)opts;
	}
	args[n++] = (char *)pos[0];
	args[n++] = (char *)pos[1];
	args[n] = NULL;
	return lancefs_mount_main(n, args);
}

int lancefs_umount_main(int argc, char **argv)
{
	pid_t pid;
	int status;

	if (argc != 2) {
		fputs("usage: lancefs umount MOUNTPOINT\n", stderr);
		return 1;
	}
	/* fusermount3 also clears a mount whose daemon died ("Transport
	 * endpoint is not connected"); -z detaches a busy one. */
	for (int lazy = 0; lazy < 2; lazy++) {
		pid = fork();
		if (pid == 0) {
			execlp("fusermount3", "fusermount3",
			       lazy ? "-uz" : "-u", argv[1], (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			break;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return 0;
	}
	fprintf(stderr, "lancefs: could not unmount %s\n", argv[1]);
	return 2;
}
