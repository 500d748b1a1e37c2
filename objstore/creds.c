/*
 * creds.c - where the S3 keys come from. The chain, first match wins:
 *
 *   1. mount options access_key_id= / secret_access_key= (session_token=)
 *   2. credentials_file= (an AWS ini file), section profile= or
 *      AWS_PROFILE or "default"; naming a file that lacks it is an error
 *   3. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (and
 *      OSS_* / ALIBABA_CLOUD_* for oss://)
 *   4. AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, same profile
 *   5. container credentials (ECS, EKS Pod Identity): a GET of
 *      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on 169.254.170.2, or of
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a loopback
 *      or the ECS/EKS link-local address), with the Authorization value
 *      of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN; refreshed
 *      like IMDS's
 *   6. EC2 IMDSv2 (token PUT, then the role's credentials, 1 s timeouts),
 *      unless AWS_EC2_METADATA_DISABLED=true; refreshed five minutes
 *      before they expire
 *
 * skip_signature=true skips all of it (anonymous requests). Secrets never
 * reach an error message: parsers report line numbers, not content.
 */
#include "s3_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#define CREDS_FILE_MAX (1 << 20)
#define IMDS_BODY_MAX (64 << 10)
#define IMDS_TIMEOUT_MS 1000L
#define REFRESH_MARGIN 300	/* seconds before expiry */
#define NEXT (-1)		/* a link of the chain has nothing: go on */

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		lc_free(s);
	}
}

void s3_creds_reset(struct s3_creds *c)
{
	lc_free(c->access_key);
	free_secret(c->secret);
	free_secret(c->token);
	memset(c, 0, sizeof(*c));
}

static int creds_copy(struct s3_creds *dst, const struct s3_creds *src,
		      struct lc_err *err)
{
	memset(dst, 0, sizeof(*dst));
	dst->expires = src->expires;
	if ((src->access_key &&
	     !(dst->access_key = lc_strdup(src->access_key))) ||
	    (src->secret && !(dst->secret = lc_strdup(src->secret))) ||
	    (src->token && !(dst->token = lc_strdup(src->token)))) {
		s3_creds_reset(dst);
		return LC_NOMEM(err);
	}
	return 0;
}

const char *s3_credsrc_name(enum s3_cred_src s)
{
	switch (s) {
	case S3_CRED_ANON: return "anonymous (skip_signature)";
	case S3_CRED_OPTIONS: return "mount options";
	case S3_CRED_FILE: return "credentials_file";
	case S3_CRED_ENV: return "environment";
	case S3_CRED_SHARED: return "shared credentials file";
	case S3_CRED_CONTAINER: return "container credentials";
	case S3_CRED_IMDS: return "EC2 instance metadata";
	default: return "none";
	}
}

/* ---- the ini parser (untrusted bytes) ----------------------------- */

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' ||
			   (*e)[-1] == '\r'))
		(*e)--;
}

static bool word_is(const char *s, const char *e, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(e - s) == n && !strncasecmp(s, w, n);
}

static int take_value(char **dst, const char *s, const char *e,
		      unsigned line, struct lc_err *err)
{
	if (memchr(s, 0, (size_t)(e - s)))
		return LC_USAGE(err, "credentials: line %u: a NUL byte", line);
	free_secret(*dst);
	*dst = lc_strndup(s, (size_t)(e - s));
	return *dst ? 0 : LC_NOMEM(err);
}

/* One "key = value" line of the chosen section. */
static int ini_pair(struct s3_creds *out, const char *s, const char *e,
		    unsigned line, struct lc_err *err)
{
	const char *eq = memchr(s, '=', (size_t)(e - s));
	const char *ks = s, *ke, *vs, *ve = e;

	if (!eq)
		return LC_USAGE(err, "credentials: line %u: expected "
				"key = value", line);
	ke = eq;
	vs = eq + 1;
	trim(&ks, &ke);
	trim(&vs, &ve);
	if (word_is(ks, ke, "aws_access_key_id"))
		return take_value(&out->access_key, vs, ve, line, err);
	if (word_is(ks, ke, "aws_secret_access_key"))
		return take_value(&out->secret, vs, ve, line, err);
	if (word_is(ks, ke, "aws_session_token") ||
	    word_is(ks, ke, "aws_security_token"))
		return take_value(&out->token, vs, ve, line, err);
	return 0;	/* region, output, ...: not ours */
}

