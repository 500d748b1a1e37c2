/*
 * test_s3_rgw.c - the S3 backend against a real server: radosgw started
 * by the s3server CTest fixture (tests/harness/rgw.sh). The endpoint and
 * keys come from the env file the fixture writes (LANCEFS_S3_ENV
 * overrides its path). Every test makes its own bucket.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "s3_int.h"

#ifndef S3_ENV_FILE
#define S3_ENV_FILE "tests/s3server/env"
#endif

struct server {
	char endpoint[256];
	char vhost_endpoint[256];
	char ak[128];
	char sk[128];
	char prefix[32];	/* bucket name prefix */
};

static struct server srv;

static int load_env(void)
{
	const char *path = getenv("LANCEFS_S3_ENV");
	char line[512];
	FILE *f;

	f = fopen(path ? path : S3_ENV_FILE, "r");
	if (!f) {
		fprintf(stderr, "no S3 server: %s is missing (run the "
			"s3server fixture or set LANCEFS_S3_ENV)\n",
			path ? path : S3_ENV_FILE);
		return -1;
	}
	snprintf(srv.prefix, sizeof(srv.prefix), "s3t-");
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = 0;
		if (!eq)
			continue;
		*eq++ = 0;
		if (!strcmp(line, "S3_ENDPOINT"))
			snprintf(srv.endpoint, sizeof(srv.endpoint), "%s", eq);
		else if (!strcmp(line, "S3_VHOST_ENDPOINT"))
			snprintf(srv.vhost_endpoint,
				 sizeof(srv.vhost_endpoint), "%s", eq);
		else if (!strcmp(line, "S3_ACCESS_KEY"))
			snprintf(srv.ak, sizeof(srv.ak), "%s", eq);
		else if (!strcmp(line, "S3_SECRET_KEY"))
			snprintf(srv.sk, sizeof(srv.sk), "%s", eq);
		else if (!strcmp(line, "S3_BUCKET_PREFIX"))
			snprintf(srv.prefix, sizeof(srv.prefix), "%s", eq);
	}
	fclose(f);
	return srv.endpoint[0] && srv.ak[0] && srv.sk[0] ? 0 : -1;
}

/* Settings for the server, plus `extra` ("k=v,k=v"). */
static struct ostore_conf *make_conf(const char *endpoint, const char *sk,
				     const char *extra)
{
	struct lc_err err = { 0 };
	struct ostore_conf *c;
	char opt[600], buf[512], *save = NULL;

	if (ostore_conf_new(&c, &err))
		return NULL;
	snprintf(opt, sizeof(opt), "endpoint=%s", endpoint);
	if (ostore_conf_parse(c, opt, &err) ||
	    ostore_conf_parse(c, "allow_http=true", &err))
		goto fail;
	snprintf(opt, sizeof(opt), "access_key_id=%s", srv.ak);
	if (ostore_conf_parse(c, opt, &err))
		goto fail;
	snprintf(opt, sizeof(opt), "secret_access_key=%s", sk);
	if (ostore_conf_parse(c, opt, &err))
		goto fail;
	snprintf(buf, sizeof(buf), "%s", extra ? extra : "");
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save))
		if (ostore_conf_parse(c, t, &err))
			goto fail;
	return c;
fail:
	fprintf(stderr, "conf: %s\n", err.msg);
	ostore_conf_free(c);
	return NULL;
}

/* A fresh bucket, made with a raw signed PUT (ostore has no bucket
 * creation: lancefs never makes buckets). */
static int make_bucket(char *name, size_t n, const char *tag)
{
	struct ostore_conf *conf = make_conf(srv.endpoint, srv.sk, NULL);
	struct s3_conn *c = malloc(sizeof(*c));
	struct s3_req r = { .method = "PUT", .key = "",
			    .body = (const uint8_t *)"", .body_len = 0 };
	struct lc_err err = { 0 };
	uint8_t rnd[4];
	char uri[128];
	int rc;

	if (!conf || !c || lc_random(rnd, 4, &err))
		return -1;
	snprintf(name, n, "%s%s-%02x%02x%02x%02x", srv.prefix, tag, rnd[0],
		 rnd[1], rnd[2], rnd[3]);
	snprintf(uri, sizeof(uri), "s3://%s", name);
	rc = s3_conn_init(c, uri, conf, &err);
	if (!rc)
		rc = s3_do(c, &r, &err);
	if (!rc && r.status != 200) {
		fprintf(stderr, "create bucket %s: HTTP %ld %s\n", name,
			r.status, r.xerr.code);
		rc = EIO;
	}
	if (rc && err.code)
		fprintf(stderr, "create bucket %s: %s\n", name, err.msg);
	s3_req_reset(&r);
	s3_conn_put(c);
	ostore_conf_free(conf);
	return rc;
}

