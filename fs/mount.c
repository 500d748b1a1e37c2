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

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "mount.h"
#include "passthrough.h"
#include "transport.h"
#include "view.h"
#include "writes.h"

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

/* The last rendering of a dataset's control file: stat's size and the
 * bytes a read returns right after must agree while the counters move
 * on. */
struct ctl_cache {
	struct lc_buf data;
	unsigned gen;		/* fs->ctl_gen it was made at */
	struct timespec when;	/* monotonic, for its age */
	struct timespec made;	/* wall clock: the file's mtime */
};

struct lfs;

/* A dataset of the mount (its only one, or a database member) and its
 * staged rows: `w` is opened at the dataset's first change, or at mount
 * when the staging holds rows, and lives until unmount. */
struct mds {
	struct lfs *fs;
	struct view_ds *ds;
	unsigned idx;			/* in inode numbers */
	_Atomic(struct writes *) w;
	struct ctl_cache ctl[VIEW_CTL_COUNT];	/* under fs->ctl_mu */
};

#define MAX_DS (MAX_SLOTS + 1)

struct lfs {
	pthread_mutex_t ctl_mu;		/* protects each mds's ctl */
	atomic_uint ctl_gen;	/* moves at each commit and refresh:
				 * renderings made before are not served
				 * to a lookup */
	struct view *v;
	bool writable;
	struct mds *single;	/* a dataset mount's dataset */
	pthread_mutex_t mds_mu;	/* adds to mds, opens writes */
	struct mds *mds[MAX_DS];
	atomic_uint n_mds;
	struct wr_opts wo;	/* for writes opened later */
	const char *source;
	bool started;		/* writes threads may run (mds_mu) */
	struct fuse_session *se;
	struct pt *pt;		/* passthrough of staged files, or NULL */
	struct vnode top;	/* the mount root: ROOT or DBROOT */
	pthread_mutex_t mu;	/* protects slots */
	struct slot slots[MAX_SLOTS + 1];
	uid_t uid;
	gid_t gid;
	bool foreground;
	bool no_open;		/* the kernel handles opens (zero-message) */
	bool no_opendir;	/* and opens of folders */
	unsigned refresh;	/* seconds between checks; 0 = off */
	pthread_t refresher;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stopping;		/* protected by stop_mu */
	atomic_ullong refreshes;
	bool epochs;		/* the kernel takes FUSE_NOTIFY_INC_EPOCH */
	atomic_ullong requests, bytes_read, errors, opens;
	/* staged files open: once a commit takes their row, their inode
	 * names a staged row gone, or a committed file of the version
	 * before, and these answer for it (open_stat) */
	pthread_mutex_t open_mu;
	struct staged_fh *open_staged;
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

/* Under mu: slot `s` now holds the snapshot of `n`; what it held goes
 * to `dead`, reset once mu is released (a snapshot is never freed under
 * the lock). */
static void slot_set(struct lfs *fs, unsigned s, const struct vnode *n,
		     struct vnode *dead)
{
	struct vnode *root = &fs->slots[s].root;