int s3_creds_ini_parse(struct s3_creds *out, const char *data, size_t len,
		       const char *profile, struct lc_err *err)
{
	const char *p = data, *end = data + len;
	bool in = false, found = false;
	unsigned line = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;		/* a BOM from Windows editors */
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;

		p = nl ? nl + 1 : end;
		line++;
		/* indented lines continue a nested value (config files) */
		if (s < e && (*s == ' ' || *s == '\t'))
			continue;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *ns = s + 1, *ne = e;

			if (e[-1] != ']' || e - s < 2) {
				rc = LC_USAGE(err, "credentials: line %u: "
					      "unclosed [section]", line);
				break;
			}
			ne = e - 1;
			trim(&ns, &ne);
			/* profile names are case-sensitive */
			in = (size_t)(ne - ns) == strlen(profile) &&
			     !memcmp(ns, profile, (size_t)(ne - ns));
			found |= in;
			continue;
		}
		if (in)
			rc = ini_pair(out, s, e, line, err);
		else if (!memchr(s, '=', (size_t)(e - s)))
			rc = LC_USAGE(err, "credentials: line %u: expected "
				      "key = value", line);
	}
	if (!rc && !found)
		rc = LC_NOTFOUND(err, "credentials: no [%.100s] section",
				 profile);
	if (!rc && (!out->access_key || !out->secret ||
		    !*out->access_key || !*out->secret))
		rc = LC_USAGE(err, "credentials: [%.100s] needs both "
			      "aws_access_key_id and aws_secret_access_key",
			      profile);
	if (rc)
		s3_creds_reset(out);
	return rc;
}

/* ---- IMDS JSON (untrusted) ---------------------------------------- */

static int json_str(char **dst, json_t *obj, const char *name, bool need,
		    struct lc_err *err)
{
	json_t *v = json_object_get(obj, name);
	const char *s;

	if (!v || !json_is_string(v)) {
		if (need)
			return LC_CORRUPT(err, "no %s in the answer", name);
		return 0;
	}
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return LC_CORRUPT(err, "a NUL byte in %s", name);
	*dst = lc_strdup(s);
	return *dst ? 0 : LC_NOMEM(err);
}

int s3_creds_json_parse(struct s3_creds *out, const char *data, size_t len,
			struct lc_err *err)
{
	json_error_t jerr;
	json_t *root, *code, *exp;
	int rc;

	memset(out, 0, sizeof(*out));
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return LC_CORRUPT(err, "the answer is not a JSON object");
	}
	code = json_object_get(root, "Code");
	if (code && (!json_is_string(code) ||
		     strcmp(json_string_value(code), "Success"))) {
		json_decref(root);
		return S3_REMOTE(err, EIO, "the role's credentials are not "
				     "available");
	}
	rc = json_str(&out->access_key, root, "AccessKeyId", true, err);
	if (!rc)
		rc = json_str(&out->secret, root, "SecretAccessKey", true, err);
	if (!rc)
		rc = json_str(&out->token, root, "Token", false, err);
	exp = json_object_get(root, "Expiration");
	if (!rc && exp && json_is_string(exp))
		out->expires = s3_parse_iso8601(json_string_value(exp));
	json_decref(root);
	if (rc)
		s3_creds_reset(out);
	return rc;
}

/* ---- files -------------------------------------------------------- */

static int read_file(char **out, size_t *len, const char *path,
		     struct lc_err *err)
{
	struct lc_buf b;
	char chunk[4096];
	int fd, rc = 0;
	ssize_t n;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return LC_NOTFOUND(err, "%s: no such file", path);
		return LC_SYS(err, errno, "%s: %s", path, strerror(errno));
	}
	lc_buf_init(&b, CREDS_FILE_MAX);
	while (!rc && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = LC_SYS(err, errno, "%s: %s", path,
				    strerror(errno));
		else
			rc = lc_buf_append(&b, chunk, (size_t)n, err);
	}
	close(fd);
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (!rc)
		rc = lc_buf_take(&b, (uint8_t **)out, len, err);
	if (rc && b.data)
		OPENSSL_cleanse(b.data, b.len);
	lc_buf_reset(&b);
	return rc;
}

