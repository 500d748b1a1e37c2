/* test_ostore.c - the local and in-memory backends. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "ostore.h"

struct names {
	char buf[512];
};

static int collect(void *ctx, const struct ostore_entry *e)
{
	struct names *n = ctx;

	strcat(n->buf, e->name);
	strcat(n->buf, e->is_dir ? "/ " : " ");
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1000;	/* fails the checks */
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void exercise(struct ostore *st)
{
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	struct names n = { "" };
	uint8_t *data, buf[4];
	size_t len;

	CHECK_OK(ostore_put(st, "_versions/1.manifest", "abcdef", 6, 1, &err),
		 &err);
	/* put-if-absent never replaces */
	CHECK_EQ_U64(ostore_put(st, "_versions/1.manifest", "zz", 2, 1, &err),
		     EEXIST);
	lc_err_clear(&err);
	CHECK_OK(ostore_put(st, "data/a.lance", "0123456789", 10, 0, &err),
		 &err);
	CHECK_OK(ostore_get(&data, &len, st, "_versions/1.manifest", 100,
			    &err), &err);
	CHECK_EQ_U64(len, 6);
	CHECK(!memcmp(data, "abcdef", 6));
	free(data);
	CHECK_OK(ostore_open(&o, st, "data/a.lance", &err), &err);
	CHECK_EQ_U64(ostore_size(o), 10);
	CHECK_OK(ostore_read(o, 6, 4, buf, &err), &err);
	CHECK(!memcmp(buf, "6789", 4));
	/* past the end is an error naming the object, not a short read */
	CHECK_EQ_U64(ostore_read(o, 8, 4, buf, &err), EIO);
	CHECK(strstr(err.msg, "a.lance") != NULL);
	lc_err_clear(&err);
	ostore_close(o);
	CHECK_EQ_U64(ostore_open(&o, st, "data/missing.lance", &err), ENOENT);
	CHECK_EQ_U64(err.kind, LC_EK_NOTFOUND);
	lc_err_clear(&err);
	CHECK_OK(ostore_list(st, "_versions", collect, &n, &err), &err);
	CHECK_STR(n.buf, "1.manifest ");
	CHECK_EQ_U64(ostore_get(&data, &len, st, "data/a.lance", 5, &err),
		     EFBIG);
	lc_err_clear(&err);
	CHECK_OK(ostore_delete(st, "data/a.lance", &err), &err);
	CHECK_EQ_U64(ostore_open(&o, st, "data/a.lance", &err), ENOENT);
}

TEST(local_backend)
{
	char dir[] = "/tmp/lancefs-ostore-XXXXXX";
	struct lc_err err = { 0 };
	struct ostore *st;
	struct ostore_obj *o;

	CHECK(mkdtemp(dir));
	CHECK_OK(ostore_open_uri(&st, dir, NULL, &err), &err);
	exercise(st);
	/* keys from manifests may not climb out of the dataset */
	CHECK_EQ_U64(ostore_open(&o, st, "../etc/passwd", &err), EIO);
	CHECK_EQ_U64(err.kind, LC_EK_CORRUPT);
	lc_err_clear(&err);
	/* an entry that cannot be looked at fails the listing, naming it,
	 * rather than leave it out (a version missing from _versions/) */
	{
		char loop[300];
		struct names n = { "" };

		snprintf(loop, sizeof(loop), "%s/_versions/2.manifest", dir);
		CHECK(symlink("2.manifest", loop) == 0);
		CHECK_EQ_U64(ostore_list(st, "_versions", collect, &n, &err),
			     ELOOP);
		CHECK(strstr(err.msg, "2.manifest") != NULL);
	}
	ostore_free(st);
	harness_rm_rf(dir);
}

/* How many of the pages of file `path` are in the page cache; -1 where
 * the file system has no O_DIRECT (then everything goes through it). */
static long cached_pages(const char *dir, const char *path)
{
	char probe[300];
	unsigned char vec[4096];
	struct stat sb;
	long n = 0;
	void *m;
	int fd;

	snprintf(probe, sizeof(probe), "%s/probe", dir);
	fd = open(probe, O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(probe);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -2;
	m = fstat(fd, &sb) < 0 || sb.st_size > 4096L * 4096 ? MAP_FAILED :
		mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED ||
	    mincore(m, (size_t)sb.st_size, vec) < 0)
		return -2;
	for (off_t i = 0; i < (sb.st_size + 4095) / 4096; i++)
		n += vec[i] & 1;
	munmap(m, (size_t)sb.st_size);
	return n;
}