struct fixture {
	char bucket[64];
	struct ostore_conf *conf;
	struct ostore *st;
};

static int setup(struct fixture *f, const char *tag, const char *prefix)
{
	struct lc_err err = { 0 };
	char uri[256];

	memset(f, 0, sizeof(*f));
	if (load_env() || make_bucket(f->bucket, sizeof(f->bucket), tag))
		return -1;
	f->conf = make_conf(srv.endpoint, srv.sk, NULL);
	snprintf(uri, sizeof(uri), "s3://%s/%s", f->bucket, prefix);
	if (!f->conf || ostore_open_uri(&f->st, uri, f->conf, &err)) {
		fprintf(stderr, "open %s: %s\n", uri, err.msg);
		return -1;
	}
	return 0;
}

static void teardown(struct fixture *f)
{
	ostore_free(f->st);
	ostore_conf_free(f->conf);
}

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	struct lc_err err = { 0 };

	if (p && lc_random(p, n, &err)) {
		free(p);
		return NULL;
	}
	return p;
}

/* Ranged reads at odd offsets return exactly those bytes. */
static void check_reads(struct ostore *st, const char *key,
			const uint8_t *want, size_t n)
{
	static const size_t offs[][2] = {
		{ 0, 1 }, { 1, 1 }, { 3, 4093 }, { 12345, 777 },
		{ 8388607, 2 }, { 8388608, 100000 }, { 16777215, 3 },
	};
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	uint8_t *buf = malloc(n);

	CHECK(buf);
	CHECK_OK(ostore_open(&o, st, key, &err), &err);
	CHECK_EQ_U64(ostore_size(o), n);
	CHECK(o->etag && o->etag[0]);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t off = offs[i][0], len = offs[i][1];

		if (off + len > n)
			continue;
		memset(buf, 0xee, len);
		CHECK_OK(ostore_read(o, off, len, buf, &err), &err);
		CHECK(!memcmp(buf, want + off, len));
	}
	CHECK_OK(ostore_read(o, n - 1, 1, buf, &err), &err);
	CHECK(buf[0] == want[n - 1]);
	CHECK_OK(ostore_read(o, 0, n, buf, &err), &err);
	CHECK(!memcmp(buf, want, n));
	/* past the end: refused before any request */
	CHECK_EQ_U64(ostore_read(o, n - 1, 2, buf, &err), EIO);
	lc_err_clear(&err);
	ostore_close(o);
	free(buf);
}

TEST(rgw_put_get)
{
	static const char *const odd_keys[] = {
		"dir/a b", "dir/x+y", "dir/100%", "dir/k=v&w", "dir/t~i_l-d.e",
		"dir/\xc3\xbc\xe2\x82\xac", "dir/a//b", "dir/*(x)!'", "dir/./dot",
	};
	struct fixture f;
	struct lc_err err = { 0 };
	size_t n = 1000003, len;
	uint8_t *data = random_bytes(n), *got;

	CHECK(data);
	CHECK(setup(&f, "putget", "db/t.lance") == 0);
	CHECK_OK(ostore_put(f.st, "data/one.lance", data, n, 0, &err), &err);
	check_reads(f.st, "data/one.lance", data, n);
	/* overwrite, then read the new bytes */
	data[0] ^= 0xff;
	CHECK_OK(ostore_put(f.st, "data/one.lance", data, n, 0, &err), &err);
	CHECK_OK(ostore_get(&got, &len, f.st, "data/one.lance", n, &err),
		 &err);
	CHECK_EQ_U64(len, n);
	CHECK(!memcmp(got, data, n));
	free(got);
	/* an empty object */
	CHECK_OK(ostore_put(f.st, "empty", "", 0, 0, &err), &err);
	CHECK_OK(ostore_get(&got, &len, f.st, "empty", 10, &err), &err);
	CHECK_EQ_U64(len, 0);
	free(got);
	/* keys that need encoding round-trip */
	for (size_t i = 0; i < sizeof(odd_keys) / sizeof(odd_keys[0]); i++) {
		CHECK_OK(ostore_put(f.st, odd_keys[i], odd_keys[i],
				    strlen(odd_keys[i]), 0, &err), &err);
		CHECK_OK(ostore_get(&got, &len, f.st, odd_keys[i], 100, &err),
			 &err);
		CHECK_EQ_U64(len, strlen(odd_keys[i]));
		CHECK(!memcmp(got, odd_keys[i], len));
		free(got);
	}
	free(data);
	teardown(&f);
}