static int from_file(struct s3_creds *out, const char *path,
		     const char *profile, struct lc_err *err)
{
	size_t len;
	char *data;
	int rc = read_file(&data, &len, path, err);

	if (rc)
		return rc;
	rc = s3_creds_ini_parse(out, data, len, profile, err);
	OPENSSL_cleanse(data, len);
	lc_free(data);
	if (rc)
		lc_err_prefix(err, "%s: ", path);
	return rc;
}

static int dup_env(char **dst, const char *name, struct lc_err *err)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	*dst = lc_strdup(v);
	return *dst ? 0 : LC_NOMEM(err);
}

/* One family of variables; NEXT when neither is set. */
static int from_env_names(struct s3_creds *out, const char *ak,
			  const char *sk, const char *tok, struct lc_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = dup_env(&out->access_key, ak, err);
	if (!rc)
		rc = dup_env(&out->secret, sk, err);
	if (!rc)
		rc = dup_env(&out->token, tok, err);
	if (!rc && !out->access_key && !out->secret)
		rc = NEXT;
	else if (!rc && (!out->access_key || !out->secret))
		rc = LC_USAGE(err, "%s and %s must be set together", ak, sk);
	if (rc)
		s3_creds_reset(out);
	return rc;
}

static int from_env(struct s3_creds *out, bool oss, struct lc_err *err)
{
	int rc = from_env_names(out, "AWS_ACCESS_KEY_ID",
				"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
				err);

	if (rc != NEXT || !oss)
		return rc;
	rc = from_env_names(out, "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET",
			    "OSS_SESSION_TOKEN", err);
	if (rc != NEXT)
		return rc;
	return from_env_names(out, "ALIBABA_CLOUD_ACCESS_KEY_ID",
			      "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
			      "ALIBABA_CLOUD_SECURITY_TOKEN", err);
}

/* ---- IMDSv2 ------------------------------------------------------- */

struct body {
	struct lc_buf b;
	bool over;
};

static size_t body_write(char *p, size_t sz, size_t n, void *ud)
{
	struct body *bd = ud;

	if (lc_buf_append(&bd->b, p, sz * n, NULL)) {
		bd->over = true;
		return 0;
	}
	return sz * n;
}

/* One request to a credentials service at `url` with header `hdr`
 * (NULL: none); the reply body into *out (NUL-terminated). `what` names
 * the service in errors. */
static int md_call(struct lc_buf *out, const char *url, bool put,
		   const char *hdr, const char *what, struct lc_err *err)
{
	struct body bd = { .b = { 0 } };
	struct curl_slist *hs = NULL;
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode cc;

	if (!h)
		return LC_NOMEM(err);
	lc_buf_init(&bd.b, IMDS_BODY_MAX);
	if (hdr)
		hs = curl_slist_append(hs, hdr);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, IMDS_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, IMDS_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_PROXY, "");	/* never via a proxy */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &bd);
	if (put)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	lc_wait_begin();
	cc = curl_easy_perform(h);
	lc_wait_end();
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hs);
	if (cc != CURLE_OK || status != 200) {
		if (bd.b.data)
			OPENSSL_cleanse(bd.b.data, bd.b.len);
		lc_buf_reset(&bd.b);
		if (cc != CURLE_OK)
			return S3_REMOTE(err, EIO, "%s %s: %s", what, url,
					     curl_easy_strerror(cc));
		return S3_REMOTE(err, EIO, "%s %s: HTTP %ld", what, url,
				     status);
	}
	if (!bd.b.data && lc_buf_append(&bd.b, "", 0, err)) {
		lc_buf_reset(&bd.b);
		return ENOMEM;
	}
	*out = bd.b;
	return 0;
}