/* Data files: big puts from page buffers and from ordinary memory read
 * back byte for byte, tails included; a big one from a page buffer goes
 * around the page cache (it would only push out what readers use). */
TEST(local_big_puts)
{
	char dir[] = "/tmp/lancefs-ostore-XXXXXX";
	struct lc_err err = { 0 };
	struct lc_buf b;
	struct ostore *st;
	struct names n = { "" };
	uint8_t *data;
	size_t len, sizes[] = { (3u << 20) + 1234, 5u << 20, 4097 };
	char key[64];

	CHECK(mkdtemp(dir));
	CHECK_OK(ostore_open_uri(&st, dir, NULL, &err), &err);
	lc_buf_init_pages(&b, 0);
	for (size_t k = 0; k < 3; k++) {
		lc_buf_clear(&b);
		for (size_t i = 0; i < sizes[k]; i++) {
			uint8_t v = (uint8_t)(i * 7 + k);

			CHECK_OK(lc_buf_append(&b, &v, 1, &err), &err);
		}
		CHECK(((uintptr_t)b.data & 4095) == 0);
		snprintf(key, sizeof(key), "data/p%zu.lance", k);
		CHECK_OK(ostore_put(st, key, b.data, b.len, 1, &err), &err);
		if (sizes[k] >= 1u << 20) {
			char path[128];
			long c;

			snprintf(path, sizeof(path), "%s/%s", dir, key);
			c = cached_pages(dir, path);
			CHECK(c != -2);
			CHECK(c <= 1);	/* at most the tail's page (or
					 * -1: no O_DIRECT there) */
		}
		CHECK_OK(ostore_get(&data, &len, st, key, 1u << 30, &err),
			 &err);
		CHECK_EQ_U64(len, sizes[k]);
		CHECK(!memcmp(data, b.data, len));
		free(data);
		/* the same bytes from memory that is not page-aligned */
		snprintf(key, sizeof(key), "data/u%zu.lance", k);
		CHECK_OK(ostore_put(st, key, b.data + 1, b.len - 1, 0, &err),
			 &err);
		CHECK_OK(ostore_get(&data, &len, st, key, 1u << 30, &err),
			 &err);
		CHECK_EQ_U64(len, sizes[k] - 1);
		CHECK(!memcmp(data, b.data + 1, len));
		free(data);
	}
	/* no temporary file left behind */
	CHECK_OK(ostore_list(st, "data", collect, &n, &err), &err);
	CHECK(strlen(n.buf) == 6 * strlen("p0.lance "));
	CHECK(!strstr(n.buf, "tmp"));
	lc_buf_reset(&b);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* Page buffers keep their bytes as they grow, and a buffer given back is
 * what the next one starts from. */
TEST(page_buffers)
{
	struct lc_err err = { 0 };
	struct lc_buf a, b;
	uint8_t *first;

	lc_buf_init_pages(&a, 0);
	for (unsigned i = 0; i < 300000; i++)
		CHECK_OK(lc_buf_append(&a, &i, sizeof(i), &err), &err);
	for (unsigned i = 0; i < 300000; i++)
		CHECK(!memcmp(a.data + i * sizeof(i), &i, sizeof(i)));
	CHECK(a.cap >= a.len + 1 && (a.cap & 4095) == 0);
	first = a.data;
	lc_buf_clear(&a);
	CHECK_EQ_U64(a.len, 0);
	CHECK(a.data == first);
	lc_buf_reset(&a);
	CHECK(a.data == NULL && a.pages);
	lc_buf_init_pages(&b, 0);
	CHECK_OK(lc_buf_append(&b, "x", 1, &err), &err);
	CHECK(b.data == first);
	CHECK_STR((char *)b.data, "x");
	/* not for lc_buf_take: its memory is not lc_malloc's */
	{
		uint8_t *out;
		size_t n;

		CHECK(lc_buf_take(&b, &out, &n, &err) != 0);
		lc_err_clear(&err);
	}
	/* a limit still holds */
	lc_buf_reset(&b);
	lc_buf_init_pages(&b, 10);
	CHECK_EQ_U64(lc_buf_append(&b, "01234567890", 11, &err), EFBIG);
	lc_err_clear(&err);
	lc_buf_reset(&b);
}

/* A prefix as long as a name can be (a database's dataset left out,
 * named in full) is kept whole, the message after it cut instead. */
TEST(error_prefix_kept_whole)
{
	struct lc_err err = { 0 };
	char name[250];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	LC_CORRUPT(&err, "manifest: 3 bytes is too short");
	lc_err_prefix(&err, "%s.lance: left out: ", name);
	CHECK(!strncmp(err.msg, name, strlen(name)));
	CHECK(strstr(err.msg, ".lance: left out: manifest: 3 bytes"));
}

TEST(uri_forms)
{
	struct lc_err err = { 0 };
	struct ostore *st;

	CHECK_OK(ostore_open_uri(&st, "file:///tmp", NULL, &err), &err);
	ostore_free(st);
	CHECK_EQ_U64(ostore_open_uri(&st, "file://tmp", NULL, &err), EINVAL);
	lc_err_clear(&err);
	CHECK(ostore_open_uri(&st, "gs://bucket/x", NULL, &err) != 0);
	CHECK(strstr(err.msg, "gs://bucket/x") != NULL);
	lc_err_clear(&err);
	CHECK_EQ_U64(ostore_open_uri(&st, "/nonexistent/dir", NULL, &err), ENOENT);
	lc_err_clear(&err);
	/* a file:// URI's path %-decoded, as Lance reads it; a plain path
	 * is taken as it is */
	{
		char dir[] = "/tmp/lancefs-uri-XXXXXX", sub[64], uri[128];

		CHECK(mkdtemp(dir));
		snprintf(sub, sizeof(sub), "%s/a b", dir);
		CHECK(mkdir(sub, 0700) == 0);
		snprintf(uri, sizeof(uri), "file://%s/a%%20b", dir);
		CHECK_OK(ostore_open_uri(&st, uri, NULL, &err), &err);
		ostore_free(st);
		snprintf(uri, sizeof(uri), "%s/a%%20b", dir);
		CHECK_EQ_U64(ostore_open_uri(&st, uri, NULL, &err), ENOENT);
		lc_err_clear(&err);
		rmdir(sub);
		rmdir(dir);
	}
	/* %00 (a NUL would cut the path) and a '%' without two hex digits
	 * stay as written; either case of hex digits decodes */
	{
		char out[64];

		CHECK(ostore_local_path(out, sizeof(out),
					"file:///d/x%00y%4a%6b%zz%4"));
		CHECK_STR(out, "/d/x%00yJk%zz%4");
		CHECK(!ostore_local_path(out, sizeof(out), "s3://b/k"));
	}
}

/* Past the cap, the least recently read object gives its descriptor
 * back and opens its file again at its next read; a file replaced
 * meanwhile is an error, not other bytes. */
TEST(local_descriptors_capped)
{
	char dir[] = "/tmp/lancefs-ostore-XXXXXX";
	struct lc_err err = { 0 };
	struct ostore *st;
	struct ostore_obj *o[8];
	char key[32], path[64], buf[2];
	int before, after;

	CHECK(mkdtemp(dir));
	CHECK_OK(ostore_open_uri(&st, dir, NULL, &err), &err);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "data/%d.lance", i);
		snprintf(buf, sizeof(buf), "%d", i);
		CHECK_OK(ostore_put(st, key, buf, 1, 0, &err), &err);
	}
	before = count_fds();
	ostore_local_fd_cap(3);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "data/%d.lance", i);
		CHECK_OK(ostore_open(&o[i], st, key, &err), &err);
	}
	after = count_fds();
	CHECK(after - before <= 3);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 8; i++) {
			CHECK_OK(ostore_read(o[i], 0, 1, buf, &err), &err);
			CHECK(buf[0] == '0' + i);
		}
	CHECK(count_fds() - before <= 3);
	/* o[0]'s descriptor went for room; its file is replaced */
	snprintf(path, sizeof(path), "%s/data/0.lance", dir);
	CHECK(unlink(path) == 0);
	CHECK_OK(ostore_put(st, "data/0.lance", "x", 1, 0, &err), &err);
	CHECK_EQ_U64(ostore_read(o[0], 0, 1, buf, &err), EIO);
	CHECK(strstr(err.msg, "replaced") != NULL);
	lc_err_clear(&err);
	for (int i = 0; i < 8; i++)
		ostore_close(o[i]);
	CHECK_EQ_U64(count_fds(), before);
	ostore_local_fd_cap(0);
	ostore_free(st);
}

