/*
 * s3_int.h - the pieces of the S3 backend that tests and fuzzers reach
 * directly: SigV4 signing (sigv4.c), the credentials chain (creds.c), the
 * XML replies (s3xml.c) and the addressing rules (s3.c). Nothing outside
 * objstore/ and tests/ includes this.
 */
#ifndef S3_INT_H
#define S3_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ostore.h"

/* A failure the remote side reported (after any retries). */
#define S3_REMOTE(err, code, ...) \
	lc_err_set((err), (code), LC_EK_REMOTE, __FILE__, __LINE__, \
		   __VA_ARGS__)

/* curl_global_init, once per process. */
void s3_curl_global(void);

/* ---- SigV4 (sigv4.c) ---------------------------------------------- */

#define S3_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct s3_kv {
	const char *name;
	const char *value;
};

/* One request as it will be sent. Path and query are raw (not yet
 * encoded): the signer encodes them and the same encoding is what goes on
 * the wire (s3_sigv4_path, s3_sigv4_query), so the two cannot disagree.
 * Every header listed is signed and must be sent exactly as given; host,
 * x-amz-date and x-amz-content-sha256 must be among them. */
struct s3_sigv4_req {
	const char *method;
	const char *path;		/* "/bucket/key" or "/key" */
	const struct s3_kv *query;	/* NULL value = "name=" */
	size_t n_query;
	const struct s3_kv *headers;
	size_t n_headers;
	const char *payload_hash;	/* hex SHA-256 or UNSIGNED-PAYLOAD */
	const char *amz_date;		/* YYYYMMDDTHHMMSSZ */
	const char *region;
};

/* The derived signing key, kept per day and region (and key generation,
 * so refreshed credentials never sign with a stale key). */
struct s3_sigv4_cache {
	pthread_mutex_t mu;
	char date[9];
	char region[64];
	uint64_t gen;
	uint8_t key[32];
	bool valid;
};

void s3_hex(char *out, const uint8_t *in, size_t n);
/* Hex SHA-256 of `len` bytes into out[65]. */
void s3_sha256_hex(char out[65], const void *data, size_t len);
/* Append `s` URI-encoded the AWS way: unreserved A-Z a-z 0-9 - _ . ~
 * stay, everything else is %XX (uppercase); '/' stays when keep_slash. */
int s3_uri_encode(struct lc_buf *b, const char *s, size_t n, bool keep_slash,
		  struct lc_err *err) LC_MUST_USE;
/* The encoded path and the sorted, encoded query, as sent and signed. */
int s3_sigv4_path(struct lc_buf *b, const char *path,
		  struct lc_err *err) LC_MUST_USE;
int s3_sigv4_query(struct lc_buf *b, const struct s3_kv *q, size_t n,
		   struct lc_err *err) LC_MUST_USE;
int s3_sigv4_canonical(struct lc_buf *b, const struct s3_sigv4_req *r,
		       struct lc_err *err) LC_MUST_USE;
/* The Authorization header value into a new string (*out). */
int s3_sigv4_sign(char **out, const struct s3_sigv4_req *r,
		  const char *access_key, const char *secret, uint64_t gen,
		  struct s3_sigv4_cache *cache, struct lc_err *err) LC_MUST_USE;
void s3_sigv4_cache_init(struct s3_sigv4_cache *c);
void s3_sigv4_cache_reset(struct s3_sigv4_cache *c);

/* ---- credentials (creds.c) ---------------------------------------- */

struct s3_creds {
	char *access_key;
	char *secret;
	char *token;		/* NULL without a session token */
	int64_t expires;	/* epoch seconds; 0 = never */
};

void s3_creds_reset(struct s3_creds *c);

/* Parse AWS ini bytes (untrusted: fuzzed) and take the keys of section
 * `profile`. ENOENT if the section or its keys are absent; EINVAL (a
 * line number, never content) if malformed. */
int s3_creds_ini_parse(struct s3_creds *out, const char *data, size_t len,
		       const char *profile, struct lc_err *err) LC_MUST_USE;
/* Parse an IMDS or container credentials JSON document (untrusted). */
int s3_creds_json_parse(struct s3_creds *out, const char *data, size_t len,
			struct lc_err *err) LC_MUST_USE;

