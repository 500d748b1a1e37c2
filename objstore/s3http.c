/*
 * s3http.c - HTTP for the S3 backend: libcurl easy handles, signing, and
 * the retry loop.
 *
 * Threads: FUSE calls arrive on many threads at once. Idle easy handles
 * wait in a small locked pool; a request checks one out, so a handle is
 * never used by two threads, and a reused handle keeps its connection
 * alive. All handles share one CURLSH for the DNS cache and TLS sessions
 * (with a mutex per kind of data). Connections are not put in the share:
 * libcurl's maintainers say a shared connection pool is not safe across
 * concurrent threads; each pooled handle keeps its own.
 *
 * Transfers: HTTP/1.1 (S3's protocol; h2 would put everything on one TCP
 * connection), no signals, no "Expect: 100-continue" round trip, TCP
 * keepalive, a connect timeout (connect_timeout=, 5 s) and a stall limit:
 * a transfer moving under 1 KiB/s for timeout= seconds (30) is abandoned
 * and retried. There is no limit on a whole transfer, which may be large.
 *
 * Retries (research/s3.md §14): 5xx, 429, 408, 400 RequestTimeout, 409
 * ConditionalRequestConflict, connection failures, stalls and truncated
 * bodies; 403 RequestTimeTooSkewed after taking the clock offset from the
 * server's Date; ExpiredToken after refreshing credentials. Full-jitter
 * exponential backoff from 100 ms, capped at 5 s, at most max_retries=
 * (10) retries and never past retry_timeout= (60 s) from the first try.
 *
 * TLS: the peer's certificate chain and its name (the endpoint's host or
 * IP) are always verified; there is no option to turn that off. The
 * trust anchors are libcurl's built-in CA store (the system's), or only
 * the PEM certificates of ca_file=, which is checked when the store is
 * opened and kept as an absolute path (the daemon runs in /).
 */
#include "s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000
#define RESP_DEFAULT_LIMIT (1 << 20)
#define STALL_BYTES_PER_S 1024L

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void s3_curl_global(void)
{
	pthread_once(&global_once, global_init);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the share and the handle pool -------------------------------- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a,
		       void *ud)
{
	struct s3_conn *c = ud;

	(void)h;
	(void)a;
	if ((unsigned)d < 8)
		pthread_mutex_lock(&c->share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
	struct s3_conn *c = ud;

	(void)h;
	if ((unsigned)d < 8)
		pthread_mutex_unlock(&c->share_mu[d]);
}

static CURL *checkout(struct s3_conn *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->pool_mu);
	if (c->n_pool)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->pool_mu);
	return h ? h : curl_easy_init();
}

static void checkin(struct s3_conn *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->n_pool == c->cap_pool) {
		size_t nc = c->cap_pool ? c->cap_pool * 2 : 8;
		void **p = lc_realloc(c->pool, nc * sizeof(*p));

		if (p) {
			c->pool = p;
			c->cap_pool = nc;
		}
	}
	if (c->n_pool < c->cap_pool) {
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

static long conf_num(const struct ostore_conf *conf, const char *key,
		     long def, long min, long max, struct lc_err *err,
		     int *rc)
{
	const char *v = ostore_conf_get(conf, key);
	char *end;
	double d;

	if (!v || *rc)
		return def;
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || d < (double)min || d > (double)max) {
		*rc = LC_USAGE(err, "%s=%s: expected a number from %ld to %ld",
			       key, v, min, max);
		return def;
	}
	return (long)d;
}

/* ca_file= (or AWS_CA_BUNDLE, as `what` says): an absolute path to a
 * readable file that holds at least one PEM certificate, so a wrong path
 * or file is named at mount time rather than as a TLS failure of the
 * first request. */
static int ca_file_open(char **out, const char *what, const char *path,
			struct lc_err *err)
{
	STACK_OF(X509_INFO) *infos;
	char *abs = realpath(path, NULL);
	struct stat st;
	int n = 0, rc = 0;
	FILE *f;

	if (!abs)
		return LC_USAGE(err, "%s=%s: %s", what, path, strerror(errno));
	if (stat(abs, &st) || !S_ISREG(st.st_mode)) {
		rc = LC_USAGE(err, "%s=%s: not a file", what, path);
		goto out;
	}
	f = fopen(abs, "r");
	if (!f) {
		rc = LC_USAGE(err, "%s=%s: %s", what, path, strerror(errno));
		goto out;
	}
	infos = PEM_X509_INFO_read(f, NULL, NULL, NULL);
	fclose(f);
	for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++)
		if (sk_X509_INFO_value(infos, i)->x509)
			n++;
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	ERR_clear_error();
	if (!n) {
		rc = LC_USAGE(err, "%s=%s: no PEM certificate (-----BEGIN "
			      "CERTIFICATE-----) in it", what, path);
		goto out;
	}
	*out = lc_strdup(abs);
	if (!*out)
		rc = LC_NOMEM(err);
