/*
 * local.c - the local-filesystem backend: pread on cached descriptors,
 * readdir listings, and put-if-absent by write-to-temp then link(2), which
 * never replaces an existing name (the same trick Lance's object_store
 * uses), so a manifest appears whole or not at all.
 *
 * Descriptors. An open object keeps its file's descriptor while there is
 * room: a dataset of 100,000 fragments (a streaming writer's), with a
 * snapshot or two open, would need more than a process may have. Past
 * half of RLIMIT_NOFILE (fd_cap) the least recently read object's
 * descriptor closes, and its next read opens the file again, which must
 * be the same file (device, inode, size and mtime) or the read fails.
 */
#include "ostore.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct local_store {
	struct ostore base;
	int dirfd;
};

struct local_obj {
	struct ostore_obj base;
	atomic_bool no_nowait;	/* the file system refused RWF_NOWAIT */
	/* under fd_mu */
	int fd;			/* -1: closed for room, opened at a read */
	unsigned reads;		/* in flight: the descriptor stays */
	struct stat sb;		/* at the first open: the same file after */
	struct local_obj *prev, *next;	/* idle, most recent first */
};

static struct local_store *to_local(struct ostore *st)
{
	return (struct local_store *)st;
}

static pthread_mutex_t fd_mu = PTHREAD_MUTEX_INITIALIZER;
static struct local_obj *idle_head, *idle_tail;
static size_t fds_open, fd_cap;

/* for tests: 0 goes back to half of RLIMIT_NOFILE */
void ostore_local_fd_cap(size_t cap)
{
	pthread_mutex_lock(&fd_mu);
	fd_cap = cap;
	pthread_mutex_unlock(&fd_mu);
}

static void idle_remove(struct local_obj *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else if (idle_head == o)
		idle_head = o->next;
	else
		return;		/* not idle */
	if (o->next)
		o->next->prev = o->prev;
	else
		idle_tail = o->prev;
	o->prev = o->next = NULL;
}

/* Under fd_mu: o idle now (its descriptor open, no read in flight);
 * descriptors past the cap close, the least recently read first. */
static void idle_add(struct local_obj *o)
{
	o->prev = NULL;
	o->next = idle_head;
	if (idle_head)
		idle_head->prev = o;
	else
		idle_tail = o;
	idle_head = o;
	if (!fd_cap) {
		struct rlimit rl;

		fd_cap = getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 128 ?
				 64 : (size_t)rl.rlim_cur / 2;
	}
	while (fds_open > fd_cap && idle_tail) {
		struct local_obj *v = idle_tail;

		idle_remove(v);
		close(v->fd);
		v->fd = -1;
		fds_open--;
	}
}

/* The descriptor of o for one read (fd_put after), opened again if it
 * was closed for room: -1 with err set when that fails. */
static int fd_get(struct local_obj *o, struct lc_err *err)
{
	struct ostore *st = o->base.st;
	struct stat sb;
	int fd;

	pthread_mutex_lock(&fd_mu);
	if (o->fd >= 0) {
		idle_remove(o);
		o->reads++;
		pthread_mutex_unlock(&fd_mu);
		return o->fd;
	}
	pthread_mutex_unlock(&fd_mu);
	fd = openat(to_local(st)->dirfd, o->base.key, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		LC_SYS(err, errno, "%s/%s: opened again: %s", st->root,
		       o->base.key, strerror(errno));
		return -1;
	}
	/* an inode number freed and taken again: the times tell */
	if (fstat(fd, &sb) < 0 || sb.st_dev != o->sb.st_dev ||
	    sb.st_ino != o->sb.st_ino || sb.st_size != o->sb.st_size ||
	    sb.st_mtim.tv_sec != o->sb.st_mtim.tv_sec ||
	    sb.st_mtim.tv_nsec != o->sb.st_mtim.tv_nsec) {
		close(fd);
		LC_CORRUPT(err, "%s/%s: replaced since it was opened",
			   st->root, o->base.key);
		return -1;
	}
	pthread_mutex_lock(&fd_mu);
	if (o->fd >= 0) {	/* another read opened it meanwhile */
		close(fd);
		idle_remove(o);
	} else {
		o->fd = fd;
		fds_open++;
	}
	o->reads++;
	fd = o->fd;
	pthread_mutex_unlock(&fd_mu);
	return fd;
}