enum s3_cred_src {
	S3_CRED_NONE = 0,
	S3_CRED_ANON,		/* skip_signature=true */
	S3_CRED_OPTIONS,
	S3_CRED_FILE,		/* credentials_file= */
	S3_CRED_ENV,
	S3_CRED_SHARED,		/* ~/.aws/credentials */
	S3_CRED_CONTAINER,	/* ECS / EKS Pod Identity */
	S3_CRED_IMDS,
};

/* Where credentials come from, and the current ones. Shared by a store
 * and its sub-stores; refreshed under `mu` when temporary ones near
 * expiry. */
struct s3_credsrc {
	pthread_mutex_t mu;
	enum s3_cred_src src;
	struct s3_creds cur;	/* protected by mu */
	uint64_t gen;		/* bumped on every change; protected by mu */
	bool oss;		/* also read OSS_* variables */
	char *imds_endpoint;	/* "http://169.254.169.254" or a test's */
	char *where;		/* the file or source, for messages */
};

/* Walk the chain: options, credentials_file=, environment, shared file,
 * container credentials, IMDSv2. Never puts a secret into `err`. */
int s3_credsrc_init(struct s3_credsrc *cs, const struct ostore_conf *conf,
		    bool oss, struct lc_err *err) LC_MUST_USE;
void s3_credsrc_reset(struct s3_credsrc *cs);
/* A copy of the current credentials (refreshed first if they expire
 * within five minutes); free with s3_creds_reset. */
int s3_credsrc_get(struct s3_credsrc *cs, struct s3_creds *out,
		   uint64_t *gen, struct lc_err *err) LC_MUST_USE;
/* A refresh after the server said ExpiredToken to a request signed with
 * generation `gen`: none when another request refreshed them since; an
 * error when they cannot be renewed (keys given, not fetched). */
int s3_credsrc_refresh(struct s3_credsrc *cs, uint64_t gen,
		       struct lc_err *err) LC_MUST_USE;
const char *s3_credsrc_name(enum s3_cred_src s);

/* ---- XML replies (s3xml.c) ---------------------------------------- */

struct s3_list_item {
	char *name;		/* key or prefix, URL-decoded */
	uint64_t size;
	int64_t mtime;
};

struct s3_list_page {
	struct s3_list_item *keys;
	size_t n_keys;
	struct s3_list_item *prefixes;
	size_t n_prefixes;
	bool truncated;
	char *next_token;	/* NextContinuationToken */
};

struct s3_xml_error {
	char code[64];		/* "" if the body carried none */
	char message[200];
	char request_id[80];
	bool present;		/* an <Error> root was found */
};

int s3_xml_list(struct s3_list_page *out, const char *xml, size_t len,
		struct lc_err *err) LC_MUST_USE;
void s3_list_page_reset(struct s3_list_page *p);
/* 0 and out->present if the body is an <Error>; a body that is not XML
 * leaves out->present false and still returns 0. */
int s3_xml_error(struct s3_xml_error *out, const char *xml, size_t len);
/* InitiateMultipartUploadResult's UploadId into a new string. */
int s3_xml_upload_id(char **out, const char *xml, size_t len,
		     struct lc_err *err) LC_MUST_USE;
/* A CompleteMultipartUpload reply: 0 if it is a
 * CompleteMultipartUploadResult; EAGAIN with the code filled if it is an
 * <Error> (which S3 sends with status 200); EIO otherwise. */
int s3_xml_complete(struct s3_xml_error *e, const char *xml, size_t len,
		    struct lc_err *err) LC_MUST_USE;
/* Decode %XX (and '+' as space, as encoding-type=url produces) into a new
 * string; EIO on a bad escape or an embedded NUL. */
int s3_url_decode(char **out, const char *s, size_t n,
		  struct lc_err *err) LC_MUST_USE;
/* "2024-01-02T03:04:05.000Z" to epoch seconds; 0 if unparsable. */
int64_t s3_parse_iso8601(const char *s);

/* ---- addressing (s3.c) -------------------------------------------- */

struct s3_addr {
	char *bucket;
	char *prefix;		/* no leading or trailing '/', may be "" */
	bool https;
	bool vhost;
	bool oss;
	char *host;		/* host the request goes to (vhost: bucket.) */
	char *connect_host;	/* endpoint host without the bucket */
	unsigned port;		/* 0 = the scheme's default */
	char *host_header;	/* host[:port], exactly what is signed */
	char *resolve;		/* CURLOPT_RESOLVE entry, or NULL */
	char *region;
};

