/* test_s3.c - the S3 backend's pieces that need no server: SigV4 against
 * AWS's published example, URI and header canonicalisation, the XML
 * replies, the credentials ini parser and chain, and addressing. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "s3_int.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static char *sign(const struct s3_sigv4_req *r)
{
	struct lc_err err = { 0 };
	char *auth = NULL;

	if (s3_sigv4_sign(&auth, r, AK, SK, 1, NULL, &err))
		fprintf(stderr, "sign: %s\n", err.msg);
	return auth;
}

/* AWS's "GET object" example (research/s3.md §9.1). */
TEST(sigv4_aws_vector)
{
	static const struct s3_kv hs[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", S3_EMPTY_SHA256 },
		{ "x-amz-date", "20130524T000000Z" },
	};
	struct s3_sigv4_req r = {
		.method = "GET", .path = "/test.txt", .headers = hs,
		.n_headers = 4, .payload_hash = S3_EMPTY_SHA256,
		.amz_date = "20130524T000000Z", .region = "us-east-1",
	};
	struct lc_err err = { 0 };
	struct lc_buf b;
	char *auth;

	lc_buf_init(&b, 0);
	CHECK_OK(s3_sigv4_canonical(&b, &r, &err), &err);
	CHECK_STR((char *)b.data,
		  "GET\n/test.txt\n\n"
		  "host:examplebucket.s3.amazonaws.com\n"
		  "range:bytes=0-9\n"
		  "x-amz-content-sha256:" S3_EMPTY_SHA256 "\n"
		  "x-amz-date:20130524T000000Z\n\n"
		  "host;range;x-amz-content-sha256;x-amz-date\n"
		  S3_EMPTY_SHA256);
	lc_buf_reset(&b);
	auth = sign(&r);
	CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=" AK "/20130524/"
		  "us-east-1/s3/aws4_request, SignedHeaders=host;range;"
		  "x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c9644"
		  "20e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	free(auth);
}

/* AWS's other header-signing examples: a query with a sub-resource, a
 * query with values, and a PUT of a key with '$' and a signed body. */
TEST(sigv4_aws_more_vectors)
{
	static const struct s3_kv get_hs[] = {
		{ "host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-content-sha256", S3_EMPTY_SHA256 },
		{ "x-amz-date", "20130524T000000Z" },
	};
	static const struct s3_kv lifecycle[] = { { "lifecycle", NULL } };
	static const struct s3_kv list[] = { { "prefix", "J" },
					     { "max-keys", "2" } };
	static const char put_hash[] = "44ce7dd67c959e0d3524ffac1771dfbba87d"
				       "2b6b4b4e99e42034a8b803f8b072";
	static const struct s3_kv put_hs[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-date", "20130524T000000Z" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "x-amz-content-sha256", put_hash },
	};
	struct s3_sigv4_req r = {
		.method = "GET", .path = "/", .headers = get_hs,
		.n_headers = 3, .payload_hash = S3_EMPTY_SHA256,
		.amz_date = "20130524T000000Z", .region = "us-east-1",
		.query = lifecycle, .n_query = 1,
	};
	char hash[65], *auth;

	auth = sign(&r);
	CHECK(auth && strstr(auth, "Signature=fea454ca298b7da1c68078a5d1bdbf"
			     "bbe0d65c699e0f91ac7a200a0136783543"));
	free(auth);
	r.query = list;
	r.n_query = 2;
	auth = sign(&r);
	CHECK(auth && strstr(auth, "Signature=34b48302e7b5fa45bde8084f4b7868"
			     "a86f0a534bc59db6670ed5711ef69dc6f7"));
	free(auth);
	s3_sha256_hex(hash, "Welcome to Amazon S3.", 21);
	CHECK_STR(hash, put_hash);
	r = (struct s3_sigv4_req){
		.method = "PUT", .path = "/test$file.text", .headers = put_hs,
		.n_headers = 5, .payload_hash = put_hash,
		.amz_date = "20130524T000000Z", .region = "us-east-1",
	};
	auth = sign(&r);
	CHECK(auth && strstr(auth, "SignedHeaders=date;host;x-amz-content-"
			     "sha256;x-amz-date;x-amz-storage-class, "));
	CHECK(strstr(auth, "Signature=98ad721746da40c64f1a55b78f14c238d841ea"
		     "1380cd77a1b5971af0ece108bd"));
	free(auth);
}

static void check_path(const char *raw, const char *want)
{
	struct lc_err err = { 0 };
	struct lc_buf b;

	lc_buf_init(&b, 0);
	CHECK_OK(s3_sigv4_path(&b, raw, &err), &err);
	CHECK_STR((char *)b.data, want);
	lc_buf_reset(&b);
}

