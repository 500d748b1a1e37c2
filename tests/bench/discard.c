/*
 * discard.c - the fastest FUSE file system a copy into a mount can meet:
 * folders and files are made and written but nothing is kept (lookups
 * of names never made fail, data is thrown away). It runs the same
 * transport as lancefs (libfuse's low-level API; requests through
 * io_uring and files written in passthrough where the kernel has them,
 * as a writable lancefs mount, all into one scratch file whose pages
 * stay in the page cache; else direct I/O; reads through the kernel's
 * page cache; no kernel permission checks, as on a writable mount only
 * its owner uses; the loop of fs/loop.c with lancefs's 16 threads at
 * most), so `cp -r` into it measures what FUSE alone costs on this
 * machine: the ceiling of any ingest through a mount. Used by cp.sh.
 *
 * Given N and SIZE it also shows N folders 00000000, 00000001, ... each
 * holding one image.jpg of SIZE bytes, answered from memory, with the
 * read transport of a read-only lancefs mount (zero-message opens and
 * opendirs, no flushes, readdirplus, default_permissions, THREADS
 * threads): reading them
 * measures the ceiling of any read through a mount. Used by s3.sh.
 *
 *   discard MOUNTPOINT [N SIZE [THREADS]]   (unmount with fusermount3 -u)
 */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "passthrough.h"
#include "transport.h"

/*
 * Folders have odd inode numbers (the root is 1), files even ones. The
 * shown folder i is 3 + 2i and its image.jpg 4 + 2i; made ones follow.
 */
static atomic_ulong next_ino = 1;
static unsigned long shown;	/* folders shown */
static char *content;		/* every image.jpg's bytes */
static size_t content_len;
static struct pt *pt;		/* passthrough and io_uring, or NULL */
static int sink = -1;		/* what files made are written to */

static void attr(struct stat *st, fuse_ino_t ino)
{
	bool dir = ino & 1;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = dir ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (!dir && ino < 3 + 2 * shown)
		st->st_size = (off_t)content_len;
}

/* What is shown never changes (kept a day, as lancefs keeps a snapshot);
 * what is made is kept a second, as lancefs keeps what it stages. */
static double ttl(fuse_ino_t ino)
{
	return ino < 3 + 2 * shown ? 86400.0 : 1.0;
}

static void entry(struct fuse_entry_param *e, fuse_ino_t ino)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	attr(&e->attr, ino);
	e->attr_timeout = e->entry_timeout = ttl(ino);
}

/* A new folder or file (fi not NULL), made and forgotten. */
static void made(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;

	int backing;

	entry(&e, 2 * atomic_fetch_add(&next_ino, 1) + !fi);
	if (!fi) {
		fuse_reply_entry(req, &e);
		return;
	}
	backing = sink >= 0 ? pt_get(pt, e.ino, sink) : 0;
	if (!backing)
		fi->direct_io = 1;
	if (pt_reply_create(req, &e, fi, backing) && backing)
		pt_put(pt, e.ino);	/* interrupted: no release comes */
}

static void d_release(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	(void)fi;
	pt_put(pt, ino);
	fuse_reply_err(req, 0);
}

static void d_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	unsigned long i;
	char *end;

	if (parent == 1) {
		i = strtoul(name, &end, 10);
		if (*end || strlen(name) != 8 || i >= shown) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		entry(&e, 3 + 2 * i);
	} else if (parent < 3 + 2 * shown && !strcmp(name, "image.jpg")) {
		entry(&e, parent + 1);
	} else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_entry(req, &e);
}