/* Parse "s3://bucket/prefix" or "oss://..." with the settings into an
 * address; EINVAL (usage) with a message when they cannot work. */
int s3_addr_init(struct s3_addr *a, const char *uri,
		 const struct ostore_conf *conf, struct lc_err *err)
	LC_MUST_USE;
void s3_addr_reset(struct s3_addr *a);
/* The raw request path for `key` (relative to the bucket, "" for the
 * bucket itself) into *b: "/bucket/key" path-style, "/key" virtual. */
int s3_addr_path(struct lc_buf *b, const struct s3_addr *a, const char *key,
		 struct lc_err *err) LC_MUST_USE;

/* ---- transport (s3http.c) ---------------------------------------- */

/* State a store shares with its sub-stores: address, credentials,
 * connections, counters. */
struct s3_conn {
	atomic_int refs;
	struct s3_addr addr;
	struct s3_credsrc creds;
	struct s3_sigv4_cache sigcache;
	void *share;			/* CURLSH: DNS and TLS sessions */
	pthread_mutex_t share_mu[8];	/* one per curl_lock_data */
	pthread_mutex_t pool_mu;
	void **pool;			/* idle CURL easy handles */
	size_t n_pool, cap_pool;	/* protected by pool_mu */
	void *resolve;			/* curl_slist for CURLOPT_RESOLVE */
	char *ca_file;
	const char *ca_from;		/* "ca_file" or "AWS_CA_BUNDLE" */
	long connect_timeout_ms;
	long stall_s;			/* < 1 KiB/s for this long: retry */
	unsigned max_retries;
	long retry_budget_ms;		/* no request retries past this */
	atomic_llong clock_skew;	/* server minus local, seconds */
	_Atomic uint64_t n_requests, n_retries, n_errors, n_fetched, n_sent,
		n_in_flight;
};

#define S3_REQ_MAX_HDRS 8
#define S3_REQ_MAX_QUERY 6

/* One logical request (retried as a whole by s3_do). */
struct s3_req {
	const char *method;	/* GET HEAD PUT POST DELETE */
	const char *key;	/* key in the bucket, "" for the bucket */
	struct s3_kv query[S3_REQ_MAX_QUERY];
	size_t n_query;
	struct s3_kv hdrs[S3_REQ_MAX_HDRS];	/* signed and sent */
	size_t n_hdrs;
	const uint8_t *body;	/* PUT/POST body (may be empty) */
	size_t body_len;
	char body_hash[65];	/* filled by s3_do */
	uint8_t *dst;		/* 2xx body goes here, exactly dst_len */
	size_t dst_len;
	size_t resp_limit;	/* cap of `resp` (0: 1 MiB) */

	/* the answer of the last attempt */
	long status;
	struct lc_buf resp;	/* non-2xx bodies, and 2xx without dst */
	size_t dst_got;
	bool overflow;		/* more body bytes than allowed */
	char etag[130];
	uint64_t content_length;
	bool has_length;
	char content_range[96];
	char date[64];
	char request_id[96];
	struct s3_xml_error xerr;	/* parsed from a non-2xx body */
	unsigned attempts;
	uint64_t gen;		/* of the credentials that signed it */
	bool maybe_done;	/* an attempt got no definite answer: it may
				 * have taken effect */
	size_t sent;		/* read cursor into body */
};

int s3_conn_init(struct s3_conn *c, const char *uri,
		 const struct ostore_conf *conf, struct lc_err *err)
	LC_MUST_USE;
void s3_conn_put(struct s3_conn *c);
/* Run `r` with retries. 0 when an HTTP answer that is not worth
 * retrying arrived (any status: the caller maps it); an error when the
 * transport failed or retries ran out. s3_req_reset frees the answer. */
int s3_do(struct s3_conn *c, struct s3_req *r, struct lc_err *err)
	LC_MUST_USE;
void s3_req_reset(struct s3_req *r);
/* The error for a final non-2xx answer about `key`, naming
 * s3://bucket/key and the S3 code, never a secret. */
int s3_fail(struct s3_conn *c, const struct s3_req *r, const char *key,
	    struct lc_err *err);
/* Sleep for the full-jitter backoff of attempt `n` (0-based). */
void s3_backoff(unsigned n);

int ostore_s3_new(struct ostore **out, const char *uri,
		  const struct ostore_conf *conf, struct lc_err *err)
	LC_MUST_USE;

#endif
