/*
 * conf.c - store settings from -o options. Keys follow Lance's
 * storage_options (object_store's AmazonS3ConfigKey spellings), so the
 * words that work in pylance and LanceDB work here; every alias maps to
 * one canonical key.
 */
#include "ostore.h"

#include <stdlib.h>
#include <strings.h>

struct conf_key {
	const char *name;		/* canonical */
	const char *aliases[6];
};

static const struct conf_key keys[] = {
	{ "access_key_id", { "aws_access_key_id", "oss_access_key_id" } },
	{ "secret_access_key",
	  { "aws_secret_access_key", "oss_secret_access_key" } },
	{ "session_token", { "aws_session_token", "token", "aws_token",
			     "oss_security_token", "oss_session_token" } },
	{ "region", { "aws_region", "aws_default_region", "default_region",
		      "oss_region" } },
	{ "endpoint", { "aws_endpoint", "aws_endpoint_url", "endpoint_url",
			"aws_endpoint_url_s3", "oss_endpoint" } },
	{ "allow_http", { "aws_allow_http" } },
	{ "virtual_hosted_style_request",
	  { "aws_virtual_hosted_style_request" } },
	{ "skip_signature", { "aws_skip_signature" } },
	{ "credentials_file", { "aws_shared_credentials_file" } },
	{ "profile", { "aws_profile" } },
	{ "ca_file", { "aws_ca_file" } },
	{ "connect_timeout", { "aws_connect_timeout" } },
	{ "timeout", { "request_timeout", "aws_timeout" } },
	{ "max_retries", { "client_max_retries" } },
	{ "retry_timeout", { "client_retry_timeout" } },
	{ "metadata_endpoint", { "aws_metadata_endpoint" } },
	{ "cache_size", { 0 } },
	{ "cache_dir", { 0 } },
	{ "cache_entries", { 0 } },
	{ "cache_dir_size", { 0 } },
	{ "cache_threads", { 0 } },
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
	v = lc_strdup(eq + 1);
	if (!v)
		return LC_NOMEM(err);
	lc_free(c->val[i]);
	c->val[i] = v;
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