out:
	free(abs);
	return rc;
}

int s3_conn_init(struct s3_conn *c, const char *uri,
		 const struct ostore_conf *conf, struct lc_err *err)
{
	const char *ca = ostore_conf_get(conf, "ca_file");
	const char *bundle = getenv("AWS_CA_BUNDLE");
	int rc = 0;

	memset(c, 0, sizeof(*c));
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->pool_mu, NULL);
	for (int i = 0; i < 8; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	s3_sigv4_cache_init(&c->sigcache);
	c->ca_from = "ca_file";
	if (!ca && bundle && *bundle) {
		ca = bundle;
		c->ca_from = "AWS_CA_BUNDLE";
	}
	s3_curl_global();
	/* connect_timeout= and timeout= are seconds, as in object_store */
	c->connect_timeout_ms = (long)(1000 * conf_num(conf, "connect_timeout",
						       5, 1, 600, err, &rc));
	c->stall_s = conf_num(conf, "timeout", 30, 1, 3600, err, &rc);
	c->max_retries = (unsigned)conf_num(conf, "max_retries", 10, 0, 100,
					    err, &rc);
	c->retry_budget_ms = 1000 * conf_num(conf, "retry_timeout", 60, 0,
					     3600, err, &rc);
	if (!rc)
		rc = s3_addr_init(&c->addr, uri, conf, err);
	if (!rc && ca)
		rc = ca_file_open(&c->ca_file, c->ca_from, ca, err);
	if (!rc && c->addr.resolve) {
		c->resolve = curl_slist_append(NULL, c->addr.resolve);
		if (!c->resolve)
			rc = LC_NOMEM(err);
	}
	if (!rc) {
		c->share = curl_share_init();
		if (!c->share)
			rc = LC_NOMEM(err);
	}
	if (!rc) {
		curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(c->share, CURLSHOPT_SHARE,
				  CURL_LOCK_DATA_SSL_SESSION);
	}
	if (!rc)
		rc = s3_credsrc_init(&c->creds, conf, c->addr.oss, err);
	return rc;
}

static void conn_free(struct s3_conn *c)
{
	for (size_t i = 0; i < c->n_pool; i++)
		curl_easy_cleanup(c->pool[i]);
	lc_free(c->pool);
	if (c->share)
		curl_share_cleanup(c->share);
	curl_slist_free_all(c->resolve);
	lc_free(c->ca_file);
	s3_credsrc_reset(&c->creds);
	s3_addr_reset(&c->addr);
	s3_sigv4_cache_reset(&c->sigcache);
	for (int i = 0; i < 8; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	pthread_mutex_destroy(&c->pool_mu);
	lc_free(c);
}

void s3_conn_put(struct s3_conn *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		conn_free(c);
}

/* ---- one attempt -------------------------------------------------- */

static void answer_reset(struct s3_req *r)
{
	r->status = 0;
	lc_buf_reset(&r->resp);
	r->dst_got = 0;
	r->overflow = false;
	r->etag[0] = r->content_range[0] = r->date[0] = 0;
	r->request_id[0] = 0;
	r->content_length = 0;
	r->has_length = false;
	memset(&r->xerr, 0, sizeof(r->xerr));
	r->sent = 0;
}

void s3_req_reset(struct s3_req *r)
{
	lc_buf_reset(&r->resp);
}

static bool is_2xx(long s)
{
	return s >= 200 && s < 300;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct s3_req *r = ud;
	size_t len = sz * n;

	if (r->dst && is_2xx(r->status)) {
		/* never more bytes than asked: a server that ignored the
		 * range must not spill into the caller's memory */
		if (len > r->dst_len - r->dst_got) {
			r->overflow = true;
			return 0;
		}
		memcpy(r->dst + r->dst_got, p, len);
		r->dst_got += len;
		return len;
	}
	if (lc_buf_append(&r->resp, p, len, NULL)) {
		r->overflow = true;
		return 0;
	}
	return len;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
	size_t j = 0;

	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
		     v[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n && j + 1 < cap; i++)
		dst[j++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	dst[j] = 0;
}

static bool header_is(const char *line, size_t n, const char *name,
		      size_t *vat)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k))
		return false;
	*vat = k + 1;
	return true;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct s3_req *r = ud;
	size_t len = sz * n, at;
	char num[32];

	if (len > 5 && !memcmp(p, "HTTP/", 5)) {
		/* a new status line: forget an interim answer's headers */
		const char *sp = memchr(p, ' ', len);

		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->etag[0] = r->content_range[0] = r->date[0] = 0;
		r->has_length = false;
		return len;
	}
	if (header_is(p, len, "etag", &at))
		header_value(r->etag, sizeof(r->etag), p + at, len - at);
	else if (header_is(p, len, "content-range", &at))
		header_value(r->content_range, sizeof(r->content_range),
			     p + at, len - at);
	else if (header_is(p, len, "date", &at))
		header_value(r->date, sizeof(r->date), p + at, len - at);
	else if (header_is(p, len, "x-amz-request-id", &at) ||
		 header_is(p, len, "x-oss-request-id", &at))
		header_value(r->request_id, sizeof(r->request_id), p + at,
			     len - at);
	else if (header_is(p, len, "content-length", &at)) {
		char *end;

		header_value(num, sizeof(num), p + at, len - at);
		errno = 0;
		r->content_length = strtoull(num, &end, 10);
		r->has_length = !errno && end != num && !*end;
	}
	return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
	struct s3_req *r = ud;
	size_t len = sz * n;

	if (len > r->body_len - r->sent)
		len = r->body_len - r->sent;
	if (len)
		memcpy(p, r->body + r->sent, len);
	r->sent += len;
	return len;
}