/* One instance metadata request. */
static int imds_call(struct lc_buf *out, const char *base, const char *path,
		     bool put, const char *token, struct lc_err *err)
{
	char url[512], hdr[256];
	int rc;

	snprintf(url, sizeof(url), "%s%s", base, path);
	if (put)
		snprintf(hdr, sizeof(hdr),
			 "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	else
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s",
			 token ? token : "");
	rc = md_call(out, url, put, hdr, "instance metadata", err);
	OPENSSL_cleanse(hdr, sizeof(hdr));
	return rc;
}

static void wipe_buf(struct lc_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->len);
	lc_buf_reset(b);
}

static int from_imds(struct s3_creds *out, const char *base,
		     struct lc_err *err)
{
	struct lc_buf tok = { 0 }, role = { 0 }, doc = { 0 };
	char path[512];
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	s3_curl_global();
	rc = imds_call(&tok, base, "/latest/api/token", true, NULL, err);
	if (!rc)
		rc = imds_call(&role, base,
			       "/latest/meta-data/iam/security-credentials/",
			       false, (char *)tok.data, err);
	if (rc)
		goto out;
	/* the first line names the role */
	n = strcspn((char *)role.data, "\r\n");
	if (!n || n > 128 || strchr((char *)role.data, '/')) {
		rc = S3_REMOTE(err, EIO, "instance metadata: no IAM role "
				   "attached to this instance");
		goto out;
	}
	snprintf(path, sizeof(path),
		 "/latest/meta-data/iam/security-credentials/%.*s", (int)n,
		 (char *)role.data);
	rc = imds_call(&doc, base, path, false, (char *)tok.data, err);
	if (!rc && (rc = s3_creds_json_parse(out, (char *)doc.data, doc.len,
					     err)))
		lc_err_prefix(err, "instance metadata %s%s: ", base, path);
out:
	wipe_buf(&tok);
	wipe_buf(&role);
	wipe_buf(&doc);
	return rc;
}

/* ---- container credentials ---------------------------------------- */

#define ECS_HOST "169.254.170.2"

/* A full URI may be plain http only to this machine or to the address
 * ECS and EKS serve credentials on. */
static bool container_host_ok(const char *url)
{
	static const char *const local[] = { "localhost", ECS_HOST,
					     "169.254.170.23", "[fd00:ec2::23]",
					     "[::1]" };
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool good = false;

	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		good = !strcasecmp(scheme, "https");
		if (!strcasecmp(scheme, "http")) {
			good = !strncmp(host, "127.", 4);
			for (size_t i = 0; i < sizeof(local) / sizeof(*local);
			     i++)
				good |= !strcasecmp(host, local[i]);
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return good;
}

/* The Authorization value, from a file (re-read on every refresh: it
 * rotates) or the environment; NULL when there is none. */
static int container_token(char **out, struct lc_err *err)
{
	const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *env = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	size_t len;
	int rc;

	*out = NULL;
	if (file && *file) {
		rc = read_file(out, &len, file, err);
		if (rc)
			return rc;
		while (len && ((*out)[len - 1] == '\n' ||
			       (*out)[len - 1] == '\r'))
			(*out)[--len] = 0;
	} else if (env && *env) {
		*out = lc_strdup(env);
		if (!*out)
			return LC_NOMEM(err);
		len = strlen(*out);
	} else {
		return 0;
	}
	if (!len) {
		lc_free(*out);
		*out = NULL;
		return 0;
	}
	if (strlen(*out) != len || strpbrk(*out, "\r\n")) {
		OPENSSL_cleanse(*out, len);
		lc_free(*out);
		*out = NULL;
		return LC_USAGE(err, "%s: the container authorization token "
				"holds a line break or NUL",
				file && *file ? file :
				"AWS_CONTAINER_AUTHORIZATION_TOKEN");
	}
	return 0;
}

static int from_container(struct s3_creds *out, struct lc_err *err)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	struct lc_buf doc = { 0 };
	char url[2048], *tok = NULL, *hdr = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (rel && *rel) {
		if (*rel != '/' || strlen(rel) > 1024)
			return LC_USAGE(err, "AWS_CONTAINER_CREDENTIALS_"
					"RELATIVE_URI must be a path");
		snprintf(url, sizeof(url), "http://%s%s", ECS_HOST, rel);
	} else if (full && *full) {
		if (strlen(full) >= sizeof(url) || !container_host_ok(full))
			return LC_USAGE(err, "AWS_CONTAINER_CREDENTIALS_"
					"FULL_URI must be https, or http to "
					"this machine or %s", ECS_HOST);
		snprintf(url, sizeof(url), "%s", full);
	} else {
		return NEXT;
	}
	s3_curl_global();
	rc = container_token(&tok, err);
	if (!rc && tok) {
		size_t n = strlen(tok) + sizeof("Authorization: ");

		hdr = lc_malloc(n);
		if (!hdr)
			rc = LC_NOMEM(err);
		else
			snprintf(hdr, n, "Authorization: %s", tok);
	}
	if (!rc)
		rc = md_call(&doc, url, false, hdr, "container credentials",
			     err);
	if (!rc && (rc = s3_creds_json_parse(out, (char *)doc.data, doc.len,
					     err)))
		lc_err_prefix(err, "container credentials %s: ", url);
	if (tok) {
		OPENSSL_cleanse(tok, strlen(tok));
		lc_free(tok);
	}
	if (hdr) {
		OPENSSL_cleanse(hdr, strlen(hdr));
		lc_free(hdr);
	}
	wipe_buf(&doc);
	return rc;
}

