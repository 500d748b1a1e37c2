/*
 * sigv4.c - AWS Signature Version 4 for S3, with OpenSSL's SHA-256 and
 * HMAC. libcurl 7.88's CURLOPT_AWS_SIGV4 neither sorts nor encodes query
 * strings, so we sign ourselves (research/s3.md §9, §15).
 *
 * The rule that keeps signatures right: the encoded path and query built
 * here are the very strings put on the wire, and every signed header is
 * sent exactly as given. Nothing is signed that is not sent.
 */
#include "s3_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

void s3_hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static void sha256(uint8_t out[32], const void *data, size_t len)
{
	unsigned int n = 32;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void s3_sha256_hex(char out[65], const void *data, size_t len)
{
	uint8_t md[32];

	sha256(md, data, len);
	s3_hex(out, md, 32);
}

static void hmac(uint8_t out[32], const void *key, size_t klen,
		 const void *data, size_t len)
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)klen, data, len, out, &n);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

int s3_uri_encode(struct lc_buf *b, const char *s, size_t n, bool keep_slash,
		  struct lc_err *err)
{
	static const char digits[] = "0123456789ABCDEF";
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3] = { '%', digits[c >> 4], digits[c & 15] };

		if (unreserved(c) || (keep_slash && c == '/'))
			rc = lc_buf_append(b, &s[i], 1, err);
		else
			rc = lc_buf_append(b, esc, 3, err);
	}
	if (!rc && !b->data)	/* an empty string is still a string */
		rc = lc_buf_append(b, "", 0, err);
	return rc;
}

int s3_sigv4_path(struct lc_buf *b, const char *path, struct lc_err *err)
{
	/* S3 encodes each segment once and normalises nothing: "//", "."
	 * and ".." stay as they are. */
	if (*path != '/') {
		int rc = lc_buf_append(b, "/", 1, err);

		if (rc)
			return rc;
	}
	return s3_uri_encode(b, path, strlen(path), true, err);
}

struct enc_kv {
	char *name;
	char *value;
};

static int cmp_enc_kv(const void *pa, const void *pb)
{
	const struct enc_kv *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->value, b->value);
}

static int encode_dup(char **out, const char *s, struct lc_err *err)
{
	struct lc_buf b;
	int rc;

	lc_buf_init(&b, 0);
	rc = s3_uri_encode(&b, s, strlen(s), false, err);
	if (!rc)
		rc = lc_buf_take(&b, (uint8_t **)out, NULL, err);
	lc_buf_reset(&b);
	return rc;
}

int s3_sigv4_query(struct lc_buf *b, const struct s3_kv *q, size_t n,
		   struct lc_err *err)
{
	struct enc_kv *kv;
	int rc = 0;

	if (!n)
		return lc_buf_append(b, "", 0, err);
	kv = lc_calloc(n, sizeof(*kv));
	if (!kv)
		return LC_NOMEM(err);
	for (size_t i = 0; i < n && !rc; i++) {
		rc = encode_dup(&kv[i].name, q[i].name, err);
		if (!rc)
			rc = encode_dup(&kv[i].value,
					q[i].value ? q[i].value : "", err);
	}
	if (!rc)
		qsort(kv, n, sizeof(*kv), cmp_enc_kv);
	for (size_t i = 0; i < n && !rc; i++)
		rc = lc_buf_printf(b, err, "%s%s=%s", i ? "&" : "",
				   kv[i].name, kv[i].value);
	for (size_t i = 0; i < n; i++) {
		lc_free(kv[i].name);
		lc_free(kv[i].value);
	}
	lc_free(kv);
	return rc;
}

static int cmp_hdr(const void *pa, const void *pb)
{
	const struct s3_kv *a = pa, *b = pb;

	return strcasecmp(a->name, b->name);
}

/* Lowercase name, value trimmed with inner runs of spaces collapsed. */
static int append_header(struct lc_buf *b, const struct s3_kv *h,
			 struct lc_err *err)
{
	const char *v = h->value;
	bool space = false;
	int rc = 0;

	for (const char *p = h->name; *p && !rc; p++) {
		char c = (char)tolower((unsigned char)*p);

		rc = lc_buf_append(b, &c, 1, err);
	}
	if (!rc)
		rc = lc_buf_append(b, ":", 1, err);
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v && !rc; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			rc = lc_buf_append(b, " ", 1, err);
		space = false;
		if (!rc)
			rc = lc_buf_append(b, v, 1, err);
	}
	if (!rc)
		rc = lc_buf_append(b, "\n", 1, err);
	return rc;
}

static int signed_headers(struct lc_buf *b, const struct s3_kv *sorted,
			  size_t n, struct lc_err *err)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = lc_buf_append(b, ";", 1, err);
		for (const char *p = sorted[i].name; *p && !rc; p++) {
			char c = (char)tolower((unsigned char)*p);

			rc = lc_buf_append(b, &c, 1, err);
		}
	}
	return rc;
}

static int sorted_headers(struct s3_kv **out, const struct s3_sigv4_req *r,
			  struct lc_err *err)
{
	*out = lc_calloc(r->n_headers, sizeof(**out));
	if (!*out)
		return LC_NOMEM(err);
	if (r->n_headers)
		memcpy(*out, r->headers, r->n_headers * sizeof(**out));
	qsort(*out, r->n_headers, sizeof(**out), cmp_hdr);
	return 0;
}