struct names {
	size_t files, dirs;
	uint64_t bytes;
	char first_dir[64];
	char seen[4096];
};

static int collect(void *ctx, const struct ostore_entry *e)
{
	struct names *n = ctx;

	if (e->is_dir) {
		n->dirs++;
		snprintf(n->first_dir, sizeof(n->first_dir), "%s", e->name);
	} else {
		n->files++;
		n->bytes += e->size;
	}
	if (strlen(n->seen) + strlen(e->name) + 3 < sizeof(n->seen)) {
		strcat(n->seen, e->name);
		strcat(n->seen, e->is_dir ? "/|" : "|");
	}
	return 0;
}

struct filler {
	struct ostore *st;
	int from, to;
	int rc;
};

static void *fill(void *arg)
{
	struct filler *fl = arg;
	struct lc_err err = { 0 };

	for (int i = fl->from; i < fl->to && !fl->rc; i++) {
		char key[64];

		snprintf(key, sizeof(key), "many/k%05d", i);
		fl->rc = ostore_put(fl->st, key, "abc", 3, 0, &err);
	}
	if (fl->rc)
		fprintf(stderr, "fill: %s\n", err.msg);
	return NULL;
}

/* More than 1000 keys come back through continuation tokens, and nested
 * prefixes list as directories. */