static void amz_date(char out[17], const struct s3_conn *c)
{
	time_t t = time(NULL) + (time_t)atomic_load(&c->clock_skew);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

struct wire {
	struct lc_buf url;
	struct lc_buf path;
	struct curl_slist *hdrs;
	char *auth;
};

static void wire_reset(struct wire *w)
{
	lc_buf_reset(&w->url);
	lc_buf_reset(&w->path);
	curl_slist_free_all(w->hdrs);
	lc_free(w->auth);
}

static int add_header(struct wire *w, const char *name, const char *value,
		      struct lc_err *err)
{
	struct lc_buf b;
	struct curl_slist *n;
	int rc;

	lc_buf_init(&b, 0);
	rc = lc_buf_printf(&b, err, "%s:%s%s", name, *value ? " " : "",
			   value);
	if (rc)
		return rc;
	n = curl_slist_append(w->hdrs, (char *)b.data);
	lc_buf_reset(&b);
	if (!n)
		return LC_NOMEM(err);
	w->hdrs = n;
	return 0;
}

/* The URL, the signed headers and Authorization for one attempt. */
static int build(struct wire *w, struct s3_conn *c, struct s3_req *r,
		 struct lc_err *err)
{
	const struct s3_addr *a = &c->addr;
	struct s3_kv hs[S3_REQ_MAX_HDRS + 4];
	struct s3_creds cr;
	char date[17];
	uint64_t gen;
	size_t n = 0;
	int rc;

	lc_buf_init(&w->url, 0);
	lc_buf_init(&w->path, 0);
	rc = s3_addr_path(&w->path, a, r->key, err);
	if (!rc)
		rc = lc_buf_printf(&w->url, err, "%s://%s",
				   a->https ? "https" : "http",
				   a->host_header);
	if (!rc)
		rc = s3_sigv4_path(&w->url, (char *)w->path.data, err);
	if (!rc && r->n_query)
		rc = lc_buf_append(&w->url, "?", 1, err);
	if (!rc && r->n_query)
		rc = s3_sigv4_query(&w->url, r->query, r->n_query, err);
	if (rc)
		return rc;
	rc = s3_credsrc_get(&c->creds, &cr, &gen, err);
	if (rc)
		return rc;
	amz_date(date, c);
	hs[n++] = (struct s3_kv){ "host", a->host_header };
	hs[n++] = (struct s3_kv){ "x-amz-date", date };
	hs[n++] = (struct s3_kv){ "x-amz-content-sha256", r->body_hash };
	if (cr.token)
		hs[n++] = (struct s3_kv){ "x-amz-security-token", cr.token };
	for (size_t i = 0; i < r->n_hdrs; i++)
		hs[n++] = r->hdrs[i];
	for (size_t i = 0; i < n && !rc; i++)
		rc = add_header(w, hs[i].name, hs[i].value, err);
	if (!rc && c->creds.src != S3_CRED_ANON) {
		struct s3_sigv4_req sr = {
			.method = r->method, .path = (char *)w->path.data,
			.query = r->query, .n_query = r->n_query,
			.headers = hs, .n_headers = n,
			.payload_hash = r->body_hash, .amz_date = date,
			.region = a->region,
		};

		r->gen = gen;
		rc = s3_sigv4_sign(&w->auth, &sr, cr.access_key, cr.secret,
				   gen, &c->sigcache, err);
		if (!rc)
			rc = add_header(w, "Authorization", w->auth, err);
	}
	/* unsigned on purpose: libcurl's own defaults, switched off */
	if (!rc)
		rc = add_header(w, "Expect", "", err);
	if (!rc && r->body)
		rc = add_header(w, "Content-Type", "", err);
	s3_creds_reset(&cr);
	return rc;
}

static void set_method(CURL *h, struct s3_req *r)
{
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (r->body) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)r->body_len);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
		if (strcmp(r->method, "PUT"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
}

static CURLcode attempt(struct s3_conn *c, CURL *h, struct s3_req *r,
			struct wire *w, char *cerr)
{
	curl_off_t up = 0;
	CURLcode cc;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, (char *)w->url.data);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* keys may hold "/./": send the path as signed, not normalised */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, STALL_BYTES_PER_S);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_s);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L << 10);
	/* libcurl's defaults, said out loud: never turned off */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file) {
		/* instead of the system's store, not as well */
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	cerr[0] = 0;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	if (c->resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, c->resolve);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, w->hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	set_method(h, r);
	atomic_fetch_add(&c->n_requests, 1);
	atomic_fetch_add(&c->n_in_flight, 1);
	lc_wait_begin();
	cc = curl_easy_perform(h);
	lc_wait_end();
	/* the buffer is the caller's: a pooled handle must not keep it */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	atomic_fetch_sub(&c->n_in_flight, 1);
	if (curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK &&
	    up > 0)
		atomic_fetch_add(&c->n_sent, (uint64_t)up);
	atomic_fetch_add(&c->n_fetched, r->dst_got + r->resp.len);
	return cc;
}

