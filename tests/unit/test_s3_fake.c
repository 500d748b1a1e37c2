/*
 * test_s3_fake.c - the S3 backend against a scripted HTTP server in this
 * process, for what a real server will not do on demand: 503s, bodies cut
 * short, wrong ranges, replies lost after a PUT landed, clock skew, and
 * an instance-metadata service.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "s3_int.h"

struct fake_req {
	char method[16];
	char path[1024];	/* with the query */
	char headers[8192];	/* raw, lowercase names as sent */
	uint8_t *body;
	size_t body_len;
};

struct fake;
typedef void (*fake_fn)(struct fake *f, int fd, const struct fake_req *rq);

struct fake {
	int lfd;
	unsigned port;
	pthread_t th;
	atomic_bool stop;
	fake_fn fn;
	int n;			/* requests seen, list probes excluded */
	uint8_t object[64];	/* what a PUT stored */
	size_t object_len;
	bool stored;
	char last_headers[8192];
};

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, int status, const char *extra, const void *body,
		  size_t len)
{
	char head[1024];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length:"
			 " %zu\r\nConnection: close\r\n%s\r\n", status, len,
			 extra ? extra : "");

	send_all(fd, head, (size_t)n);
	if (body && len)
		send_all(fd, body, len);
}

static void reply_xml(int fd, int status, const char *xml)
{
	reply(fd, status, "Content-Type: application/xml\r\n", xml,
	      strlen(xml));
}

static const char empty_list[] =
	"<ListBucketResult><IsTruncated>false</IsTruncated>"
	"</ListBucketResult>";

static bool read_request(int fd, struct fake_req *rq)
{
	char buf[16384];
	size_t got = 0;
	char *end = NULL, *cl;

	memset(rq, 0, sizeof(*rq));
	while (!end && got < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		if (r <= 0)
			return false;
		got += (size_t)r;
		buf[got] = 0;
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end)
		return false;
	sscanf(buf, "%15s %1023s", rq->method, rq->path);
	snprintf(rq->headers, sizeof(rq->headers), "%.*s", (int)(end - buf),
		 buf);
	for (char *p = rq->headers; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	cl = strstr(rq->headers, "\ncontent-length:");
	rq->body_len = cl ? strtoul(cl + 16, NULL, 10) : 0;
	rq->body = malloc(rq->body_len + 1);
	if (!rq->body)
		return false;
	got -= (size_t)(end + 4 - buf);
	if (got > rq->body_len)
		got = rq->body_len;
	memcpy(rq->body, end + 4, got);
	while (got < rq->body_len) {
		ssize_t r = recv(fd, rq->body + got, rq->body_len - got, 0);

		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void *serve(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct fake_req rq;
		int fd = accept(f->lfd, NULL, NULL);

		if (fd < 0)
			continue;
		if (read_request(fd, &rq)) {
			snprintf(f->last_headers, sizeof(f->last_headers),
				 "%s", rq.headers);
			/* the open probe: an empty listing */
			if (!strcmp(rq.method, "GET") &&
			    strstr(rq.path, "max-keys=1"))
				reply_xml(fd, 200, empty_list);
			else
				f->fn(f, fd, &rq);
		}
		free(rq.body);
		close(fd);
	}
	return NULL;
}

static int fake_start(struct fake *f, fake_fn fn)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int one = 1;

	memset(f, 0, sizeof(*f));
	f->fn = fn;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(f->lfd, 16) ||
	    getsockname(f->lfd, (struct sockaddr *)&a, &al))
		return -1;
	f->port = ntohs(a.sin_port);
	return pthread_create(&f->th, NULL, serve, f);
}

static void fake_stop(struct fake *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	atomic_store(&f->stop, true);
	/* wake accept() */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)f->port);
	connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static struct ostore_conf *conf_for(const struct fake *f, const char *extra)
{
	struct lc_err err = { 0 };
	struct ostore_conf *c;
	char opt[128], buf[256], *save = NULL;

	if (ostore_conf_new(&c, &err))
		return NULL;
	snprintf(opt, sizeof(opt), "endpoint=http://127.0.0.1:%u", f->port);
	if (ostore_conf_parse(c, opt, &err) ||
	    ostore_conf_parse(c, "allow_http=true", &err) ||
	    ostore_conf_parse(c, "access_key_id=AK", &err) ||
	    ostore_conf_parse(c, "secret_access_key=SECRETKEY", &err))
		goto fail;
	snprintf(buf, sizeof(buf), "%s", extra ? extra : "");
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save))
		if (ostore_conf_parse(c, t, &err))
			goto fail;
	return c;
