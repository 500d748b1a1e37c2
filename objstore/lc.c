/* lc.c - errors, allocation and buffers shared by every layer. */
#include "lc.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <isa-l/crc.h>

int lc_err_set(struct lc_err *err, int code, enum lc_err_kind kind,
	       const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code)
		return code;
	err->code = code;
	err->kind = kind;
	err->file = file;
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	for (char *p = err->msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return code;
}

void lc_err_prefix(struct lc_err *err, const char *fmt, ...)
{
	char pre[sizeof(err->msg)], old[sizeof(err->msg)];
	va_list ap;

	if (!err || !err->code)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	size_t np = strlen(pre);

	memcpy(old, err->msg, sizeof(old));
	if (np >= sizeof(err->msg))
		np = sizeof(err->msg) - 1;
	memcpy(err->msg, pre, np);
	memcpy(err->msg + np, old, sizeof(err->msg) - np - 1);
	err->msg[sizeof(err->msg) - 1] = 0;
}

int lc_hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void lc_pct_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		int hi, lo;

		/* %00 stays: a NUL would cut the path short */
		if (s[0] == '%' && (hi = lc_hexval(s[1])) >= 0 &&
		    (lo = lc_hexval(s[2])) >= 0 && (hi || lo)) {
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

void lc_err_clear(struct lc_err *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static unsigned long alloc_fail_at;	/* test knob; 0 = never fail */
static unsigned long alloc_count;

void lc_alloc_fail_after(unsigned long n)
{
	alloc_fail_at = n;
	alloc_count = 0;
}

static int alloc_should_fail(void)
{
	return alloc_fail_at && ++alloc_count >= alloc_fail_at;
}

void *lc_malloc(size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *lc_calloc(size_t n, size_t size)
{
	if (alloc_should_fail())
		return NULL;
	if (!n || !size)
		return calloc(1, 1);
	return calloc(n, size);
}

void *lc_realloc(void *p, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void lc_free(void *p)
{
	free(p);
}

char *lc_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = lc_malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = 0;
	}
	return d;
}

char *lc_strdup(const char *s)
{
	return lc_strndup(s, SIZE_MAX);
}

void lc_buf_init(struct lc_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit ? limit : SIZE_MAX;
}

void lc_buf_init_pages(struct lc_buf *b, size_t limit)
{
	lc_buf_init(b, limit);
	b->pages = true;
}

/*
 * Page buffers given back are kept for the next one, up to POOL_BYTES:
 * their memory stays faulted in. On a VM whose host backs guest memory
 * lazily (this project's test machines), a fresh page costs several
 * times its zeroing; a commit building 16 MiB data files one after
 * another then touches the same 32 MiB again and again instead.
 */
#define POOL_N 4
#define POOL_BYTES ((size_t)128 << 20)

static struct {
	void *p;
	size_t cap;
} pool[POOL_N];
static size_t pool_bytes;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

/* The biggest kept mapping, or NULL (page buffers are for big things). */
static void *pool_take(size_t *cap)
{
	size_t best = POOL_N;
	void *p = NULL;

	pthread_mutex_lock(&pool_mu);
	for (size_t i = 0; i < POOL_N; i++)
		if (pool[i].p &&
		    (best == POOL_N || pool[i].cap > pool[best].cap))
			best = i;
	if (best < POOL_N) {
		p = pool[best].p;
		*cap = pool[best].cap;
		pool_bytes -= *cap;
		pool[best].p = NULL;
	}
	pthread_mutex_unlock(&pool_mu);
	return p;
}

static void pool_give(void *p, size_t cap)
{
	pthread_mutex_lock(&pool_mu);
	for (size_t i = 0; i < POOL_N && p; i++) {
		if (pool[i].p || pool_bytes + cap > POOL_BYTES)
			continue;
		pool[i].p = p;
		pool[i].cap = cap;
		pool_bytes += cap;
		p = NULL;
	}
	pthread_mutex_unlock(&pool_mu);
	if (p)
		munmap(p, cap);
}

void lc_buf_reset(struct lc_buf *b)
{
	size_t limit = b->limit;
	bool pages = b->pages;

	if (pages && b->data)
		pool_give(b->data, b->cap);
	else if (!pages)
		lc_free(b->data);
	lc_buf_init(b, limit);
	b->pages = pages;
}

void lc_buf_clear(struct lc_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

static void *pages_grow(void *p, size_t old, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	p = p ? mremap(p, old, n, MREMAP_MAYMOVE) :
		mmap(NULL, n, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int lc_buf_reserve(struct lc_buf *b, size_t extra, struct lc_err *err)
{
	size_t want, cap;
	uint8_t *p;

	if (extra > b->limit - b->len || b->len + extra == SIZE_MAX)
		return LC_LIMIT(err, "buffer would exceed %zu bytes", b->limit);
	want = b->len + extra + 1;	/* room for a terminating NUL */
	if (want <= b->cap)
		return 0;
	if (b->pages && !b->data && (b->data = pool_take(&b->cap))) {
		b->data[0] = 0;
		if (want <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : b->pages ? 65536 : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = b->pages ? pages_grow(b->data, b->cap, cap) :
		       lc_realloc(b->data, cap);
	if (!p)
		return LC_NOMEM(err);
	b->data = p;
	b->cap = cap;
	return 0;
}

int lc_buf_read_fd(struct lc_buf *b, int fd, struct lc_err *err)
{
	struct stat sb;
	size_t got = 0;
	int rc;

	if (fstat(fd, &sb) < 0)
		return LC_SYS(err, errno, "fstat: %s", strerror(errno));
	if ((rc = lc_buf_reserve(b, (size_t)sb.st_size, err)))
		return rc;
	while (got < (size_t)sb.st_size) {
		ssize_t n = pread(fd, b->data + b->len + got,
				  (size_t)sb.st_size - got, (off_t)got);

		if (n <= 0)
			return LC_SYS(err, n < 0 ? errno : EIO, "read: %s",
				      strerror(n < 0 ? errno : EIO));
		got += (size_t)n;
	}
	b->len += got;
	b->data[b->len] = 0;
	return 0;
}

int lc_buf_append(struct lc_buf *b, const void *p, size_t n,
		  struct lc_err *err)
{
	int rc = lc_buf_reserve(b, n, err);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int lc_buf_printf(struct lc_buf *b, struct lc_err *err, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return LC_SYS(err, EINVAL, "bad format");
	rc = lc_buf_reserve(b, (size_t)n, err);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int lc_buf_take(struct lc_buf *b, uint8_t **out, size_t *len,
		struct lc_err *err)
{
	int rc = b->pages ? LC_USAGE(err, "lc_buf_take of a page buffer") :
			    lc_buf_reserve(b, 0, err);

	if (rc)
		return rc;
	b->data[b->len] = 0;
	*out = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return 0;
}

int lc_random(void *buf, size_t n, struct lc_err *err)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return LC_SYS(err, errno, "getrandom: %s",
				      strerror(errno));
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int lc_uuid(char out[37], struct lc_err *err)
{
	uint8_t b[16];
	int rc = lc_random(b, sizeof(b), err);

	if (rc)
		return rc;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);	/* variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
		 b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
	return 0;
}

static void (*_Atomic wait_begin_hook)(void);
static void (*_Atomic wait_end_hook)(void);
static _Thread_local unsigned waiting;

void lc_wait_hooks(void (*begin)(void), void (*end)(void))
{
	atomic_store(&wait_begin_hook, begin);
	atomic_store(&wait_end_hook, end);
}

void lc_wait_begin(void)
{
	void (*f)(void);

	if (waiting++ == 0 && (f = atomic_load(&wait_begin_hook)))
		f();
}

void lc_wait_end(void)
{
	void (*f)(void);

	if (--waiting == 0 && (f = atomic_load(&wait_end_hook)))
		f();
}

uint32_t lc_crc32(const void *p, size_t n)
{
	return crc32_gzip_refl(0, p, n);
}

/* The fields of /proc/PID/stat after the command, which may hold
 * anything ("S ppid pgrp ..."), into buf; NULL with errno if none. */
static const char *proc_stat(pid_t pid, char *buf, size_t cap)
{
	char path[64], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!(f = fopen(path, "re")))
		return NULL;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	if (!(p = strrchr(buf, ')')) || p[1] != ' ') {
		errno = EINVAL;
		return NULL;
	}
	return p + 2;
}

bool lc_pid_running(pid_t pid)
{
	char buf[1024];
	const char *st;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	if (!(st = proc_stat(pid, buf, sizeof(buf))))
		return errno != ENOENT;
	if (*st != 'Z' && *st != 'X')
		return true;
	/* a zombie leader whose other threads still exit: they hold the
	 * process's descriptors (and its locks) until the last is gone */
	return lc_proc_stat_num(pid, 18) > 1;
}

long lc_proc_stat_num(pid_t pid, int field)
{
	char buf[1024];
	const char *st = proc_stat(pid, buf, sizeof(buf));

	for (int k = 1; st && k < field; k++)
		if ((st = strchr(st, ' ')))
			st++;
	return st ? strtol(st, NULL, 10) : -1;
}

double lc_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (now.tv_nsec - t->tv_nsec) / 1e9;
}

int lc_thread_start(pthread_t *t, const char *name, void *(*fn)(void *),
		    void *arg)
{
	int rc = pthread_create(t, NULL, fn, arg);

	if (!rc)
		(void)pthread_setname_np(*t, name);
	return rc;
}

void lc_add_secs(struct timespec *t, double s)
{
	t->tv_sec += (time_t)s;
	t->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

uint64_t lc_hash_str_from(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

uint64_t lc_hash_str(const char *s)
{
	return lc_hash_str_from(0xcbf29ce484222325ull, s);
}