/* Each segment encoded once; '/' kept, "//" kept, nothing normalised. */
TEST(sigv4_uri_encoding)
{
	check_path("/b/a b", "/b/a%20b");
	check_path("/b/x+y", "/b/x%2By");
	check_path("/b/100%", "/b/100%25");
	check_path("/b/k=v&w", "/b/k%3Dv%26w");
	check_path("/b/til~de_-.", "/b/til~de_-.");
	check_path("/b/\xc3\xbc\xe2\x82\xac", "/b/%C3%BC%E2%82%AC");
	check_path("/b/a//b/./c/../d", "/b/a//b/./c/../d");
	check_path("/b/*(x)!'", "/b/%2A%28x%29%21%27");
	check_path("relative", "/relative");
	check_path("/", "/");
}

TEST(sigv4_query_and_headers)
{
	static const struct s3_kv q[] = {
		{ "prefix", "db/t.lance/_versions/" },
		{ "list-type", "2" },
		{ "delimiter", "/" },
		{ "uploads", NULL },
		{ "continuation-token", "a+b=c d" },
		{ "x", "2" },
		{ "x", "1" },
	};
	static const struct s3_kv hs[] = {
		{ "X-Amz-Date", "20240101T000000Z" },
		{ "Host", "h:7480" },
		{ "If-None-Match", "  *  " },
		{ "x-amz-meta-note", "a   b \t c" },
		{ "x-amz-content-sha256", S3_UNSIGNED_PAYLOAD },
	};
	struct s3_sigv4_req r = {
		.method = "PUT", .path = "/b/k", .query = q, .n_query = 7,
		.headers = hs, .n_headers = 5,
		.payload_hash = S3_UNSIGNED_PAYLOAD,
		.amz_date = "20240101T000000Z", .region = "r",
	};
	struct lc_err err = { 0 };
	struct lc_buf b;

	lc_buf_init(&b, 0);
	CHECK_OK(s3_sigv4_query(&b, q, 7, &err), &err);
	CHECK_STR((char *)b.data, "continuation-token=a%2Bb%3Dc%20d&"
		  "delimiter=%2F&list-type=2&prefix=db%2Ft.lance%2F_versions"
		  "%2F&uploads=&x=1&x=2");
	lc_buf_reset(&b);
	CHECK_OK(s3_sigv4_canonical(&b, &r, &err), &err);
	CHECK(strstr((char *)b.data, "\nhost:h:7480\nif-none-match:*\n"
		     "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
		     "x-amz-date:20240101T000000Z\nx-amz-meta-note:a b c\n\n"
		     "host;if-none-match;x-amz-content-sha256;x-amz-date;"
		     "x-amz-meta-note\nUNSIGNED-PAYLOAD"));
	lc_buf_reset(&b);
}

/* The cached signing key gives the same signatures as a fresh one, and
 * a new day, region or key generation is never signed with a stale key. */