	*dead = *root;
	vnode_copy(root, n);
	root->kind = VN_ROOT;
	root->file = 0;
	memset(&root->row, 0, sizeof(root->row));
}

/*
 * Slot of the node's snapshot, taking one lookup reference. A version
 * the root showed shares its slot with the versions that only appended
 * to it (view_covers), so a row keeps its inode number while the root
 * moves on: the slot moves on to the newer one. advance_slots moves
 * slots at each refresh; here lookups that cross it are served.
 */
static int slot_take(struct lfs *fs, const struct vnode *n, unsigned *out)
{
	unsigned free_slot = 0, other = 0;
	struct vnode dead = { 0 };
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
	/* no slot holds n's snapshot yet (rare: once per version) */
	for (unsigned s = 1; !other && view_shown(n) && s <= MAX_SLOTS; s++)
		if (fs->slots[s].root.ds == n->ds &&
		    (view_covers(&fs->slots[s].root, n) ||
		     view_covers(n, &fs->slots[s].root)))
			other = s;
	if (other) {
		if (view_covers(&fs->slots[other].root, n))
			slot_set(fs, other, n, &dead);	/* n is newer */
		fs->slots[other].lookups++;
		*out = other;
		goto out;
	}
	if (!free_slot) {
		rc = ENFILE;
		goto out;
	}
	slot_set(fs, free_slot, n, &dead);
	fs->slots[free_slot].lookups = 1;
	*out = free_slot;
out:
	pthread_mutex_unlock(&fs->mu);
	vnode_reset(&dead);
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

/*
 * The root of a version the dataset's root never showed (@versions/N,
 * @tags/T) is named without a slot: slot 0, kind IK_ROOT, the version
 * and the dataset's index (VERSION_SHIFT), so that listing thousands of
 * versions takes no slot each. What is below it takes its version's
 * slot when looked up. A tag's root is another folder than its
 * version's (TAG_BIT, its tag in bits 46..36, versions up to 2^24 - 1).
 */
#define VERSION_SHIFT 12
#define TAG_BIT (1ull << 47)
#define TAG_SHIFT 36
#define VERSION_MAX ((1ull << (47 - VERSION_SHIFT)) - 1)
#define TAG_VERSION_MAX ((1ull << (TAG_SHIFT - VERSION_SHIFT)) - 1)

static struct mds *mds_for(struct lfs *fs, struct view_ds *ds);
static struct mds *mds_at(struct lfs *fs, unsigned idx);

static bool version_ino(struct lfs *fs, const struct vnode *n,
			fuse_ino_t *out)
{
	uint64_t version, tag = view_tag_of(n);
	struct mds *d;

	if (n->kind != VN_ROOT || view_shown(n) || tag > VIEW_TAG_MAX)
		return false;	/* (a slot names a tag past those) */
	version = view_manifest(n)->version;
	if (!version || version > (tag ? TAG_VERSION_MAX : VERSION_MAX) ||
	    !(d = mds_for(fs, n->ds)))
		return false;
	*out = (uint64_t)IK_ROOT << KIND_SHIFT | version << VERSION_SHIFT |
	       d->idx;
	if (tag)
		*out |= TAG_BIT | tag << TAG_SHIFT;
	return true;
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
	if (version_ino(fs, n, out))
		return 0;
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
	if (!s && kind == IK_ROOT) {	/* version_ino */
		struct mds *d = mds_at(fs, (unsigned)(ino & MAX_SLOTS));
		unsigned tag = ino & TAG_BIT ?
			(unsigned)(ino >> TAG_SHIFT) & VIEW_TAG_MAX : 0;
		uint64_t version = (ino >> VERSION_SHIFT) &
				   (tag ? TAG_VERSION_MAX : VERSION_MAX);

		if (!d)
			return ESTALE;
		memset(out, 0, sizeof(*out));
		/* the snapshot a slot holds, where one does: the rows below
		 * keep their inode numbers, and nothing is read again */
		pthread_mutex_lock(&fs->mu);
		for (unsigned k = 1; k <= MAX_SLOTS && !out->snap; k++) {
			const struct vnode *r = &fs->slots[k].root;

			if (r->ds == d->ds && r->kind == VN_ROOT &&
			    !view_shown(r) && view_tag_of(r) == tag &&
			    view_manifest(r)->version == version)
				vnode_copy(out, r);
		}
		pthread_mutex_unlock(&fs->mu);
		if (out->snap)
			return 0;
		return tag ? view_tag_root(out, d->ds, tag, version) :
			     view_ds_root(out, d->ds, version, err);
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

/*
 * A control file's content: one rendering serves a second, and carries
 * its time as the file's mtime. The kernel caches pages (no open, so no
 * direct_io); a new rendering has a new mtime, which makes the kernel
 * drop them. A read serves the rendering whose size the kernel was last
 * given, so it is never cut short by one made between the kernel's stat
 * and its read. Only a lookup (CTL_LOOKUP: each open(2) of the file,
 * whose entry lasts no time) takes one made after a commit or a refresh:
 * a stat (CTL_STAT) comes also between one reader's reads (the kernel
 * asks before each), and a new, longer rendering there would hand that
 * reader the tail of another after the whole of its own. A stat renews
 * one older than two seconds only, for readers that keep the file open:
 * one that opens it for each read has its lookup renew it first.
 */
enum ctl_renew { CTL_READ, CTL_STAT, CTL_LOOKUP };

static int ctl_content(struct lfs *fs, const struct vnode *n,
		       enum ctl_renew renew, struct lc_buf *out,
		       struct timespec *made, struct lc_err *err)
{
	struct mds *d = mds_for(fs, n->ds);
	struct ctl_cache *c;
	int rc = 0;

	if (!d)
		return LC_NOMEM(err);
	c = &d->ctl[n->file];
	pthread_mutex_lock(&fs->ctl_mu);
	if (!c->data.data ||
	    (renew == CTL_LOOKUP && (lc_since(&c->when) > 1.0 ||
				     c->gen != atomic_load(&fs->ctl_gen))) ||
	    (renew == CTL_STAT && lc_since(&c->when) > 2.0)) {
		lc_buf_reset(&c->data);
		c->gen = atomic_load(&fs->ctl_gen);
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

/* ------------------------------------------------------------ nodes */

/*
 * What an inode number names: a view node (with `live` when it was
 * reached from the root of a writable mount, where it can be changed),
 * or a node of one dataset of a writable mount (struct mds) that
 * follows the current version, with kind 0:
 *
 *   bit 63      live
 *   bit 62..51  the dataset's index (0 in a dataset mount)
 *   bit 47..46  SUB_ROW, SUB_FILE or SUB_DSROOT
 *   SUB_ROW     bit 39..0 a staged row's id
 *   SUB_FILE    bit 45..16 a staged row's id, bit 15..0 its file's index
 *   SUB_DSROOT  a database member's root folder
 */
#define LIVE_BIT (1ull << 63)
#define SUB_SHIFT 46
#define SUB_ROW 0ull
#define SUB_FILE 1ull
#define SUB_DSROOT 2ull
#define FILE_ID_MAX ((1ull << 30) - 1)
#define SK_ROW 1u
#define SK_FILE 2u
#define STAGED_OFF (1ull << 62)	/* readdir offsets past the view's */

struct mnode {
	struct vnode vn;	/* kind VN_NONE for staged nodes */
	struct mds *d;		/* its dataset, NULL at a database root */
	bool live;
	bool dsroot;		/* a live database member root */
	bool stale;		/* a live row a commit moved away: files
				 * open stay readable; lookups, opens and
				 * changes answer ESTALE (the kernel then
				 * looks the path up again) */
	unsigned staged;	/* 0, SK_ROW, SK_FILE */
	uint64_t id;
	uint32_t fidx;
	int fd_plus1;		/* a staged file just made: its fd + 1 */
};

static void mnode_reset(struct mnode *m)
{
	vnode_reset(&m->vn);
	memset(m, 0, sizeof(*m));
}

static fuse_ino_t live_ino(const struct mds *d, uint64_t sub, uint64_t low)
{
	return LIVE_BIT | (uint64_t)d->idx << SLOT_SHIFT | sub << SUB_SHIFT |
	       low;
}

static int sfile_ino(const struct mds *d, uint64_t id, uint32_t fidx,
		     fuse_ino_t *out)
{
	if (id > FILE_ID_MAX || fidx > 0xffff)
		return EOVERFLOW;
	*out = live_ino(d, SUB_FILE, id << 16 | fidx);
	return 0;
}

/* The folder a dataset's rows are listed in. */
static fuse_ino_t ds_root_ino(const struct mds *d)
{
	return view_ds_name(d->ds) ? live_ino(d, SUB_DSROOT, 0) :
				     FUSE_ROOT_ID;
}

static struct writes *mw(const struct mnode *m)
{
	return m->d ? atomic_load(&m->d->w) : NULL;
}

static struct mds *mds_at(struct lfs *fs, unsigned idx)
{
	return idx < atomic_load(&fs->n_mds) ? fs->mds[idx] : NULL;
}

/* The mount's entry for a dataset, NULL where none was made yet. */
static struct mds *mds_find(struct lfs *fs, const struct view_ds *ds)
{
	unsigned n = atomic_load(&fs->n_mds);

	for (unsigned i = 0; i < n; i++)
		if (fs->mds[i]->ds == ds)
			return fs->mds[i];
	return NULL;
}

/* The mount's entry for a dataset, made when first seen; NULL past
 * MAX_DS datasets. */
static struct mds *mds_for(struct lfs *fs, struct view_ds *ds)
{
	struct mds *d = mds_find(fs, ds);
	unsigned n;

	if (d)
		return d;
	pthread_mutex_lock(&fs->mds_mu);
	n = atomic_load(&fs->n_mds);
	for (unsigned i = 0; i < n && !d; i++)
		if (fs->mds[i]->ds == ds)
			d = fs->mds[i];
	if (!d && n < MAX_DS && (d = calloc(1, sizeof(*d)))) {
		d->fs = fs;
		d->ds = ds;
		d->idx = n;
		atomic_init(&d->w, NULL);
		fs->mds[n] = d;
		atomic_store(&fs->n_mds, n + 1);
	}
	pthread_mutex_unlock(&fs->mds_mu);
	return d;
}

static void on_moved(void *ctx);

/* The length of SOURCE without trailing slashes (but a lone "/"). */
static size_t source_len(const char *source)
{
	size_t n = strlen(source);

	while (n > 1 && source[n - 1] == '/')
		n--;
	return n;
}

/* Where a dataset's staging lives: staging_dir= (a folder per member
 * in a database), or the default for its URI, `uri` (its member's in a
 * database). */
static int staging_of(char *out, size_t cap, char *uri, size_t uri_cap,
		      struct lfs *fs, const struct mds *d, struct lc_err *err)
{
	const char *name = view_ds_name(d->ds);
	size_t n = source_len(fs->source);

	if (name)
		snprintf(uri, uri_cap, "%.*s/%s.lance", (int)n, fs->source,
			 name);
	else
		snprintf(uri, uri_cap, "%.*s", (int)n, fs->source);
	if (!fs->wo.staging_dir)
		return staging_default_dir(out, cap, uri, err);
	if (name)
		snprintf(out, cap, "%s/%s", fs->wo.staging_dir, name);
	else
		snprintf(out, cap, "%s", fs->wo.staging_dir);
	return 0;
}

/* Open a dataset's writes; mds_mu held. */
static int open_writes(struct lfs *fs, struct mds *d, struct lc_err *err)
{
	struct wr_opts o = fs->wo;
	struct writes *w;
	char dir[4200], uri[4200];
	int rc;

	if (atomic_load(&d->w))
		return 0;
	rc = staging_of(dir, sizeof(dir), uri, sizeof(uri), fs, d, err);
	if (rc)
		return rc;
	o.staging_dir = dir;
	rc = wr_open(&w, fs->v, d->ds, uri, &o, on_moved, d, err);
	if (!rc && fs->started && (rc = wr_start(w, err)))
		wr_close(w);
	if (!rc)
		atomic_store(&d->w, w);
	return rc;
}

/* The writes of a dataset, opened at its first change. */
static int ensure_w(struct lfs *fs, struct mds *d, struct writes **out,
		    struct lc_err *err)
{
	int rc = 0;

	if (!d)
		return EPERM;	/* a database root holds datasets only */
	*out = atomic_load(&d->w);
	if (*out)
		return 0;
	pthread_mutex_lock(&fs->mds_mu);
	rc = open_writes(fs, d, err);
	pthread_mutex_unlock(&fs->mds_mu);
	*out = atomic_load(&d->w);
	return rc;
}

/* A database member's writes, opened now where its staging holds rows
 * (a crash left them, or the dataset was gone at an earlier mount):
 * recovered and shown at once; other members get their writes at their
 * first change. */
static int open_staged_member(struct lfs *fs, struct mds *d,
			      struct lc_err *err)
{
	char dir[4200], uri[4200];
	struct stat sb;
	int rc = 0;

	if (!staging_of(dir, sizeof(dir), uri, sizeof(uri), fs, d, err) &&
	    stat(dir, &sb) == 0) {
		pthread_mutex_lock(&fs->mds_mu);
		rc = open_writes(fs, d, err);
		pthread_mutex_unlock(&fs->mds_mu);
	}
	return rc;
}

/*
 * A live row (or file) the kernel found in an older version: when the
 * current version still holds that physical row (under the same number
 * and columns), use it from there; otherwise it is stale.
 */
static void follow_row(struct mnode *m)
{
	struct vnode root, cur;

	m->stale = true;
	if (view_ds_root(&root, m->vn.ds, 0, NULL))
		return;
	if (!view_row(&cur, &root, m->vn.row.number, NULL)) {
		if (view_same_row(&cur, &m->vn) &&
		    view_file_columns(&cur) == view_file_columns(&m->vn)) {
			cur.kind = m->vn.kind;
			cur.file = m->vn.file;
			vnode_reset(&m->vn);
			m->vn = cur;
			m->stale = false;
		} else {
			vnode_reset(&cur);
		}
	}
	vnode_reset(&root);
}

static int mnode_of(struct lfs *fs, fuse_ino_t ino, struct mnode *m,
		    struct lc_err *err)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (ino != FUSE_ROOT_ID && (ino & LIVE_BIT) &&
	    !((ino >> KIND_SHIFT) & 7)) {
		uint64_t sub = (ino >> SUB_SHIFT) & 3;
		enum staging_kind k;
		struct writes *w;

		m->live = true;
		m->d = mds_at(fs, (unsigned)(ino >> SLOT_SHIFT) & MAX_SLOTS);
		if (!m->d)
			return ESTALE;
		if (sub == SUB_DSROOT) {
			m->dsroot = true;
			return view_ds_root(&m->vn, m->d->ds, 0, err);
		}
		if (!(w = mw(m)) || sub > SUB_FILE)
			return ESTALE;
		if (sub == SUB_ROW) {
			m->staged = SK_ROW;
			m->id = ino & ROW_MASK;
		} else {
			m->staged = SK_FILE;
			m->id = (ino >> 16) & FILE_ID_MAX;
			m->fidx = (uint32_t)(ino & 0xffff);
		}
		return wr_row_kind(w, m->id, &k);
	}
	m->live = fs->writable && (ino == FUSE_ROOT_ID || (ino & LIVE_BIT));
	rc = node_of(fs, ino & ~LIVE_BIT, &m->vn, err);
	if (!rc && m->vn.ds)
		m->d = mds_for(fs, m->vn.ds);
	if (!rc && m->live && (m->vn.kind == VN_ROW || m->vn.kind == VN_FILE) &&
	    !view_is_current(&m->vn))
		follow_row(m);
	return rc;
}

/* mnode_of for a node about to be changed: EROFS where the mount or the
 * version is read-only, ESTALE for a row a commit rewrote (the kernel
 * then looks the path up again). */
static int mnode_changing(struct lfs *fs, fuse_ino_t ino, struct mnode *m,
			  struct lc_err *err)
{
	int rc = mnode_of(fs, ino, m, err);

	if (!rc && !m->live)
		rc = EROFS;
	else if (!rc && m->stale)
		rc = ESTALE;
	return rc;
}

/* The staged change (UPDATE or DELETE) in `w` of the committed row or
 * file `vn`; 0 when there is none. */
static uint64_t change_in(struct writes *w, const struct vnode *vn,
			  enum staging_kind *kind)
{
	uint64_t v, frag, off, id;

	if (!w || (vn->kind != VN_ROW && vn->kind != VN_FILE))
		return 0;
	view_row_where(&v, &frag, &off, vn);
	if (wr_find_change(w, frag, off, &id, kind))
		return 0;
	return id;
}

/* The staged change of a live committed row or file; 0: none. */
static uint64_t change_of(const struct mnode *m,
			  enum staging_kind *kind)
{
	return m->live ? change_in(mw(m), &m->vn, kind) : 0;
}

/* The staged file in `w` that stands for the committed FILE `vn`. */
static bool overlay_in(struct writes *w, const struct vnode *vn,
		       uint64_t *id, uint32_t *fidx)
{
	enum staging_kind k;
	char name[1300];

	if (vn->kind != VN_FILE || !(*id = change_in(w, vn, &k)) ||
	    k != STAGING_UPDATE ||
	    view_file_name(name, sizeof(name), vn, NULL))
		return false;
	return !wr_file_find(w, *id, name, fidx);
}

/* The staged file that stands for a live committed FILE node. */
static bool overlay_of(const struct mnode *m, uint64_t *id, uint32_t *fidx)
{
	return m->live && overlay_in(mw(m), &m->vn, id, fidx);
}

/* Control files change all the time; what a writable mount shows live
 * changes through the kernel (which keeps its own attributes right) or
 * at commits (which start a new epoch of entries), so a second is safe;
 * everything else never changes, but for the rows of a read-only mount
 * that refresh= moves on a kernel without epochs (see
 * invalidate_moved). */
static double ttl_of(const struct lfs *fs, const struct mnode *m)
{
	if (m->staged)
		return 1.0;
	if (m->vn.kind == VN_CTL || m->vn.kind == VN_CTLFILE)
		return 0.0;
	if (m->live)
		return 1.0;
	if ((m->vn.kind == VN_ROW || m->vn.kind == VN_ROOT) && fs->refresh &&
	    !fs->epochs)
		return fs->refresh;	/* a member's root, too */
	return CACHE_TTL;
}

/* How long the kernel may keep a miss in `dir`. */
static double miss_ttl(const struct lfs *fs, const struct mnode *dir)
{
	if (dir->live)
		return 1.0;
	if (fs->refresh && (dir->vn.kind == VN_ROOT ||
			    dir->vn.kind == VN_DBROOT ||
			    dir->vn.kind == VN_VERSIONS ||
			    dir->vn.kind == VN_TAGS))
		return fs->refresh;	/* names of rows (versions, datasets)
					 * to come */
	return CACHE_TTL;
}

static void stat_from(struct lfs *fs, struct stat *st, fuse_ino_t ino,
		      const struct stat *sb, bool dir)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = dir ? 2 : sb->st_nlink ? 1 : 0;	/* 0: unlinked, open */
	st->st_size = dir ? 0 : sb->st_size;
	st->st_blksize = 4096;
	st->st_blocks = dir ? 0 : sb->st_blocks;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtim = sb->st_mtim;
	st->st_ctim = sb->st_ctim;
	st->st_atim = sb->st_mtim;
}

/* The attributes of node m; `renew` says what asks (ctl_content). */
static int fill_stat(struct lfs *fs, struct stat *st, fuse_ino_t ino,
		     const struct mnode *m, enum ctl_renew renew,
		     struct lc_err *err)
{
	const struct vnode *n = &m->vn;
	struct view_attr a;
	struct stat sb;
	uint64_t id;
	uint32_t fidx;
	int rc;

	if (m->staged == SK_ROW) {
		rc = wr_row_stat(mw(m), m->id, &sb);
		if (rc)
			return rc;
		stat_from(fs, st, ino, &sb, true);
		return 0;
	}
	if (m->staged == SK_FILE) {
		if (m->fd_plus1)
			rc = fstat(m->fd_plus1 - 1, &sb) < 0 ? errno : 0;
		else
			rc = wr_file_stat(mw(m), m->id, m->fidx, &sb);
		if (rc)
			return rc;
		stat_from(fs, st, ino, &sb, false);
		return 0;
	}
	if (m->live && overlay_of(m, &id, &fidx) &&
	    !wr_file_stat(mw(m), id, fidx, &sb)) {
		stat_from(fs, st, ino, &sb, false);
		return 0;
	}
	rc = view_getattr(&a, fs->v, n, err);
	if (rc)
		return rc;
	if (n->kind == VN_CTLFILE) {
		struct lc_buf b;
		struct timespec made;

		lc_buf_init(&b, 0);
		rc = ctl_content(fs, n, renew, &b, &made, err);
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
	if (m->live)
		st->st_mode |= 0200;
	if (n->kind == VN_CTLFILE && (n->file == VIEW_CTL_COMMIT ||
				      n->file == VIEW_CTL_WARMUP))
		st->st_mode = fs->writable ? S_IFREG | 0200 : S_IFREG | 0;
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

/* The inode number of a node, taking a lookup reference on view
 * nodes. */
static int mino_of(struct lfs *fs, const struct mnode *m, fuse_ino_t *out)
{
	int rc;

	if (m->staged == SK_ROW) {
		*out = live_ino(m->d, SUB_ROW, m->id & ROW_MASK);
		return 0;
	}
	if (m->staged == SK_FILE)
		return sfile_ino(m->d, m->id, m->fidx, out);
	if (m->dsroot) {
		*out = live_ino(m->d, SUB_DSROOT, 0);
		return 0;
	}
	rc = ino_of(fs, &m->vn, out);
	if (!rc && m->live)
		*out |= LIVE_BIT;
	return rc;
}

/* The kernel dropped `n` lookups of `ino`: those of a view node are its
 * slot's; a dataset's own node (kind 0 under LIVE_BIT: a staged row or
 * file, a member's root) holds none, and its high bits are the dataset's
 * index, not a slot. */
static void ino_forget(struct lfs *fs, fuse_ino_t ino, uint64_t n)
{
	if (ino != FUSE_ROOT_ID &&
	    !((ino & LIVE_BIT) && !((ino >> KIND_SHIFT) & 7)))
		slot_forget(fs, (unsigned)(ino >> SLOT_SHIFT) & MAX_SLOTS, n);
}


/* An entry for `m`, with its inode and attributes; `renew` says what
 * asks (ctl_content). */
static int entry_as(struct lfs *fs, const struct mnode *m,
		    enum ctl_renew renew, struct fuse_entry_param *e,
		    struct lc_err *err)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = mino_of(fs, m, &e->ino);
	if (rc)
		return rc;
	rc = fill_stat(fs, &e->attr, e->ino, m, renew, err);
	if (rc) {
		ino_forget(fs, e->ino, 1);
		return rc;
	}
	e->attr_timeout = ttl_of(fs, m);
	e->entry_timeout = m->staged ? 1.0 : e->attr_timeout;
	return 0;
}

/* An entry for `m` that a lookup (or a create) asks for. */
static int entry_of(struct lfs *fs, const struct mnode *m,
		    struct fuse_entry_param *e, struct lc_err *err)
{
	return entry_as(fs, m, CTL_LOOKUP, e, err);
}

/* ------------------------------------------------------------ ops */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lfs *fs = userdata;

	/* Zero-message opens: an ENOSYS answer to open tells the kernel to
	 * stop sending OPEN and RELEASE; a warm file is then read from the
	 * page cache with no request at all. A writable mount needs its
	 * opens and releases (they start and end writes), and wants
	 * O_TRUNC with the open, not as a separate truncate. */
	fs->no_open = !fs->writable &&
		      (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	/* The same for folders: a walk then costs two requests per folder
	 * (the listing and its end), not four, and the kernel still keeps
	 * the listings. A writable mount's folders change under it, and so
	 * does the root with refresh= (its listing pins a version). */
	fs->no_opendir = !fs->writable && !fs->refresh &&
			 (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
	transport_want(conn);
	if (fs->writable && (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC))
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	else
		conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* LANCEFS_NO_EPOCH: behave as on a kernel before 6.16 (tests) */
	fs->epochs = conn->proto_major == 7 && conn->proto_minor >= 44 &&
		     !getenv("LANCEFS_NO_EPOCH");
}

/* A committed row of a writable root, unless it is staged for
 * deletion. */
static int live_row(struct lfs *fs, const struct mnode *root,
		    const char *name, struct mnode *out, struct lc_err *err)
{
	enum staging_kind k;
	int rc;

	memset(out, 0, sizeof(*out));
	out->d = root->d;
	rc = view_lookup(&out->vn, fs->v, &root->vn, name, err);
	if (rc)
		return rc;
	out->live = out->vn.kind == VN_ROW;
	if (out->live && change_of(out, &k) && k == STAGING_DELETE) {
		mnode_reset(out);
		return ENOENT;
	}
	return 0;
}

/* A staged row of a root by name: its folder, or its file; *k its kind
 * (a new row, or an update whose row is gone). */
static int staged_row(const struct mnode *root, const char *name,
		      struct mnode *out, enum staging_kind *k_out)
{
	struct writes *w = mw(root);
	enum staging_kind k;

	memset(out, 0, sizeof(*out));
	out->live = true;
	out->d = root->d;
	if (!w || wr_find(w, name, &out->id, &k))
		return ENOENT;
	*k_out = k;
	/* (an update found by name: one whose row is gone) */
	if (k == STAGING_FOLDER || k == STAGING_UPDATE) {
		out->staged = SK_ROW;
		return 0;
	}
	out->staged = SK_FILE;
	return wr_file_find(w, out->id, name, &out->fidx);
}

static bool writable_root(const struct mnode *m)
{
	return m->live && m->vn.kind == VN_ROOT;
}

static bool writable_row(const struct mnode *m)
{
	return m->live && !m->stale && m->vn.kind == VN_ROW;
}

/* `name` in the folder `dir`. */
static int lookup_in(struct lfs *fs, const struct mnode *dir,
		     const char *name, struct mnode *out, struct lc_err *err)
{
	enum staging_kind k;
	uint64_t u;
	int rc;

	memset(out, 0, sizeof(*out));
	if (dir->staged == SK_FILE)
		return ENOTDIR;
	out->d = dir->d;
	if (dir->staged == SK_ROW) {
		out->live = true;
		out->staged = SK_FILE;
		out->id = dir->id;
		return wr_file_find(mw(dir), dir->id, name, &out->fidx);
	}
	if (dir->live && dir->vn.kind == VN_DBROOT) {
		/* a member's root: live, it follows the member's commits */
		rc = view_lookup(&out->vn, fs->v, &dir->vn, name, err);
		if (!rc && out->vn.kind == VN_ROOT) {
			out->d = mds_for(fs, out->vn.ds);
			out->live = out->dsroot = out->d != NULL;
		}
		return rc;
	}
	if (writable_root(dir)) {
		/* a staged new row keeps its name: a row of that name
		 * another writer committed since stays hidden until ours
		 * lands (it would take the user's writes and rm -r); an
		 * update whose row is gone gives way to a committed row */
		bool staged = !staged_row(dir, name, out, &k);

		if (staged && k != STAGING_UPDATE)
			return 0;
		rc = live_row(fs, dir, name, out, err);
		if (rc == ENOENT && staged)
			rc = staged_row(dir, name, out, &k);
		return rc;
	}
	if (writable_row(dir) && (u = change_of(dir, &k))) {
		if (k == STAGING_DELETE || wr_is_removed(mw(dir), u, name))
			return ENOENT;
		if (!wr_file_find(mw(dir), u, name, &out->fidx)) {
			out->live = true;
			out->staged = SK_FILE;
			out->id = u;
			return 0;
		}
	}
	rc = view_lookup(&out->vn, fs->v, &dir->vn, name, err);
	out->live = !rc && dir->live && out->vn.kind == VN_FILE;
	return rc;
}

/* Rows the request changes are marked with its thread, which also asks
 * for the commits it makes (wr_caller); `progress` false where the
 * request says nothing of where the thread is (a release comes after
 * close(2) returned). */
static void caller_is(fuse_req_t req, bool progress)
{
	wr_caller(progress ? fuse_req_ctx(req)->pid : 0);
}

/* A name no folder here holds (the kernel passes names up to 1,024
 * bytes): ENAMETOOLONG answered, as a local file system does. */
static bool too_long(fuse_req_t req, const char *name)
{
	if (strlen(name) <= NAME_MAX)
		return false;
	fuse_reply_err(req, ENAMETOOLONG);
	return true;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e = { 0 };
	struct lc_err err = { 0 };
	struct mnode dir, n = { 0 };	/* n stays empty for a stale dir */
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	if (too_long(req, name))
		return;
	rc = mnode_of(fs, parent, &dir, &err);
	if (rc)
		goto fail;
	/* a row a commit moved away: the kernel looks the path up again */
	rc = dir.stale ? ESTALE : lookup_in(fs, &dir, name, &n, &err);
	if (rc == ENOENT) {
		/* a negative entry: the kernel caches the miss */
		e.entry_timeout = miss_ttl(fs, &dir);
		mnode_reset(&dir);
		fuse_reply_entry(req, &e);
		return;
	}
	mnode_reset(&dir);
	if (!rc)
		rc = entry_of(fs, &n, &e, &err);
	mnode_reset(&n);
	if (rc)
		goto fail;
	fuse_reply_entry(req, &e);
	return;
fail:
	fuse_reply_err(req, reply_errno(fs, name, rc, &err));
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	ino_forget(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct lfs *fs = fuse_req_userdata(req);

	for (size_t i = 0; i < count; i++)
		ino_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static bool open_stat(struct lfs *fs, fuse_ino_t ino,
		      const struct fuse_file_info *fi, struct stat *sb);

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct stat st, sb;
	struct mnode m;
	double ttl = 0;
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	rc = mnode_of(fs, ino, &m, &err);
	if (!rc) {
		rc = fill_stat(fs, &st, ino, &m, CTL_STAT, &err);
		ttl = ttl_of(fs, &m);
	}
	/* the older version's file is not what its writer has: the size
	 * would cut the writer's own reads short */
	if ((rc == ESTALE || (!rc && m.stale)) &&
	    open_stat(fs, ino, fi, &sb)) {
		stat_from(fs, &st, ino, &sb, false);
		lc_err_clear(&err);
		rc = 0;
		ttl = 0;
	}
	mnode_reset(&m);
	if (rc)
		fuse_reply_err(req, reply_errno(fs, "getattr", rc, &err));
	else
		fuse_reply_attr(req, &st, ttl);
}

/* ------------------------------------------------------------ handles */

enum fh_type {
	FH_VIEW = 1,	/* a committed file, read through the view */
	FH_STAGED,	/* a staged file: a descriptor in the staging */
	FH_COMMIT,	/* .lancefs/commit opened for writing */
	FH_WARMUP,	/* .lancefs/warmup opened for writing */
	FH_DIR,		/* a writable root: its listing */
};

static enum fh_type fh_type(const struct fuse_file_info *fi)
{
	return fi->fh ? *(const enum fh_type *)(uintptr_t)fi->fh : 0;
}

/*
 * An open root that moves on: a writable one, or one with refresh=. Its
 * listing spans several READDIR pages, the committed rows first, then
 * the staged ones: a commit between two pages would move rows from the
 * staged part into the committed part already listed, and a version
 * that deletes rows would shift the committed part's offsets. So a
 * listing's first page (offset 0: opendir, and rewinddir) pins the root
 * and a copy of the staged rows, and every page lists from those.
 */
struct dir_fh {
	enum fh_type type;	/* FH_DIR */
	pthread_mutex_t mu;	/* a page at a time */
	bool pinned;
	struct mnode root;
	struct wr_rows *staged;
};

static void fh_free(struct lfs *fs, struct fuse_file_info *fi);

static void dir_unpin(struct dir_fh *h)
{
	mnode_reset(&h->root);
	wr_rows_free(h->staged);
	h->staged = NULL;
	h->pinned = false;
}

/* Pin root `ino` and (writes `w`, or NULL) its staged rows; under
 * h->mu. */
static int dir_pin(struct lfs *fs, struct dir_fh *h, fuse_ino_t ino,
		   struct writes *w, struct lc_err *err)
{
	struct wr_rows *rows = NULL;
	struct mnode n;
	int rc;

	/* the root again, now that no commit can drop the rows it lacks
	 * from the staging */
	if (w)
		wr_list_begin(w);
	rc = mnode_of(fs, ino, &n, err);
	if (!rc && w)
		rc = wr_rows_take(w, view_manifest(&n.vn)->version, &rows);
	if (w)
		wr_list_end(w);
	if (rc) {
		if (!err->code && rc == ENOMEM)
			rc = LC_NOMEM(err);
		mnode_reset(&n);
		return rc;
	}
	dir_unpin(h);
	h->root = n;
	h->staged = rows;
	h->pinned = true;
	return 0;
}

static int dir_fh_new(struct fuse_file_info *fi)
{
	struct dir_fh *h = calloc(1, sizeof(*h));

	if (!h)
		return ENOMEM;
	h->type = FH_DIR;
	pthread_mutex_init(&h->mu, NULL);
	fi->fh = (uintptr_t)h;
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);

	atomic_fetch_add(&fs->requests, 1);
	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/* what a writable mount shows live changes under the kernel */
	if (!fs->writable || (ino != FUSE_ROOT_ID && !(ino & LIVE_BIT))) {
		if (fs->refresh && ino == FUSE_ROOT_ID) {
			/* a root that moves on: each listing from offset 0
			 * reaches us and pins a version (a cached one the
			 * kernel drops halfway would go on unpinned) */
			if (dir_fh_new(fi)) {
				fuse_reply_err(req, ENOMEM);
				return;
			}
		} else {
			fi->cache_readdir = 1;
			fi->keep_cache = 1;
		}
	} else {
		/* a staged row that landed, or a row a commit rewrote, while
		 * the kernel still held its entry: ESTALE now makes open(2)
		 * look the path up again, a failed readdir would not */
		struct lc_err err = { 0 };
		struct mnode m;
		int rc = mnode_of(fs, ino, &m, &err);

		if (!rc && m.stale)
			rc = ESTALE;
		if (!rc && writable_root(&m))
			rc = dir_fh_new(fi);
		mnode_reset(&m);
		if (rc) {
			fuse_reply_err(req, reply_errno(fs, "opendir", rc,
							&err));
			return;
		}
	}
	if (fuse_reply_open(req, fi))
		fh_free(fs, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	fh_free(fuse_req_userdata(req), fi);
	fuse_reply_err(req, 0);
}

struct dir_fill {
	struct lfs *fs;
	fuse_req_t req;
	char *buf;
	size_t size, used;
	bool plus;
	bool live;		/* entries of a live folder */
	struct mds *md;		/* the listed folder's dataset */
	struct writes *w;	/* its writes, or NULL */
	uint64_t change;	/* the listed row's staged update, or 0 */
	const struct mnode *root;	/* a writable root being listed */
	fuse_ino_t ino;			/* and its inode */
	const struct wr_rows *pinned;	/* and its staged rows then */
	bool moved;		/* the root listed is no longer the latest */
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

/* A staged file row listed whose file is gone */
#define FIDX_GONE UINT32_MAX

/* The entry of root row `name` as the newest root shows it (a row that
 * landed since the listing's root was pinned); ENOENT when none. */
static int landed_entry(struct dir_fill *d, const char *name,
			struct fuse_entry_param *e)
{
	struct mnode dir, n;
	int rc = mnode_of(d->fs, d->ino, &dir, d->err);

	if (!rc) {
		rc = lookup_in(d->fs, &dir, name, &n, d->err);
		mnode_reset(&dir);
	}
	if (!rc) {
		rc = entry_as(d->fs, &n, CTL_STAT, e, d->err);
		mnode_reset(&n);
	}
	if (rc)
		lc_err_clear(d->err);
	return rc;
}

/* Add one entry; 1 when the buffer is full. */
static int dir_add(struct dir_fill *d, uint64_t off, const char *name,
		   const struct mnode *m, bool is_dir)
{
	size_t need;

	if (d->plus && !m->staged && !m->vn.snap) {
		/* @versions and @tags list names whose snapshots are not
		 * open yet: no attributes, the kernel looks them up */
		struct fuse_entry_param e = { 0 };

		e.attr.st_mode = S_IFDIR;
		e.attr.st_ino = dirent_ino(off);
		need = fuse_add_direntry_plus(d->req, d->buf + d->used,
					      d->size - d->used, name, &e,
					      (off_t)off + 1);
		if (need > d->size - d->used)
			return 1;
	} else if (d->plus) {
		struct fuse_entry_param e;
		/* a listing of .lancefs is no open of its files */
		int rc = m->fidx == FIDX_GONE ? ENOENT
					      : entry_as(d->fs, m, CTL_STAT,
							 &e, d->err);

		if (rc && m->staged && (rc == ESTALE || rc == ENOENT)) {
			/* a staged row that landed or went since the
			 * listing began: its entry now, or else (it landed
			 * under a row number) its name as the listing
			 * began, with nothing for the kernel to keep */
			lc_err_clear(d->err);
			if (!d->root || landed_entry(d, name, &e)) {
				memset(&e, 0, sizeof(e));
				e.attr.st_mode = is_dir ? S_IFDIR : S_IFREG;
				e.attr.st_ino = dirent_ino(off);
			}
			rc = 0;
		}
		if (rc) {
			d->rc = rc;
			return rc;
		}
		/* a page of a listing that began before a refresh: its
		 * entries may be gone or changed in the version now shown,
		 * and the kernel would keep them (under the epoch it has
		 * now, on Linux 6.16 and later) for as long as we say */
		if (d->moved && !m->staged)
			e.entry_timeout = e.attr_timeout = 0;
		need = fuse_add_direntry_plus(d->req, d->buf + d->used,
					      d->size - d->used, name, &e,
					      (off_t)off + 1);
		if (need > d->size - d->used) {
			/* did not fit: the kernel never saw it */
			if (e.ino)
				ino_forget(d->fs, e.ino, 1);
			return 1;
		}
	} else {
		struct stat st = { 0 };

		st.st_mode = is_dir ? S_IFDIR : S_IFREG;
		st.st_ino = dirent_ino(off);
		need = fuse_add_direntry(d->req, d->buf + d->used,
					 d->size - d->used, name, &st,
					 (off_t)off + 1);
		if (need > d->size - d->used)
			return 1;
	}
	d->used += need;
	return 0;
}

static int dir_fill_cb(void *ctx, uint64_t index, const char *name,
		       const struct vnode *node)
{
	struct dir_fill *d = ctx;
	struct mnode m = { 0 };
	enum staging_kind k;

	m.vn = *node;	/* borrowed: never reset here */
	m.d = d->md;
	m.live = d->live && (node->kind == VN_ROW || node->kind == VN_FILE);
	if (d->live && node->kind == VN_ROOT) {	/* a database member */
		m.d = mds_for(d->fs, node->ds);
		m.live = m.dsroot = m.d != NULL;
	}
	if (m.live && node->kind == VN_ROW && change_of(&m, &k) &&
	    k == STAGING_DELETE)
		return 0;	/* rm -r, not committed yet */
	/* a staged new row's name (lookup_in), as the listing's staged
	 * part (the pinned copy) has it */
	if (m.live && node->kind == VN_ROW && d->pinned &&
	    wr_rows_named(d->pinned, name))
		return 0;
	if (d->pinned && node->kind == VN_ROW) {
		uint64_t v, frag, off;

		view_row_where(&v, &frag, &off, node);
		if (wr_rows_deleted(d->pinned, frag, off))
			return 0;	/* rm -r, committed since */
	}
	if (d->change && node->kind == VN_FILE) {
		uint32_t fidx;

		if (wr_is_removed(d->w, d->change, name))
			return 0;
		if (!wr_file_find(d->w, d->change, name, &fidx)) {
			m.vn.kind = VN_NONE;
			m.staged = SK_FILE;
			m.id = d->change;
			m.fidx = fidx;
		}
	}
	if (m.staged)
		memset(&m.vn, 0, sizeof(m.vn));
	return dir_add(d, index, name, &m, node->kind != VN_FILE);
}

static int staged_row_cb(void *ctx, uint64_t pos, uint64_t id,
			 const char *name, enum staging_kind kind)
{
	struct dir_fill *d = ctx;
	struct mnode m = { 0 };

	m.live = true;
	m.d = d->md;
	m.id = id;
	m.staged = kind == STAGING_FOLDER || kind == STAGING_UPDATE ?
			   SK_ROW : SK_FILE;
	/* a file row that landed or went since the listing began has no
	 * file here: entry_of then fails, and dir_add takes it from where
	 * it is now */
	if (m.staged == SK_FILE &&
	    wr_file_find(d->w, id, name, &m.fidx))
		m.fidx = FIDX_GONE;
	/* a refused update whose row is gone is hidden by a row of its
	 * name in the listing's committed part (not being deleted; the
	 * moved row); a store that cannot say fails the listing rather
	 * than show the name twice. The listing's root, not the newest: a
	 * row that landed since is in neither part otherwise. A new row
	 * hides the committed one instead (dir_fill_cb). */
	if (kind == STAGING_UPDATE) {
		struct mnode other;
		int rc = live_row(d->fs, d->root, name, &other, d->err);

		if (!rc)
			mnode_reset(&other);
		if (!rc)
			return 0;
		if (rc != ENOENT)
			return rc;
		lc_err_clear(d->err);
	}
	return dir_add(d, STAGED_OFF + pos, name, &m, m.staged == SK_ROW);
}

/* Whether committed folder `dir` shows `name` (*has); 0, or the store's
 * error: a failure is never taken for "no". */
static int committed_has(struct lfs *fs, const struct vnode *dir,
			 const char *name, bool *has, struct lc_err *err)
{
	struct vnode other;
	int rc = view_lookup(&other, fs->v, dir, name, err);

	*has = !rc;
	if (!rc)
		vnode_reset(&other);
	else if (rc == ENOENT)
		lc_err_clear(err);
	return rc == ENOENT ? 0 : rc;
}

struct hidden {
	const char *mine;
	char name[256];
};

static int hidden_cb(void *ctx, uint64_t index, const char *name,
		     const struct vnode *node)
{
	struct hidden *h = ctx;

	(void)index;
	(void)node;
	if (!*h->name && strlen(name) < sizeof(h->name) &&
	    strcmp(name, h->mine) && wr_same_column(h->mine, name))
		strcpy(h->name, name);
	return 0;
}

/* The committed file of folder `dir` whose place staged file `mine`
 * takes (wr_same_column), into out[256]; "" for none. 0, or the store's
 * error. */
static int committed_hidden(struct lfs *fs, const struct vnode *dir,
			    const char *mine, char *out, struct lc_err *err)
{
	struct hidden h = { mine, "" };
	int rc = view_readdir(fs->v, dir, 0, hidden_cb, &h, err);

	strcpy(out, rc ? "" : h.name);
	return rc;
}

struct file_fill {
	struct dir_fill *d;
	const struct mnode *row;	/* a live committed row, or NULL */
};

static int staged_file_cb(void *ctx, uint64_t pos, uint32_t fidx,
			  const char *name)
{
	struct file_fill *f = ctx;
	struct mnode m = { 0 };

	if (f->row) {
		bool has;
		int rc = committed_has(f->d->fs, &f->row->vn, name, &has,
				       f->d->err);

		if (rc || has)	/* has: listed with the committed files */
			return rc;
	}
	m.live = true;
	m.d = f->d->md;
	m.staged = SK_FILE;
	m.id = f->d->change;
	m.fidx = fidx;
	return dir_add(f->d, STAGED_OFF + pos, name, &m, false);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct dir_fill d = { .fs = fs, .req = req, .size = size,
			      .plus = plus, .err = &err };
	struct dir_fh local = { .mu = PTHREAD_MUTEX_INITIALIZER }, *h = NULL;
	uint64_t start = (uint64_t)off;
	struct mnode n;
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = mnode_of(fs, ino, &n, &err);
	if (!rc && (fh_type(fi) == FH_DIR || (writable_root(&n) && mw(&n)))) {
		h = fh_type(fi) == FH_DIR ? (struct dir_fh *)(uintptr_t)fi->fh
					  : &local;
		pthread_mutex_lock(&h->mu);
		if (!start || !h->pinned)
			rc = dir_pin(fs, h, ino, mw(&n), &err);
		mnode_reset(&n);
		if (!rc) {
			n = h->root;
			vnode_copy(&n.vn, &h->root.vn);
			d.pinned = h->staged;
			d.moved = n.vn.kind == VN_ROOT &&
				  !view_is_current(&n.vn);
		}
	}
	d.live = n.live;
	d.md = n.d;
	d.w = mw(&n);
	if (!rc && n.staged == SK_ROW) {
		struct file_fill f = { &d, NULL };

		d.change = n.id;
		rc = wr_list_files(d.w, n.id, start >= STAGED_OFF ?
				   start - STAGED_OFF : 0, staged_file_cb,
				   &f);
	} else if (!rc && n.staged) {
		rc = ENOTDIR;
	} else if (!rc) {
		enum staging_kind k;

		if (writable_row(&n))
			d.change = change_of(&n, &k);
		if (start < STAGED_OFF)
			rc = view_readdir(fs->v, &n.vn, start, dir_fill_cb, &d,
					  &err);
		if (!rc && d.change) {
			struct file_fill f = { &d, &n };

			rc = wr_list_files(d.w, d.change,
					   start >= STAGED_OFF ?
					   start - STAGED_OFF : 0,
					   staged_file_cb, &f);
		} else if (!rc && h && h->staged) {
			d.root = &n;
			d.ino = ino;
			rc = wr_rows_list(h->staged, start >= STAGED_OFF ?
					  start - STAGED_OFF : 0,
					  staged_row_cb, &d);
		}
	}
	if (h) {
		pthread_mutex_unlock(&h->mu);
		if (h == &local)
			dir_unpin(h);
	}
	mnode_reset(&n);
	if (rc == 1)
		rc = 0;
	/* entries already added took lookups the kernel will forget:
	 * they go; the failure comes again at the next offset */
	if (d.rc && !d.used)
		rc = d.rc;
	else if (rc && d.used)
		rc = 0;
	if (rc)
		fuse_reply_err(req, reply_errno(fs, "readdir", rc, &err));
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

/*
 * An open committed file, read from the version it was opened in. A
 * meta.json (or a control file) is made at the first read that reaches
 * us (with keep_cache the kernel serves a warm file from its page cache
 * and sends no read at all, so an open costs no decode); other files are
 * read by range.
 */
struct open_file {
	enum fh_type type;
	pthread_mutex_t mu;	/* protects loaded, data, rc, refs, sfd */
	int refs;		/* the handle, and reads replying from data */
	struct vnode node;
	bool loaded;
	int rc;
	struct lc_buf data;
	struct mds *d;		/* a live file's dataset, else NULL */
	/* the staged file that stands for it since it was overwritten
	 * through the mount (sfd, else -1; set under mu), and whose it is */
	atomic_int sfd;
	struct writes *sw;
	uint64_t sid;
	uint32_t sfidx;
};

struct staged_fh {
	enum fh_type type;
	struct writes *w;
	uint64_t id;
	uint32_t fidx;
	int fd;
	bool writer;
	atomic_bool flushed;	/* close(2) seen, no write since */
	pid_t opener;		/* the thread that opened it */
	fuse_ino_t ino;
	int backing;		/* passthrough: the kernel writes fd */
	struct vnode *copied;	/* the committed file this open copied */
	bool listed;		/* in fs->open_staged */
	struct staged_fh *prev, *next;
};

static struct staged_fh *staged_fh_of(const struct fuse_file_info *fi)
{
	return (struct staged_fh *)(uintptr_t)fi->fh;
}

/* .lancefs/commit or warmup, open for writing */
struct ctl_fh {
	enum fh_type type;
	struct view_ds *ds;	/* whose .lancefs/ it is */
};


static void open_file_put(struct open_file *of)
{
	bool last;

	pthread_mutex_lock(&of->mu);
	last = !--of->refs;
	pthread_mutex_unlock(&of->mu);
	if (!last)
		return;
	if (of->sfd >= 0)
		wr_file_closed(of->sw, of->sid, of->sfidx, of->sfd, false);
	vnode_reset(&of->node);
	lc_buf_reset(&of->data);
	pthread_mutex_destroy(&of->mu);
	free(of);
}

static int staged_fh_new(struct fuse_file_info *fi, struct writes *w,
			 uint64_t id, uint32_t fidx, int fd, bool writer,
			 pid_t opener)
{
	struct staged_fh *h = calloc(1, sizeof(*h));

	if (!h)
		return ENOMEM;
	h->type = FH_STAGED;
	h->w = w;
	h->id = id;
	h->fidx = fidx;
	h->fd = fd;
	h->writer = writer;
	h->opener = opener;
	atomic_init(&h->flushed, false);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 0;
	fi->noflush = !writer;	/* only a writer's close matters */
	/* a write-only descriptor (cp, shell redirections, Python's "wb")
	 * cannot be mapped, so its writes may skip the kernel's page cache
	 * for this file: one copy less per byte */
	fi->direct_io = (fi->flags & O_ACCMODE) == O_WRONLY;
	return 0;
}

/* A staged file open through `fi` on inode `ino`: listed, so that
 * open_stat finds it by `ino`. */
static void list_open(struct lfs *fs, struct fuse_file_info *fi,
		      fuse_ino_t ino)
{
	struct staged_fh *h = staged_fh_of(fi);

	h->ino = ino;
	pthread_mutex_lock(&fs->open_mu);
	h->next = fs->open_staged;
	if (h->next)
		h->next->prev = h;
	fs->open_staged = h;
	h->listed = true;
	pthread_mutex_unlock(&fs->open_mu);
}

/* ftruncate of the file open through `fi` (open_stat's), as the
 * staged file's own truncate. */
static int open_truncate(fuse_ino_t ino, const struct fuse_file_info *fi,
			 off_t size, struct lc_err *err)
{
	struct staged_fh *h = fi && fh_type(fi) == FH_STAGED ?
				      staged_fh_of(fi) : NULL;
	char name[300];
	int rc;

	if (!h || h->ino != ino || !h->listed)
		return ESTALE;	/* truncate(2) by path: not through it */
	rc = wr_file_name(h->w, h->id, h->fidx, name, sizeof(name));
	if (!rc)
		rc = wr_file_truncate(h->w, h->id, name, (uint64_t)size, err);
	if (!rc)
		atomic_store(&h->flushed, false);
	return rc;
}

/* A staged file's own inode (not a committed file's, which the view's
 * cached opens share): passthrough when the kernel takes it, else
 * direct I/O where passthrough is on, which unlike a cached open does
 * not keep later opens from passing through (while the inode has a
 * backing file the kernel takes only passthrough opens). */
static void staged_fh_pass(struct lfs *fs, struct fuse_file_info *fi,
			   fuse_ino_t ino)
{
	struct staged_fh *h = staged_fh_of(fi);

	h->ino = ino;
	/* O_DIRECT only where other opens pass through already (the
	 * kernel takes no other then; one made at the same moment can
	 * still make it fail this open): the kernel opens the backing file
	 * with the open's flags and keeps them, so a write that is not
	 * aligned failed even after fcntl took O_DIRECT off (dd
	 * oflag=direct does so for its last, short block); through the
	 * daemon it works */
	h->backing = pt_get(fs->pt, ino, fi->flags & O_DIRECT ? -1 : h->fd);
	if (h->backing && h->writer)
		wr_file_unseen(h->w, h->id, h->fidx);
	if (h->backing)
		fi->direct_io = 0;
	else if (pt_on(fs->pt))
		fi->direct_io = 1;
	list_open(fs, fi, ino);
}

static int read_committed(struct lfs *fs, const struct vnode *n,
			  struct lc_buf *out, struct lc_err *err);

static void staged_fh_free(struct lfs *fs, struct staged_fh *h)
{
	if (h->copied) {
		struct lc_err err = { 0 };
		struct view_attr a;
		struct lc_buf orig;
		struct stat sb;

		/* nothing written: the row is not changed after all (the
		 * sizes first: only a file of the same size is read) */
		lc_buf_init(&orig, 0);
		if (!fstat(h->fd, &sb) &&
		    !view_getattr(&a, fs->v, h->copied, &err) &&
		    a.size == (uint64_t)sb.st_size &&
		    !read_committed(fs, h->copied, &orig, &err))
			wr_file_revert(h->w, h->id, h->fidx, &orig);
		lc_buf_reset(&orig);
		vnode_reset(h->copied);
		free(h->copied);
	}
	if (h->listed) {
		pthread_mutex_lock(&fs->open_mu);
		if (h->prev)
			h->prev->next = h->next;
		else
			fs->open_staged = h->next;
		if (h->next)
			h->next->prev = h->prev;
		pthread_mutex_unlock(&fs->open_mu);
	}
	wr_file_closed(h->w, h->id, h->fidx, h->fd, h->writer);
	if (h->backing)
		pt_put(fs->pt, h->ino);
	free(h);
}

/* The staged file open on inode `ino` whose row a commit took under
 * it: a new row's file (the row is committed, its staging gone), or a
 * committed file open for writing (an fsync through it: the row stays
 * staged as an update of the row it became, but the inode names the
 * version before): *sb, from the open file (`fi`'s, or any listed one
 * of `ino`). False if none. */
static bool open_stat(struct lfs *fs, fuse_ino_t ino,
		      const struct fuse_file_info *fi, struct stat *sb)
{
	bool found = false;

	if (fi && fh_type(fi) == FH_STAGED && staged_fh_of(fi)->ino == ino &&
	    staged_fh_of(fi)->listed)
		return !fstat(staged_fh_of(fi)->fd, sb);
	/* one still linked first: an orphan's (unlinked, or renamed
	 * over) is what only its own descriptors see */
	pthread_mutex_lock(&fs->open_mu);
	for (struct staged_fh *h = fs->open_staged; h; h = h->next) {
		struct stat st;

		if (h->ino != ino || fstat(h->fd, &st))
			continue;
		if (!found || (sb->st_nlink == 0 && st.st_nlink > 0))
			*sb = st;
		found = true;
	}
	pthread_mutex_unlock(&fs->open_mu);
	return found;
}

static int read_committed(struct lfs *fs, const struct vnode *n,
			  struct lc_buf *out, struct lc_err *err)
{
	lc_buf_init(out, 0);
	return view_read_file(out, fs->v, n, err);
}

/* Open a live committed file for writing: through its row's update. */
static int open_committed_for_write(struct lfs *fs, const struct mnode *m,
				    struct fuse_file_info *fi, pid_t opener,
				    struct lc_err *err)
{
	struct writes *w;
	char name[1300];
	struct lc_buf seed;
	uint64_t u;
	uint32_t fidx;
	int fd, rc;
	bool have;

	rc = view_file_name(name, sizeof(name), &m->vn, err);
	if (!rc)
		rc = ensure_w(fs, m->d, &w, err);
	if (!rc)
		rc = wr_change_row(w, &m->vn, true, &u, err);
	if (rc)
		return rc;
	have = !wr_file_find(w, u, name, &fidx);
	lc_buf_init(&seed, 0);
	if (!have && !(fi->flags & O_TRUNC) &&
	    (rc = read_committed(fs, &m->vn, &seed, err)))
		return rc;
	rc = wr_file_open(w, u, name, fi->flags, !have, &seed, &fidx, &fd,
			  err);
	lc_buf_reset(&seed);
	if (!rc && (rc = staged_fh_new(fi, w, u, fidx, fd, true,
					   opener)))
		wr_file_closed(w, u, fidx, fd, true);
	if (!rc && !have && !(fi->flags & O_TRUNC)) {
		struct staged_fh *h = staged_fh_of(fi);

		/* best effort: without it the copy stays, an update */
		if ((h->copied = malloc(sizeof(*h->copied))))
			vnode_copy(h->copied, &m->vn);
	}
	return rc;
}

static int open_view(struct lfs *fs, struct mnode *m,
		     struct fuse_file_info *fi, struct lc_err *err)
{
	struct open_file *of;
	int rc = 0;

	if (fs->no_open)
		return ENOSYS;
	of = calloc(1, sizeof(*of));
	if (!of)
		return ENOMEM;
	of->type = FH_VIEW;
	of->refs = 1;
	atomic_init(&of->sfd, -1);
	if (m->live && m->vn.kind == VN_FILE)
		of->d = m->d;
	pthread_mutex_init(&of->mu, NULL);
	lc_buf_init(&of->data, 0);
	of->node = m->vn;
	memset(&m->vn, 0, sizeof(m->vn));	/* the handle owns it now */
	if (of->node.kind == VN_CTLFILE) {
		/* made fresh at each open, read whole now */
		rc = view_read_file(&of->data, fs->v, &of->node, err);
		of->loaded = true;
		fi->direct_io = 1;
	} else {
		enum staging_kind k;

		/* a snapshot never changes; a row with a staged change may
		 * have been shown with other bytes */
		fi->keep_cache = !change_of(m, &k);
	}
	if (rc) {
		vnode_reset(&of->node);
		lc_buf_reset(&of->data);
		pthread_mutex_destroy(&of->mu);
		free(of);
		return rc;
	}
	atomic_fetch_add(&fs->opens, 1);
	fi->fh = (uint64_t)(uintptr_t)of;
	fi->noflush = 1;
	return 0;
}

/* The handle of an open file, at its release or a failed open reply. */
static void fh_free(struct lfs *fs, struct fuse_file_info *fi)
{
	switch (fh_type(fi)) {
	case FH_STAGED:
		staged_fh_free(fs, staged_fh_of(fi));
		break;
	case FH_COMMIT:
	case FH_WARMUP:
		free((void *)(uintptr_t)fi->fh);
		break;
	case FH_VIEW:
		open_file_put((struct open_file *)(uintptr_t)fi->fh);
		break;
	case FH_DIR: {
		struct dir_fh *h = (struct dir_fh *)(uintptr_t)fi->fh;

		dir_unpin(h);
		pthread_mutex_destroy(&h->mu);
		free(h);
		break;
	}
	default:
		break;
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	bool writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct mnode m;
	uint64_t id;
	uint32_t fidx;
	int fd, rc;

	caller_is(req, true);
	atomic_fetch_add(&fs->requests, 1);
	rc = mnode_of(fs, ino, &m, &err);
	if (rc)
		goto out;
	if (m.staged == SK_FILE) {
		struct writes *w = mw(&m);
		char name[300];

		rc = wr_file_name(w, m.id, m.fidx, name, sizeof(name));
		if (!rc)
			rc = wr_file_open(w, m.id, name, fi->flags, false,
					  NULL, &fidx, &fd, &err);
		if (!rc && (rc = staged_fh_new(fi, w, m.id, fidx, fd, writer,
						   fuse_req_ctx(req)->pid)))
			wr_file_closed(w, m.id, fidx, fd, writer);
		if (!rc)
			staged_fh_pass(fs, fi, ino);
	} else if (m.staged) {
		rc = EISDIR;
	} else if (m.vn.kind == VN_CTLFILE && (m.vn.file == VIEW_CTL_COMMIT ||
					       m.vn.file == VIEW_CTL_WARMUP)) {
		struct ctl_fh *h;

		if (!fs->writable || !writer) {
			rc = fs->writable ? EACCES : EROFS;
		} else if (!(h = calloc(1, sizeof(*h)))) {
			rc = ENOMEM;
		} else {
			h->type = m.vn.file == VIEW_CTL_COMMIT ? FH_COMMIT :
								  FH_WARMUP;
			h->ds = m.vn.ds;
			fi->fh = (uint64_t)(uintptr_t)h;
			fi->direct_io = 1;
			fi->noflush = 1;
		}
	} else if (m.stale) {
		rc = ESTALE;	/* the kernel looks the path up again */
	} else if (writer) {
		rc = !m.live || m.vn.kind != VN_FILE ? EROFS :
			       open_committed_for_write(fs, &m, fi,
						fuse_req_ctx(req)->pid, &err);
		if (!rc)
			list_open(fs, fi, ino);
	} else if (m.live && overlay_of(&m, &id, &fidx)) {
		struct writes *w = mw(&m);
		char name[300];

		rc = wr_file_name(w, id, fidx, name, sizeof(name));
		if (!rc)
			rc = wr_file_open(w, id, name, O_RDONLY, false,
					  NULL, &fidx, &fd, &err);
		if (!rc && (rc = staged_fh_new(fi, w, id, fidx, fd, false,
						   0)))
			wr_file_closed(w, id, fidx, fd, false);
		if (!rc)
			list_open(fs, fi, ino);
	} else {
		rc = open_view(fs, &m, fi, &err);
	}
out:
	mnode_reset(&m);
	if (rc)
		fuse_reply_err(req, rc == ENOSYS ? ENOSYS :
				    reply_errno(fs, "open", rc, &err));
	else if (fh_type(fi) == FH_STAGED ?
			 pt_reply_open(req, fi, staged_fh_of(fi)->backing) :
			 fuse_reply_open(req, fi))
		fh_free(fs, fi);	/* interrupted: no release comes */
}

static void refuse_kind(fuse_req_t req)
{
	struct lfs *fs = fuse_req_userdata(req);

	atomic_fetch_add(&fs->requests, 1);
	fuse_reply_err(req, fs->writable ? EPERM : EROFS);
}

/*
 * A new staged file NAME in folder PARENT, open for writing with FLAGS:
 * `n` is its node (n->fd_plus1 its descriptor), `*w` its dataset's writes.
 */
static int create_staged(struct lfs *fs, fuse_ino_t parent, const char *name,
			 int flags, struct mnode *n, struct writes **w,
			 struct lc_err *err)
{
	struct mnode dir;
	int fd = -1, rc;

	memset(n, 0, sizeof(*n));
	rc = mnode_changing(fs, parent, &dir, err);
	if (rc) {
		mnode_reset(&dir);	/* held for EROFS and ESTALE */
		return rc;
	}
	n->live = true;
	n->staged = SK_FILE;
	n->d = dir.d;
	if ((rc = ensure_w(fs, dir.d, w, err))) {
		/* a database root holds datasets only */
	} else if (writable_root(&dir)) {
		struct mnode other;

		rc = lookup_in(fs, &dir, name, &other, err);
		mnode_reset(&other);
		if (!rc)
			rc = EEXIST;
		else if (rc == ENOENT)
			rc = wr_create_root_file(*w, name, &n->id, &n->fidx,
						 &fd, err);
	} else if (dir.staged == SK_ROW) {
		n->id = dir.id;
		rc = wr_file_open(*w, dir.id, name, flags | O_CREAT, true,
				  NULL, &n->fidx, &fd, err);
	} else if (writable_row(&dir)) {
		rc = wr_change_row(*w, &dir.vn, true, &n->id, err);
		if (!rc)
			rc = wr_file_open(*w, n->id, name, flags | O_CREAT,
					  true, NULL, &n->fidx, &fd, err);
	} else {
		rc = dir.staged ? ENOTDIR : EPERM;
	}
	mnode_reset(&dir);
	n->fd_plus1 = fd + 1;	/* its attributes from the fd, not a path */
	return rc;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct lc_err err = { 0 };
	struct writes *w = NULL;
	struct mnode n;
	int rc;

	caller_is(req, true);
	(void)mode;
	atomic_fetch_add(&fs->requests, 1);
	if (too_long(req, name))
		return;
	rc = create_staged(fs, parent, name, fi->flags, &n, &w, &err);
	if (!rc && (rc = staged_fh_new(fi, w, n.id, n.fidx, n.fd_plus1 - 1,
				       true, fuse_req_ctx(req)->pid)))
		wr_file_closed(w, n.id, n.fidx, n.fd_plus1 - 1, true);
	if (!rc && (rc = entry_of(fs, &n, &e, &err)))
		staged_fh_free(fs, staged_fh_of(fi));
	if (!rc)
		staged_fh_pass(fs, fi, e.ino);
	if (rc)
		fuse_reply_err(req, reply_errno(fs, name, rc, &err));
	else if (pt_reply_create(req, &e, fi, staged_fh_of(fi)->backing))
		staged_fh_free(fs, staged_fh_of(fi));	/* interrupted */
}

/*
 * A complete file NAME in folder PARENT holding `bytes`, as a create, a
 * write and a close make it; its entry into e.
 */
static int make_file(struct lfs *fs, fuse_ino_t parent, const char *name,
		     const struct lc_buf *bytes, struct fuse_entry_param *e,
		     struct lc_err *err)
{
	struct writes *w = NULL;
	struct mnode n;
	int rc = create_staged(fs, parent, name, O_WRONLY | O_EXCL, &n, &w,
			       err);
	int fd = n.fd_plus1 - 1;

	if (rc)
		return rc;
	for (size_t off = 0; !rc && off < bytes->len;) {
		ssize_t put = pwrite(fd, bytes->data + off, bytes->len - off,
				     (off_t)off);

		if (put < 0)
			rc = errno;
		else
			off += (size_t)put;
	}
	if (!rc)
		wr_file_flushed(w, n.id, n.fidx, fd, true);
	if (!rc)
		rc = entry_of(fs, &n, e, err);
	wr_file_closed(w, n.id, n.fidx, fd, true);
	return rc;
}

/*
 * mknod of a regular file (tar --xattrs, some archivers and installers
 * make files so): a create and a close. The file is complete, empty,
 * until its writer opens it; other kinds of node are refused.
 */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct lc_err err = { 0 };
	int rc;

	caller_is(req, true);
	(void)rdev;
	if (!S_ISREG(mode) || !fs->writable) {
		refuse_kind(req);
		return;
	}
	atomic_fetch_add(&fs->requests, 1);
	if (too_long(req, name))
		return;
	rc = make_file(fs, parent, name, &(struct lc_buf){ 0 }, &e, &err);
	if (rc)
		fuse_reply_err(req, reply_errno(fs, name, rc, &err));
	else
		fuse_reply_entry(req, &e);
}

/*
 * A read with no open handle (zero-message opens): find the node and its
 * content again. The view's value cache keeps the value across the
 * chunks of one file, so a big image is decoded once.
 */
/* Reply to a read with bytes [off, off + size) of FILE node `n`. */
static void reply_range(fuse_req_t req, struct lfs *fs, const struct vnode *n,
			size_t size, off_t off)
{
	struct lc_err err = { 0 };
	struct lc_buf b;
	int rc;

	lc_buf_init(&b, 0);
	rc = view_read_range(&b, fs->v, n, (uint64_t)off, size, &err);
	if (rc) {
		fuse_reply_err(req, reply_errno(fs, "read", rc, &err));
	} else {
		atomic_fetch_add(&fs->bytes_read, b.len);
		fuse_reply_buf(req, b.len ? (const char *)b.data : NULL,
			       b.len);
	}
	lc_buf_reset(&b);
}

static void read_stateless(fuse_req_t req, struct lfs *fs, fuse_ino_t ino,
			   size_t size, off_t off)
{
	struct lc_err err = { 0 };
	struct vnode n = { 0 };
	struct lc_buf whole;
	size_t len = 0;
	int rc = node_of(fs, ino & ~LIVE_BIT, &n, &err);

	if (!rc && n.kind != VN_CTLFILE) {
		reply_range(req, fs, &n, size, off);
		vnode_reset(&n);
		return;
	}
	lc_buf_init(&whole, 0);
	if (!rc)
		rc = ctl_content(fs, &n, CTL_READ, &whole, NULL, &err);
	vnode_reset(&n);
	if (rc) {
		fuse_reply_err(req, reply_errno(fs, "read", rc, &err));
	} else {
		if ((uint64_t)off < whole.len)
			len = whole.len - (size_t)off < size ?
				      whole.len - (size_t)off : size;
		atomic_fetch_add(&fs->bytes_read, len);
		fuse_reply_buf(req, len ? (const char *)whole.data + off :
					  NULL, len);
	}
	lc_buf_reset(&whole);
}

/* A staged file is read straight from its descriptor `fd`: libfuse
 * reads (or splices) it into the reply, no buffer of ours. */
static void reply_fd(fuse_req_t req, struct lfs *fs, int fd, size_t size,
		     off_t off)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	struct stat st;

	if (fstat(fd, &st) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	/* past the end: fewer bytes, as a read would give */
	if (off >= st.st_size)
		bv.buf[0].size = 0;
	else if ((uint64_t)(st.st_size - off) < size)
		bv.buf[0].size = (size_t)(st.st_size - off);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fd;
	bv.buf[0].pos = off;
	atomic_fetch_add(&fs->bytes_read, bv.buf[0].size);
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

/*
 * A read through a handle of a live committed file that has been
 * overwritten through the mount since it was opened: the same inode,
 * whose size the kernel has from the new file, so the handle reads what
 * was written, as a local file's descriptor does (it read the version's
 * bytes cut to the new size). From then on it reads that staged file,
 * also once a commit took it (the descriptor keeps it). False: no such
 * file, the version is read.
 */
static bool read_overlay(fuse_req_t req, struct lfs *fs,
			 struct open_file *of, size_t size, off_t off)
{
	struct writes *w = atomic_load(&of->d->w);
	struct lc_err err = { 0 };
	char name[300];
	uint64_t id;
	uint32_t fidx;
	int fd = -1;

	/* most reads: nothing staged in the dataset, no lock taken */
	if (atomic_load(&of->sfd) < 0 &&
	    (!w || !overlay_in(w, &of->node, &id, &fidx)))
		return false;
	pthread_mutex_lock(&of->mu);
	if (of->sfd < 0 && overlay_in(w, &of->node, &id, &fidx) &&
	    !wr_file_name(w, id, fidx, name, sizeof(name)) &&
	    !wr_file_open(w, id, name, O_RDONLY, false, NULL, &fidx, &fd,
			  &err)) {
		of->sw = w;
		of->sid = id;
		of->sfidx = fidx;
		atomic_store(&of->sfd, fd);
	}
	if ((fd = of->sfd) >= 0)
		of->refs++;	/* a release may come meanwhile */
	pthread_mutex_unlock(&of->mu);
	if (fd < 0)
		return false;
	reply_fd(req, fs, fd, size, off);
	open_file_put(of);
	return true;
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
	switch (fh_type(fi)) {
	case FH_STAGED:
		reply_fd(req, fs, staged_fh_of(fi)->fd, size, off);
		return;
	case FH_COMMIT:
		fuse_reply_buf(req, NULL, 0);
		return;
	case FH_VIEW:
		if (of->d && read_overlay(req, fs, of, size, off))
			return;
		break;
	default:
		read_stateless(req, fs, ino, size, off);
		return;
	}
	if (of->node.kind == VN_FILE && of->node.file != VIEW_META_JSON) {
		/* the range asked for, from the version the handle holds:
		 * a value may be gigabytes, and is read in pieces */
		pthread_mutex_lock(&of->mu);
		of->refs++;	/* a release may come meanwhile */
		pthread_mutex_unlock(&of->mu);
		reply_range(req, fs, &of->node, size, off);
		open_file_put(of);
		return;
	}
	/* meta.json and control files are made whole, once per open */
	pthread_mutex_lock(&of->mu);
	if (!of->loaded) {
		of->rc = view_read_file(&of->data, fs->v, &of->node, &err);
		of->loaded = true;
	}
	rc = of->rc;
	of->refs++;	/* a release may come while the reply is written */
	pthread_mutex_unlock(&of->mu);
	if (rc) {
		fuse_reply_err(req, reply_errno(fs, "read", rc, &err));
	} else {
		/* the buffer never changes once loaded */
		if ((uint64_t)off < of->data.len) {
			len = of->data.len - (size_t)off;
			if (len > size)
				len = size;
		}
		atomic_fetch_add(&fs->bytes_read, len);
		fuse_reply_buf(req, len ? (const char *)of->data.data + off :
					  NULL, len);
	}
	open_file_put(of);
}

/* Commit now; the errno a writer of .lancefs/commit or fsync sees. */
static int commit_now(struct lfs *fs, struct writes *w, uint64_t force)
{
	struct lc_err err = { 0 };
	uint64_t v;
	int rc = wr_commit(w, force, &v, &err);

	/* lancefs commit reads the new version in the status next */
	atomic_fetch_add(&fs->ctl_gen, 1);
	if (rc && err.kind != LC_EK_USAGE)
		log_err(fs, "commit", &err);
	if (!rc)
		return 0;
	switch (err.kind) {
	case LC_EK_USAGE:
		return EINVAL;	/* refused rows: see .lancefs/errors */
	case LC_EK_CONFLICT:
		return EBUSY;
	default:
		/* what the caller can act on; else EIO (an ENOENT of the
		 * store's would read as no such control file) */
		return rc == ENOSPC || rc == EDQUOT || rc == ENOMEM ? rc : EIO;
	}
}

/*
 * Warmup: every data file of the dataset's current version is queued for
 * the disk cache, fetched in the background while reads go on (and
 * before them: the cache's workers fetch only blocks it lacks).
 */
static int warmup(struct lfs *fs, struct view_ds *ds)
{
	const struct lance_manifest *m;
	struct lc_err err = { 0 };
	struct vnode root;
	int rc;

	rc = view_ds_root(&root, ds, 0, &err);
	if (rc)
		return reply_errno(fs, "warmup", rc, &err);
	m = view_manifest(&root);
	for (size_t i = 0; !rc && m && i < m->n_fragments; i++)
		for (size_t j = 0; !rc && j < m->fragments[i].n_files; j++)
			if (!m->fragments[i].files[j].has_base_id)
				rc = ostore_cache_warm(view_store(&root),
						       m->fragments[i].files[j]
							       .path, &err);
	vnode_reset(&root);
	if (rc && err.kind == LC_EK_USAGE)
		log_err(fs, "warmup", &err);	/* no cache_dir= */
	return rc ? reply_errno(fs, "warmup", rc, &err) : 0;
}

/* Commit every dataset's ready rows; the first error. */
static int commit_all(struct lfs *fs)
{
	unsigned n = atomic_load(&fs->n_mds);
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		struct writes *w = atomic_load(&fs->mds[i]->w);
		int r = w ? commit_now(fs, w, 0) : 0;

		if (!rc)
			rc = r;
	}
	return rc;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct staged_fh *h = staged_fh_of(fi);
	ssize_t n;
	int rc;

	caller_is(req, true);
	(void)ino;
	atomic_fetch_add(&fs->requests, 1);
	switch (fh_type(fi)) {
	case FH_STAGED:
		if (atomic_exchange(&h->flushed, false))
			wr_file_flushed(h->w, h->id, h->fidx, h->fd, false);
		n = pwrite(h->fd, buf, size, off);
		if (n < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_write(req, (size_t)n);
		return;
	case FH_COMMIT:
		rc = commit_all(fs);
		if (rc)
			fuse_reply_err(req, rc);
		else
			fuse_reply_write(req, size);
		return;
	case FH_WARMUP:
		rc = warmup(fs, ((struct ctl_fh *)(uintptr_t)fi->fh)->ds);
		if (rc)
			fuse_reply_err(req, rc);
		else
			fuse_reply_write(req, size);
		return;
	default:
		fuse_reply_err(req, EBADF);
	}
}

/* fallocate(2) (rsync --preallocate, download tools): on the staged
 * file, like a write (passthrough does not carry it). */
static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t off, off_t len, struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct staged_fh *h = staged_fh_of(fi);
	int rc = EOPNOTSUPP;

	caller_is(req, true);
	(void)ino;
	atomic_fetch_add(&fs->requests, 1);
	if (fh_type(fi) == FH_STAGED && h->writer) {
		if (atomic_exchange(&h->flushed, false))
			wr_file_flushed(h->w, h->id, h->fidx, h->fd, false);
		rc = fallocate(h->fd, mode, off, len) < 0 ? errno : 0;
	}
	fuse_reply_err(req, rc);
}

/* Row folders and the root hold folders and regular files only: symbolic
 * links, hard links and special files (mkfifo, mknod) are refused. */
static void op_symlink(fuse_req_t req, const char *link,
		       fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	refuse_kind(req);
}

/* The bytes of file node m (staged, a committed one's change, or
 * committed) into out (initialized). */
static int file_bytes(struct lfs *fs, const struct mnode *m,
		      struct lc_buf *out, struct lc_err *err)
{
	struct writes *w = mw(m);
	uint64_t id = m->id;
	uint32_t fidx = m->fidx;
	char name[300];
	int fd, rc;

	if (m->staged != SK_FILE && !overlay_of(m, &id, &fidx))
		return m->staged || m->vn.kind != VN_FILE ? EPERM :
			view_read_file(out, fs->v, &m->vn, err);
	rc = wr_file_name(w, id, fidx, name, sizeof(name));
	if (!rc)
		rc = wr_file_open(w, id, name, O_RDONLY, false, NULL, &fidx,
				  &fd, err);
	if (rc)
		return rc;
	rc = lc_buf_read_fd(out, fd, err);
	wr_file_closed(w, id, fidx, fd, false);
	return rc;
}

/*
 * ln SRC DST of a file (tar -x of an archive that recorded hard links,
 * cp -l, rsync -H): a row's files are its own, so DST is a new file
 * holding SRC's bytes, and a later write to one leaves the other as it
 * is. Folders cannot be linked (the kernel refuses).
 */
static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		    const char *name)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct lc_err err = { 0 };
	struct mnode src;
	struct lc_buf b;
	int rc;

	caller_is(req, true);
	if (!fs->writable) {
		refuse_kind(req);
		return;
	}
	atomic_fetch_add(&fs->requests, 1);
	if (too_long(req, name))
		return;
	lc_buf_init(&b, 0);
	rc = mnode_of(fs, ino, &src, &err);
	if (!rc) {
		rc = src.stale ? ESTALE : file_bytes(fs, &src, &b, &err);
		mnode_reset(&src);
	}
	if (!rc)
		rc = make_file(fs, parent, name, &b, &e, &err);
	lc_buf_reset(&b);
	if (rc)
		fuse_reply_err(req, reply_errno(fs, name, rc, &err));
	else
		fuse_reply_entry(req, &e);
}

/*
 * close(2): the kernel sends FLUSH and waits for it, but RELEASE comes
 * later, on its own. A staged file is complete once its writer closed
 * it, so it is marked so here: a kill -9 right after cp closed a file
 * must keep it. Only the close of the thread that opened it counts: a
 * FLUSH also comes whenever a process that inherited the descriptor
 * exits (each command of `for ...; done > FILE`), and the file is then
 * not written yet; it is complete at its RELEASE. Passthrough writes
 * never reach us, so a write after a FLUSH cannot unmark it there.
 */
static void op_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	struct staged_fh *h = staged_fh_of(fi);

	caller_is(req, true);
	(void)ino;
	/* A read-only mount has nothing to do at close: ENOSYS tells the
	 * kernel to send no more flushes, a request less per file read. */
	if (!((struct lfs *)fuse_req_userdata(req))->writable) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (fh_type(fi) == FH_STAGED && h->writer &&
	    fuse_req_ctx(req)->pid == h->opener &&
	    (!atomic_exchange(&h->flushed, true) || h->backing))
		wr_file_flushed(h->w, h->id, h->fidx, h->fd, true);
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	caller_is(req, false);
	fh_free(fuse_req_userdata(req), fi);
	fuse_reply_err(req, 0);
}

/* fsync of a staged file or folder: its row (and every other complete
 * row) committed before we answer. */
static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct writes *w = NULL;
	struct mnode m;
	uint64_t force = 0;
	int rc = 0;

	caller_is(req, true);
	(void)datasync;
	atomic_fetch_add(&fs->requests, 1);
	if (fi && fh_type(fi) == FH_STAGED) {
		struct staged_fh *h = staged_fh_of(fi);

		w = h->w;
		/* a temporary (rsync --fsync's, an editor's swap file) is
		 * made durable, and commits no row half-copied */
		force = wr_file_ignored(w, h->id, h->fidx) ? WR_SYNC_ONLY :
							    h->id;
	} else if (!mnode_of(fs, ino, &m, &err)) {
		w = mw(&m);
		enum staging_kind k;
		uint64_t u;

		if (m.staged)
			force = m.id;
		else if (!m.live)
			force = UINT64_MAX;	/* nothing to commit */
		else if (!m.d)
			rc = commit_all(fs);	/* a database root */
		else if (m.stale)
			/* a row a commit moved away: its change may stay
			 * staged as its new row's; every row commits, and
			 * others refused do not fail this one */
			force = WR_FORCE_NONE;
		else if (m.vn.kind == VN_ROW || m.vn.kind == VN_FILE)
			/* a committed row: its own change, if any; it fails
			 * for that one only */
			force = (u = change_of(&m, &k)) ? u : UINT64_MAX;
		mnode_reset(&m);
	} else {
		force = UINT64_MAX;
	}
	if (w && force != UINT64_MAX)
		rc = commit_now(fs, w, force);
	fuse_reply_err(req, rc);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)fi;
	op_fsync(req, ino, datasync, NULL);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct stat st, sb;
	struct mnode m;
	char name[1300];
	int rc;

	caller_is(req, true);
	atomic_fetch_add(&fs->requests, 1);
	rc = mnode_changing(fs, ino, &m, &err);
	/* owners are not stored: only root may pretend to change them (as
	 * cp -a does); others may only keep them */
	if ((!rc || rc == ESTALE) && fuse_req_ctx(req)->uid != 0 &&
	    (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) ||
	     ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid)))
		rc = EPERM;
	if (rc == ESTALE && open_stat(fs, ino, fi, &sb)) {
		/* a committed file open for writing, its row committed
		 * under it (op_getattr): through the open file, whose row
		 * stays staged; times and modes are not stored */
		lc_err_clear(&err);
		rc = to_set & FUSE_SET_ATTR_SIZE ?
			     open_truncate(ino, fi, attr->st_size, &err) :
			     0;
		if (!rc && !open_stat(fs, ino, fi, &sb))
			rc = ESTALE;
		if (!rc)
			stat_from(fs, &st, ino, &sb, false);
		if (rc)
			fuse_reply_err(req, reply_errno(fs, "setattr", rc,
							&err));
		else
			fuse_reply_attr(req, &st, 0);
		mnode_reset(&m);
		return;
	}
	if (rc)
		goto out;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (m.staged == SK_FILE) {
			rc = wr_file_name(mw(&m), m.id, m.fidx, name,
					  sizeof(name));
			if (!rc)
				rc = wr_file_truncate(mw(&m), m.id, name,
						      (uint64_t)attr->st_size,
						      &err);
			else if (fi && fh_type(fi) == FH_STAGED)
				/* unlinked while open: no commit takes it */
				rc = ftruncate(staged_fh_of(fi)->fd,
					       attr->st_size) < 0 ? errno : 0;
			/* ftruncate: a cut after a close, like a write, is
			 * marked complete again at the next close */
			if (!rc && fi && fh_type(fi) == FH_STAGED)
				atomic_store(&staged_fh_of(fi)->flushed,
					     false);
		} else if (m.vn.kind == VN_FILE) {
			struct fuse_file_info f2 = { 0 };

			/* copied up, then cut */
			f2.flags = O_WRONLY | (attr->st_size ? 0 : O_TRUNC);
			rc = open_committed_for_write(fs, &m, &f2, 0, &err);
			if (!rc) {
				struct staged_fh *h = staged_fh_of(&f2);

				if (ftruncate(h->fd, attr->st_size) < 0)
					rc = errno;
				staged_fh_free(fs, h);
			}
		} else {
			rc = EISDIR;
		}
	} else {
		/* cp -p, touch: times and modes are not stored; a staged
		 * row (or a committed one's update) held back is let go */
		enum staging_kind k = STAGING_UPDATE;
		uint64_t u = m.staged ? m.id : change_of(&m, &k);

		if (u && k == STAGING_UPDATE)
			wr_touch(mw(&m), u);
	}
	if (rc)
		goto out;
	mnode_reset(&m);
	rc = mnode_of(fs, ino, &m, &err);
	if (!rc)
		rc = fill_stat(fs, &st, ino, &m, CTL_STAT, &err);
out:
	if (rc)
		fuse_reply_err(req, reply_errno(fs, "setattr", rc, &err));
	else
		fuse_reply_attr(req, &st, ttl_of(fs, &m));
	mnode_reset(&m);
}

/* access(2) and chdir, asked only of a mount without
 * default_permissions (a writable one only its owner uses, see
 * lancefs_mount_main): the answer the kernel would give from the modes
 * getattr shows, except that asking to write what lancefs never changes
 * is EROFS, the error the write itself gets. Nobody but the owner (or
 * root) gets this far. */
static int may_access(mode_t mode, int mask, uid_t uid)
{
	if ((mask & W_OK) && !(mode & 0222))
		return EROFS;
	if (uid == 0)	/* all but running a file without an x bit */
		return (mask & X_OK) && !S_ISDIR(mode) && !(mode & 0111) ?
			       EACCES : 0;
	return ((mode >> 6) & (unsigned)mask) == (unsigned)mask ? 0 : EACCES;
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct stat st;
	struct mnode m;
	int rc;

	atomic_fetch_add(&fs->requests, 1);
	rc = mnode_of(fs, ino, &m, &err);
	if (!rc)
		rc = fill_stat(fs, &st, ino, &m, CTL_STAT, &err);
	mnode_reset(&m);
	if (rc)
		rc = reply_errno(fs, "access", rc, &err);
	else
		rc = may_access(st.st_mode, mask, fuse_req_ctx(req)->uid);
	fuse_reply_err(req, rc);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct lc_err err = { 0 };
	struct mnode dir, n = { 0 };
	struct writes *w;
	int rc;

	caller_is(req, true);
	(void)mode;
	atomic_fetch_add(&fs->requests, 1);
	if (too_long(req, name))
		return;
	rc = mnode_changing(fs, parent, &dir, &err);
	if (rc)
		goto out;
	n.live = true;
	if (dir.vn.kind == VN_DBROOT) {
		struct view_ds *ds;

		/* a new dataset, made by its first commit */
		rc = view_db_mkdir(&ds, fs->v, name, &err);
		if (!rc && !(n.d = mds_for(fs, ds)))
			rc = ENFILE;
		/* its staging's rows shown at once; a staging that will
		 * not open fails the writes there, not the mkdir, which
		 * made the dataset */
		if (!rc && open_staged_member(fs, n.d, &err))
			lc_err_clear(&err);
		if (!rc)
			rc = view_ds_root(&n.vn, ds, 0, &err);
		n.dsroot = true;
	} else if (!writable_root(&dir)) {
		rc = EPERM;	/* row folders hold files only */
	} else {
		struct mnode other;

		rc = live_row(fs, &dir, name, &other, &err);
		mnode_reset(&other);
		if (!rc)
			rc = EEXIST;
		else if (rc == ENOENT && !(rc = ensure_w(fs, dir.d, &w, &err)))
			rc = wr_mkdir(w, name, &n.id, &err);
		n.d = dir.d;
		n.staged = SK_ROW;
	}
	if (!rc)
		rc = entry_of(fs, &n, &e, &err);
out:
	mnode_reset(&n);
	mnode_reset(&dir);
	if (rc)
		fuse_reply_err(req, reply_errno(fs, name, rc, &err));
	else
		fuse_reply_entry(req, &e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct mnode dir, n;
	struct writes *w = NULL;
	int rc;

	caller_is(req, true);
	atomic_fetch_add(&fs->requests, 1);
	rc = mnode_changing(fs, parent, &dir, &err);
	if (rc)
		goto out;
	rc = lookup_in(fs, &dir, name, &n, &err);
	if (rc)
		goto out;
	if (!dir.d) {
		rc = EPERM;	/* a database member */
	} else if (writable_root(&dir)) {
		rc = n.staged == SK_FILE ? wr_remove_row(mw(&dir), n.id, &err) :
					   EISDIR;
	} else if (dir.staged == SK_ROW) {
		rc = wr_file_unlink(mw(&dir), dir.id, name, false, &err);
	} else if (writable_row(&dir) &&
		   !(rc = ensure_w(fs, dir.d, &w, &err))) {
		char hidden[256] = "";
		uint64_t u;
		bool has;

		/* a store error is not "only staged": the committed file
		 * would stay after the commit */
		rc = committed_has(fs, &dir.vn, name, &has, &err);
		/* a staged file in a committed one's place: that one goes
		 * too (marked first), as at an unlink of its own name */
		if (!rc && !has && n.staged == SK_FILE)
			rc = committed_hidden(fs, &dir.vn, name, hidden, &err);
		if (!rc)
			rc = wr_change_row(w, &dir.vn, false, &u, &err);
		if (!rc && *hidden)
			rc = wr_file_unlink(w, u, hidden, true, &err);
		if (!rc)
			rc = wr_file_unlink(w, u, name, has, &err);
	} else if (!rc) {
		rc = EPERM;
	}
	mnode_reset(&n);
out:
	mnode_reset(&dir);
	fuse_reply_err(req, rc ? reply_errno(fs, name, rc, &err) : 0);
}

struct count {
	struct lfs *fs;
	struct writes *w;
	const struct mnode *row;
	uint64_t change;
	uint64_t n;
	struct lc_err *err;
};

static int count_cb(void *ctx, uint64_t index, const char *name,
		    const struct vnode *node)
{
	struct count *c = ctx;

	(void)index;
	(void)node;
	if (!c->change || !wr_is_removed(c->w, c->change, name))
		c->n++;
	return 0;
}

static int count_staged_cb(void *ctx, uint64_t pos, uint32_t fidx,
			   const char *name)
{
	struct count *c = ctx;
	bool has;
	int rc = committed_has(c->fs, &c->row->vn, name, &has, c->err);

	(void)pos;
	(void)fidx;
	if (!rc && !has)	/* has: counted with the committed */
		c->n++;
	return rc;
}

/* Files a live committed row shows (its staged update applied). */
static int row_files(struct lfs *fs, const struct mnode *row, uint64_t *n,
		     struct lc_err *err)
{
	enum staging_kind k;
	struct count c = { fs, mw(row), row, change_of(row, &k), 0, err };
	int rc = view_readdir(fs->v, &row->vn, 0, count_cb, &c, err);

	if (!rc && c.change)
		rc = wr_list_files(c.w, c.change, 0, count_staged_cb, &c);
	*n = c.n;
	return rc;
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct mnode dir, n = { 0 };
	struct writes *w;
	uint64_t files;
	int rc;

	caller_is(req, true);
	atomic_fetch_add(&fs->requests, 1);
	rc = mnode_changing(fs, parent, &dir, &err);
	if (rc)
		goto out;
	if (!writable_root(&dir)) {
		/* a row holds files only */
		if (dir.staged != SK_ROW && !writable_row(&dir))
			rc = EPERM;
		else if (!(rc = lookup_in(fs, &dir, name, &n, &err)))
			rc = ENOTDIR;
		goto out;
	}
	rc = lookup_in(fs, &dir, name, &n, &err);
	if (rc)
		goto out;
	if (n.staged == SK_ROW)
		rc = wr_remove_row(mw(&n), n.id, &err);
	else if (n.staged)
		rc = ENOTDIR;
	else if (n.vn.kind != VN_ROW)
		rc = EPERM;
	else if (!(rc = row_files(fs, &n, &files, &err)) &&
		 !(rc = files ? ENOTEMPTY : ensure_w(fs, n.d, &w, &err)))
		rc = wr_delete_row(w, &n.vn, &err);
out:
	mnode_reset(&n);
	mnode_reset(&dir);
	fuse_reply_err(req, rc ? reply_errno(fs, name, rc, &err) : 0);
}

/* The staged row that files of `dir` go to (an update for a committed
 * row, made if needed). */
static int files_row(struct lfs *fs, const struct mnode *dir,
		     struct writes **w, uint64_t *id, struct lc_err *err)
{
	int rc;

	if (dir->staged == SK_ROW) {
		*w = mw(dir);
		*id = dir->id;
		return 0;
	}
	if (!writable_row(dir))
		return dir->staged ? ENOTDIR : EPERM;
	rc = ensure_w(fs, dir->d, w, err);
	return rc ? rc : wr_change_row(*w, &dir->vn, true, id, err);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct lfs *fs = fuse_req_userdata(req);
	struct lc_err err = { 0 };
	struct mnode from = { 0 }, to = { 0 }, src = { 0 }, dst = { 0 };
	struct writes *w;
	uint64_t a, b;
	int rc;

	caller_is(req, true);
	atomic_fetch_add(&fs->requests, 1);
	if (too_long(req, name) || too_long(req, newname))
		return;
	rc = mnode_changing(fs, parent, &from, &err);
	if (!rc)
		rc = mnode_changing(fs, newparent, &to, &err);
	if (rc)
		goto out;
	if (from.d != to.d) {
		rc = EXDEV;	/* another dataset of a database */
		goto out;
	}
	if (flags & ~RENAME_NOREPLACE) {	/* exchange, whiteout */
		rc = EINVAL;
		goto out;
	}
	rc = lookup_in(fs, &from, name, &src, &err);
	if (rc)
		goto out;
	if (!lookup_in(fs, &to, newname, &dst, &err) &&
	    (flags & RENAME_NOREPLACE)) {
		rc = EEXIST;
		goto out;
	}
	lc_err_clear(&err);
	if (writable_root(&from) || writable_root(&to)) {
		/* rows: staged ones move within the root; a file between
		 * the root and a row folder is copied by mv (EXDEV) */
		if (!writable_root(&from) || !writable_root(&to))
			rc = src.staged == SK_FILE || src.vn.kind == VN_FILE ?
				     EXDEV : EPERM;
		else if (!src.staged)
			rc = EPERM;
		else if (dst.vn.kind != VN_NONE)	/* a committed row */
			rc = src.staged == SK_FILE ? EISDIR : EEXIST;
		else
			rc = wr_rename_row(mw(&src), src.id, newname, &err);
		goto out;
	}
	rc = files_row(fs, &from, &w, &a, &err);
	if (!rc)
		rc = files_row(fs, &to, &w, &b, &err);
	if (rc)
		goto out;
	if (src.staged == SK_FILE) {
		/* a staged file over a committed one of its row (an
		 * overwrite): the committed one goes too, as at an unlink */
		char hidden[256] = "";
		bool under = false;

		if (a == b && !strcmp(name, newname))
			goto out;	/* onto itself */
		if (writable_row(&from) && !from.staged)
			rc = committed_has(fs, &from.vn, name, &under, &err);
		/* one in a committed file's place moves away: that one goes
		 * (not when it stays in the place, image.png to image.jpeg) */
		if (!rc && !under && writable_row(&from) && !from.staged)
			rc = committed_hidden(fs, &from.vn, name, hidden, &err);
		if (!rc && *hidden && !(a == b &&
					wr_same_column(newname, hidden)))
			rc = wr_file_unlink(w, a, hidden, true, &err);
		if (!rc)
			rc = wr_file_rename(w, a, name, b, newname, under,
					    &err);
	} else if (src.vn.kind == VN_FILE) {
		/* a committed file moves: copied to the new name, removed
		 * from the old one */
		struct lc_buf data;

		rc = read_committed(fs, &src.vn, &data, &err);
		/* a staged file there is replaced, not cut: a program that
		 * has it open keeps its own (an orphan) */
		if (!rc)
			rc = wr_file_replace(w, b, newname, &data, &err);
		lc_buf_reset(&data);
		if (!rc)
			rc = wr_file_unlink(w, a, name, true, &err);
	} else {
		rc = EPERM;
	}
out:
	mnode_reset(&src);
	mnode_reset(&dst);
	mnode_reset(&from);
	mnode_reset(&to);
	fuse_reply_err(req, rc ? reply_errno(fs, name, rc, &err) : 0);
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
	for (unsigned i = 0; i < atomic_load(&fs->n_mds); i++) {
		struct writes *w = atomic_load(&fs->mds[i]->w);
		struct statvfs st;

		/* room for staging: the staging disk's */
		if (w && wr_statvfs(w, &st) == 0) {
			sv.f_bavail = st.f_bavail * st.f_frsize / 4096;
			sv.f_bfree = sv.f_bavail;
			sv.f_blocks += sv.f_bavail;
			sv.f_ffree = st.f_favail;
			sv.f_favail = st.f_favail;
			break;
		}
	}
	vnode_reset(&root);
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops lfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.access = op_access,
	.opendir = op_opendir,
	.releasedir = op_releasedir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fsyncdir = op_fsyncdir,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.statfs = op_statfs,
	.fallocate = op_fallocate,
	.symlink = op_symlink,
	.link = op_link,
	.mknod = op_mknod,
};

/* ------------------------------------------------------------ refresh */

/*
 * A dataset's root (listed in `parent`) moved to a new version. The
 * kernel drops that listing (FUSE_NOTIFY_INVAL_INODE) and, from Linux
 * 6.16 (FUSE_NOTIFY_INC_EPOCH, protocol 7.44; libfuse 3.18 names it
 * fuse_lowlevel_notify_increment_epoch, Debian's 3.14 does not), looks
 * every name it holds up again on its next use. Neither takes a lock.
 * FUSE_NOTIFY_INVAL_ENTRY is never sent: it waits for the folder's lock,
 * which a lookup in flight there holds, so a daemon killed meanwhile
 * left an unkillable thread, the device open and every user of the
 * mount hanging. Older kernels see changed names when their entries
 * expire: after a second on a writable mount (and at once where an
 * answer of ESTALE makes the kernel look the path up again), after
 * refresh= seconds on a read-only one (lancefs(1), NOTES).
 */
#define NOTIFY_INC_EPOCH 8

/*
 * Before the kernel looks names up again: slots of versions the root of
 * `d` showed move on to the version it shows now where that one only
 * appended (view_covers), so rows that did not change keep their inode
 * numbers; true when every such slot moved. Slots the kernel holds no
 * inode of, of versions no longer shown, are freed (slot_forget frees
 * only at a forget, and one may have come while the slot was current).
 */
static bool advance_slots(struct lfs *fs, struct fuse_session *se,
			  struct view_ds *ds)
{
	struct vnode cur;
	bool all = true;

	if (view_ds_root(&cur, ds, 0, NULL))
		return false;
	for (unsigned s = 1; s <= MAX_SLOTS; s++) {
		struct vnode dead = { 0 };
		struct slot *sl = &fs->slots[s];
		bool moved = false;

		pthread_mutex_lock(&fs->mu);
		if (sl->root.ds != ds) {
			pthread_mutex_unlock(&fs->mu);
			continue;
		}
		if (sl->root.snap != cur.snap) {
			if (!sl->lookups && !view_is_current(&sl->root)) {
				dead = sl->root;
				memset(&sl->root, 0, sizeof(sl->root));
			} else if (view_covers(&sl->root, &cur)) {
				slot_set(fs, s, &cur, &dead);
				moved = true;
			} else if (view_shown(&sl->root)) {
				all = false;
			}
		}
		pthread_mutex_unlock(&fs->mu);
		vnode_reset(&dead);
		/* the @versions and @tags of every slot of the dataset list
		 * the new version too (never live nodes: no LIVE_BIT in their
		 * numbers), and so does the root of a slot that moved on (a
		 * database member's on a read-only mount) */
		for (uint64_t k = IK_VERSIONS; k <= IK_TAGS; k++)
			fuse_lowlevel_notify_inval_inode(
				se, (uint64_t)s << SLOT_SHIFT |
						k << KIND_SHIFT, 0, 0);
		if (moved)
			fuse_lowlevel_notify_inval_inode(
				se, (uint64_t)s << SLOT_SHIFT |
						(uint64_t)IK_ROOT << KIND_SHIFT,
				0, 0);
	}
	vnode_reset(&cur);
	return all;
}

/* Dataset `ds` moved to a new version; `parent` lists its root (0: no
 * such inode, a read-only database member's root is in its slots). */
static void invalidate_moved(struct lfs *fs, struct fuse_session *se,
			     struct view_ds *ds, fuse_ino_t parent)
{
	struct {
		uint32_t len;
		int32_t code;
		uint64_t unique;
	} h = { sizeof(h), NOTIFY_INC_EPOCH, 0 };

	bool appended = advance_slots(fs, se, ds);

	atomic_fetch_add(&fs->refreshes, 1);
	atomic_fetch_add(&fs->ctl_gen, 1);
	/* a new epoch also evicts the inodes (and pages) of every name the
	 * kernel drops; where the dataset only grew, every name it holds
	 * still names the same thing, and misses last refresh= seconds */
	if (fs->epochs && (fs->writable || !appended) &&
	    write(fuse_session_fd(se), &h, sizeof(h)) < 0)
		atomic_fetch_add(&fs->errors, 1);
	if (parent)
		fuse_lowlevel_notify_inval_inode(se, parent, 0, 0);
}

/* From the writes thread: a commit (ours or, with refresh=, another
 * writer's) moved the view. */
static void on_moved(void *ctx)
{
	struct mds *d = ctx;
	/* once: the daemon's end clears it while a commit may land */
	struct fuse_session *se = __atomic_load_n(&d->fs->se,
						  __ATOMIC_ACQUIRE);

	if (se)
		invalidate_moved(d->fs, se, d->ds, ds_root_ino(d));
}

/* Dataset `ds` to its newest version: through its writes, which tell
 * the mount (on_moved), where it has them. */
static void refresh_ds(struct lfs *fs, struct view_ds *ds)
{
	struct lc_err err = { 0 };
	struct mds *d;
	struct writes *w;
	bool changed = false;
	int rc;

	/* writes opened meanwhile move the view too: it only moves on
	 * (view_ds_refresh) */
	d = mds_find(fs, ds);
	w = d ? atomic_load(&d->w) : NULL;
	rc = w ? wr_follow(w, &err) : view_ds_refresh(&changed, ds, &err);
	if (rc)
		log_err(fs, "refresh", &err);
	else if (changed)	/* a read-only member's root is in its slots */
		invalidate_moved(fs, fs->se, ds,
				 d && (fs->writable || !view_ds_name(ds)) ?
					 ds_root_ino(d) : 0);
}

/* A database also takes the datasets other writers made in it. */
static void refresh_once(struct lfs *fs)
{
	struct lc_err err = { 0 };
	struct view_ds *ds;
	bool added;

	if (fs->single) {
		refresh_ds(fs, fs->single->ds);
		return;
	}
	if (view_db_rescan(&added, fs->v, &err))
		log_err(fs, "refresh", &err);
	else if (added)
		fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	for (size_t i = 0; (ds = view_db_member(fs->v, i)); i++) {
		const char *name = view_ds_name(ds);

		if (!view_ds_gone(ds))
			refresh_ds(fs, ds);
		else if (added)	/* the kernel forgets the name now */
			fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID,
							 name, strlen(name));
	}
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
	unsigned n = atomic_load(&fs->n_mds), k = 0;
	int rc = lc_buf_printf(b, err, ",\"pid\":%ld,\"writable\":%s,"
			       "\"passthrough\":%s,\"io_uring\":%s",
			       (long)getpid(), fs->writable ? "true" : "false",
			       pt_on(fs->pt) ? "true" : "false",
			       pt_ring_on(fs->pt) ? "true" : "false");

	/* a dataset mount's "writes", or a database's, per member */
	if (!rc && fs->single && atomic_load(&fs->single->w)) {
		rc = lc_buf_append(b, ",", 1, err);
		if (!rc)
			rc = wr_status(atomic_load(&fs->single->w), "writes",
				       b, err);
	} else if (!rc && !fs->single && fs->writable) {
		rc = lc_buf_append(b, ",\"writes\":{", 11, err);
		for (unsigned i = 0; !rc && i < n; i++) {
			struct writes *w = atomic_load(&fs->mds[i]->w);

			if (w && k++)
				rc = lc_buf_append(b, ",", 1, err);
			if (w && !rc)
				rc = wr_status(w, view_ds_name(fs->mds[i]->ds),
					       b, err);
		}
		if (!rc)
			rc = lc_buf_append(b, "}", 1, err);
	}
	if (rc)
		return rc;
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

static int member_cb(void *ctx, uint64_t index, const char *name,
		     const struct vnode *node)
{
	struct lfs *fs = ctx;
	struct lc_err err = { 0 };
	struct mds *d;
	int rc;

	(void)index;
	if (node->kind != VN_ROOT || !(d = mds_for(fs, node->ds)))
		return 0;
	rc = open_staged_member(fs, d, &err);
	if (rc)
		fprintf(stderr, "lancefs: %s: %s\n", name, err.msg);
	return rc;
}

/* Whether the database mounted has a dataset `name` (after member_cb). */
static bool has_member(struct lfs *fs, const char *name)
{
	for (unsigned i = 0; i < atomic_load(&fs->n_mds); i++) {
		const char *m = view_ds_name(fs->mds[i]->ds);

		if (m && !strcmp(m, name))
			return true;
	}
	return false;
}

/* staging_each's, for note_orphans */
struct orphans {
	struct lfs *fs;
	size_t n;	/* fs->source without trailing slashes */
};

static void orphan_cb(void *ctx, const char *dir, const char *dataset,
		      size_t rows)
{
	struct orphans *o = ctx;
	const char *name = dataset + o->n + 1;
	size_t len = strlen(name);
	struct lc_err err = { 0 };
	char ds[300];

	/* SOURCE/NAME.lance, NAME no dataset here nor one left out
	 * (unreadable: said as such already) */
	if (!rows || strncmp(dataset, o->fs->source, o->n) ||
	    dataset[o->n] != '/' || len <= 6 || len - 6 >= sizeof(ds) ||
	    strchr(name, '/') || strcmp(name + len - 6, ".lance"))
		return;
	snprintf(ds, sizeof(ds), "%.*s", (int)(len - 6), name);
	if (has_member(o->fs, ds) || view_db_left_out(o->fs->v, ds))
		return;
	lc_err_set(&err, ENOENT, LC_EK_NOTFOUND, __FILE__, __LINE__,
		   "%zu staged row%s of dataset %s, which is no longer in "
		   "the database, stay in %s (a mkdir of %s here shows them "
		   "again)", rows, rows == 1 ? "" : "s", name, dir, ds);
	fprintf(stderr, "lancefs: %s: %s\n", ds, err.msg);
	view_note_line(o->fs->v, ds, &err);
}

/*
 * Rows staged for a dataset of this database that is not there (LanceDB
 * dropped it while they were staged): they stay in its staging, where a
 * mkdir of its name shows them again (to commit into a new dataset of
 * that name, or to remove). Said at mount and in .lancefs/errors, so
 * that nothing staged goes unseen.
 */
static void note_orphans(struct lfs *fs)
{
	struct orphans o = { fs, source_len(fs->source) };
	char root[4200];

	if (fs->wo.staging_dir)
		staging_each(fs->wo.staging_dir, orphan_cb, &o);
	else if (!staging_default_root(root, sizeof(root),
				       &(struct lc_err){ 0 }))
		staging_each(root, orphan_cb, &o);
}

/* A dataset mount's writes open now (recovery, and the errors a user
 * should see before the mount succeeds); a database's members' when
 * their staging holds rows. */
static int open_mount_writes(struct lfs *fs, struct lc_err *err)
{
	int rc;

	if (fs->single) {
		pthread_mutex_lock(&fs->mds_mu);
		rc = open_writes(fs, fs->single, err);
		pthread_mutex_unlock(&fs->mds_mu);
		return rc;
	}
	rc = view_readdir(fs->v, &fs->top, 0, member_cb, fs, err);
	if (!rc)
		note_orphans(fs);
	return rc;
}

/* -o warmup of a database: every member */
static int warm_cb(void *ctx, uint64_t index, const char *name,
		   const struct vnode *node)
{
	struct lfs *fs = ctx;

	(void)index;
	(void)name;
	if (node->kind == VN_ROOT)
		(void)warmup(fs, node->ds);
	return 0;
}

/* Let go of the staged files the kernel never released whose writer
 * closed them (its FLUSH came): an unmount of a mount detached while busy
 * (lancefs umount's fallback) drops the RELEASEs still queued when its
 * last user leaves, that user's last close's among them, and its row
 * would stay open, and staged, until the next mount. A file still open
 * for writing (the daemon stopped by a signal) stays so: its row stays
 * staged, and the next mount drops the file if it was not complete. */
static void release_left_open(struct lfs *fs)
{
	struct staged_fh *h, *next;

	pthread_mutex_lock(&fs->open_mu);
	for (h = fs->open_staged; h; h = next) {
		next = h->next;
		if (h->writer && !atomic_load(&h->flushed))
			continue;
		pthread_mutex_unlock(&fs->open_mu);
		staged_fh_free(fs, h);	/* takes itself off the list */
		pthread_mutex_lock(&fs->open_mu);
		next = fs->open_staged;	/* the list changed meanwhile */
	}
	pthread_mutex_unlock(&fs->open_mu);
}

/* Commit what is ready in every dataset, and stop. A new dataset that
 * got no version and keeps nothing staged leaves no folder (LanceDB
 * would list one as a table it cannot open). */
static void close_writes(struct lfs *fs)
{
	for (unsigned i = 0; i < atomic_load(&fs->n_mds); i++)
		if (wr_close(atomic_exchange(&fs->mds[i]->w, NULL)))
			view_ds_drop_unborn(fs->mds[i]->ds);
}

static const char mount_usage[] =
	"usage: lancefs mount [-f] [-d] [-o OPT[,OPT...]] SOURCE MOUNTPOINT\n";

/* Whether a stat's errno `e` says a FUSE daemon is gone: ENOTCONN, or
 * where its requests went through io_uring ECONNABORTED, or ECANCELED
 * for a request the kernel had queued when the daemon died. */
static bool daemon_gone(int e)
{
	return e == ENOTCONN || e == ECONNABORTED || e == ECANCELED;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* `path` made absolute and rid of "." and ".." by its text alone (a
 * dead daemon's mount point is no path realpath can walk through);
 * false when too long. */
static bool lexical_path(char *out, size_t cap, const char *path)
{
	char buf[PATH_MAX * 2];
	size_t n = 0;

	if (path[0] == '/')
		snprintf(buf, sizeof(buf), "%s", path);
	else if (!getcwd(buf, PATH_MAX) ||
		 strlen(buf) + strlen(path) + 2 > sizeof(buf))
		return false;
	else
		strcat(strcat(buf, "/"), path);
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		size_t len = strlen(c);

		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			while (n && out[n - 1] != '/')
				n--;
			if (n)
				n--;
			continue;
		}
		if (n + len + 2 > cap)
			return false;
		out[n++] = '/';
		memcpy(out + n, c, len);
		n += len;
	}
	if (!n)
		out[n++] = '/';
	out[n] = 0;
	return true;
}

/* Where `dir` is, as mountinfo names mount points: its real path, or
 * for a mount point no stat reaches, its folder's and its name. */
static bool mount_path(char *abs, const char *dir)
{
	char lex[PATH_MAX], *base;

	if (realpath(dir, abs))
		return true;
	if (!lexical_path(lex, sizeof(lex), dir))
		return false;
	base = strrchr(lex, '/');
	*base++ = 0;
	if (!realpath(lex[0] ? lex : "/", abs) ||
	    strlen(abs) + strlen(base) + 2 > PATH_MAX)
		return false;
	if (strcmp(abs, "/"))
		strcat(abs, "/");
	strcat(abs, base);
	return true;
}

/* The next line of /proc/self/mountinfo ("ID PARENT MAJ:MIN ROOT POINT
 * OPTIONS [TAGS...] - TYPE SOURCE ..."), split in place: its device,
 * mount point (unescaped) and type. False at the end. */
static bool mountinfo_next(FILE *f, char *line, size_t cap, char **id,
			   char **dev, char **point, char **type)
{
	while (fgets(line, (int)cap, f)) {
		char *dash = strstr(line, " - "), *field[5], *save = NULL;
		int k = 0;

		if (!dash)
			continue;
		*dash = 0;
		for (char *t = strtok_r(line, " ", &save); t && k < 5;
		     t = strtok_r(NULL, " ", &save))
			field[k++] = t;
		*type = strtok_r(dash + 3, " \n", &save);
		if (k < 5 || !*type)
			continue;
		*id = field[0];
		*dev = field[2];
		*point = field[4];
		unescape_octal(*point);
		return true;
	}
	return false;
}

/* The mount on top at `abs` (a mount_path): its file system type and
 * device (MAJ:MIN); false where none is. The one on top is the one a
 * stat of `abs` reaches (mountinfo's order is not the stacking order
 * once a mount was moved), or where no stat does (a daemon died), a
 * FUSE one. */
static bool mount_find(const char *abs, char *type, size_t cap, char *dev,
		       size_t dev_cap)
{
	char line[8192], want[32] = "", *id, *d, *point, *t;
	bool found = false;
	struct stat st;
	FILE *f;

	if (!stat(abs, &st))
		snprintf(want, sizeof(want), "%u:%u", major(st.st_dev),
			 minor(st.st_dev));
	else if (!daemon_gone(errno))
		return false;
	if (!(f = fopen("/proc/self/mountinfo", "re")))
		return false;
	while (mountinfo_next(f, line, sizeof(line), &id, &d, &point, &t))
		if (!strcmp(point, abs) &&
		    (want[0] ? !strcmp(d, want) : !strncmp(t, "fuse", 4))) {
			snprintf(type, cap, "%s", t);
			snprintf(dev, dev_cap, "%s", d);
			found = true;
		}
	fclose(f);
	return found;
}

/*
 * The mounts of device `dev` (MAJ:MIN) but the one at `skip` (NULL:
 * all), as "ID POINT\n" each (NULL: none). An unmount of a bind mount
 * leaves its daemon running while another is there: which ones, the
 * device number alone does not tell, as it is free for the next FUSE
 * mount of anyone once unmounted, and so are mount ids.
 */
static char *dev_mounts(const char *dev, const char *skip)
{
	char line[8192], *id, *d, *pt, *t, *out = NULL;
	size_t len = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && mountinfo_next(f, line, sizeof(line), &id, &d, &pt, &t)) {
		size_t n = strlen(id) + strlen(pt) + 2;
		char *more;

		if (strcmp(d, dev) || (skip && !strcmp(pt, skip)) ||
		    !(more = lc_realloc(out, len + n + 1)))
			continue;
		out = more;
		len += (size_t)snprintf(out + len, n + 1, "%s %s\n", id, pt);
	}
	if (f)
		fclose(f);
	return out;
}

/* Whether one of the mounts `was` (dev_mounts) of `dev` is there still. */
static bool still(const char *dev, const char *was)
{
	char *now = was ? dev_mounts(dev, NULL) : NULL;
	bool found = false;

	for (const char *l = was; now && !found && *l;
	     l = strchr(l, '\n') + 1) {
		size_t n = (size_t)(strchr(l, '\n') - l) + 1;

		for (const char *m = now; !found && *m;
		     m = strchr(m, '\n') + 1)
			found = !strncmp(l, m, n);
	}
	lc_free(now);
	return found;
}

/* True when something is mounted on `dir` (even a dead FUSE daemon's
 * mount, which stat cannot reach). */
static bool is_mount_point(const char *dir)
{
	char abs[PATH_MAX], type[64], dev[32];

	return mount_path(abs, dir) &&
	       mount_find(abs, type, sizeof(type), dev, sizeof(dev));
}

struct mount_opts {
	int threads;		/* 0: 16 */
	unsigned refresh;
	bool ro;
	bool warmup;		/* fill cache_dir= from the start */
	bool shared;		/* allow_other, allow_root, default_permissions */
	struct wr_opts wo;
};

/* seconds, possibly fractional, 0..max */
static int parse_secs(double *out, const char *opt, const char *v,
		      double max, struct lc_err *err)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || *end || !(d >= 0) || d > max)
		return LC_USAGE(err, "%s%s: want seconds (0..%g)", opt, v, max);
	*out = d;
	return 0;
}