/* The root lists the shown folders, each of them its image.jpg. */
static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 bool plus)
{
	unsigned long n = ino == 1 ? shown : ino < 3 + 2 * shown ? 1 : 0;
	char *buf = malloc(size), name[24];
	size_t used = 0;
	struct stat st;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (unsigned long i = (unsigned long)off; i < n; i++) {
		size_t len;

		if (ino == 1)
			snprintf(name, sizeof(name), "%08lu", i);
		else
			strcpy(name, "image.jpg");
		if (plus) {
			struct fuse_entry_param e;

			entry(&e, ino == 1 ? 3 + 2 * i : ino + 1);
			len = fuse_add_direntry_plus(req, buf + used,
						     size - used, name, &e,
						     (off_t)i + 1);
		} else {
			attr(&st, ino == 1 ? 3 + 2 * i : ino + 1);
			len = fuse_add_direntry(req, buf + used, size - used,
						name, &st, (off_t)i + 1);
		}
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void d_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, false);
}

static void d_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, true);
}

static void d_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	transport_want(conn);
}

/* Opens of shown files and folders: none after the first (ENOSYS); a
 * file made is written through its create's handle. */
static void d_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void d_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	size_t len = (size_t)off < content_len ? content_len - (size_t)off : 0;

	(void)ino;
	(void)fi;
	fuse_reply_buf(req, content + off, len < size ? len : size);
}

static void d_getattr(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	attr(&st, ino);
	fuse_reply_attr(req, &st, ttl(ino));
}

static void d_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *to,
		      int set, struct fuse_file_info *fi)
{
	(void)to;
	(void)set;
	d_getattr(req, ino, fi);
}

static void d_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	made(req, NULL);
}

static void d_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	made(req, fi);
}

static void d_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		    size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, size);
}

static void d_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* Shown files are only read: no flush at close, as in a read-only
 * lancefs mount (ENOSYS: the kernel sends none after the first). */
static void d_flush(fuse_req_t req, fuse_ino_t ino,
		    struct fuse_file_info *fi)
{
	if (shown) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	d_ok(req, ino, fi);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = d_lookup,
	.init = d_init,
	.readdir = d_readdir,
	.readdirplus = d_readdirplus,
	.open = d_open,
	.opendir = d_open,
	.read = d_read,
	.getattr = d_getattr,
	.setattr = d_setattr,
	.mkdir = d_mkdir,
	.create = d_create,
	.write = d_write,
	.flush = d_flush,
	.release = d_release,
};

int main(int argc, char **argv)
{
	char opt_o[] = "-o", opt[] = "default_permissions";
	char *args_v[] = { argv[0], opt_o, opt, NULL };
	/* default_permissions only where lancefs has it: reads */
	struct fuse_args args = FUSE_ARGS_INIT(argc >= 4 ? 3 : 1, args_v);
	struct fuse_session *se;
	long threads = 16;	/* lancefs's default */
	int rc;

	if (argc < 2 || argc == 3 || argc > 5)
		return 1;
	if (argc == 5)
		threads = atol(argv[4]);
	if (argc >= 4) {
		shown = strtoul(argv[2], NULL, 10);
		content_len = strtoul(argv[3], NULL, 10);
		content = malloc(content_len + 1);
		if (!content)
			return 1;
		for (size_t i = 0; i < content_len; i++)
			content[i] = (char)(i * 31 + 7);
		next_ino = shown + 2;	/* made ones after the shown */
	}
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_session_mount(se, argv[1]))
		return 1;
	/* writable only (no files shown), as lancefs; the scratch file is
	 * nameless, next to the mount point */
	if (!shown && !pt_attach(&pt, se, (unsigned)threads) && pt) {
		char *dir = strdup(argv[1]), *slash = dir ? strrchr(dir, '/') :
							    NULL;

		if (slash)
			*(slash == dir ? slash + 1 : slash) = 0;
		if (dir)
			sink = open(slash ? dir : ".", O_TMPFILE | O_RDWR, 0600);
		free(dir);
	}
	if (fuse_daemonize(0))
		return 1;
	rc = loop_run(se, (unsigned)(threads < 1 ? 1 : threads));
	pt_stop(pt);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	pt_free(pt);
	return rc ? 1 : 0;
}
