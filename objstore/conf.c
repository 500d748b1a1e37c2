/*
 * conf.c - store settings from -o options. Keys follow Lance's
 * storage_options (object_store's AmazonS3ConfigKey spellings), so the
 * words that work in pylance and LanceDB work here; every alias maps to
 * one canonical key.
 */
#include "ostore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct conf_key {
	const char *name;		/* canonical */
	const char *aliases[6];
	char form;	/* 'n': a number, 'c': a count, 's': a size (K, M,
			 * G, T), 0: any */
};

static const struct conf_key keys[] = {
	{ "access_key_id", { "aws_access_key_id", "oss_access_key_id" }, 0 },
	{ "secret_access_key",
	  { "aws_secret_access_key", "oss_secret_access_key" }, 0 },
	{ "session_token", { "aws_session_token", "token", "aws_token",
			     "oss_security_token", "oss_session_token" }, 0 },
	{ "region", { "aws_region", "aws_default_region", "default_region",
		      "oss_region" }, 0 },
	{ "endpoint", { "aws_endpoint", "aws_endpoint_url", "endpoint_url",
			"aws_endpoint_url_s3", "oss_endpoint" }, 0 },
	{ "allow_http", { "aws_allow_http" }, 0 },
	{ "virtual_hosted_style_request",
	  { "aws_virtual_hosted_style_request" }, 0 },
	{ "skip_signature", { "aws_skip_signature" }, 0 },
	{ "credentials_file", { "aws_shared_credentials_file" }, 0 },
	{ "profile", { "aws_profile" }, 0 },
	{ "ca_file", { "aws_ca_file" }, 0 },
	{ "connect_timeout", { "aws_connect_timeout" }, 'n' },
	{ "timeout", { "request_timeout", "aws_timeout" }, 'n' },
	{ "max_retries", { "client_max_retries" }, 'n' },
	{ "retry_timeout", { "client_retry_timeout" }, 'n' },
	{ "metadata_endpoint", { "aws_metadata_endpoint" }, 0 },
	{ "cache_size", { 0 }, 's' },
	{ "cache_dir", { 0 }, 0 },
	{ "cache_entries", { 0 }, 'c' },
	{ "cache_dir_size", { 0 }, 's' },
	{ "cache_threads", { 0 }, 'c' },
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

struct ostore_conf {
	char *val[N_KEYS];
};

int ostore_conf_new(struct ostore_conf **out, struct lc_err *err)
{
	*out = lc_calloc(1, sizeof(**out));
	return *out ? 0 : LC_NOMEM(err);
}

void ostore_conf_free(struct ostore_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < N_KEYS; i++)
		lc_free(c->val[i]);
	lc_free(c);
}

static int key_index(const char *name, size_t len)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strlen(keys[i].name) == len &&
		    !strncasecmp(keys[i].name, name, len))
			return (int)i;
		for (size_t a = 0; a < 6 && keys[i].aliases[a]; a++)
			if (strlen(keys[i].aliases[a]) == len &&
			    !strncasecmp(keys[i].aliases[a], name, len))
				return (int)i;
	}
	return -1;
}

/* Whether value `v` has form `form` (struct conf_key). */
static bool form_ok(char form, const char *v)
{
	uint64_t u;
	char *end;

	if (form != 'n')
		return !ostore_parse_count(v, form == 's', &u);
	(void)strtod(v, &end);
	return end != v && !*end && *v != '-';
}

int ostore_conf_parse(struct ostore_conf *c, const char *opt,
		      struct lc_err *err)
{
	const char *eq = strchr(opt, '=');
	char *v;
	int i;

	if (!eq)
		return ENOENT;
	i = key_index(opt, (size_t)(eq - opt));
	if (i < 0)
		return ENOENT;
	if (!eq[1])
		return LC_USAGE(err, "%.*s=: needs a value", (int)(eq - opt),
				opt);
	/* the form now, for every store (a local one uses none of them);
	 * the range where the value is used */
	if (keys[i].form && !form_ok(keys[i].form, eq + 1))
		return LC_USAGE(err, "%s: want %s", opt,
				keys[i].form == 's' ?
					"a size (K, M, G, T suffixes)" :
				keys[i].form == 'c' ? "a whole number" :
						      "a number");
	v = lc_strdup(eq + 1);
	if (!v)
		return LC_NOMEM(err);
	lc_free(c->val[i]);
	c->val[i] = v;
	return 0;
}

static bool conf_secret(const char *opt)
{
	const char *eq = strchr(opt, '=');
	int i = eq ? key_index(opt, (size_t)(eq - opt)) : -1;

	return i >= 0 && (!strcmp(keys[i].name, "secret_access_key") ||
			  !strcmp(keys[i].name, "session_token"));
}

void ostore_conf_hide_secrets(char *arg, size_t len)
{
	for (char *tok = arg; tok < arg + len; tok += strlen(tok) + 1) {
		char *eq = strchr(tok, '=');

		if (eq && conf_secret(tok))
			memset(eq + 1, '*', strlen(eq + 1));
	}
}

int ostore_parse_count(const char *v, bool sized, uint64_t *out)
{
	unsigned long long n;
	unsigned shift = 0;
	char *end;

	/* digits first: strtoull also takes spaces, signs and "-1" */
	if (*v < '0' || *v > '9')
		return EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return EINVAL;
	if (sized && *end) {
		const char *u = "KMGT";
		const char *hit = strchr(u, *end >= 'a' ? *end - 32 : *end);

		if (!hit || !*hit)
			return EINVAL;
		shift = 10 * (unsigned)(hit - u + 1);
		end++;
		if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
			end += strlen(end);
	}
	if (*end || (shift && n > (UINT64_MAX >> shift)))
		return EINVAL;
	*out = (uint64_t)n << shift;
	return 0;
}

const char *ostore_conf_get(const struct ostore_conf *c, const char *key)
{
	int i;

	if (!c)
		return NULL;
	i = key_index(key, strlen(key));
	return i < 0 ? NULL : c->val[i];
}