/* a count with an optional K, M, G or T suffix (powers of 1024) */
static int parse_size(uint64_t *out, const char *opt, const char *v,
		      struct lc_err *err)
{
	if (ostore_parse_count(v, true, out))
		return LC_USAGE(err, "%s%s: want a number (K, M, G, T "
				"suffixes)", opt, v);
	return 0;
}

/*
 * Staged bytes that start a commit before the quiet period ends (-o
 * commit_bytes=, 0 for none). A cp -r of gigabytes then commits in
 * batches as it goes, on the other CPU: the commit that waits for its
 * last file holds at most this much, and the inodes of rows that landed
 * come back as spares for the rest of the copy. 10,000 folders (1 GB)
 * make 5 versions, copied and committed in 3.2-3.6 s against 4.2-4.9 s
 * with no limit (interleaved runs; 128 MiB 3.6-4.1 s, 512 MiB 3.9-4.3).
 */
#define COMMIT_BYTES ((uint64_t)256 << 20)

/* Split -o options into ours (view, writes) and FUSE's. */
static int split_mount_opts(struct view_opts *vo, struct lc_buf *fuse_opts,
			    struct mount_opts *mo, char *arg,
			    struct lc_err *err)
{
	struct ingest_opts *io = &mo->wo.ingest;

	for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
		int rc = view_opts_parse(vo, tok, err);