fail:
	ostore_conf_free(c);
	return NULL;
}

static const char object[] = "0123456789abcdefghij";	/* 20 bytes */

/* Answer a range from `object` honestly. */
static void honest_range(int fd, const struct fake_req *rq)
{
	char extra[256];
	unsigned long a, b;
	const char *r = strstr(rq->headers, "\nrange: bytes=");

	if (!r || sscanf(r + 14, "%lu-%lu", &a, &b) != 2 || b >= 20) {
		reply_xml(fd, 400, "<Error><Code>Bad</Code></Error>");
		return;
	}
	snprintf(extra, sizeof(extra), "ETag: \"e1\"\r\nContent-Range: "
		 "bytes %lu-%lu/20\r\n", a, b);
	reply(fd, 206, extra, object + a, b - a + 1);
}

/* HEAD: the object's Content-Length, and no body. */
static void head_reply(int fd)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n"
				"ETag: \"e1\"\r\nConnection: close\r\n\r\n";

	send_all(fd, h, strlen(h));
}

static void flaky_reads(struct fake *f, int fd, const struct fake_req *rq)
{
	int n = f->n++;

	if (!strcmp(rq->method, "HEAD")) {
		head_reply(fd);
		return;
	}
	if (n == 1) {		/* throttled */
		reply_xml(fd, 503, "<Error><Code>SlowDown</Code></Error>");
		return;
	}
	if (n == 2) {		/* promises 5 bytes, sends 2, hangs up */
		static const char cut[] = "HTTP/1.1 206 X\r\nContent-Length: "
					  "5\r\nContent-Range: bytes 3-7/20"
					  "\r\n\r\n34";

		send_all(fd, cut, strlen(cut));
		return;
	}
	honest_range(fd, rq);
}

static int open_fake(struct fake *f, struct ostore_conf *conf,
		     struct ostore **st, struct lc_err *err)
{
	(void)f;
	/* the backend itself, not the cache that ostore_open_uri puts in
	 * front of it: these tests check each request it makes */
	return ostore_s3_new(st, "s3://b/ds.lance", conf, err);
}

