/*
 * discard.c - the fastest FUSE file system a copy into a mount can meet:
 * folders and files are made and written but nothing is kept (lookups
 * of names never made fail, data is thrown away). It runs the same
 * transport as lancefs (libfuse's low-level API, direct I/O for files
 * being written, default_permissions, as many threads as cores, at most
 * 16), so `cp -r` into it measures what FUSE alone costs on this machine:
 * the ceiling of any ingest through a mount. Used by cp.sh.
 *
 *   discard MOUNTPOINT        (unmount with fusermount3 -u)
 */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Folders have odd inode numbers (the root is 1), files even ones. */
static atomic_ulong next_ino = 1;

static void attr(struct stat *st, fuse_ino_t ino)
{
	bool dir = ino & 1;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = dir ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
}

/* A new folder or file (fi not NULL), made and forgotten. */
static void made(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = 2 * atomic_fetch_add(&next_ino, 1) + !fi;
	attr(&e.attr, e.ino);
	e.attr_timeout = e.entry_timeout = 1.0;
	if (!fi) {
		fuse_reply_entry(req, &e);
		return;
	}
	fi->direct_io = 1;
	fuse_reply_create(req, &e, fi);
}

static void d_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, ENOENT);
}

static void d_getattr(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	attr(&st, ino);
	fuse_reply_attr(req, &st, 1.0);
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

static const struct fuse_lowlevel_ops ops = {
	.lookup = d_lookup,
	.getattr = d_getattr,
	.setattr = d_setattr,
	.mkdir = d_mkdir,
	.create = d_create,
	.write = d_write,
	.flush = d_ok,
	.release = d_ok,
};

int main(int argc, char **argv)
{
	char opt_o[] = "-o", opt[] = "default_permissions";
	char *args_v[] = { argv[0], opt_o, opt, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, args_v);
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	if (argc != 2)
		return 1;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_session_mount(se, argv[1]) || fuse_daemonize(0))
		return 1;
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, (unsigned)(cores < 1 ? 1 :
						      cores > 16 ? 16 : cores));
	rc = cores > 1 ? fuse_session_loop_mt(se, cfg) :
			 fuse_session_loop(se);
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