		if (rc != ENOENT) {
			if (rc)
				return rc;
			continue;
		}
		rc = 0;
		if (!strncmp(tok, "threads=", 8)) {
			char *end;
			long t = strtol(tok + 8, &end, 10);

			if (end == tok + 8 || *end || t < 1 || t > 64)
				return LC_USAGE(err, "threads=%s: want 1..64",
						tok + 8);
			mo->threads = (int)t;
		} else if (!strncmp(tok, "refresh=", 8)) {
			double d;

			/* whole seconds: 0.5 is 1, not off */
			rc = parse_secs(&d, "refresh=", tok + 8, 86400, err);
			mo->refresh = (unsigned)d + (d > (unsigned)d);
		} else if (!strncmp(tok, "staging_dir=", 12)) {
			mo->wo.staging_dir = tok + 12;
		} else if (!strncmp(tok, "commit_delay=", 13)) {
			rc = parse_secs(&mo->wo.commit_delay, "commit_delay=",
					tok + 13, 86400, err);
		} else if (!strncmp(tok, "commit_rows=", 12)) {
			rc = parse_size(&mo->wo.commit_rows, "commit_rows=",
					tok + 12, err);
		} else if (!strncmp(tok, "commit_bytes=", 13)) {
			rc = parse_size(&mo->wo.commit_bytes, "commit_bytes=",
					tok + 13, err);
		} else if (!strncmp(tok, "file_column=", 12)) {
			io->file_column = tok + 12;
		} else if (!strncmp(tok, "format_version=", 15)) {
			const char *v = tok + 15;

			if (strcmp(v, "2.0") && strcmp(v, "2.1") &&
			    strcmp(v, "2.2") && strcmp(v, "stable"))
				return LC_USAGE(err, "format_version=%s: want "
						"2.0, 2.1, 2.2 or stable (2.2)",
						v);
			io->format_version = v;
		} else if (!strcmp(tok, "warmup")) {
			mo->warmup = true;
		} else if (!strcmp(tok, "validate_images")) {
			io->validate_images = true;
		} else if (!strcmp(tok, "ro")) {
			mo->ro = true;
		} else if (!strcmp(tok, "rw") || !strcmp(tok, "defaults") ||
			   !strcmp(tok, "auto") || !strcmp(tok, "noauto") ||
			   !strcmp(tok, "user") || !strcmp(tok, "users") ||
			   !strcmp(tok, "nouser") || !strcmp(tok, "nofail") ||
			   !strcmp(tok, "_netdev") || !strncmp(tok, "x-", 2)) {
			continue;	/* fstab words */
		} else {
			if (!strcmp(tok, "allow_other") ||
			    !strcmp(tok, "allow_root") ||
			    !strcmp(tok, "default_permissions"))
				mo->shared = true;
			if (fuse_opts->len &&
			    lc_buf_append(fuse_opts, ",", 1, err))
				return ENOMEM;
			if (lc_buf_append(fuse_opts, tok, strlen(tok), err))
				return ENOMEM;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* `path` under the current folder, in `out`; NULL when too long. */
static const char *absolute(char *out, size_t cap, const char *path)
{
	char cwd[4096];

	if (!getcwd(cwd, sizeof(cwd)) ||
	    (size_t)snprintf(out, cap, "%s/%s", cwd, path) >= cap)
		return NULL;
	return out;
}

/* One spelling per dataset, by which its staging is found: file://
 * dropped, a local path absolute and real (no ., .., symlinks; its
 * folder's, where it does not exist yet), no trailing slash. NULL when
 * too long. */
static const char *canonical_source(char *out, size_t cap, const char *src)
{
	const char *p = strncmp(src, "file://", 7) ? src : src + 7;
	char path[PATH_MAX], real[PATH_MAX], *slash;
	size_t n;

	if (strstr(p, "://") || p[0] == '/')
		n = (size_t)snprintf(path, sizeof(path), "%s", p);
	else if (absolute(path, sizeof(path), p))
		n = strlen(path);
	else
		return NULL;
	if (n >= sizeof(path))
		return NULL;
	while (n > 1 && path[n - 1] == '/')
		path[--n] = 0;
	if (path[0] != '/')	/* an object store's URI */
		n = (size_t)snprintf(out, cap, "%s", path);
	else if (realpath(path, real))
		n = (size_t)snprintf(out, cap, "%s", real);
	else if ((slash = strrchr(path, '/')) != path &&
		 (*slash = 0, realpath(path, real)))
		/* a new dataset: its folder's real path */
		n = (size_t)snprintf(out, cap, "%s/%s",
				     strcmp(real, "/") ? real : "", slash + 1);
	else if (slash != path)
		n = (size_t)snprintf(out, cap, "%s/%s", path, slash + 1);
	else
		n = (size_t)snprintf(out, cap, "%s", path);
	return n < cap ? out : NULL;
}

/* Descriptors up to the hard limit (a shell's soft limit is often
 * 1,024): the local store keeps half as many data files open between
 * reads (objstore/local.c), and a dataset has a file per fragment. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < (1u << 20) ? rl.rlim_max : 1u << 20;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int lancefs_mount_main(int argc, char **argv)
{
	struct view_opts vo = { 0 };
	struct lc_err err = { 0 };
	struct lc_buf fo;
	struct lfs *fs = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	bool foreground = false, debug = false, refresher = false;
	struct mount_opts mo = { .wo = { .commit_delay = 2.0,
					 .commit_bytes = COMMIT_BYTES } };
	int opt, rc = 1;
	const char *source, *mnt;
	char *src_path = NULL;
	static char abs_source[4200], abs_staging[4200], abs_mnt[PATH_MAX];

	/* Every read allocates and frees buffers of 64 KiB to a few MiB
	 * (values, cache blocks). By default glibc mmap()s the bigger ones
	 * and trims the heap after the rest, so each read page-faults and
	 * zeroes fresh pages; keep them in the heap and keep the heap. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	raise_fd_limit();
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
		case 'o': {
			size_t len = strlen(optarg);

			if (split_mount_opts(&vo, &fo, &mo, optarg, &err))
				goto usage_err;
			/* the daemon lives as long as the mount */
			ostore_conf_hide_secrets(optarg, len);
			break;
		}
		default:
			goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	mnt = argv[optind + 1];
	if (view_split_source(&src_path, &vo, argv[optind], &err))
		goto usage_err;
	source = src_path;
	/* threads start as requests queue up (fs/loop.c) */
	if (!mo.threads)
		mo.threads = 16;
	/* the daemon runs in /: relative local paths are made absolute */
	if (!(source = canonical_source(abs_source, sizeof(abs_source),
					src_path))) {
		fprintf(stderr, "lancefs: %s: path too long\n", src_path);
		goto out;
	}
	if (mo.wo.staging_dir && mo.wo.staging_dir[0] != '/') {
		const char *rel = mo.wo.staging_dir;

		if (!(mo.wo.staging_dir = absolute(abs_staging,
						   sizeof(abs_staging), rel))) {
			fprintf(stderr, "lancefs: %s: path too long\n", rel);
			goto out;
		}
	}
	/* before anything of the dataset (its staging) is touched */
	if (is_mount_point(mnt)) {
		fprintf(stderr, "lancefs: %s is already a mount point (unmount "
			"it first: lancefs umount %s)\n", mnt, mnt);
		goto out;
	}
	if (!realpath(mnt, abs_mnt)) {
		fprintf(stderr, "lancefs: %s: %s\n", mnt, strerror(errno));
		goto out;
	}
	mnt = abs_mnt;
	{
		struct stat sb;

		/* the kernel mounts on a file too, where nothing works */
		if (stat(mnt, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "lancefs: %s: not a folder\n", mnt);
			goto out;
		}
	}

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		goto out;
	pthread_mutex_init(&fs->mu, NULL);
	pthread_mutex_init(&fs->mds_mu, NULL);
	atomic_init(&fs->n_mds, 0);
	atomic_init(&fs->ctl_gen, 0);
	pthread_mutex_init(&fs->ctl_mu, NULL);
	pthread_mutex_init(&fs->open_mu, NULL);
	pthread_mutex_init(&fs->stop_mu, NULL);
	pthread_cond_init(&fs->stop_cv, NULL);
	fs->refresh = mo.refresh;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->foreground = foreground;
	/* writable unless ro or a pinned version (VIEW.md §3) */
	vo.writable = !mo.ro && !vo.version && !vo.tag;
	ostore_hold_threads(true);	/* until after fuse_daemonize */
	if (view_open(&fs->v, source, &vo, &err) ||
	    view_root(&fs->top, fs->v, &err)) {
		fprintf(stderr, "lancefs: %s\n", err.msg);
		rc = err.kind == LC_EK_NOTFOUND || err.kind == LC_EK_USAGE ?
			     1 : 2;
		goto out;
	}
	view_say_errors(fs->v, stderr);	/* a database member left out */
	view_set_status_fn(fs->v, status_fn, fs);
	fs->writable = vo.writable;
	fs->source = source;
	fs->wo = mo.wo;
	fs->wo.ingest.name_column = vo.name_column;
	if (fs->top.kind == VN_ROOT &&
	    !(fs->single = mds_for(fs, view_single(fs->v))))
		goto out;
	if (vo.writable && open_mount_writes(fs, &err)) {
		fprintf(stderr, "lancefs: %s\n", err.msg);
		rc = err.kind == LC_EK_USAGE ? 1 : 2;
		goto out;
	}
	if (fs->top.kind == VN_ROOT) {
		/* a dataset root follows refresh: only remember the kind */
		vnode_reset(&fs->top);
		fs->top.kind = VN_ROOT;
	}
	/* The kernel's own permission check (default_permissions) forgets a
	 * folder's mode at every mkdir and create in it and asks for it
	 * again at the next path through it: cp -r makes two requests a
	 * folder more than its thirteen. A writable mount that only its
	 * owner can use checks for itself instead (op_access, op_setattr,
	 * and the EROFS of every change to what is read-only); the kernel
	 * still lets no other user in. */
	if (fuse_opt_add_arg(&args, "lancefs") ||
	    fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, !fs->writable ? "ro,default_permissions,"
				 "subtype=lancefs" : mo.shared ?
				 "default_permissions,subtype=lancefs" :
				 "subtype=lancefs") ||
	    (fo.len && (fuse_opt_add_arg(&args, "-o") ||
			fuse_opt_add_arg(&args, (char *)fo.data))) ||
	    (debug && fuse_opt_add_arg(&args, "-d")))
		goto out;
	{
		char fsname[4300];

		snprintf(fsname, sizeof(fsname), "fsname=%s", source);
		for (char *p = fsname; *p; p++)
			if (*p == ',')
				*p = '_';
		if (fuse_opt_add_arg(&args, "-o") ||
		    fuse_opt_add_arg(&args, fsname))
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
	if (fs->writable && pt_attach(&fs->pt, fs->se, (unsigned)mo.threads)) {
		fprintf(stderr, "lancefs: out of memory\n");
		goto out_unmount;
	}
	if (!foreground)
		openlog("lancefs", LOG_PID, LOG_DAEMON);
	if (fuse_daemonize(foreground)) {
		fprintf(stderr, "lancefs: cannot daemonize\n");
		goto out_unmount;
	}
	/* threads die in fuse_daemonize's fork: start them after it */
	ostore_hold_threads(false);
	pthread_mutex_lock(&fs->mds_mu);
	fs->started = true;
	for (unsigned i = 0; i < atomic_load(&fs->n_mds); i++) {
		struct writes *w = atomic_load(&fs->mds[i]->w);

		if (w && wr_start(w, &err))
			log_err(fs, "commits only at fsync and unmount", &err);
	}
	pthread_mutex_unlock(&fs->mds_mu);
	if (mo.warmup && fs->single)
		(void)warmup(fs, fs->single->ds);
	else if (mo.warmup && view_readdir(fs->v, &fs->top, 0, warm_cb, fs,
					   &err))
		log_err(fs, "warmup", &err);
	if (fs->refresh) {
		struct lc_err e2 = { 0 };

		if (lc_thread_start(&fs->refresher, "lancefs refresh",
				    refresh_main, fs)) {
			lc_err_set(&e2, EAGAIN, LC_EK_NONE, __FILE__, __LINE__,
				   "cannot start a thread");
			log_err(fs, "refresh disabled", &e2);
		} else {
			refresher = true;
		}
	}
	lc_wait_hooks(loop_wait_begin, loop_wait_end);
	/* stderr is /dev/null by now: the log says why the mount ended */
	if ((rc = loop_run(fs->se, (unsigned)mo.threads) ? 2 : 0)) {
		struct lc_err e2 = { 0 };

		lc_err_set(&e2, EIO, LC_EK_NONE, __FILE__, __LINE__,
			   "the request loop failed; unmounting");
		log_err(fs, mnt, &e2);
	}
	pt_stop(fs->pt);
	if (refresher) {
		pthread_mutex_lock(&fs->stop_mu);
		fs->stopping = true;
		pthread_cond_signal(&fs->stop_cv);
		pthread_mutex_unlock(&fs->stop_mu);
		pthread_join(fs->refresher, NULL);
	}
	/* staged rows that are ready go in before the daemon exits; the
	 * kernel side is gone already */
	{
		struct fuse_session *se = fs->se;

		/* no more notifications (on_moved) */
		__atomic_store_n(&fs->se, NULL, __ATOMIC_RELEASE);
		release_left_open(fs);
		close_writes(fs);
		fs->se = se;
	}
out_unmount:
	fuse_session_unmount(fs->se);
out_handlers:
	fuse_remove_signal_handlers(fs->se);
out:
	if (fs) {
		close_writes(fs);
		if (fs->se)
			fuse_session_destroy(fs->se);
		pt_free(fs->pt);
		for (unsigned s = 1; s <= MAX_SLOTS; s++)
			vnode_reset(&fs->slots[s].root);
		vnode_reset(&fs->top);
		view_free(fs->v);
		for (unsigned i = 0; i < atomic_load(&fs->n_mds); i++) {
			for (int k = 0; k < VIEW_CTL_COUNT; k++)
				lc_buf_reset(&fs->mds[i]->ctl[k].data);
			free(fs->mds[i]);
		}
		pthread_mutex_destroy(&fs->mds_mu);
		pthread_mutex_destroy(&fs->mu);
		pthread_mutex_destroy(&fs->ctl_mu);
		pthread_mutex_destroy(&fs->open_mu);
		pthread_mutex_destroy(&fs->stop_mu);
		pthread_cond_destroy(&fs->stop_cv);
		free(fs);
	}
	fuse_opt_free_args(&args);
	lc_buf_reset(&fo);
	view_opts_reset(&vo);
	lc_free(src_path);
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
	char **args = calloc((size_t)argc * 2 + 4, sizeof(*args));
	const char *pos[2] = { NULL, NULL };
	int n = 0, np = 0, rc;

	if (!args)
		return 2;
	args[n++] = (char *)"mount";
	/* every -o is kept: `-o ro -o allow_other` is read-only */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			args[n++] = (char *)"-o";
			args[n++] = argv[++i];
		} else if (!strncmp(argv[i], "-o", 2) && argv[i][2]) {
			args[n++] = (char *)"-o";
			args[n++] = argv[i] + 2;
		} else if (argv[i][0] == '-') {
			continue;	/* -n -s -v; -f (fake) we ignore */
		} else if (np < 2) {
			pos[np++] = argv[i];
		}
	}
	if (np != 2) {
		fputs("usage: mount.lancefs SOURCE MOUNTPOINT [-o OPTS]\n",
		      stderr);
		free(args);
		return 1;
	}
	args[n++] = (char *)pos[0];
	args[n++] = (char *)pos[1];
	args[n] = NULL;
	rc = lancefs_mount_main(n, args);
	free(args);
	return rc;
}