static void fd_put(struct local_obj *o)
{
	pthread_mutex_lock(&fd_mu);
	if (!--o->reads)
		idle_add(o);
	pthread_mutex_unlock(&fd_mu);
}

static int local_open(struct ostore *st, const char *key,
		      struct ostore_obj **out, struct lc_err *err)
{
	struct local_obj *o;
	struct stat sb;
	int fd, rc;

	rc = ostore_check_key(key, err);
	if (rc)
		return rc;
	fd = openat(to_local(st)->dirfd, key, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return LC_NOTFOUND(err, "%s/%s: no such file",
					   st->root, key);
		return LC_SYS(err, errno, "%s/%s: %s", st->root, key,
			      strerror(errno));
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return LC_SYS(err, EISDIR, "%s/%s: not a regular file",
			      st->root, key);
	}
	o = lc_calloc(1, sizeof(*o));
	if (!o || !(o->base.key = lc_strdup(key))) {
		lc_free(o);
		close(fd);
		return LC_NOMEM(err);
	}
	o->base.st = st;
	o->base.size = (uint64_t)sb.st_size;
	o->fd = fd;
	o->sb = sb;
	pthread_mutex_lock(&fd_mu);
	fds_open++;
	idle_add(o);
	pthread_mutex_unlock(&fd_mu);
	*out = &o->base;
	return 0;
}

static int local_read(struct ostore_obj *obj, uint64_t off, size_t len,
		      void *buf, struct lc_err *err)
{
	struct local_obj *o = (struct local_obj *)obj;
	uint8_t *p = buf;
	int fd = fd_get(o, err), rc = 0;

	if (fd < 0)
		return err->code;
	while (len && !rc) {
		struct iovec v = { p, len };
		/* from the page cache if it holds the bytes; else a wait */
		bool wait = atomic_load(&o->no_nowait);
		ssize_t n = -1;

		if (!wait) {
			n = preadv2(fd, &v, 1, (off_t)off, RWF_NOWAIT);
			if (n < 0 && errno == EOPNOTSUPP)
				atomic_store(&o->no_nowait, true);
			wait = n < 0 && (errno == EAGAIN || errno == EOPNOTSUPP);
		}
		if (wait) {
			lc_wait_begin();
			n = pread(fd, p, len, (off_t)off);
			lc_wait_end();
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = LC_SYS(err, errno, "%s/%s: read at %" PRIu64
				    ": %s", obj->st->root, obj->key, off,
				    strerror(errno));
		} else if (n == 0) {
			rc = LC_CORRUPT(err, "%s/%s: file shrank below %"
					PRIu64 " bytes", obj->st->root,
					obj->key, off + len);
		} else {
			p += n;
			off += (uint64_t)n;
			len -= (size_t)n;
		}
	}
	fd_put(o);
	return rc;
}

static void local_close(struct ostore_obj *obj)
{
	struct local_obj *o = (struct local_obj *)obj;

	pthread_mutex_lock(&fd_mu);
	idle_remove(o);
	if (o->fd >= 0) {
		close(o->fd);
		fds_open--;
	}
	pthread_mutex_unlock(&fd_mu);
	lc_free(obj->key);
	lc_free(o);
}

/* Whether the store's folder was deleted since it was opened. Keeps
 * errno. */
static bool store_gone(struct ostore *st)
{
	struct stat sb;
	int e = errno;
	bool gone = !fstat(to_local(st)->dirfd, &sb) && sb.st_nlink == 0;

	errno = e;
	return gone;
}

