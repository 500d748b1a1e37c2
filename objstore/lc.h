/*
 * lc.h - the small neutral layer every lancefs library shares: the error
 * struct, little-endian loaders, checked arithmetic and a growable buffer.
 *
 * Errors: functions return 0 or a positive errno and, when they fail, fill
 * an optional `struct lc_err` (first message wins, like curl's failf).
 */
#ifndef LC_H
#define LC_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define LC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define LC_MUST_USE __attribute__((warn_unused_result))

enum lc_err_kind {
	LC_EK_NONE = 0,
	LC_EK_NOTFOUND,		/* expected: a name or key does not exist */
	LC_EK_CORRUPT,		/* bytes violate the Lance spec */
	LC_EK_UNSUPPORTED,	/* valid but not implemented here */
	LC_EK_REMOTE,		/* object-store failure after retries;
				 * code ETIMEDOUT: a request got no
				 * definite answer and may have taken
				 * effect all the same (also a local put
				 * whose name is in place, not synced) */
	LC_EK_LIMIT,		/* a cap we impose was hit */
	LC_EK_SYS,		/* errno from the OS or an allocation */
	LC_EK_USAGE,		/* the user asked for something impossible */
	LC_EK_CONFLICT,		/* a concurrent writer got there first */
};

struct lc_err {
	int code;		/* positive errno */
	enum lc_err_kind kind;
	const char *file;	/* source location of the first error */
	int line;
	char msg[512];		/* one line, no newline */
};

/* Returns `code`. NULL err is allowed. Keeps the first message. */
/* n random bytes (getrandom), and a random (version 4) UUID as 36
 * lowercase hex-and-hyphen characters plus a NUL. */
int lc_random(void *buf, size_t n, struct lc_err *err) LC_MUST_USE;
int lc_uuid(char out[37], struct lc_err *err) LC_MUST_USE;

int lc_err_set(struct lc_err *err, int code, enum lc_err_kind kind,
	       const char *file, int line, const char *fmt, ...)
	LC_PRINTF(6, 7);
/* Prefix context ("fragment 3: ") to an already set message. */
void lc_err_prefix(struct lc_err *err, const char *fmt, ...) LC_PRINTF(2, 3);
void lc_err_clear(struct lc_err *err);

#define LC_CORRUPT(err, ...) \
	lc_err_set((err), EIO, LC_EK_CORRUPT, __FILE__, __LINE__, __VA_ARGS__)
#define LC_UNSUPPORTED(err, ...) \
	lc_err_set((err), EIO, LC_EK_UNSUPPORTED, __FILE__, __LINE__, \
		   __VA_ARGS__)
#define LC_NOTFOUND(err, ...) \
	lc_err_set((err), ENOENT, LC_EK_NOTFOUND, __FILE__, __LINE__, \
		   __VA_ARGS__)
#define LC_LIMIT(err, ...) \
	lc_err_set((err), EFBIG, LC_EK_LIMIT, __FILE__, __LINE__, __VA_ARGS__)
#define LC_SYS(err, code, ...) \
	lc_err_set((err), (code), LC_EK_SYS, __FILE__, __LINE__, __VA_ARGS__)
#define LC_USAGE(err, ...) \
	lc_err_set((err), EINVAL, LC_EK_USAGE, __FILE__, __LINE__, __VA_ARGS__)
#define LC_CONFLICT(err, ...) \
	lc_err_set((err), EBUSY, LC_EK_CONFLICT, __FILE__, __LINE__, \
		   __VA_ARGS__)
#define LC_NOMEM(err) LC_SYS((err), ENOMEM, "out of memory")

/* Little-endian loaders that never assume alignment. */
static inline uint16_t lc_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t lc_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t lc_le64(const uint8_t *p)
{
	return (uint64_t)lc_le32(p) | (uint64_t)lc_le32(p + 4) << 32;
}
static inline void lc_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void lc_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* FNV-1a of n bytes: for hash tables of values (not for untrusted
 * keys an attacker picks to collide). */