/* ------------------------------------------------------------ commands */

/* MOUNTPOINT/.lancefs/status as JSON; NULL if it cannot be read. */
static json_t *read_status(const char *mnt)
{
	char path[4200];
	json_error_t je;
	json_t *st = NULL;

	snprintf(path, sizeof(path), "%s/.lancefs/status", mnt);
	/* a read cut by another reader's open (ctl_content): again */
	for (int i = 0; i < 3 && !st; i++)
		st = json_load_file(path, 0, &je);
	return st;
}

/* Commit through MOUNTPOINT/.lancefs/commit; 0 or an errno. */
static int ctl_write(const char *mnt, const char *file)
{
	char path[4200];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/.lancefs/%s", mnt, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, "1\n", 2) != 2)
		rc = errno ? errno : EIO;
	close(fd);
	return rc;
}

/*
 * The datasets of a database mount `mnt`: its folders that have a
 * .lancefs/status. f(ctx, member path, name, status) for each, the
 * status then f's. *n counts them (0: `mnt` is no database mount).
 */
static void each_member(const char *mnt, int *n,
			void (*f)(void *ctx, const char *member,
				  const char *name, json_t *st),
			void *ctx)
{
	struct dirent *de;
	DIR *d;

	*n = 0;
	if (!(d = opendir(mnt)))
		return;
	while ((de = readdir(d))) {
		char member[4000];
		json_t *st;

		if (de->d_name[0] == '.' || de->d_name[0] == '@')
			continue;
		snprintf(member, sizeof(member), "%s/%s", mnt, de->d_name);
		if ((st = read_status(member))) {
			++*n;
			f(ctx, member, de->d_name, st);
		}
	}
	closedir(d);
}