TEST(fake_retries_reads)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore_stats s;
	struct ostore *st;
	struct ostore_obj *o;
	uint8_t buf[8];

	CHECK(fake_start(&f, flaky_reads) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_OK(ostore_open(&o, st, "data/x", &err), &err);
	CHECK_EQ_U64(ostore_size(o), 20);
	CHECK_STR(o->etag, "\"e1\"");
	memset(buf, 0, sizeof(buf));
	CHECK_OK(ostore_read(o, 3, 5, buf, &err), &err);
	CHECK(!memcmp(buf, "34567", 5));
	ostore_stats(st, &s);
	CHECK_EQ_U64(s.retries, 2);
	CHECK_EQ_U64(s.errors, 0);
	CHECK_EQ_U64(s.in_flight, 0);
	ostore_close(o);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* Servers that answer the wrong bytes: never passed upward. */
static void liar(struct fake *f, int fd, const struct fake_req *rq)
{
	int n = f->n++;

	if (!strcmp(rq->method, "HEAD")) {
		head_reply(fd);
		return;
	}
	if (n == 1)		/* a different range than asked */
		reply(fd, 206, "Content-Range: bytes 4-8/20\r\n", object + 4,
		      5);
	else if (n == 2)	/* ignores Range: the whole object */
		reply(fd, 200, NULL, object, 20);
	else if (n == 3)	/* the object grew since open */
		reply(fd, 206, "Content-Range: bytes 3-7/25\r\n", object + 3,
		      5);
	else			/* replaced: another ETag */
		reply(fd, 206, "ETag: \"e2\"\r\nContent-Range: bytes 3-7/20"
		      "\r\n", object + 3, 5);
}

TEST(fake_wrong_bytes_refused)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	struct ostore_obj *o;
	uint8_t buf[8];

	CHECK(fake_start(&f, liar) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_OK(ostore_open(&o, st, "data/x", &err), &err);
	CHECK_EQ_U64(ostore_read(o, 3, 5, buf, &err), EIO);
	CHECK(strstr(err.msg, "bytes 4-8/20"));
	lc_err_clear(&err);
	CHECK_EQ_U64(ostore_read(o, 3, 5, buf, &err), EIO);
	CHECK(strstr(err.msg, "more bytes than asked"));
	lc_err_clear(&err);
	CHECK_EQ_U64(ostore_read(o, 3, 5, buf, &err), EIO);
	CHECK(strstr(err.msg, "now 25 bytes"));
	lc_err_clear(&err);
	CHECK_EQ_U64(ostore_read(o, 3, 5, buf, &err), EIO);
	CHECK(strstr(err.msg, "replaced"));
	ostore_close(o);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* The first conditional PUT lands but its answer is lost; the retry gets
 * 412. The object holds our bytes, so the put succeeded. */
static void lost_reply(struct fake *f, int fd, const struct fake_req *rq)
{
	if (!strcmp(rq->method, "PUT")) {
		if (!strstr(rq->headers, "\nif-none-match: *")) {
			reply_xml(fd, 400, "<Error><Code>NoCondition</Code>"
				  "</Error>");
			return;
		}
		if (f->stored) {
			reply_xml(fd, 412, "<Error><Code>PreconditionFailed"
				  "</Code></Error>");
			return;
		}
		f->stored = true;
		f->object_len = rq->body_len < sizeof(f->object) ?
				rq->body_len : sizeof(f->object);
		memcpy(f->object, rq->body, f->object_len);
		return;		/* hang up without answering */
	}
	if (!strcmp(rq->method, "GET") && f->stored) {
		reply(fd, 200, NULL, f->object, f->object_len);
		return;
	}
	reply_xml(fd, 404, "<Error><Code>NoSuchKey</Code></Error>");
}

TEST(fake_conditional_put_lost_reply)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;

	CHECK(fake_start(&f, lost_reply) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_OK(ostore_put(st, "_versions/1.manifest", "mine", 4, 1, &err),
		 &err);
	CHECK_EQ_U64(f.object_len, 4);
	CHECK(!memcmp(f.object, "mine", 4));
	/* a later create of the key, with no retry, is plainly refused */
	CHECK_EQ_U64(ostore_put(st, "_versions/1.manifest", "mine", 4, 1,
				&err), EEXIST);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* A lost reply, after which another writer's bytes are found. */
static void lost_then_other(struct fake *f, int fd, const struct fake_req *rq)
{
	if (!strcmp(rq->method, "PUT")) {
		if (!f->stored) {
			f->stored = true;
			memcpy(f->object, "them", 4);
			f->object_len = 4;
			return;	/* hang up: did ours land? */
		}
		reply_xml(fd, 412, "<Error><Code>PreconditionFailed</Code>"
			  "</Error>");
		return;
	}
	reply(fd, 200, NULL, f->object, f->object_len);
}

TEST(fake_conditional_put_real_conflict)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;

	CHECK(fake_start(&f, lost_then_other) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_EQ_U64(ostore_put(st, "_versions/1.manifest", "mine", 4, 1,
				&err), EEXIST);
	CHECK(strstr(err.msg, "already exists"));
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* A lost reply, then a definite refusal of the retry that is not "it
 * exists" (a 400, as some gateways answer a repeated request). */
static void lost_then_refused(struct fake *f, int fd,
			      const struct fake_req *rq)
{
	if (!strcmp(rq->method, "PUT") && !f->stored) {
		f->stored = true;
		memcpy(f->object, rq->body, rq->body_len < 64 ? rq->body_len :
								64);
		f->object_len = rq->body_len;
		return;	/* landed; hang up */
	}
	reply_xml(fd, 400, "<Error><Code>InvalidRequest</Code></Error>");
}

/* A create that may have landed is never reported as failed for sure:
 * a commit would then make its rows land again under another uuid. */
TEST(fake_conditional_put_lost_then_refused)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;

	CHECK(fake_start(&f, lost_then_refused) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_EQ_U64(ostore_put(st, "_versions/1.manifest", "mine", 4, 1,
				&err), ETIMEDOUT);
	CHECK(err.kind == LC_EK_REMOTE);
	CHECK(strstr(err.msg, "may have landed"));
	CHECK(f.stored);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

static void always_500(struct fake *f, int fd, const struct fake_req *rq)
{
	(void)rq;
	f->n++;
	reply_xml(fd, 500, "<Error><Code>InternalError</Code></Error>");
}

static void always_503(struct fake *f, int fd, const struct fake_req *rq)
{
	(void)rq;
	f->n++;
	reply_xml(fd, 503, "<Error><Code>SlowDown</Code></Error>");
}

/* Retries stop at max_retries, and the message says why and how often.
 * A 500 may have been acted on: ETIMEDOUT says so; 503s were not: EIO. */
TEST(fake_retries_bounded)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	struct ostore_stats s;

	CHECK(fake_start(&f, always_503) == 0);
	conf = conf_for(&f, "max_retries=1");
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_EQ_U64(ostore_put(st, "k", "v", 1, 0, &err), EIO);
	CHECK(strstr(err.msg, "503 SlowDown"));
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);

	memset(&err, 0, sizeof(err));
	CHECK(fake_start(&f, always_500) == 0);
	conf = conf_for(&f, "max_retries=3");
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_EQ_U64(ostore_put(st, "k", "v", 1, 0, &err), ETIMEDOUT);
	CHECK_EQ_U64(err.kind, LC_EK_REMOTE);
	CHECK(strstr(err.msg, "s3://b/ds.lance/k"));
	CHECK(strstr(err.msg, "HTTP 500 InternalError"));
	CHECK(strstr(err.msg, "4 attempts"));
	CHECK(!strstr(err.msg, "SECRETKEY"));
	CHECK_EQ_U64(f.n, 4);
	ostore_stats(st, &s);
	CHECK_EQ_U64(s.retries, 3);
	CHECK_EQ_U64(s.errors, 1);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* 403 RequestTimeTooSkewed: the retry is dated by the server's clock. */
static void skewed(struct fake *f, int fd, const struct fake_req *rq)
{
	const char *d = strstr(rq->headers, "\nx-amz-date: ");
	char date[64];
	time_t ahead = time(NULL) + 7200;
	struct tm tm;

	gmtime_r(&ahead, &tm);
	if (f->n++ == 0) {
		char extra[128];
		static const char x[] = "<Error><Code>RequestTimeTooSkewed"
					"</Code></Error>";

		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		snprintf(extra, sizeof(extra), "Date: %s\r\n", date);
		reply(fd, 403, extra, x, strlen(x));
		return;
	}
	strftime(date, sizeof(date), "%Y%m%dT%H", &tm);
	/* the hour must match the server's */
	reply(fd, d && !strncasecmp(d + 13, date, 11) ? 200 : 403, NULL, NULL,
	      0);
}

TEST(fake_clock_skew)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;

	CHECK(fake_start(&f, skewed) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_OK(ostore_put(st, "k", "v", 1, 0, &err), &err);
	CHECK_EQ_U64(f.n, 2);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* A HEAD from a skewed clock: 403 with no body (HEAD answers carry
 * none), so no RequestTimeTooSkewed code; the Date says it. */
static void skewed_head(struct fake *f, int fd, const struct fake_req *rq)
{
	const char *d = strstr(rq->headers, "\nx-amz-date: ");
	time_t ahead = time(NULL) + 7200;
	char date[64], extra[256];
	struct tm tm;

	f->n++;
	gmtime_r(&ahead, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H", &tm);
	if (d && !strncasecmp(d + 13, date, 11)) {
		head_reply(fd);
		return;
	}
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(extra, sizeof(extra), "HTTP/1.1 403 Forbidden\r\nDate: %s\r\n"
		 "Content-Length: 0\r\nConnection: close\r\n\r\n", date);
	send_all(fd, extra, strlen(extra));
}

TEST(fake_clock_skew_head)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	struct ostore_obj *o;

	CHECK(fake_start(&f, skewed_head) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	f.n = 0;
	CHECK_OK(ostore_open(&o, st, "data/x", &err), &err);
	CHECK_EQ_U64(ostore_size(o), 20);
	CHECK_EQ_U64(f.n, 2);
	ostore_close(o);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* IMDSv2: token, role, credentials; S3 requests then carry the token. */
static void imds(struct fake *f, int fd, const struct fake_req *rq)
{
	static const char doc[] =
		"{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAFAKE\","
		"\"SecretAccessKey\":\"imds-secret\",\"Token\":\"imds-token\","
		"\"Expiration\":\"2099-01-01T00:00:00Z\"}";

	f->n++;
	if (!strcmp(rq->method, "PUT") &&
	    !strcmp(rq->path, "/latest/api/token")) {
		if (!strstr(rq->headers, "\nx-aws-ec2-metadata-token-ttl-"
			    "seconds: 21600"))
			reply(fd, 400, NULL, NULL, 0);
		else
			reply(fd, 200, NULL, "tok123", 6);
		return;
	}
	if (!strstr(rq->headers, "\nx-aws-ec2-metadata-token: tok123")) {
		reply(fd, 401, NULL, NULL, 0);
		return;
	}
	if (!strcmp(rq->path, "/latest/meta-data/iam/security-credentials/"))
		reply(fd, 200, NULL, "role-a\n", 7);
	else if (!strcmp(rq->path,
			 "/latest/meta-data/iam/security-credentials/role-a"))
		reply(fd, 200, NULL, doc, strlen(doc));
	else
		reply(fd, 404, NULL, NULL, 0);
}

static void s3_wants_token(struct fake *f, int fd, const struct fake_req *rq)
{
	(void)rq;
	f->n++;
	reply(fd, 200, NULL, NULL, 0);
}

/* Credentials from nowhere but a fake instance metadata service `md`;
 * the options of a store at the fake S3 server `s3`. */
static struct ostore_conf *imds_conf(struct fake *md, fake_fn md_fn,
				     struct fake *s3, fake_fn s3_fn)
{
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	char opt[128];

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("HOME", "/nonexistent", 1);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	if (fake_start(md, md_fn) || fake_start(s3, s3_fn) ||
	    ostore_conf_new(&conf, &err))
		return NULL;
	snprintf(opt, sizeof(opt), "endpoint=http://127.0.0.1:%u", s3->port);
	if (!ostore_conf_parse(conf, opt, &err) &&
	    !ostore_conf_parse(conf, "allow_http=true", &err)) {
		snprintf(opt, sizeof(opt),
			 "aws_metadata_endpoint=http://127.0.0.1:%u", md->port);
		if (!ostore_conf_parse(conf, opt, &err))
			return conf;
	}
	ostore_conf_free(conf);
	return NULL;
}

TEST(fake_imds_credentials)
{
	struct fake md, s3;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;

	conf = imds_conf(&md, imds, &s3, s3_wants_token);
	CHECK(conf);
	CHECK_OK(ostore_open_uri(&st, "s3://b/x", conf, &err), &err);
	CHECK_EQ_U64(md.n, 3);
	CHECK(strstr(s3.last_headers, "\nx-amz-security-token: imds-token"));
	CHECK(strstr(s3.last_headers, "credential=asiafake/"));
	ostore_free(st);
	/* with the metadata service disabled there are no credentials */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	CHECK_EQ_U64(ostore_open_uri(&st, "s3://b/x", conf, &err), EACCES);
	CHECK(strstr(err.msg, "no S3 credentials"));
	ostore_conf_free(conf);
	fake_stop(&md);
	fake_stop(&s3);
}

/* ECS / EKS container credentials: a GET with the token file's value as
 * Authorization; the keys then sign S3 requests. */
static void container(struct fake *f, int fd, const struct fake_req *rq)
{
	static const char doc[] =
		"{\"AccessKeyId\":\"ASIACONT\",\"SecretAccessKey\":"
		"\"cont-secret\",\"Token\":\"cont-token\",\"Expiration\":"
		"\"2099-01-01T00:00:00Z\",\"RoleArn\":\"arn:aws:iam::1:role/r\"}";

	const char *a = strstr(rq->headers, "\nauthorization: tok-abc");

	f->n++;
	if (!strcmp(rq->path, "/v2/junk"))
		reply(fd, 200, NULL, "<html>", 6);
	else if (strcmp(rq->method, "GET") || strcmp(rq->path, "/v2/creds"))
		reply(fd, 404, NULL, NULL, 0);
	else if (!a || (a[23] && a[23] != '\r'))
		reply(fd, 401, NULL, NULL, 0);
	else
		reply(fd, 200, NULL, doc, strlen(doc));
}

TEST(fake_container_credentials)
{
	char tokfile[] = "/tmp/lancefs-ecs-token-XXXXXX", uri[128], opt[128];
	struct fake md, s3;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	int fd;

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	setenv("HOME", "/nonexistent", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	fd = mkstemp(tokfile);
	CHECK(fd >= 0);
	CHECK(write(fd, "tok-abc\n", 8) == 8);
	close(fd);
	CHECK(fake_start(&md, container) == 0);
	CHECK(fake_start(&s3, s3_wants_token) == 0);
	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	snprintf(opt, sizeof(opt), "endpoint=http://127.0.0.1:%u", s3.port);
	CHECK(!ostore_conf_parse(conf, opt, &err));
	CHECK(!ostore_conf_parse(conf, "allow_http=true", &err));
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%u/v2/creds", md.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile, 1);
	CHECK_OK(ostore_open_uri(&st, "s3://b/x", conf, &err), &err);
	CHECK_EQ_U64(md.n, 1);
	CHECK_OK(ostore_put(st, "k", "v", 1, 0, &err), &err);
	CHECK(strstr(s3.last_headers, "\nx-amz-security-token: cont-token"));
	CHECK(strstr(s3.last_headers, "credential=asiacont/"));
	ostore_free(st);

	/* a token the service refuses: the error names the service and the
	 * URL, never the token */
	fd = open(tokfile, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "tok-xyz", 7) == 7);
	close(fd);
	CHECK_EQ_U64(ostore_open_uri(&st, "s3://b/x", conf, &err), EIO);
	CHECK(strstr(err.msg, "container credentials"));
	CHECK(strstr(err.msg, "401"));
	CHECK(!strstr(err.msg, "tok-xyz"));
	lc_err_clear(&err);

	/* an answer that is no credentials document names the service */
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%u/v2/junk", md.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	CHECK(ostore_open_uri(&st, "s3://b/x", conf, &err) != 0);
	CHECK(strstr(err.msg, "container credentials http://127.0.0.1:"));
	CHECK(strstr(err.msg, "not a JSON object"));
	lc_err_clear(&err);

	/* plain http only to this machine */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/c",
	       1);
	CHECK_EQ_U64(ostore_open_uri(&st, "s3://b/x", conf, &err), EINVAL);
	CHECK(strstr(err.msg, "FULL_URI"));
	lc_err_clear(&err);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/creds", 1);
	CHECK_EQ_U64(ostore_open_uri(&st, "s3://b/x", conf, &err), EINVAL);
	CHECK(strstr(err.msg, "RELATIVE_URI"));
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	unlink(tokfile);
	ostore_conf_free(conf);
	fake_stop(&md);
	fake_stop(&s3);
}

/* Not an S3 server: 404 with no body, to everything. */
static void not_s3(struct fake *f, int fd, const struct fake_req *rq)
{
	(void)rq;
	f->n++;
	reply(fd, 404, NULL, NULL, 0);
}

static int count_entry(void *ctx, const struct ostore_entry *e)
{
	(void)e;
	++*(int *)ctx;
	return 0;
}

TEST(fake_not_s3_endpoint)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	struct ostore_obj *o;
	char where[64];
	int n = 0;

	CHECK(fake_start(&f, not_s3) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	/* a listing names the bucket and the endpoint, not an object */
	CHECK_EQ_U64(ostore_list(st, "", count_entry, &n, &err), ENOENT);
	snprintf(where, sizeof(where), "127.0.0.1:%u is no S3 endpoint",
		 f.port);
	CHECK(strstr(err.msg, "s3://b: HTTP 404 with no S3 error"));
	CHECK(strstr(err.msg, where));
	CHECK_EQ_U64(n, 0);
	lc_err_clear(&err);
	/* a HEAD has no body: its 404 is a missing object */
	CHECK_EQ_U64(ostore_open(&o, st, "data/x", &err), ENOENT);
	CHECK(strstr(err.msg, "data/x: no such object"));
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* The object was replaced by a shorter one: a whole 206 of fewer bytes
 * than asked is an answer, not a transfer cut short to retry. */
static void shrunk(struct fake *f, int fd, const struct fake_req *rq)
{
	f->n++;
	if (!strcmp(rq->method, "HEAD"))
		head_reply(fd);
	else
		reply(fd, 206, "Content-Range: bytes 3-5/6\r\n", "345", 3);
}

TEST(fake_replaced_object_not_retried)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore_stats s;
	struct ostore *st;
	struct ostore_obj *o;
	uint8_t buf[8];

	CHECK(fake_start(&f, shrunk) == 0);
	conf = conf_for(&f, NULL);
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_OK(ostore_open(&o, st, "data/x", &err), &err);
	CHECK_EQ_U64(ostore_read(o, 3, 5, buf, &err), EIO);
	CHECK(strstr(err.msg, "data/x: now 6 bytes, was 20"));
	CHECK_EQ_U64(f.n, 2);
	ostore_stats(st, &s);
	CHECK_EQ_U64(s.retries, 0);
	ostore_close(o);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

static void expired(struct fake *f, int fd, const struct fake_req *rq)
{
	(void)rq;
	f->n++;
	reply_xml(fd, 400, "<Error><Code>ExpiredToken</Code></Error>");
}

/* A session token given in the options expires: nothing can renew it,
 * so one request and a message that says so, not ten retries. */
TEST(fake_expired_static_token)
{
	struct fake f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;

	CHECK(fake_start(&f, expired) == 0);
	conf = conf_for(&f, "session_token=TOKEN");
	CHECK(conf);
	CHECK_OK(open_fake(&f, conf, &st, &err), &err);
	CHECK_EQ_U64(ostore_put(st, "k", "v", 1, 0, &err), EACCES);
	CHECK(strstr(err.msg, "s3://b/ds.lance/k"));
	CHECK(strstr(err.msg, "session token expired"));
	CHECK_EQ_U64(f.n, 1);
	ostore_free(st);
	ostore_conf_free(conf);
	fake_stop(&f);
}

/* IMDS handing out a new token each time (f->n: credentials served). */
static void imds_rotating(struct fake *f, int fd, const struct fake_req *rq)
{
	char doc[256];

	if (!strcmp(rq->method, "PUT")) {
		reply(fd, 200, NULL, "tok123", 6);
	} else if (!strcmp(rq->path,
			   "/latest/meta-data/iam/security-credentials/")) {
		reply(fd, 200, NULL, "role-a\n", 7);
	} else {
		snprintf(doc, sizeof(doc), "{\"Code\":\"Success\","
			 "\"AccessKeyId\":\"ASIAFAKE\",\"SecretAccessKey\":"
			 "\"s\",\"Token\":\"imds-token-%d\",\"Expiration\":"
			 "\"2099-01-01T00:00:00Z\"}", ++f->n);
		reply(fd, 200, NULL, doc, strlen(doc));
	}
}

/* S3 that finds the first token expired. */
static void expires_first(struct fake *f, int fd, const struct fake_req *rq)
{
	f->n++;
	if (strstr(rq->headers, "\nx-amz-security-token: imds-token-1\r"))
		reply_xml(fd, 400, "<Error><Code>ExpiredToken</Code>"
			  "</Error>");
	else
		reply(fd, 200, NULL, NULL, 0);
}

struct putter {
	struct ostore *st;
	char key[8];
	int rc;
};

static void *put_one(void *arg)
{
	struct putter *p = arg;
	struct lc_err err = { 0 };

	p->rc = ostore_put(p->st, p->key, "v", 1, 0, &err);
	return NULL;
}

/* Requests that all find the token expired renew it once, not once
 * each. */
TEST(fake_expired_token_renewed_once)
{
	struct fake md, s3;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct putter p[4];
	pthread_t t[4];

	conf = imds_conf(&md, imds_rotating, &s3, expires_first);
	CHECK(conf);
	CHECK_OK(ostore_s3_new(&p[0].st, "s3://b/x", conf, &err), &err);
	CHECK_EQ_U64(md.n, 1);
	for (int i = 0; i < 4; i++) {	/* one store, four requests */
		p[i].st = p[0].st;
		snprintf(p[i].key, sizeof(p[i].key), "k%d", i);
	}
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, put_one, &p[i]) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK_EQ_U64(p[i].rc, 0);
	}
	CHECK_EQ_U64(md.n, 2);
	ostore_free(p[0].st);
	ostore_conf_free(conf);
	fake_stop(&md);
	fake_stop(&s3);
}

TEST_MAIN(TEST_ENTRY(fake_retries_reads), TEST_ENTRY(fake_wrong_bytes_refused),
	  TEST_ENTRY(fake_not_s3_endpoint),
	  TEST_ENTRY(fake_replaced_object_not_retried),
	  TEST_ENTRY(fake_expired_static_token),
	  TEST_ENTRY(fake_expired_token_renewed_once),
	  TEST_ENTRY(fake_conditional_put_lost_reply),
	  TEST_ENTRY(fake_conditional_put_real_conflict),
	  TEST_ENTRY(fake_conditional_put_lost_then_refused),
	  TEST_ENTRY(fake_retries_bounded), TEST_ENTRY(fake_clock_skew),
	  TEST_ENTRY(fake_clock_skew_head),
	  TEST_ENTRY(fake_imds_credentials),
	  TEST_ENTRY(fake_container_credentials))