/* ---- classification and the loop ---------------------------------- */

static bool transport_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* The server may have acted on an attempt that ended so: it had the
 * whole request and its answer was lost, or it failed inside (a 503
 * says the request was not run). SEND_FAIL_REWIND is curl giving up on
 * sending a body again after the reused connection it went out on died
 * without an answer. */
static bool no_definite_answer(CURLcode cc, long status)
{
	return cc == CURLE_RECV_ERROR || cc == CURLE_OPERATION_TIMEDOUT ||
	       cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
	       cc == CURLE_SEND_FAIL_REWIND ||
	       (cc == CURLE_OK && status >= 500 && status != 503);
}

static bool code_is(const struct s3_req *r, const char *code)
{
	return !strcmp(r->xerr.code, code);
}

enum verdict { V_DONE, V_RETRY, V_SKEW, V_REFRESH };

/* Whether the server's Date is off from our (corrected) clock by more
 * than S3 allows: 15 minutes, checked at 10. */
static bool skewed(const struct s3_conn *c, const struct s3_req *r)
{
	time_t server = r->date[0] ? curl_getdate(r->date, NULL) : -1;
	long long off = server > 0 ? (long long)server - (long long)time(NULL) -
					     atomic_load(&c->clock_skew) : 0;

	return off > 600 || off < -600;
}

static enum verdict classify(const struct s3_conn *c, const struct s3_req *r)
{
	long s = r->status;

	/* an error answer to HEAD has no body, so no code to go by: a
	 * skewed clock shows in its Date, and temporary credentials that
	 * expired early (our clock slow) get one renewal */
	if (!strcmp(r->method, "HEAD") && !r->xerr.code[0] &&
	    (s == 400 || s == 403)) {
		if (skewed(c, r))
			return V_SKEW;
		if (r->attempts == 1 && (c->creds.src == S3_CRED_IMDS ||
					 c->creds.src == S3_CRED_CONTAINER))
			return V_REFRESH;
	}