/* The failures a mount noted so far (a database's datasets share
 * them), from its status. */
static uint64_t errors_in(json_t *st)
{
	return (uint64_t)json_integer_value(json_object_get(st, "errors"));
}

/* What .lancefs/errors of the mount at `mnt` noted since it held
 * `before` failures (the rows a commit refused, why it failed): the last
 * 16 at most, and how many more there are. */
static void show_errors(const char *mnt, uint64_t before)
{
	char path[4200], line[4096], *ring[16] = { 0 };
	json_t *st = read_status(mnt);
	uint64_t now = errors_in(st), n = 0;
	uint64_t fresh = now > before ? now - before : 0;
	unsigned max = fresh < 16 ? (unsigned)fresh : 16;
	FILE *f;

	json_decref(st);
	snprintf(path, sizeof(path), "%s/.lancefs/errors", mnt);
	if (!max || !(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		free(ring[n % max]);
		ring[n % max] = strdup(line);
		n++;
	}
	fclose(f);
	/* "DATASET\tROW/FILE: why" ("-" in a dataset mount): shown as
	 * "DATASET: ROW/FILE: why" */
	for (uint64_t i = n > max ? n - max : 0; i < n; i++) {
		const char *l = ring[i % max] ? ring[i % max] : "";
		const char *tab = strchr(l, '\t');

		if (!tab || (tab == l + 1 && *l == '-'))
			fprintf(stderr, "  %s", tab ? tab + 1 : l);
		else
			fprintf(stderr, "  %.*s: %s", (int)(tab - l), l,
				tab + 1);
	}
	if (fresh > max)
		fprintf(stderr, "  (%" PRIu64 " more in %s)\n", fresh - max,
			path);
	for (unsigned i = 0; i < max; i++)
		free(ring[i]);
}

/* The commits the dataset mounted at `dir` made so far, from its status
 * `st` (a database's lists every dataset's, by the folder's name); 0 when
 * unknown. */
static long long commits_in(json_t *st, const char *dir)
{
	json_t *w = json_object_get(st, "writes");
	size_t n = strlen(dir), at;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	for (at = n; at && dir[at - 1] != '/'; at--)
		;
	if (!json_object_get(w, "commits")) {
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)(n - at), dir + at);
		w = json_object_get(w, name);
	}
	return json_integer_value(json_object_get(w, "commits"));
}