TEST(sigv4_key_cache)
{
	static const struct s3_kv hs[] = {
		{ "host", "h" }, { "x-amz-date", "20240101T000000Z" },
		{ "x-amz-content-sha256", S3_UNSIGNED_PAYLOAD },
	};
	struct s3_sigv4_req r = {
		.method = "GET", .path = "/k", .headers = hs, .n_headers = 3,
		.payload_hash = S3_UNSIGNED_PAYLOAD,
		.amz_date = "20240101T000000Z", .region = "us-east-1",
	};
	struct s3_sigv4_cache cache;
	struct lc_err err = { 0 };
	char *a, *b, *c, *d;

	s3_sigv4_cache_init(&cache);
	CHECK_OK(s3_sigv4_sign(&a, &r, AK, SK, 1, &cache, &err), &err);
	CHECK_OK(s3_sigv4_sign(&b, &r, AK, SK, 1, &cache, &err), &err);
	CHECK_STR(a, b);
	r.amz_date = "20240102T000000Z";
	CHECK_OK(s3_sigv4_sign(&c, &r, AK, SK, 1, &cache, &err), &err);
	d = sign(&r);
	CHECK_STR(c, d);
	free(c);
	/* refreshed credentials: new generation, new secret */
	CHECK_OK(s3_sigv4_sign(&c, &r, AK, "other", 2, &cache, &err), &err);
	CHECK(strcmp(c, d) != 0);
	s3_sigv4_cache_reset(&cache);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* ---- XML ---------------------------------------------------------- */

static const char list_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>b</Name><Prefix>db%2F</Prefix><KeyCount>4</KeyCount>"
	"<MaxKeys>1000</MaxKeys><Delimiter>%2F</Delimiter>"
	"<IsTruncated>true</IsTruncated>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
	"</NextContinuationToken><EncodingType>url</EncodingType>"
	"<Contents><Key>db%2Fa%20b%2Bc</Key>"
	"<LastModified>2024-02-03T04:05:06.000Z</LastModified>"
	"<ETag>&quot;abc&quot;</ETag><Size>1234567890123</Size>"
	"<StorageClass>STANDARD</StorageClass></Contents>"
	"<Contents><Key>db%2F%C3%BC+x</Key><Size>0</Size></Contents>"
	"<CommonPrefixes><Prefix>db%2Ft.lance%2F</Prefix></CommonPrefixes>"
	"<CommonPrefixes><Prefix>db%2Fz%2F</Prefix></CommonPrefixes>"
	"</ListBucketResult>";

TEST(xml_list_page)
{
	struct s3_list_page pg;
	struct lc_err err = { 0 };

	CHECK_OK(s3_xml_list(&pg, list_xml, strlen(list_xml), &err), &err);
	CHECK_EQ_U64(pg.n_keys, 2);
	CHECK_STR(pg.keys[0].name, "db/a b+c");
	CHECK_EQ_U64(pg.keys[0].size, 1234567890123ULL);
	CHECK_EQ_U64(pg.keys[0].mtime, 1706933106);
	CHECK_STR(pg.keys[1].name, "db/\xc3\xbc x");
	CHECK_EQ_U64(pg.n_prefixes, 2);
	CHECK_STR(pg.prefixes[0].name, "db/t.lance/");
	CHECK_STR(pg.prefixes[1].name, "db/z/");
	CHECK(pg.truncated);
	CHECK_STR(pg.next_token,
		  "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	s3_list_page_reset(&pg);
}

/* A server that ignores encoding-type=url sends raw keys: leave them. */
TEST(xml_list_raw_keys)
{
	static const char xml[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>100%+a b</Key><Size>3</Size></Contents>"
		"</ListBucketResult>";
	struct s3_list_page pg;
	struct lc_err err = { 0 };

	CHECK_OK(s3_xml_list(&pg, xml, strlen(xml), &err), &err);
	CHECK_EQ_U64(pg.n_keys, 1);
	CHECK_STR(pg.keys[0].name, "100%+a b");
	CHECK(!pg.truncated);
	s3_list_page_reset(&pg);
}

static void list_refused(const char *xml, const char *why)
{
	struct s3_list_page pg;
	struct lc_err err = { 0 };

	CHECK_EQ_U64(s3_xml_list(&pg, xml, strlen(xml), &err), EIO);
	if (!strstr(err.msg, why))
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, why);
	CHECK(strstr(err.msg, why) != NULL);
	CHECK_EQ_U64(pg.n_keys, 0);
}

TEST(xml_list_refusals)
{
	list_refused("<ListBucketResult><IsTruncated>true</IsTruncated>"
		     "</ListBucketResult>", "continuation token");
	list_refused("<Error><Code>AccessDenied</Code></Error>",
		     "expected <ListBucketResult>");
	list_refused("<ListBucketResult><Contents><Key>a</Key><Size>-1"
		     "</Size></Contents></ListBucketResult>", "<Size>");
	list_refused("<ListBucketResult><Contents><Size>1</Size>"
		     "</Contents></ListBucketResult>", "without a name");
	list_refused("<ListBucketResult><Contents><Key>", "xml:");
	list_refused("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult>"
		     "<Contents><Key>&a;</Key></Contents></ListBucketResult>",
		     "DOCTYPE");
	list_refused("<ListBucketResult><EncodingType>url</EncodingType>"
		     "<Contents><Key>a%00b</Key><Size>1</Size></Contents>"
		     "</ListBucketResult>", "escape");
	list_refused("<ListBucketResult><EncodingType>url</EncodingType>"
		     "<Contents><Key>a%4</Key><Size>1</Size></Contents>"
		     "</ListBucketResult>", "escape");
	list_refused("", "xml:");
}

TEST(xml_error_body)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>"
		"<Code>SignatureDoesNotMatch</Code><Message>The request "
		"signature we calculated does not match\x01</Message>"
		"<RequestId>tx0001</RequestId><HostId>h</HostId></Error>";
	struct s3_xml_error e;

	CHECK_EQ_U64(s3_xml_error(&e, xml, strlen(xml)), 0);
	/* \x01 is not even legal XML: the body is refused as a whole */
	CHECK(!e.present);
	CHECK_EQ_U64(s3_xml_error(&e, xml, 118), 0);
	CHECK(!e.present);
	{
		static const char ok[] =
			"<Error><Code>NoSuchBucket</Code><Message>The "
			"specified bucket does not exist</Message><BucketName>"
			"nob</BucketName><RequestId>tx9</RequestId></Error>";

		CHECK_EQ_U64(s3_xml_error(&e, ok, strlen(ok)), 0);
		CHECK(e.present);
		CHECK_STR(e.code, "NoSuchBucket");
		CHECK_STR(e.message, "The specified bucket does not exist");
		CHECK_STR(e.request_id, "tx9");
	}
	CHECK_EQ_U64(s3_xml_error(&e, "<html>502</html>", 16), 0);
	CHECK(!e.present);
	CHECK_STR(e.code, "");
}

TEST(xml_multipart)
{
	static const char init[] =
		"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
		"<UploadId>2~abc-DEF_1</UploadId>"
		"</InitiateMultipartUploadResult>";
	static const char done[] =
		"<CompleteMultipartUploadResult><Location>l</Location>"
		"<ETag></ETag></CompleteMultipartUploadResult>";
	static const char err200[] =
		"<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code>"
		"<Message>We encountered an internal error.</Message></Error>";
	struct s3_xml_error xe;
	struct lc_err err = { 0 };
	char *id;

	CHECK_OK(s3_xml_upload_id(&id, init, strlen(init), &err), &err);
	CHECK_STR(id, "2~abc-DEF_1");
	free(id);
	CHECK_EQ_U64(s3_xml_upload_id(&id, done, strlen(done), &err), EIO);
	CHECK(id == NULL);
	lc_err_clear(&err);
	CHECK_OK(s3_xml_complete(&xe, done, strlen(done), &err), &err);
	/* S3 may answer 200 and still have failed */
	CHECK_EQ_U64(s3_xml_complete(&xe, err200, strlen(err200), &err),
		     EAGAIN);
	CHECK_STR(xe.code, "InternalError");
	CHECK_EQ_U64(s3_xml_complete(&xe, "<Other/>", 8, &err), EIO);
}

TEST(iso8601)
{
	CHECK_EQ_U64(s3_parse_iso8601("1970-01-01T00:00:00Z"), 0);
	CHECK_EQ_U64(s3_parse_iso8601("2024-02-03T04:05:06.000Z"),
		     1706933106);
	CHECK_EQ_U64(s3_parse_iso8601("2024-13-03T04:05:06Z"), 0);
	CHECK_EQ_U64(s3_parse_iso8601("garbage"), 0);
}

/* ---- credentials -------------------------------------------------- */

static const char ini[] =
	"\xef\xbb\xbf# comment\r\n"
	"[default]\r\n"
	"aws_access_key_id = AKDEFAULT\r\n"
	"aws_secret_access_key=SKDEFAULT  \r\n"
	"\n"
	"; another\n"
	"[work]\n"
	"  region = eu-west-1\n"
	"AWS_ACCESS_KEY_ID\t=\tAKWORK\n"
	"aws_secret_access_key = SK/WORK+x=\n"
	"aws_session_token = TOKWORK\n"
	"s3 =\n"
	"    max_concurrent_requests = 20\n"
	"[half]\n"
	"aws_access_key_id = AKHALF\n";

TEST(creds_ini)
{
	struct s3_creds c;
	struct lc_err err = { 0 };

	CHECK_OK(s3_creds_ini_parse(&c, ini, strlen(ini), "default", &err),
		 &err);
	CHECK_STR(c.access_key, "AKDEFAULT");
	CHECK_STR(c.secret, "SKDEFAULT");
	CHECK(c.token == NULL);
	s3_creds_reset(&c);
	CHECK_OK(s3_creds_ini_parse(&c, ini, strlen(ini), "work", &err),
		 &err);
	CHECK_STR(c.access_key, "AKWORK");
	CHECK_STR(c.secret, "SK/WORK+x=");
	CHECK_STR(c.token, "TOKWORK");
	s3_creds_reset(&c);
	/* names are case-sensitive; a missing one is ENOENT */
	CHECK_EQ_U64(s3_creds_ini_parse(&c, ini, strlen(ini), "Work", &err),
		     ENOENT);
	CHECK(strstr(err.msg, "[Work]"));
	lc_err_clear(&err);
	CHECK_EQ_U64(s3_creds_ini_parse(&c, ini, strlen(ini), "half", &err),
		     EINVAL);
	CHECK(strstr(err.msg, "aws_secret_access_key"));
	lc_err_clear(&err);
}

/* A malformed file is refused by line number; the text of the line (it
 * may be a secret) never appears. */
TEST(creds_ini_malformed)
{
	static const char bad1[] = "[default]\naws_access_key_id = A\n"
				   "SECRETSECRETSECRET\n";
	static const char bad2[] = "[default\naws_access_key_id = A\n";
	static const char bad3[] = "[default]\naws_access_key_id = A\n"
				   "aws_secret_access_key = S\0ECRET\n";
	static const char bad4[] = "[default]\naws_secret_access_key=S\n"
				   "[work\n";
	struct s3_creds c;
	struct lc_err err = { 0 };

	CHECK_EQ_U64(s3_creds_ini_parse(&c, bad1, strlen(bad1), "default",
					&err), EINVAL);
	CHECK(strstr(err.msg, "line 3"));
	CHECK(!strstr(err.msg, "SECRET"));
	lc_err_clear(&err);
	CHECK_EQ_U64(s3_creds_ini_parse(&c, bad2, strlen(bad2), "default",
					&err), EINVAL);
	CHECK(strstr(err.msg, "line 1"));
	lc_err_clear(&err);
	CHECK_EQ_U64(s3_creds_ini_parse(&c, bad3, sizeof(bad3) - 1,
					"default", &err), EINVAL);
	CHECK(!strstr(err.msg, "ECRET"));
	CHECK(c.access_key == NULL && c.secret == NULL);
	lc_err_clear(&err);
	/* keys already taken are dropped when a later line is bad (a
	 * fuzzer find: the secret leaked and was half-returned) */
	CHECK_EQ_U64(s3_creds_ini_parse(&c, bad4, strlen(bad4), "default",
					&err), EINVAL);
	CHECK(strstr(err.msg, "line 3"));
	CHECK(c.access_key == NULL && c.secret == NULL);
}

TEST(creds_json)
{
	static const char doc[] =
		"{\"Code\":\"Success\",\"LastUpdated\":\"2024-01-01T00:00:00Z\","
		"\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAX\","
		"\"SecretAccessKey\":\"sec\",\"Token\":\"tok\","
		"\"Expiration\":\"2024-01-01T06:00:00Z\"}";
	struct s3_creds c;
	struct lc_err err = { 0 };

	CHECK_OK(s3_creds_json_parse(&c, doc, strlen(doc), &err), &err);
	CHECK_STR(c.access_key, "ASIAX");
	CHECK_STR(c.secret, "sec");
	CHECK_STR(c.token, "tok");
	CHECK_EQ_U64(c.expires, 1704088800);
	s3_creds_reset(&c);
	CHECK_EQ_U64(s3_creds_json_parse(&c, "{\"Code\":\"Failed\"}", 17,
					 &err), EIO);
	lc_err_clear(&err);
	CHECK_EQ_U64(s3_creds_json_parse(&c, "[1]", 3, &err), EIO);
}

struct env_dir {
	char dir[64];
	char creds[128];
	char other[128];
};

/* A private HOME with ~/.aws/credentials, and no AWS_* variables. */
static int env_setup(struct env_dir *e)
{
	char path[160];
	FILE *f;

	snprintf(e->dir, sizeof(e->dir), "/tmp/lancefs-creds-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/.aws", e->dir);
	mkdir(path, 0700);
	snprintf(e->creds, sizeof(e->creds), "%s/.aws/credentials", e->dir);
	f = fopen(e->creds, "w");
	if (!f)
		return -1;
	fputs("[default]\naws_access_key_id=AKSHARED\n"
	      "aws_secret_access_key=SKSHARED\n[p2]\n"
	      "aws_access_key_id=AKP2\naws_secret_access_key=SKP2\n", f);
	fclose(f);
	snprintf(e->other, sizeof(e->other), "%s/other.ini", e->dir);
	f = fopen(e->other, "w");
	if (!f)
		return -1;
	fputs("[default]\naws_access_key_id=AKFILE\n"
	      "aws_secret_access_key=SKFILE\n", f);
	fclose(f);
	setenv("HOME", e->dir, 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	return 0;
}

static void env_cleanup(struct env_dir *e)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", e->dir);
}

static int chain_key(const struct ostore_conf *conf, char *ak, size_t n,
		     enum s3_cred_src *src, struct lc_err *err)
{
	struct s3_credsrc cs;
	int rc = s3_credsrc_init(&cs, conf, false, err);

	if (!rc)
		snprintf(ak, n, "%s", cs.cur.access_key ?
			 cs.cur.access_key : "(none)");
	*src = cs.src;
	s3_credsrc_reset(&cs);
	return rc;
}

static int conf_set(struct ostore_conf *c, const char *opt)
{
	struct lc_err err = { 0 };

	return ostore_conf_parse(c, opt, &err);
}

/* Options, then credentials_file=, then the environment, then
 * ~/.aws/credentials; nothing at all is a clear refusal. */
TEST(creds_chain_order)
{
	struct ostore_conf *conf;
	struct lc_err err = { 0 };
	enum s3_cred_src src;
	struct env_dir e;
	char ak[64], opt[200];

	CHECK(env_setup(&e) == 0);
	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	CHECK(conf_set(conf, "aws_access_key_id=AKOPT") == 0);
	CHECK(conf_set(conf, "secret_access_key=SKOPT") == 0);
	snprintf(opt, sizeof(opt), "credentials_file=%s", e.other);
	CHECK(conf_set(conf, opt) == 0);
	CHECK_OK(chain_key(conf, ak, sizeof(ak), &src, &err), &err);
	CHECK_STR(ak, "AKOPT");
	CHECK_EQ_U64(src, S3_CRED_OPTIONS);
	ostore_conf_free(conf);

	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	CHECK(conf_set(conf, opt) == 0);
	CHECK_OK(chain_key(conf, ak, sizeof(ak), &src, &err), &err);
	CHECK_STR(ak, "AKFILE");
	CHECK_EQ_U64(src, S3_CRED_FILE);
	ostore_conf_free(conf);

	CHECK_OK(chain_key(NULL, ak, sizeof(ak), &src, &err), &err);
	CHECK_STR(ak, "AKENV");
	CHECK_EQ_U64(src, S3_CRED_ENV);

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK_OK(chain_key(NULL, ak, sizeof(ak), &src, &err), &err);
	CHECK_STR(ak, "AKSHARED");
	CHECK_EQ_U64(src, S3_CRED_SHARED);
	setenv("AWS_PROFILE", "p2", 1);
	CHECK_OK(chain_key(NULL, ak, sizeof(ak), &src, &err), &err);
	CHECK_STR(ak, "AKP2");
	/* a named profile that is missing is an error, not a fall-through */
	setenv("AWS_PROFILE", "nope", 1);
	CHECK_EQ_U64(chain_key(NULL, ak, sizeof(ak), &src, &err), ENOENT);
	CHECK(strstr(err.msg, "[nope]"));
	lc_err_clear(&err);
	unsetenv("AWS_PROFILE");

	unlink(e.creds);
	CHECK_EQ_U64(chain_key(NULL, ak, sizeof(ak), &src, &err), EACCES);
	CHECK(strstr(err.msg, "no S3 credentials"));
	CHECK(strstr(err.msg, "access_key_id="));
	lc_err_clear(&err);
	env_cleanup(&e);
}

TEST(creds_chain_edges)
{
	struct ostore_conf *conf;
	struct lc_err err = { 0 };
	enum s3_cred_src src;
	struct env_dir e;
	char ak[64];

	CHECK(env_setup(&e) == 0);
	/* half of a pair is a usage error that names the missing half */
	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	CHECK(conf_set(conf, "access_key_id=AK") == 0);
	CHECK_EQ_U64(chain_key(conf, ak, sizeof(ak), &src, &err), EINVAL);
	CHECK(strstr(err.msg, "secret_access_key="));
	lc_err_clear(&err);
	ostore_conf_free(conf);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	CHECK_EQ_U64(chain_key(NULL, ak, sizeof(ak), &src, &err), EINVAL);
	CHECK(strstr(err.msg, "AWS_SECRET_ACCESS_KEY"));
	lc_err_clear(&err);
	unsetenv("AWS_ACCESS_KEY_ID");
	/* credentials_file= naming a missing file does not fall through */
	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	CHECK(conf_set(conf, "credentials_file=/nonexistent/creds") == 0);
	CHECK_EQ_U64(chain_key(conf, ak, sizeof(ak), &src, &err), ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/creds"));
	lc_err_clear(&err);
	ostore_conf_free(conf);
	/* skip_signature wins over everything */
	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	CHECK(conf_set(conf, "aws_skip_signature=true") == 0);
	CHECK_OK(chain_key(conf, ak, sizeof(ak), &src, &err), &err);
	CHECK_EQ_U64(src, S3_CRED_ANON);
	ostore_conf_free(conf);
	/* the session token from the environment comes along */
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	setenv("AWS_SESSION_TOKEN", "TOKENV", 1);
	{
		struct s3_credsrc cs;
		struct s3_creds c;
		uint64_t gen;

		CHECK_OK(s3_credsrc_init(&cs, NULL, false, &err), &err);
		CHECK_OK(s3_credsrc_get(&cs, &c, &gen, &err), &err);
		CHECK_STR(c.token, "TOKENV");
		CHECK_EQ_U64(gen, 1);
		s3_creds_reset(&c);
		s3_credsrc_reset(&cs);
	}
	env_cleanup(&e);
}

/* ---- addressing --------------------------------------------------- */

static int addr(struct s3_addr *a, const char *uri, const char *opts,
		struct lc_err *err)
{
	struct ostore_conf *conf;
	char buf[512], *save = NULL;
	int rc = ostore_conf_new(&conf, err);

	snprintf(buf, sizeof(buf), "%s", opts);
	for (char *t = strtok_r(buf, ",", &save); t && !rc;
	     t = strtok_r(NULL, ",", &save))
		rc = ostore_conf_parse(conf, t, err);
	if (!rc)
		rc = s3_addr_init(a, uri, conf, err);
	ostore_conf_free(conf);
	return rc;
}

static void check_url(const struct s3_addr *a, const char *key,
		      const char *want)
{
	struct lc_err err = { 0 };
	struct lc_buf b, p;

	lc_buf_init(&b, 0);
	lc_buf_init(&p, 0);
	CHECK_OK(s3_addr_path(&p, a, key, &err), &err);
	CHECK_OK(lc_buf_printf(&b, &err, "%s://%s", a->https ? "https" :
			       "http", a->host_header), &err);
	CHECK_OK(s3_sigv4_path(&b, (char *)p.data, &err), &err);
	CHECK_STR((char *)b.data, want);
	lc_buf_reset(&b);
	lc_buf_reset(&p);
}

TEST(addressing)
{
	struct lc_err err = { 0 };
	struct s3_addr a;

	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ALLOW_HTTP");
	/* an endpoint means path-style */
	CHECK_OK(addr(&a, "s3://lance/db/t.lance/",
		      "endpoint=http://127.0.0.1:7480,allow_http=true", &err),
		 &err);
	CHECK_STR(a.bucket, "lance");
	CHECK_STR(a.prefix, "db/t.lance");
	CHECK_STR(a.region, "us-east-1");
	CHECK_STR(a.host_header, "127.0.0.1:7480");
	CHECK(a.resolve == NULL);
	check_url(&a, "db/a b.lance", "http://127.0.0.1:7480/lance/db/"
		  "a%20b.lance");
	check_url(&a, "", "http://127.0.0.1:7480/lance");
	s3_addr_reset(&a);
	/* the key prefix %-decoded, as LanceDB's object store names the
	 * keys of the same URI (a '%' that escapes nothing stays) */
	CHECK_OK(addr(&a, "s3://lance/my%20db/100%25%2x/t.lance",
		      "endpoint=http://127.0.0.1:7480,allow_http=true", &err),
		 &err);
	CHECK_STR(a.prefix, "my db/100%%2x/t.lance");
	s3_addr_reset(&a);
	/* virtual-hosted on localhost: bucket.localhost, pinned */
	CHECK_OK(addr(&a, "s3://lance", "endpoint=http://localhost:7480,"
		      "allow_http=1,virtual_hosted_style_request=true,"
		      "region=eu-west-3", &err), &err);
	CHECK_STR(a.host_header, "lance.localhost:7480");
	CHECK_STR(a.resolve, "lance.localhost:7480:127.0.0.1");
	CHECK_STR(a.region, "eu-west-3");
	CHECK_STR(a.prefix, "");
	check_url(&a, "k", "http://lance.localhost:7480/k");
	s3_addr_reset(&a);
	/* an endpoint that already names the bucket is used as is */
	CHECK_OK(addr(&a, "s3://mybucket/p", "endpoint=https://mybucket.s3."
		      "example.com,virtual_hosted_style_request=true", &err),
		 &err);
	CHECK_STR(a.host_header, "mybucket.s3.example.com");
	CHECK(a.resolve == NULL);
	check_url(&a, "p/x", "https://mybucket.s3.example.com/p/x");
	s3_addr_reset(&a);
	/* AWS: virtual-hosted by default, path-style for dotted names */
	setenv("AWS_REGION", "ap-south-1", 1);
	CHECK_OK(addr(&a, "s3://bkt/x", "", &err), &err);
	CHECK_STR(a.host_header, "bkt.s3.ap-south-1.amazonaws.com");
	CHECK(a.https);
	s3_addr_reset(&a);
	CHECK_OK(addr(&a, "s3://my.bkt/x", "", &err), &err);
	CHECK_STR(a.host_header, "s3.ap-south-1.amazonaws.com");
	check_url(&a, "x", "https://s3.ap-south-1.amazonaws.com/my.bkt/x");
	s3_addr_reset(&a);
	unsetenv("AWS_REGION");
	/* OSS: always virtual-hosted */
	CHECK_OK(addr(&a, "oss://ob/p", "region=cn-hangzhou", &err), &err);
	CHECK(a.oss && a.vhost);
	CHECK_STR(a.host_header, "ob.s3.oss-cn-hangzhou.aliyuncs.com");
	s3_addr_reset(&a);
	CHECK_OK(addr(&a, "oss://ob/p", "endpoint=http://[::1]:9000,"
		      "allow_http=true", &err), &err);
	CHECK_STR(a.host_header, "ob.[::1]:9000");
	CHECK_STR(a.resolve, "ob.[::1]:9000:[::1]");
	s3_addr_reset(&a);
}

static void addr_refused(const char *uri, const char *opts, const char *why)
{
	struct lc_err err = { 0 };
	struct s3_addr a;

	CHECK_EQ_U64(addr(&a, uri, opts, &err), EINVAL);
	if (!strstr(err.msg, why))
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, why);
	CHECK(strstr(err.msg, why) != NULL);
	CHECK_EQ_U64(err.kind, LC_EK_USAGE);
	s3_addr_reset(&a);
}

TEST(addressing_refusals)
{
	unsetenv("AWS_ALLOW_HTTP");
	unsetenv("OSS_ENDPOINT");
	unsetenv("OSS_REGION");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	addr_refused("s3://b/x", "endpoint=http://127.0.0.1:7480",
		     "allow_http=true");
	addr_refused("s3://b/x", "endpoint=ftp://h", "http:// or https://");
	addr_refused("s3://b/x", "endpoint=https://h/path", "path");
	addr_refused("s3://b/x", "endpoint=https://h:0", "bad port");
	addr_refused("s3:///x", "", "bad bucket name");
	addr_refused("s3://b?x/y", "", "bad bucket name");
	addr_refused("oss://b/x", "", "region=");
	addr_refused("oss://b/x", "region=r,virtual_hosted_style_request="
		     "false", "virtual-hosted");
	addr_refused("s3://b/x", "virtual_hosted_style_request=maybe",
		     "true or false");
}

TEST(open_uri_usage_errors)
{
	struct ostore_conf *conf;
	struct lc_err err = { 0 };
	struct ostore *st;

	unsetenv("AWS_ALLOW_HTTP");
	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	CHECK(conf_set(conf, "endpoint=http://127.0.0.1:1") == 0);
	CHECK_EQ_U64(ostore_open_uri(&st, "s3://b/x.lance", conf, &err),
		     EINVAL);
	CHECK(strstr(err.msg, "allow_http"));
	CHECK(st == NULL);
	lc_err_clear(&err);
	/* not a number: refused as given; out of range: at open */
	CHECK_EQ_U64(ostore_conf_parse(conf, "timeout=soon", &err), EINVAL);
	CHECK(strstr(err.msg, "timeout=soon"));
	lc_err_clear(&err);
	CHECK(conf_set(conf, "timeout=99999") == 0);
	CHECK_EQ_U64(ostore_open_uri(&st, "s3://b/x.lance", conf, &err),
		     EINVAL);
	CHECK(strstr(err.msg, "timeout=99999"));
	ostore_conf_free(conf);
}

/* ca_file= is checked when the store opens: a missing file, a folder and
 * a file with no PEM certificate are usage errors naming the option. */
static int ca_open(const char *ca, struct lc_err *err)
{
	struct ostore_conf *conf;
	struct s3_conn *c;
	char opt[256];
	int rc;

	if (ostore_conf_new(&conf, err))
		return -1;
	snprintf(opt, sizeof(opt), "ca_file=%s", ca);
	rc = conf_set(conf, "endpoint=https://127.0.0.1:1") ||
	     conf_set(conf, "skip_signature=true") || conf_set(conf, opt);
	c = lc_malloc(sizeof(*c));
	if (!rc && c)
		rc = s3_conn_init(c, "s3://b/x.lance", conf, err);
	if (c)
		s3_conn_put(c);
	ostore_conf_free(conf);
	return rc;
}

TEST(ca_file_checked)
{
	char dir[64], path[128];
	struct lc_err err = { 0 };
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/lancefs-ca-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/none.pem", dir);
	CHECK_EQ_U64(ca_open(path, &err), EINVAL);
	CHECK(strstr(err.msg, path) && strstr(err.msg, "No such file"));
	lc_err_clear(&err);
	CHECK_EQ_U64(ca_open(dir, &err), EINVAL);
	CHECK(strstr(err.msg, dir) && strstr(err.msg, "not a file"));
	lc_err_clear(&err);
	snprintf(path, sizeof(path), "%s/junk.pem", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n"
	      "-----END CERTIFICATE-----\n", f);
	fclose(f);
	CHECK_EQ_U64(ca_open(path, &err), EINVAL);
	CHECK(strstr(err.msg, path) && strstr(err.msg, "no PEM certificate"));
	lc_err_clear(&err);
	unlink(path);
	rmdir(dir);
}

TEST_MAIN(TEST_ENTRY(sigv4_aws_vector), TEST_ENTRY(sigv4_aws_more_vectors),
	  TEST_ENTRY(sigv4_uri_encoding), TEST_ENTRY(sigv4_query_and_headers),
	  TEST_ENTRY(sigv4_key_cache), TEST_ENTRY(xml_list_page),
	  TEST_ENTRY(xml_list_raw_keys), TEST_ENTRY(xml_list_refusals),
	  TEST_ENTRY(xml_error_body), TEST_ENTRY(xml_multipart),
	  TEST_ENTRY(iso8601), TEST_ENTRY(creds_ini),
	  TEST_ENTRY(creds_ini_malformed), TEST_ENTRY(creds_json),
	  TEST_ENTRY(creds_chain_order), TEST_ENTRY(creds_chain_edges),
	  TEST_ENTRY(addressing), TEST_ENTRY(addressing_refusals),
	  TEST_ENTRY(open_uri_usage_errors), TEST_ENTRY(ca_file_checked))