/* CanonicalRequest, then the SignedHeaders list into *sh. */
static int canonical(struct lc_buf *b, struct lc_buf *sh,
		     const struct s3_sigv4_req *r, struct lc_err *err)
{
	struct s3_kv *hs;
	int rc;

	rc = sorted_headers(&hs, r, err);
	if (rc)
		return rc;
	rc = lc_buf_printf(b, err, "%s\n", r->method);
	if (!rc)
		rc = s3_sigv4_path(b, r->path, err);
	if (!rc)
		rc = lc_buf_append(b, "\n", 1, err);
	if (!rc)
		rc = s3_sigv4_query(b, r->query, r->n_query, err);
	if (!rc)
		rc = lc_buf_append(b, "\n", 1, err);
	for (size_t i = 0; i < r->n_headers && !rc; i++)
		rc = append_header(b, &hs[i], err);
	if (!rc)
		rc = lc_buf_append(b, "\n", 1, err);
	if (!rc)
		rc = signed_headers(sh, hs, r->n_headers, err);
	if (!rc)
		rc = lc_buf_append(b, sh->data, sh->len, err);
	if (!rc)
		rc = lc_buf_printf(b, err, "\n%s", r->payload_hash);
	lc_free(hs);
	return rc;
}

int s3_sigv4_canonical(struct lc_buf *b, const struct s3_sigv4_req *r,
		       struct lc_err *err)
{
	struct lc_buf sh;
	int rc;

	lc_buf_init(&sh, 0);
	rc = canonical(b, &sh, r, err);
	lc_buf_reset(&sh);
	return rc;
}

/* Secrets are 40 characters on AWS; s3_sigv4_sign refuses longer than
 * this, so the key fits on the stack and is wiped there. */
#define SECRET_MAX 256

static void derive_key(uint8_t out[32], const char *secret,
		       const char *date, const char *region)
{
	size_t n = strlen(secret);
	char k[SECRET_MAX + 4];
	uint8_t a[32], b[32];

	/* kDate = HMAC("AWS4" + secret, date), and on down the chain */
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, n);
	hmac(a, k, n + 4, date, strlen(date));
	OPENSSL_cleanse(k, sizeof(k));
	hmac(b, a, 32, region, strlen(region));
	hmac(a, b, 32, "s3", 2);
	hmac(out, a, 32, "aws4_request", 12);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
}

static void signing_key(uint8_t out[32], const char *secret, uint64_t gen,
			const char *date, const char *region,
			struct s3_sigv4_cache *c)
{
	if (!c) {
		derive_key(out, secret, date, region);
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (!c->valid || c->gen != gen || strcmp(c->date, date) ||
	    strcmp(c->region, region)) {
		derive_key(c->key, secret, date, region);
		snprintf(c->date, sizeof(c->date), "%s", date);
		snprintf(c->region, sizeof(c->region), "%s", region);
		c->gen = gen;
		/* a region too long for the cache is never cached */
		c->valid = strlen(region) < sizeof(c->region);
	}
	memcpy(out, c->key, 32);
	pthread_mutex_unlock(&c->mu);
}

int s3_sigv4_sign(char **out, const struct s3_sigv4_req *r,
		  const char *access_key, const char *secret, uint64_t gen,
		  struct s3_sigv4_cache *cache, struct lc_err *err)
{
	struct lc_buf creq, sh, sts;
	char date[9], hash[65], sig[65];
	uint8_t key[32], mac[32];
	int rc;

	*out = NULL;
	if (strlen(r->amz_date) != 16)
		return LC_USAGE(err, "sigv4: bad x-amz-date");
	if (strlen(secret) > SECRET_MAX)
		return LC_USAGE(err, "secret_access_key: longer than %d "
				"characters", SECRET_MAX);
	memcpy(date, r->amz_date, 8);
	date[8] = 0;
	lc_buf_init(&creq, 0);
	lc_buf_init(&sh, 0);
	lc_buf_init(&sts, 0);
	rc = canonical(&creq, &sh, r, err);
	if (rc)
		goto out;
	s3_sha256_hex(hash, creq.data, creq.len);
	rc = lc_buf_printf(&sts, err, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/"
			   "aws4_request\n%s", r->amz_date, date, r->region,
			   hash);
	if (rc)
		goto out;
	signing_key(key, secret, gen, date, r->region, cache);
	hmac(mac, key, 32, sts.data, sts.len);
	OPENSSL_cleanse(key, sizeof(key));
	s3_hex(sig, mac, 32);
	lc_buf_reset(&sts);
	rc = lc_buf_printf(&sts, err, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/"
			   "s3/aws4_request, SignedHeaders=%s, Signature=%s",
			   access_key, date, r->region, (char *)sh.data, sig);
	if (!rc)
		rc = lc_buf_take(&sts, (uint8_t **)out, NULL, err);
out:
	lc_buf_reset(&creq);
	lc_buf_reset(&sh);
	lc_buf_reset(&sts);
	return rc;
}

void s3_sigv4_cache_init(struct s3_sigv4_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
}

void s3_sigv4_cache_reset(struct s3_sigv4_cache *c)
{
	OPENSSL_cleanse(c->key, sizeof(c->key));
	pthread_mutex_destroy(&c->mu);
}