/* Where a mount takes commands (ctl_of): its root, or a database
 * mount's first writable dataset folder (whose .lancefs/commit commits
 * every dataset), else its first; with that folder's status. */
struct ctl_at {
	char dir[4000];
	json_t *st;
	bool writable;
};

static void ctl_pick(void *ctx, const char *member, const char *name,
		     json_t *st)
{
	struct ctl_at *c = ctx;
	bool writable = json_is_true(json_object_get(st, "writable"));

	(void)name;
	if (!c->st || (writable && !c->writable)) {
		json_decref(c->st);
		c->st = st;
		c->writable = writable;
		snprintf(c->dir, sizeof(c->dir), "%s", member);
	} else {
		json_decref(st);
	}
}

/* c->dir for the mount at `mnt`, or NULL for no lancefs mount; *db (if
 * not NULL): whether it is a database mount with datasets. */
static const char *ctl_of(struct ctl_at *c, const char *mnt, bool *db)
{
	int n;

	memset(c, 0, sizeof(*c));
	if ((c->st = read_status(mnt))) {
		snprintf(c->dir, sizeof(c->dir), "%s", mnt);
		c->writable = json_is_true(json_object_get(c->st,
							   "writable"));
		n = 0;
	} else {
		each_member(mnt, &n, ctl_pick, c);
	}
	if (db)
		*db = n > 0;
	return c->st ? c->dir : NULL;
}