static int local_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		      void *ctx, struct lc_err *err)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (*dir && (rc = ostore_check_key(dir, err)))
		return rc;
	fd = openat(to_local(st)->dirfd, *dir ? dir : ".",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* the store's folder itself deleted (and maybe made anew at its
	 * path, which this store does not follow): not "empty" (its own
	 * listing opens, and is) */
	if ((fd >= 0 ? !*dir : errno == ENOENT) && store_gone(st)) {
		if (fd >= 0)
			close(fd);
		return LC_SYS(err, ESTALE, "%s: deleted since it was opened "
			      "(a folder made anew there is another: open it "
			      "again)", st->root);
	}
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return LC_SYS(err, errno, "%s/%s: %s", st->root, dir,
			      strerror(errno));
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return LC_SYS(err, errno, "%s/%s: %s", st->root, dir,
			      strerror(errno));
	}
	/* a listing cut short is an error, never a shorter listing (an
	 * older "latest" version) */
	while (!rc && (errno = 0, de = readdir(d))) {
		struct ostore_entry e = { .name = de->d_name };
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &sb, 0) < 0) {
			if (errno != ENOENT)	/* else gone while listing */
				rc = LC_SYS(err, errno, "%s/%s/%s: %s",
					    st->root, dir, de->d_name,
					    strerror(errno));
			continue;
		}
		e.is_dir = S_ISDIR(sb.st_mode);
		e.size = e.is_dir ? 0 : (uint64_t)sb.st_size;
		e.mtime = sb.st_mtim.tv_sec;
		rc = cb(ctx, &e);
	}
	if (!rc && errno)
		rc = LC_SYS(err, errno, "%s/%s: %s", st->root, dir,
			    strerror(errno));
	closedir(d);
	return rc;
}

/* fsync of the directory holding `key` (the root's for a top-level
 * key): its entries (a link, a rename, a mkdir) survive a power loss
 * once this returns; 0 or an errno. */
static int sync_parent(int dirfd, const char *key)
{
	const char *slash = strrchr(key, '/');
	char path[4096];
	int fd = dirfd, rc = 0;

	if (slash) {
		snprintf(path, sizeof(path), "%.*s", (int)(slash - key), key);
		fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return errno;
	}
	lc_wait_begin();
	/* some file systems (vboxsf, old 9p) cannot sync a directory */
	if (fsync(fd) < 0 && errno != EINVAL && errno != ENOTSUP)
		rc = errno;
	lc_wait_end();
	if (fd != dirfd)
		close(fd);
	return rc;
}

/* mkdir -p of the directories leading to `key`, each made durable in its
 * parent. */
static int make_parents(int dirfd, const char *key, struct lc_err *err)
{
	char path[4096];
	size_t n = strlen(key);
	int rc;

	if (n >= sizeof(path))
		return LC_USAGE(err, "%s: key too long", key);
	memcpy(path, key, n + 1);
	for (char *p = path; (p = strchr(p, '/')); p++) {
		*p = 0;
		rc = mkdirat(dirfd, path, 0777) < 0 ?
			     (errno == EEXIST ? 0 : errno) :
			     sync_parent(dirfd, path);
		if (rc)
			return LC_SYS(err, rc, "mkdir %s: %s", path,
				      strerror(rc));
		*p = '/';
	}
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A big object (a data file) from page-aligned memory is written around
 * the page cache: its bytes reach the disk once, with no copy into the
 * cache (which costs more than the disk write here, in fresh pages) and
 * no cached pages to evict later. The unaligned tail, and every write on
 * file systems without O_DIRECT, go the ordinary way.
 */
#define DIRECT_MIN ((size_t)1 << 20)
#define DIRECT_ALIGN ((size_t)4096)

static int write_data(int fd, const void *data, size_t len)
{
	size_t bulk = len & ~(DIRECT_ALIGN - 1);
	int fl = -1, rc;

	if (len >= DIRECT_MIN && !((uintptr_t)data % DIRECT_ALIGN))
		fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0)
		return write_all(fd, data, len);
	rc = write_all(fd, data, bulk);
	if (fcntl(fd, F_SETFL, fl) < 0 && !rc)
		rc = errno;
	if (rc == EINVAL && lseek(fd, 0, SEEK_SET) == 0)
		return write_all(fd, data, len);	/* refused after all */
	if (rc)
		return rc;
	return write_all(fd, (const uint8_t *)data + bulk, len - bulk);
}