TEST(rgw_list)
{
	struct fixture f;
	struct lc_err err = { 0 };
	struct filler fl[4];
	pthread_t th[4];
	struct names n = { 0 };
	struct ostore *sub;

	CHECK(setup(&f, "list", "root") == 0);
	for (int i = 0; i < 4; i++) {
		fl[i] = (struct filler){ f.st, i * 260, i * 260 + 260, 0 };
		CHECK(pthread_create(&th[i], NULL, fill, &fl[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_U64(fl[i].rc, 0);
	CHECK_OK(ostore_put(f.st, "many/sub/deep/x", "1", 1, 0, &err), &err);
	CHECK_OK(ostore_put(f.st, "many/sub2/y", "12", 2, 0, &err), &err);
	CHECK_OK(ostore_put(f.st, "top a+b", "1234", 4, 0, &err), &err);
	CHECK_OK(ostore_list(f.st, "many", collect, &n, &err), &err);
	CHECK_EQ_U64(n.files, 1040);
	CHECK_EQ_U64(n.bytes, 3 * 1040);
	CHECK_EQ_U64(n.dirs, 2);
	memset(&n, 0, sizeof(n));
	CHECK_OK(ostore_list(f.st, "", collect, &n, &err), &err);
	CHECK_STR(n.seen, "many/|top a+b|");
	memset(&n, 0, sizeof(n));
	CHECK_OK(ostore_list(f.st, "many/sub", collect, &n, &err), &err);
	CHECK_STR(n.seen, "deep/|");
	/* a missing directory lists nothing */
	memset(&n, 0, sizeof(n));
	CHECK_OK(ostore_list(f.st, "nothing/here", collect, &n, &err), &err);
	CHECK_EQ_U64(n.files + n.dirs, 0);
	/* a sub-store is rooted at its directory */
	CHECK_OK(ostore_sub(&sub, f.st, "many/sub", &err), &err);
	{
		char want[128];

		snprintf(want, sizeof(want), "s3://%s/root/many/sub",
			 f.bucket);
		CHECK_STR(sub->root, want);
	}
	memset(&n, 0, sizeof(n));
	CHECK_OK(ostore_list(sub, "deep", collect, &n, &err), &err);
	CHECK_STR(n.seen, "x|");
	ostore_free(sub);
	teardown(&f);
}

struct racer {
	struct ostore *st;
	int id;
	int rc;
	pthread_barrier_t *go;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct lc_err err = { 0 };
	char body[32];

	snprintf(body, sizeof(body), "writer %d", r->id);
	pthread_barrier_wait(r->go);
	r->rc = ostore_put(r->st, "_versions/2.manifest", body, strlen(body),
			   1, &err);
	if (r->rc && r->rc != EEXIST)
		fprintf(stderr, "racer %d: %s\n", r->id, err.msg);
	return NULL;
}

/* put-if-absent: a second create is EEXIST and changes nothing; of eight
 * racing creators exactly one wins and its bytes are what is stored. */
TEST(rgw_put_if_absent)
{
	struct fixture f;
	struct lc_err err = { 0 };
	struct racer rs[8];
	pthread_t th[8];
	pthread_barrier_t go;
	uint8_t *got;
	size_t len;
	int wins = 0, winner = -1;
	char want[32];

	CHECK(setup(&f, "absent", "t.lance") == 0);
	CHECK_OK(ostore_put(f.st, "_versions/1.manifest", "first", 5, 1,
			    &err), &err);
	CHECK_EQ_U64(ostore_put(f.st, "_versions/1.manifest", "second", 6, 1,
				&err), EEXIST);
	CHECK(strstr(err.msg, "already exists"));
	CHECK(strstr(err.msg, "_versions/1.manifest"));
	lc_err_clear(&err);
	CHECK_OK(ostore_get(&got, &len, f.st, "_versions/1.manifest", 100,
			    &err), &err);
	CHECK_EQ_U64(len, 5);
	CHECK(!memcmp(got, "first", 5));
	free(got);
	pthread_barrier_init(&go, NULL, 8);
	for (int i = 0; i < 8; i++) {
		rs[i] = (struct racer){ f.st, i, -1, &go };
		CHECK(pthread_create(&th[i], NULL, race, &rs[i]) == 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < 8; i++) {
		if (rs[i].rc == 0) {
			wins++;
			winner = i;
		} else {
			CHECK_EQ_U64(rs[i].rc, EEXIST);
		}
	}
	CHECK_EQ_U64(wins, 1);
	CHECK_OK(ostore_get(&got, &len, f.st, "_versions/2.manifest", 100,
			    &err), &err);
	snprintf(want, sizeof(want), "writer %d", winner);
	CHECK_EQ_U64(len, strlen(want));
	CHECK(!memcmp(got, want, len));
	free(got);
	/* create-only puts never go multipart */
	{
		uint8_t *big = calloc(1, (9 << 20));

		CHECK(big);
		CHECK_EQ_U64(ostore_put(f.st, "big", big, 9 << 20, 1, &err),
			     EFBIG);
		lc_err_clear(&err);
		free(big);
	}
	teardown(&f);
}

/* 20 MB goes up in 8 MiB parts and reads back byte for byte, across the
 * part boundaries. */
TEST(rgw_multipart)
{
	struct fixture f;
	struct lc_err err = { 0 };
	struct ostore_stats before, after;
	size_t n = 20 * 1000 * 1000 + 7;
	uint8_t *data = random_bytes(n);
	struct ostore_obj *o;

	CHECK(data);
	CHECK(setup(&f, "multi", "") == 0);
	ostore_stats(f.st, &before);
	CHECK_OK(ostore_put(f.st, "data/big.lance", data, n, 0, &err), &err);
	ostore_stats(f.st, &after);
	/* initiate + 3 parts + complete */
	CHECK(after.requests - before.requests >= 5);
	CHECK(after.bytes_sent - before.bytes_sent >= n);
	CHECK_OK(ostore_open(&o, f.st, "data/big.lance", &err), &err);
	CHECK(o->etag && strstr(o->etag, "-3"));
	ostore_close(o);
	check_reads(f.st, "data/big.lance", data, n);
	ostore_stats(f.st, &after);
	CHECK(after.bytes_fetched - before.bytes_fetched >= n);
	CHECK_EQ_U64(after.in_flight, 0);
	free(data);
	teardown(&f);
}

TEST(rgw_delete_and_missing)
{
	struct fixture f;
	struct lc_err err = { 0 };
	struct ostore_obj *o;

	CHECK(setup(&f, "del", "p") == 0);
	CHECK_OK(ostore_put(f.st, "gone", "x", 1, 0, &err), &err);
	CHECK_OK(ostore_delete(f.st, "gone", &err), &err);
	CHECK_EQ_U64(ostore_open(&o, f.st, "gone", &err), ENOENT);
	CHECK_EQ_U64(err.kind, LC_EK_NOTFOUND);
	CHECK(strstr(err.msg, f.bucket) && strstr(err.msg, "p/gone"));
	lc_err_clear(&err);
	/* deleting what is not there is fine, as unlink of ENOENT is */
	CHECK_OK(ostore_delete(f.st, "never", &err), &err);
	CHECK_EQ_U64(ostore_open(&o, f.st, "no/such/key", &err), ENOENT);
	lc_err_clear(&err);
	/* keys may not climb out of the store */
	CHECK_EQ_U64(ostore_open(&o, f.st, "../p2/x", &err), EIO);
	CHECK_EQ_U64(err.kind, LC_EK_CORRUPT);
	teardown(&f);
}

/* Bad keys and missing buckets fail at open, naming the bucket and the
 * S3 code, never the secret. */
TEST(rgw_open_errors)
{
	struct fixture f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	char uri[160];
	const char *wrong = "WrongSecretDoNotPrint1234567890";

	CHECK(setup(&f, "errs", "") == 0);
	conf = make_conf(srv.endpoint, wrong, "max_retries=1");
	CHECK(conf);
	snprintf(uri, sizeof(uri), "s3://%s/x.lance", f.bucket);
	CHECK_EQ_U64(ostore_open_uri(&st, uri, conf, &err), EACCES);
	CHECK(st == NULL);
	CHECK(strstr(err.msg, uri) || strstr(err.msg, f.bucket));
	CHECK(strstr(err.msg, "SignatureDoesNotMatch"));
	CHECK(!strstr(err.msg, wrong));
	CHECK(!strstr(err.msg, srv.sk));
	lc_err_clear(&err);
	ostore_conf_free(conf);
	/* a missing bucket */
	snprintf(uri, sizeof(uri), "s3://%snobucket-x/t.lance", srv.prefix);
	CHECK_EQ_U64(ostore_open_uri(&st, uri, f.conf, &err), ENOENT);
	CHECK(strstr(err.msg, "nobucket-x"));
	CHECK(strstr(err.msg, "no such bucket"));
	lc_err_clear(&err);
	/* anonymous access to a private bucket */
	conf = make_conf(srv.endpoint, srv.sk, "skip_signature=true");
	CHECK(conf);
	snprintf(uri, sizeof(uri), "s3://%s/x.lance", f.bucket);
	CHECK_EQ_U64(ostore_open_uri(&st, uri, conf, &err), EACCES);
	CHECK(strstr(err.msg, "anonymous"));
	lc_err_clear(&err);
	ostore_conf_free(conf);
	/* nothing listens: a transport error after a bounded retry */
	conf = make_conf("http://127.0.0.1:1", srv.sk,
			 "max_retries=2,connect_timeout=1");
	CHECK(conf);
	CHECK_EQ_U64(ostore_open_uri(&st, uri, conf, &err), EIO);
	CHECK_EQ_U64(err.kind, LC_EK_REMOTE);
	CHECK(strstr(err.msg, "3 attempts"));
	ostore_conf_free(conf);
	teardown(&f);
}

/* Virtual-hosted requests: Host: bucket.localhost:PORT, which RGW
 * resolves with rgw_dns_name=localhost. Were the bucket not taken from
 * the host, "/key" would name a bucket "key" and fail. */
TEST(rgw_virtual_hosted)
{
	struct fixture f;
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	struct names n = { 0 };
	char uri[160];
	uint8_t *got;
	size_t len;

	CHECK(setup(&f, "vhost", "") == 0);
	CHECK(srv.vhost_endpoint[0]);
	conf = make_conf(srv.vhost_endpoint, srv.sk,
			 "virtual_hosted_style_request=true");
	CHECK(conf);
	snprintf(uri, sizeof(uri), "s3://%s/v.lance", f.bucket);
	CHECK_OK(ostore_open_uri(&st, uri, conf, &err), &err);
	CHECK_OK(ostore_put(st, "_versions/1.manifest", "vh", 2, 1, &err),
		 &err);
	CHECK_EQ_U64(ostore_put(st, "_versions/1.manifest", "vh", 2, 1, &err),
		     EEXIST);
	lc_err_clear(&err);
	CHECK_OK(ostore_list(st, "_versions", collect, &n, &err), &err);
	CHECK_STR(n.seen, "1.manifest|");
	ostore_free(st);
	/* and the path-style store sees the same object */
	CHECK_OK(ostore_get(&got, &len, f.st, "v.lance/_versions/1.manifest",
			    10, &err), &err);
	CHECK_EQ_U64(len, 2);
	CHECK(!memcmp(got, "vh", 2));
	free(got);
	ostore_conf_free(conf);
	teardown(&f);
}

TEST_MAIN(TEST_ENTRY(rgw_put_get), TEST_ENTRY(rgw_list),
	  TEST_ENTRY(rgw_put_if_absent), TEST_ENTRY(rgw_multipart),
	  TEST_ENTRY(rgw_delete_and_missing), TEST_ENTRY(rgw_open_errors),
	  TEST_ENTRY(rgw_virtual_hosted))