/* ---- the chain ---------------------------------------------------- */

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

static bool conf_true(const struct ostore_conf *conf, const char *key)
{
	const char *v = ostore_conf_get(conf, key);

	return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

static const char *profile_name(const struct ostore_conf *conf,
				bool *explicit)
{
	const char *p = ostore_conf_get(conf, "profile");

	if (!p)
		p = getenv("AWS_PROFILE");
	*explicit = p && *p;
	return *explicit ? p : "default";
}

static int from_options(struct s3_creds *out, const struct ostore_conf *conf,
			struct lc_err *err)
{
	const char *ak = ostore_conf_get(conf, "access_key_id");
	const char *sk = ostore_conf_get(conf, "secret_access_key");
	const char *tok = ostore_conf_get(conf, "session_token");
	struct s3_creds c = { .access_key = (char *)ak, .secret = (char *)sk,
			      .token = (char *)tok };

	if (!ak && !sk)
		return NEXT;
	if (!ak || !sk)
		return LC_USAGE(err, "access_key_id= and secret_access_key= "
				"must be given together");
	return creds_copy(out, &c, err);
}

static int shared_file(struct s3_creds *out, const char *profile,
		       bool explicit, char **where, struct lc_err *err)
{
	const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *home = getenv("HOME");
	char path[4096];
	struct lc_err tmp = { 0 };
	int rc;

	if (f && *f)
		snprintf(path, sizeof(path), "%s", f);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
	else
		return NEXT;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return NEXT;
	rc = from_file(out, path, profile, &tmp);
	/* the default profile may be absent; a named one may not */
	if (rc == ENOENT && tmp.kind == LC_EK_NOTFOUND && !explicit)
		return NEXT;
	if (rc) {
		lc_err_set(err, tmp.code, tmp.kind, tmp.file, tmp.line, "%s",
			   tmp.msg);
		return rc;
	}
	*where = lc_strdup(path);
	return 0;
}

static int chain(struct s3_credsrc *cs, const struct ostore_conf *conf,
		 struct lc_err *err)
{
	const char *file = ostore_conf_get(conf, "credentials_file");
	bool explicit;
	const char *profile = profile_name(conf, &explicit);
	struct lc_err imds_err = { 0 };
	int rc;

	rc = from_options(&cs->cur, conf, err);
	if (rc != NEXT) {
		cs->src = S3_CRED_OPTIONS;
		return rc;
	}
	if (file) {
		cs->src = S3_CRED_FILE;
		cs->where = lc_strdup(file);
		return from_file(&cs->cur, file, profile, err);
	}
	rc = from_env(&cs->cur, cs->oss, err);
	if (rc != NEXT) {
		cs->src = S3_CRED_ENV;
		return rc;
	}
	rc = shared_file(&cs->cur, profile, explicit, &cs->where, err);
	if (rc != NEXT) {
		cs->src = S3_CRED_SHARED;
		return rc;
	}
	rc = from_container(&cs->cur, err);
	if (rc != NEXT) {
		cs->src = S3_CRED_CONTAINER;
		return rc;
	}
	if (!env_true("AWS_EC2_METADATA_DISABLED")) {
		rc = from_imds(&cs->cur, cs->imds_endpoint, &imds_err);
		if (!rc) {
			cs->src = S3_CRED_IMDS;
			return 0;
		}
	}
	return lc_err_set(err, EACCES, LC_EK_USAGE, __FILE__, __LINE__,
			  "no S3 credentials: give access_key_id= and "
			  "secret_access_key=, credentials_file=, "
			  "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
			  "~/.aws/credentials [%.60s], or skip_signature=true "
			  "for a public bucket%s%.200s", profile,
			  imds_err.code ? "; " : "", imds_err.msg);
}

int s3_credsrc_init(struct s3_credsrc *cs, const struct ostore_conf *conf,
		    bool oss, struct lc_err *err)
{
	const char *md = ostore_conf_get(conf, "metadata_endpoint");
	int rc;

	memset(cs, 0, sizeof(*cs));
	pthread_mutex_init(&cs->mu, NULL);
	cs->oss = oss;
	if (!md)
		md = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	cs->imds_endpoint = lc_strdup(md && *md ? md :
				      "http://169.254.169.254");
	if (!cs->imds_endpoint)
		return LC_NOMEM(err);
	while (strlen(cs->imds_endpoint) > 1 &&
	       cs->imds_endpoint[strlen(cs->imds_endpoint) - 1] == '/')
		cs->imds_endpoint[strlen(cs->imds_endpoint) - 1] = 0;
	if (conf_true(conf, "skip_signature")) {
		cs->src = S3_CRED_ANON;
		return 0;
	}
	rc = chain(cs, conf, err);
	cs->gen = 1;
	return rc;
}

void s3_credsrc_reset(struct s3_credsrc *cs)
{
	s3_creds_reset(&cs->cur);
	lc_free(cs->imds_endpoint);
	lc_free(cs->where);
	pthread_mutex_destroy(&cs->mu);
	memset(cs, 0, sizeof(*cs));
}

/* Called with cs->mu held. */
static int refresh_locked(struct s3_credsrc *cs, bool force,
			  struct lc_err *err)
{
	struct s3_creds fresh;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (cs->src != S3_CRED_IMDS && cs->src != S3_CRED_CONTAINER)
		return 0;
	if (!force && (!cs->cur.expires ||
		       now < cs->cur.expires - REFRESH_MARGIN))
		return 0;
	rc = cs->src == S3_CRED_IMDS ?
		     from_imds(&fresh, cs->imds_endpoint, err) :
		     from_container(&fresh, err);
	if (rc) {
		/* keep the old ones while they still work */
		if (!force && cs->cur.expires && now < cs->cur.expires) {
			lc_err_clear(err);
			return 0;
		}
		return rc;
	}
	s3_creds_reset(&cs->cur);
	cs->cur = fresh;
	cs->gen++;
	return 0;
}

int s3_credsrc_get(struct s3_credsrc *cs, struct s3_creds *out,
		   uint64_t *gen, struct lc_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&cs->mu);
	rc = refresh_locked(cs, false, err);
	if (!rc)
		rc = creds_copy(out, &cs->cur, err);
	*gen = cs->gen;
	pthread_mutex_unlock(&cs->mu);
	return rc;
}

int s3_credsrc_refresh(struct s3_credsrc *cs, uint64_t gen,
		       struct lc_err *err)
{
	int rc = 0;

	if (cs->src != S3_CRED_IMDS && cs->src != S3_CRED_CONTAINER)
		return S3_REMOTE(err, EACCES, "the session token expired "
				 "(credentials from %s, which lancefs cannot "
				 "renew: give new ones and mount again)",
				 s3_credsrc_name(cs->src));
	pthread_mutex_lock(&cs->mu);
	if (cs->gen == gen)	/* else renewed since that request */
		rc = refresh_locked(cs, true, err);
	pthread_mutex_unlock(&cs->mu);
	return rc;
}