static int local_put(struct ostore *st, const char *key, const void *data,
		     size_t len, int if_absent, struct lc_err *err)
{
	int dirfd = to_local(st)->dirfd, fd, rc;
	char tmp[4200];

	rc = ostore_check_key(key, err);
	if (!rc)
		rc = make_parents(dirfd, key, err);
	if (rc)
		return rc;
	/* The temp name never parses as a Lance version or data file; a
	 * random one, as writers on other hosts share the folder */
	for (int tries = 0;; tries++) {
		uint64_t r = 0;

		rc = lc_random(&r, sizeof(r), err);
		if (rc)
			return rc;
		snprintf(tmp, sizeof(tmp), "%s#%016" PRIx64 ".tmp", key, r);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
					O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST || tries == 3)
			break;
	}
	if (fd < 0)
		return LC_SYS(err, errno, "%s/%s: %s", st->root, tmp,
			      strerror(errno));
	rc = write_data(fd, data, len);
	lc_wait_begin();
	if (!rc && fsync(fd) < 0)
		rc = errno;
	lc_wait_end();
	close(fd);
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return LC_SYS(err, rc, "%s/%s: %s", st->root, key,
			      strerror(rc));
	}
	if (if_absent) {
		if (linkat(dirfd, tmp, dirfd, key, 0) < 0)
			rc = errno;
		unlinkat(dirfd, tmp, 0);
		if (rc == EEXIST)
			return lc_err_set(err, EEXIST, LC_EK_NONE, __FILE__,
					  __LINE__, "%s/%s: already exists",
					  st->root, key);
	} else if (renameat(dirfd, tmp, dirfd, key) < 0) {
		rc = errno;
		unlinkat(dirfd, tmp, 0);
	}
	if (rc)
		return LC_SYS(err, rc, "%s/%s: %s", st->root, key,
			      strerror(rc));
	/* the new name itself durable: a commit's manifest, and the data
	 * files it names before it. It is in place already, seen by every
	 * reader: for a create (a commit's manifest) a failure here is no
	 * answer whether the put took (the commit then finds its version
	 * by its uuid instead of making the same rows land again) */
	rc = sync_parent(dirfd, key);
	if (rc && !if_absent)
		return LC_SYS(err, rc, "%s/%s: %s", st->root, key,
			      strerror(rc));
	if (rc)
		return lc_err_set(err, ETIMEDOUT, LC_EK_REMOTE, __FILE__,
				  __LINE__, "%s/%s: in place, but its folder "
				  "was not synced: %s", st->root, key,
				  strerror(rc));
	return 0;
}

static int local_del(struct ostore *st, const char *key, struct lc_err *err)
{
	int rc = ostore_check_key(key, err);

	if (rc)
		return rc;
	if (unlinkat(to_local(st)->dirfd, key, 0) < 0 && errno != ENOENT)
		return LC_SYS(err, errno, "%s/%s: %s", st->root, key,
			      strerror(errno));
	return 0;
}

static void local_free(struct ostore *st)
{
	close(to_local(st)->dirfd);
	lc_free(st->root);
	lc_free(st);
}

static int local_sub(struct ostore *st, const char *dir, struct ostore **out,
		     struct lc_err *err);

static const struct ostore_ops local_ops = {
	.kind = OSTORE_KIND_LOCAL,
	.open = local_open,
	.read = local_read,
	.close = local_close,
	.list = local_list,
	.put = local_put,
	.del = local_del,
	.sub = local_sub,
	.free = local_free,
};

int ostore_local_new(struct ostore **out, const char *dir, struct lc_err *err)
{
	struct local_store *st;
	size_t n = strlen(dir);
	int fd;

	*out = NULL;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	st = lc_calloc(1, sizeof(*st));
	if (!st || !(st->base.root = lc_strndup(dir, n))) {
		lc_free(st);
		return LC_NOMEM(err);
	}
	fd = open(st->base.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		lc_free(st->base.root);
		lc_free(st);
		if (e == ENOENT || e == ENOTDIR)
			return LC_NOTFOUND(err, "%.*s: no such directory",
					   (int)n, dir);
		return LC_SYS(err, e, "%.*s: %s", (int)n, dir, strerror(e));
	}
	st->base.ops = &local_ops;
	st->dirfd = fd;
	*out = &st->base;
	return 0;
}

static int local_sub(struct ostore *st, const char *dir, struct ostore **out,
		     struct lc_err *err)
{
	char path[4096];
	int rc;

	rc = ostore_check_key(dir, err);
	if (rc)
		return rc;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", st->root, dir) >=
	    sizeof(path))
		return LC_USAGE(err, "%s/%s: path too long", st->root, dir);
	return ostore_local_new(out, path, err);
}