static inline uint64_t lc_hash_bytes(const uint8_t *p, uint64_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static inline void lc_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* True when [off, off+len) lies inside a region of `size` bytes. */
static inline int lc_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* CRC-32 as zlib and gzip compute it (ISA-L's, many times faster). */
uint32_t lc_crc32(const void *p, size_t n);

/* Seconds from `t` (read from CLOCK_MONOTONIC) to now; negative while
 * `t` is in the future. */
double lc_since(const struct timespec *t);
/* `t` moved `s` seconds on (s >= 0). */
void lc_add_secs(struct timespec *t, double s);

/* pthread_create, and the thread named `name` (top -H, ps -L, perf) before
 * anyone can see it: a thread that named itself would show its creator's
 * name until it first ran. 0 or pthread_create's error. */
int lc_thread_start(pthread_t *t, const char *name, void *(*fn)(void *),
		    void *arg);

/* Whether process `pid` still runs. One that exited but was not yet
 * reaped (a zombie: a daemon's parent is init, which in some containers
 * reaps late) does not, once all its threads are gone (until then they
 * hold its descriptors). */
bool lc_pid_running(pid_t pid);
/* Field `field` of /proc/PID/stat counted from the state (1), a number
 * (2: the parent's pid, 18: the number of threads); -1 if unknown. */
long lc_proc_stat_num(pid_t pid, int field);

/*
 * Waits. A thread about to wait for a server, a disk or another thread's
 * fetch calls lc_wait_begin, and lc_wait_end when done, so that the pool
 * running it (fs/loop.c, through lc_wait_hooks) can set another thread
 * to work meanwhile: the pool keeps about twice as many threads working
 * as there are CPUs. Nested calls count once; with no hooks they cost a
 * thread-local increment.
 */
void lc_wait_begin(void);
void lc_wait_end(void);
void lc_wait_hooks(void (*begin)(void), void (*end)(void));
/* FNV-1a of a string: for hash tables, and for names of files that later
 * runs must find again (it never changes). */
uint64_t lc_hash_str(const char *s);
/* The same from start value `h` (names made with another one stay). */
uint64_t lc_hash_str_from(uint64_t h, const char *s);

/*
 * Allocation wrappers: one place to cap and, in tests, to fail the Nth
 * allocation. lc_malloc(0) returns a valid unique pointer.
 */
void *lc_malloc(size_t n);
void *lc_calloc(size_t n, size_t size);
void *lc_realloc(void *p, size_t n);
void lc_free(void *p);
char *lc_strdup(const char *s);
char *lc_strndup(const char *s, size_t n);
/* Decode %XX escapes in place (a '%' not followed by two hex digits,
 * and %00, stay): the path of an s3:// or file:// URI, as Lance's
 * object store reads it ("a%20b" is the key "a b"). */
void lc_pct_decode(char *s);
/* The value of hex digit c (either case), -1 for another character. */
int lc_hexval(char c);
/* Fail allocation number `n` (counting from 1) and every later one; 0 off. */
void lc_alloc_fail_after(unsigned long n);

/* A growable byte buffer with a cap fixed at init. */
struct lc_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t limit;	/* 0 = SIZE_MAX */
	bool pages;	/* lc_buf_init_pages */
};

void lc_buf_init(struct lc_buf *b, size_t limit);
/* A buffer of whole pages of its own mapping: page-aligned (so it can be
 * written with O_DIRECT), grown without copying, and, when emptied with
 * lc_buf_clear and filled again, already faulted in. Not for
 * lc_buf_take. */
void lc_buf_init_pages(struct lc_buf *b, size_t limit);
/* Empty, keeping the memory. */
void lc_buf_clear(struct lc_buf *b);
void lc_buf_reset(struct lc_buf *b);
int lc_buf_reserve(struct lc_buf *b, size_t extra, struct lc_err *err)
	LC_MUST_USE;
int lc_buf_append(struct lc_buf *b, const void *p, size_t n,
		  struct lc_err *err) LC_MUST_USE;
int lc_buf_printf(struct lc_buf *b, struct lc_err *err, const char *fmt, ...)
	LC_PRINTF(3, 4) LC_MUST_USE;
/* Append the whole of regular file `fd` (its size now, read from offset
 * 0): 0, or the errno (EIO where it ended early). */
int lc_buf_read_fd(struct lc_buf *b, int fd, struct lc_err *err) LC_MUST_USE;
/* Takes the bytes out; the buffer is left empty. NUL-terminates. */
int lc_buf_take(struct lc_buf *b, uint8_t **out, size_t *len,
		struct lc_err *err) LC_MUST_USE;

#endif