	if (is_2xx(s))
		/* a 2xx body cut short is a transport failure; one shorter
		 * than asked but whole (its Content-Length) is the answer,
		 * for the caller to judge (an object replaced meanwhile) */
		return r->dst && r->dst_got < r->dst_len &&
			       (!r->has_length ||
				r->dst_got < r->content_length) ?
			       V_RETRY : V_DONE;
	if (s >= 500 || s == 429 || s == 408)
		return s == 501 ? V_DONE : V_RETRY;
	if (s == 400 && code_is(r, "RequestTimeout"))
		return V_RETRY;
	if (s == 409 && code_is(r, "ConditionalRequestConflict"))
		return V_RETRY;
	if (s == 403 && code_is(r, "RequestTimeTooSkewed"))
		return V_SKEW;
	if ((s == 400 || s == 403) && code_is(r, "ExpiredToken"))
		return V_REFRESH;
	return V_DONE;
}

static unsigned rand_below(unsigned n)
{
	uint32_t v = 0;

	if (!n || lc_random(&v, sizeof(v), NULL))
		return n / 2;
	return v % n;
}

void s3_backoff(unsigned n)
{
	unsigned cap = BACKOFF_BASE_MS;
	struct timespec ts;
	unsigned ms;

	for (unsigned i = 0; i < n && cap < BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	ms = rand_below(cap + 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	lc_wait_begin();
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	lc_wait_end();
}

static void take_skew(struct s3_conn *c, const struct s3_req *r)
{
	time_t server = r->date[0] ? curl_getdate(r->date, NULL) : -1;

	if (server > 0)
		atomic_store(&c->clock_skew,
			     (long long)(server - time(NULL)));
}

static bool tls_failure(CURLcode cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/* What went wrong with the last attempt, for the final message: libcurl's
 * own words (cerr, which name the host and the reason) when it has them;
 * for TLS, the endpoint and what its certificate was checked against. */
static void describe(char *out, size_t cap, const struct s3_conn *c,
		     CURLcode cc, const char *cerr, const struct s3_req *r)
{
	const char *what = cerr[0] ? cerr : curl_easy_strerror(cc);

	if (cc == CURLE_WRITE_ERROR && r->overflow)
		snprintf(out, cap, "the server sent more bytes than asked");
	else if (tls_failure(cc) && c->ca_file)
		snprintf(out, cap, "TLS with https://%s: %s (trusted CAs: "
			 "%s=%s)", c->addr.host_header, what, c->ca_from,
			 c->ca_file);
	else if (tls_failure(cc))
		snprintf(out, cap, "TLS with https://%s: %s (trusted CAs: the "
			 "system's; a private CA needs ca_file=)",
			 c->addr.host_header, what);
	else if (cc != CURLE_OK)
		snprintf(out, cap, "%s", what);
	else if (is_2xx(r->status))
		snprintf(out, cap, "body cut short (%zu of %zu bytes)",
			 r->dst_got, r->dst_len);
	else
		snprintf(out, cap, "HTTP %ld%s%s", r->status,
			 r->xerr.code[0] ? " " : "", r->xerr.code);
}

static void key_name(char *out, size_t cap, const struct s3_conn *c,
		     const char *key)
{
	snprintf(out, cap, "%s://%s%s%.300s", c->addr.oss ? "oss" : "s3",
		 c->addr.bucket, *key ? "/" : "", key);
}

/* Server-supplied text goes into messages: make sure it never carries
 * our secret back out (a proxy could echo a request). */
static void scrub(struct s3_conn *c, struct lc_err *err)
{
	const char *sec[2];

	if (!err || !err->code)
		return;
	pthread_mutex_lock(&c->creds.mu);
	sec[0] = c->creds.cur.secret;
	sec[1] = c->creds.cur.token;
	for (int i = 0; i < 2; i++) {
		char *at;

		if (!sec[i] || strlen(sec[i]) < 4)
			continue;
		while ((at = strstr(err->msg, sec[i])))
			memset(at, '*', strlen(sec[i]));
	}
	pthread_mutex_unlock(&c->creds.mu);
}

int s3_do(struct s3_conn *c, struct s3_req *r, struct lc_err *err)
{
	int64_t deadline = now_ms() + c->retry_budget_ms;
	char why[400], name[400], cerr[CURL_ERROR_SIZE];
	CURLcode cc = CURLE_OK;
	CURL *h;
	int rc = 0;

	if (r->body)
		s3_sha256_hex(r->body_hash, r->body, r->body_len);
	else if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST"))
		snprintf(r->body_hash, sizeof(r->body_hash), "%s",
			 S3_EMPTY_SHA256);
	else
		snprintf(r->body_hash, sizeof(r->body_hash), "%s",
			 S3_UNSIGNED_PAYLOAD);
	lc_buf_init(&r->resp, r->resp_limit ? r->resp_limit :
			      RESP_DEFAULT_LIMIT);
	h = checkout(c);
	if (!h)
		return LC_NOMEM(err);
	for (r->attempts = 0;; ) {
		struct wire w = { .hdrs = NULL };
		enum verdict v;

		answer_reset(r);
		rc = build(&w, c, r, err);
		if (rc) {
			wire_reset(&w);
			break;
		}
		cc = attempt(c, h, r, &w, cerr);
		wire_reset(&w);
		r->attempts++;
		if (cc == CURLE_OK && !is_2xx(r->status) && r->resp.len)
			s3_xml_error(&r->xerr, (char *)r->resp.data,
				     r->resp.len);
		if (cc != CURLE_OK)
			v = transport_retryable(cc) ? V_RETRY : V_DONE;
		else
			v = classify(c, r);
		if (v == V_DONE && cc == CURLE_OK)
			break;
		if (no_definite_answer(cc, r->status))
			r->maybe_done = true;
		if (v == V_DONE || r->attempts > c->max_retries ||
		    now_ms() >= deadline) {
			describe(why, sizeof(why), c, cc, cerr, r);
			key_name(name, sizeof(name), c, r->key);
			rc = S3_REMOTE(err, r->maybe_done ? ETIMEDOUT : EIO,
				       "%s: %s failed: %s (%u "
				       "attempt%s%s%s)", name, r->method, why,
				       r->attempts, r->attempts == 1 ? "" : "s",
				       r->request_id[0] ? ", request id " : "",
				       r->request_id);
			scrub(c, err);
			break;
		}
		if (v == V_SKEW)
			take_skew(c, r);
		if (v == V_REFRESH) {
			rc = s3_credsrc_refresh(&c->creds, r->gen, err);
			if (rc) {
				key_name(name, sizeof(name), c, r->key);
				lc_err_prefix(err, "%s: %s: ", name,
					      r->method);
				break;
			}
		}
		atomic_fetch_add(&c->n_retries, 1);
		if (v != V_SKEW)
			s3_backoff(r->attempts - 1);
	}
	checkin(c, h);
	if (rc)
		atomic_fetch_add(&c->n_errors, 1);
	return rc;
}

int s3_fail(struct s3_conn *c, const struct s3_req *r, const char *key,
	    struct lc_err *err)
{
	const struct s3_xml_error *x = &r->xerr;
	char name[400], detail[512];
	int rc;

	if (r->status != 404)
		atomic_fetch_add(&c->n_errors, 1);
	key_name(name, sizeof(name), c, key);
	snprintf(detail, sizeof(detail), "%s%s%s%s%s", x->code,
		 x->code[0] && x->message[0] ? ": " : "", x->message,
		 r->request_id[0] ? "; request id " : "", r->request_id);
	if (r->status == 404 && !strcmp(x->code, "NoSuchBucket"))
		return LC_NOTFOUND(err, "%s://%s: no such bucket (404 "
				   "NoSuchBucket)", c->addr.oss ? "oss" : "s3",
				   c->addr.bucket);
	if (r->status == 404 && !r->key[0] && !x->code[0])
		/* S3 lists any bucket there is, and says why it does not */
		return LC_NOTFOUND(err, "%s://%s: HTTP 404 with no S3 error "
				   "for the bucket (no such bucket, or %s is "
				   "no S3 endpoint)", c->addr.oss ? "oss" : "s3",
				   c->addr.bucket, c->addr.host_header);
	if (r->status == 404)
		return LC_NOTFOUND(err, "%s: no such object", name);
	if (r->status == 403 || (r->status == 400 &&
				 !strcmp(x->code, "InvalidAccessKeyId"))) {
		rc = S3_REMOTE(err, EACCES, "%s: access denied (%ld %s); "
			       "credentials from %s", name, r->status,
			       detail[0] ? detail : "no details",
			       s3_credsrc_name(c->creds.src));
	} else if (r->status == 501 || !strcmp(x->code, "NotImplemented")) {
		rc = lc_err_set(err, EOPNOTSUPP, LC_EK_UNSUPPORTED, __FILE__,
				__LINE__, "%s: the server does not implement "
				"%s here (%ld %s)", name, r->method,
				r->status, detail);
	} else {
		rc = S3_REMOTE(err, EIO, "%s: %s answered HTTP %ld%s%s", name,
			       r->method, r->status, detail[0] ? " " : "",
			       detail);
	}
	scrub(c, err);
	return rc;
}