TEST(mem_backend)
{
	struct lc_err err = { 0 };
	struct ostore *st;

	CHECK_OK(ostore_mem_new(&st, &err), &err);
	exercise(st);
	ostore_free(st);
}

/* A process runs until it exits, reaped or not: lancefs umount waits
 * for the daemon so, and its parent (init) may reap it late. */
TEST(pid_running)
{
	siginfo_t si;
	pid_t child = fork();

	CHECK(child >= 0);
	if (!child) {
		pause();
		_exit(0);
	}
	CHECK(lc_pid_running(child));
	CHECK(lc_pid_running(getpid()));
	CHECK(kill(child, SIGTERM) == 0);
	/* exited, not reaped: a zombie, still there for kill(2) */
	CHECK(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT) == 0);
	CHECK(kill(child, 0) == 0);
	CHECK(!lc_pid_running(child));
	CHECK(waitpid(child, NULL, 0) == child);
	CHECK(!lc_pid_running(child));
}

/* A local store whose folder was deleted (a dataset deleted, maybe made
 * anew at its path) says so when listed: an empty listing read as "no
 * dataset here" while one was there. A missing folder in it lists
 * empty. */
TEST(local_store_folder_deleted)
{
	char dir[] = "/tmp/lancefs-ostore-XXXXXX";
	struct lc_err err = { 0 };
	struct names n = { "" };
	struct ostore *st;

	CHECK(mkdtemp(dir));
	CHECK_OK(ostore_open_uri(&st, dir, NULL, &err), &err);
	CHECK_OK(ostore_list(st, "_versions", collect, &n, &err), &err);
	CHECK(rmdir(dir) == 0);
	CHECK(mkdir(dir, 0700) == 0);	/* made anew: another folder */
	CHECK_EQ_U64(ostore_list(st, "_versions", collect, &n, &err),
		     ESTALE);
	CHECK(strstr(err.msg, "deleted") != NULL);
	/* its own listing too (not an empty folder) */
	lc_err_clear(&err);
	CHECK_EQ_U64(ostore_list(st, "", collect, &n, &err), ESTALE);
	CHECK(strstr(err.msg, "deleted") != NULL);
	ostore_free(st);
	CHECK(rmdir(dir) == 0);
}