/* Commit through c->dir, saying on stderr what it refused or why it
 * failed (as .lancefs/errors has it): 0, EINVAL (rows refused, the
 * others landed), or the errno. */
static int commit_via(const struct ctl_at *c, const char *mnt)
{
	uint64_t errs = errors_in(c->st);
	int rc = ctl_write(c->dir, "commit");

	if (rc == EINVAL)
		fprintf(stderr, "lancefs: %s: staged rows were refused; they "
			"stay staged:\n", mnt);
	else if (rc)
		fprintf(stderr, "lancefs: %s: cannot commit: %s; staged rows "
			"stay staged:\n", mnt, strerror(rc));
	if (rc)
		show_errors(c->dir, errs);
	return rc;
}

/* A database member's "NAME VERSION" line, for lancefs commit. */
static void print_version(void *ctx, const char *member, const char *name,
			  json_t *st)
{
	(void)ctx;
	(void)member;
	if (json_is_true(json_object_get(st, "writable")))
		printf("%s %lld\n", name, (long long)json_integer_value(
			json_object_get(st, "version")));
	json_decref(st);
}

/* Whether status `st` is a database's dataset's: its "writes" hold
 * every dataset's, by name. */
static bool in_database(json_t *st)
{
	json_t *w = json_object_get(st, "writes");

	return json_is_object(w) && !json_object_get(w, "staged_rows");
}

int lancefs_commit_main(int argc, char **argv)
{
	char root[4200];
	struct ctl_at c;
	const char *mnt = argv[1];
	long long commits;
	json_t *st = NULL;
	bool db;
	int rc, n;

	if (argc != 2) {
		fputs("usage: lancefs commit MOUNTPOINT\n", stderr);
		return 1;
	}
	/* a database's datasets all commit at a commit of one */
	if (!ctl_of(&c, mnt, &db) || !c.writable) {
		fprintf(stderr, "lancefs: %s: %s\n", mnt, c.st ?
			"a read-only mount: nothing to commit" :
			"not a lancefs mount (no .lancefs/status)");
		json_decref(c.st);
		return 1;
	}
	commits = commits_in(c.st, mnt);
	/* a database's dataset (MNT/NAME): its commit is the database's,
	 * whose every dataset's version is said */
	snprintf(root, sizeof(root), "%s", mnt);
	if (!db && in_database(c.st)) {
		char dir[sizeof(root)];

		memcpy(dir, root, sizeof(dir));
		snprintf(root, sizeof(root), "%s", dirname(dir));
		db = true;
	}
	rc = commit_via(&c, mnt);
	json_decref(c.st);
	/* the version each dataset shows now: where rows were refused, or
	 * one dataset of a database failed, the others landed all the
	 * same */
	if (db) {
		each_member(root, &n, print_version, NULL);
	} else if ((st = read_status(c.dir)) &&
		   (!rc || commits_in(st, mnt) > commits)) {
		printf("%lld\n", (long long)json_integer_value(
			json_object_get(st, "version")));
	} else if (!st && !rc) {
		fprintf(stderr, "lancefs: %s: committed, but the mount's "
			"status cannot be read to tell the version\n", mnt);
		rc = EIO;
	}
	json_decref(st);
	return rc == EINVAL ? 1 : rc ? 2 : 0;
}

static void print_flat(const char *prefix, json_t *j)
{
	const char *k;
	json_t *v;

	json_object_foreach(j, k, v) {
		char key[256];

		snprintf(key, sizeof(key), "%s%s", prefix, k);
		if (json_is_object(v)) {
			char p2[300];

			snprintf(p2, sizeof(p2), "%s.", key);
			print_flat(p2, v);
		} else {
			/* 15 digits: commit_delay=0.3 shows as 0.3 */
			char *s = json_dumps(v, JSON_ENCODE_ANY |
						     JSON_REAL_PRECISION(15));

			printf("%-28s %s\n", key, s ? s : "?");
			free(s);
		}
	}
}

static uint64_t store_num(json_t *st, const char *key)
{
	json_t *v = json_object_get(json_object_get(st, "store"), key);

	return v ? (uint64_t)json_integer_value(v) : 0;
}

int lancefs_warmup_main(int argc, char **argv)
{
	bool wait = argc == 3 && !strcmp(argv[1], "--wait");
	const char *mnt = argv[argc - 1];
	int rc;

	if (argc != 2 && !wait) {
		fputs("usage: lancefs warmup [--wait] MOUNTPOINT\n", stderr);
		return 1;
	}
	rc = ctl_write(mnt, "warmup");
	if (rc) {
		fprintf(stderr, "lancefs: %s: cannot warm up: %s%s\n", mnt,
			strerror(rc), rc == EINVAL ? " (mount it with "
			"-o cache_dir=DIR)" : rc == EROFS || rc == ENOENT ?
			" (a read-only mount warms with -o warmup; in a "
			"database, name a dataset's folder)" : "");
		return rc == EIO ? 2 : 1;
	}
	for (;;) {
		json_t *st = read_status(mnt);
		uint64_t done, total, pending, failed;

		if (!st) {
			fprintf(stderr, "lancefs: %s: cannot read its status\n",
				mnt);
			return 2;
		}
		done = store_num(st, "warm_done");
		total = store_num(st, "warm_total");
		pending = store_num(st, "warm_pending");
		failed = store_num(st, "warm_failed");
		json_decref(st);
		if (!wait || !pending) {
			printf("%" PRIu64 " of %" PRIu64 " bytes in the disk "
			       "cache%s\n", done, total,
			       pending ? ", warming in the background" : "");
			if (failed)
				fprintf(stderr, "lancefs: %s: %" PRIu64 " data "
					"file%s could not be warmed (gone, or "
					"the store failed)\n", mnt,
					failed, failed == 1 ? "" : "s");
			return failed && wait ? 2 : 0;
		}
		sleep(1);
	}
}

static void status_member(void *ctx, const char *member, const char *name,
			  json_t *st)
{
	(void)member;
	json_object_set_new(ctx, name, st);	/* (no memory: left out) */
}

int lancefs_status_main(int argc, char **argv)
{
	bool as_json = argc == 3 && !strcmp(argv[1], "--json");
	const char *mnt = argv[argc - 1];
	json_t *st;

	if (argc != 2 && !as_json) {
		fputs("usage: lancefs status [--json] MOUNTPOINT\n", stderr);
		return 1;
	}
	st = read_status(mnt);
	if (!st) {
		/* a database mount: its members' under their names */
		int n;

		st = json_object();
		if (st)
			each_member(mnt, &n, status_member, st);
		if (!st || !n) {
			json_decref(st);
			fprintf(stderr, "lancefs: %s: not a lancefs mount (no "
				".lancefs/status)\n", mnt);
			return 1;
		}
	}
	if (as_json) {
		char *s = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		puts(s ? s : "{}");
		free(s);
	} else {
		print_flat("", st);
	}
	json_decref(st);
	return 0;
}

/* umount's commit of the mount whose commands `c` takes (its status
 * released here), so that errors are seen; *daemon: its pid. 0, or 2
 * when the commit failed. */
static int umount_commit(const char *mnt, struct ctl_at *c, pid_t *daemon)
{
	int rc = c->writable ? commit_via(c, mnt) : 0;

	*daemon = (pid_t)json_integer_value(json_object_get(c->st, "pid"));
	json_decref(c->st);
	c->st = NULL;
	return rc && rc != EINVAL ? 2 : 0;
}

int lancefs_umount_main(int argc, char **argv)
{
	pid_t pid, daemon = 0;
	int status, failed = 0;
	char type[64] = "", dev[32] = "", abs[PATH_MAX];
	struct ctl_at c;
	char *others = NULL;

	if (argc != 2) {
		fputs("usage: lancefs umount MOUNTPOINT\n", stderr);
		return 1;
	}
	/* only a lancefs mount, its daemon alive or not (fusermount3 run
	 * by root unmounts anything), named as mountinfo names it (not
	 * through a link, which fusermount3 refuses) */
	if (!mount_path(abs, argv[1]) ||
	    !mount_find(abs, type, sizeof(type), dev, sizeof(dev)) ||
	    strcmp(type, "fuse.lancefs")) {
		fprintf(stderr, "lancefs: %s: %s\n", argv[1],
			type[0] ? "not a lancefs mount" :
			access(argv[1], F_OK) && !daemon_gone(errno) ?
				strerror(errno) : "not a mount point");
		return 1;
	}
	/* a live writable mount: commit first, so that errors are seen
	 * here, then wait below for the daemon's last commit and exit; a
	 * database mount's datasets are its folders (DIR/.lancefs) */
	if (ctl_of(&c, abs, NULL))
		failed = umount_commit(argv[1], &c, &daemon);
	others = dev_mounts(dev, abs);
	/* fusermount3 also clears a mount whose daemon died ("Transport
	 * endpoint is not connected"); -z detaches a busy one. */
	for (int lazy = 0; lazy < 2; lazy++) {
		pid = fork();
		if (pid == 0) {
			execlp("fusermount3", "fusermount3",
			       lazy ? "-uz" : "-u", abs, (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			break;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && lazy) {
			/* the daemon lives on until the last user lets go */
			fprintf(stderr, "lancefs: %s was busy: detached; the "
				"daemon commits and exits once nothing uses "
				"it\n", argv[1]);
			lc_free(others);
			return failed;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			/* the daemon finishes its commit, then exits; not
			 * while the file system is mounted elsewhere too (a
			 * bind mount of it was unmounted) */
			for (int i = 0; daemon > 0 && i < 30000 &&
					lc_pid_running(daemon) && !still(dev,
								 others);
			     i++)
				usleep(10000);
			lc_free(others);
			return failed;
		}
	}
	lc_free(others);
	fprintf(stderr, "lancefs: could not unmount %s\n", argv[1]);
	return 2;
}