/* Whether /proc says `pid`'s first thread is a zombie. */
static bool zombie(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	bool z = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r"))) {
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
			z = p[1] == ' ' && p[2] == 'Z';
		fclose(f);
	}
	return z;
}

static void *sleep_on(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* A process whose first thread ended while another runs (its leader a
 * zombie) still runs: that thread holds its descriptors, and the
 * staging lock with them, which the next mount must find free. */
TEST(pid_running_with_threads_left)
{
	pid_t child = fork();

	CHECK(child >= 0);
	if (child < 0)
		return;
	if (!child) {
		pthread_t t;

		if (pthread_create(&t, NULL, sleep_on, NULL))
			_exit(1);
		pthread_exit(NULL);
	}
	bool two, running;

	/* until its first thread is gone: a zombie with one thread left */
	for (int i = 0; i < 500 && !(lc_proc_stat_num(child, 18) == 2 &&
				     zombie(child));
	     i++)
		usleep(10000);
	two = lc_proc_stat_num(child, 18) == 2 && zombie(child);
	running = lc_pid_running(child);
	CHECK(kill(child, SIGKILL) == 0);	/* first: nothing left over */
	CHECK(waitpid(child, NULL, 0) == child);
	CHECK(two);
	CHECK(running);
	CHECK(!lc_pid_running(child));
}

TEST_MAIN(TEST_ENTRY(local_backend), TEST_ENTRY(local_big_puts),
	  TEST_ENTRY(local_descriptors_capped),
	  TEST_ENTRY(page_buffers), TEST_ENTRY(uri_forms),
	  TEST_ENTRY(error_prefix_kept_whole),
	  TEST_ENTRY(mem_backend), TEST_ENTRY(pid_running),
	  TEST_ENTRY(pid_running_with_threads_left),
	  TEST_ENTRY(local_store_folder_deleted))
