/*
 * schema.c - Lance logical type strings and the schema rebuilt from the
 * manifest's flat Field list (table-format.md section 2.4).
 *
 * Type strings are colon-separated and may nest: the fixed-size-list
 * length is the last token ("fixed_size_list:fixed_size_list:int8:2:2"),
 * a dictionary ends in ":<index>:false", and a timestamp's zone is
 * everything after its unit (zones such as "+05:30" contain colons).
 */
#include "lance_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "file.pb-c.h"

#define TYPE_MAX_DEPTH 16
#define TYPE_MAX_WIDTH (1 << 24)
#define SCHEMA_MAX_FIELDS (1u << 20)
#define SCHEMA_MAX_NESTING 64

struct tok {
	const char *p;
	size_t n;
};

static bool tok_is(struct tok t, const char *s)
{
	return t.p && strlen(s) == t.n && !memcmp(t.p, s, t.n);
}

/* Splits t at its first colon: head before, rest after (rest.p NULL when
 * there is no colon). */
static struct tok tok_head(struct tok t, struct tok *rest)
{
	const char *c = t.p ? memchr(t.p, ':', t.n) : NULL;
	struct tok h = t;

	rest->p = NULL;
	rest->n = 0;
	if (c) {
		h.n = (size_t)(c - t.p);
		rest->p = c + 1;
		rest->n = t.n - h.n - 1;
	}
	return h;
}

/* Splits t at its last colon: tail after, rest before. */
static struct tok tok_tail(struct tok t, struct tok *rest)
{
	struct tok tl = { NULL, 0 };

	rest->p = NULL;
	rest->n = 0;
	for (size_t i = t.n; i > 0; i--) {
		if (t.p[i - 1] == ':') {
			tl.p = t.p + i;
			tl.n = t.n - i;
			rest->p = t.p;
			rest->n = i - 1;
			break;
		}
	}
	return tl;
}

/* A decimal integer in [lo, hi]; -1 on anything else. */
static int64_t tok_int(struct tok t, int64_t lo, int64_t hi)
{
	int64_t v = 0;
	bool neg = false;
	size_t i = 0;

	if (t.n && t.p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == t.n || t.n - i > 12)
		return INT64_MIN;
	for (; i < t.n; i++) {
		if (t.p[i] < '0' || t.p[i] > '9')
			return INT64_MIN;
		v = v * 10 + (t.p[i] - '0');
	}
	if (neg)
		v = -v;
	return v < lo || v > hi ? INT64_MIN : v;
}

static int tok_unit(enum lance_time_unit *u, struct tok t)
{
	if (tok_is(t, "s"))
		*u = LANCE_UNIT_S;
	else if (tok_is(t, "ms"))
		*u = LANCE_UNIT_MS;
	else if (tok_is(t, "us"))
		*u = LANCE_UNIT_US;
	else if (tok_is(t, "ns"))
		*u = LANCE_UNIT_NS;
	else
		return -1;
	return 0;
}

static const struct {
	const char *name;
	enum lance_type_id id;
	bool large;
} simple_types[] = {
	{ "null", LANCE_T_NULL, false },
	{ "bool", LANCE_T_BOOL, false },
	{ "int8", LANCE_T_INT8, false },
	{ "uint8", LANCE_T_UINT8, false },
	{ "int16", LANCE_T_INT16, false },
	{ "uint16", LANCE_T_UINT16, false },
	{ "int32", LANCE_T_INT32, false },
	{ "uint32", LANCE_T_UINT32, false },
	{ "int64", LANCE_T_INT64, false },
	{ "uint64", LANCE_T_UINT64, false },
	{ "halffloat", LANCE_T_FLOAT16, false },
	{ "float", LANCE_T_FLOAT32, false },
	{ "double", LANCE_T_FLOAT64, false },
	{ "string", LANCE_T_UTF8, false },
	{ "large_string", LANCE_T_UTF8, true },
	{ "binary", LANCE_T_BINARY, false },
	{ "large_binary", LANCE_T_BINARY, true },
	{ "json", LANCE_T_BINARY, true },
	{ "struct", LANCE_T_STRUCT, false },
	{ "list", LANCE_T_LIST, false },
	{ "large_list", LANCE_T_LIST, true },
	{ "list.struct", LANCE_T_LIST, false },
	{ "large_list.struct", LANCE_T_LIST, true },
	{ "map", LANCE_T_MAP, false },
};

static bool is_int_type(enum lance_type_id id)
{
	return id >= LANCE_T_INT8 && id <= LANCE_T_UINT64;
}

static int parse_type(struct lance_type *out, struct tok t, int depth,
		      struct lc_err *err);

static int bad_type(struct tok t, struct lc_err *err)
{
	return LC_UNSUPPORTED(err, "unknown logical type '%.*s'",
			      (int)(t.n > 80 ? 80 : t.n), t.p);
}

static int parse_fixed_list(struct lance_type *out, struct tok whole,
			    struct tok rest, int depth, struct lc_err *err)
{
	struct tok inner, n = tok_tail(rest, &inner);
	int64_t w;
	int rc;

	if (!n.p || !inner.n)
		return bad_type(whole, err);
	w = tok_int(n, 1, TYPE_MAX_WIDTH);
	if (w == INT64_MIN)
		return LC_UNSUPPORTED(err, "'%.*s': list width '%.*s' is not "
				      "in 1..%d", (int)(whole.n > 80 ? 80 :
				      whole.n), whole.p, (int)(n.n > 20 ? 20 :
				      n.n), n.p, TYPE_MAX_WIDTH);
	out->id = LANCE_T_FIXED_LIST;
	out->width = (int32_t)w;
	out->item = lc_calloc(1, sizeof(*out->item));
	if (!out->item)
		return LC_NOMEM(err);
	if (tok_is(inner, "lance.bfloat16")) {
		/* An extension over fixed_size_binary(2). */
		out->bfloat16 = true;
		out->item->id = LANCE_T_FIXED_BINARY;
		out->item->width = 2;
		return 0;
	}
	rc = parse_type(out->item, inner, depth + 1, err);
	return rc;
}

static int parse_type(struct lance_type *out, struct tok t, int depth,
		      struct lc_err *err)
{
	struct tok rest, head;
	int64_t v;

	memset(out, 0, sizeof(*out));
	if (depth > TYPE_MAX_DEPTH)
		return LC_UNSUPPORTED(err, "logical type nested deeper than "
				      "%d", TYPE_MAX_DEPTH);
	for (size_t i = 0; i < sizeof(simple_types) / sizeof(*simple_types);
	     i++) {
		if (tok_is(t, simple_types[i].name)) {
			out->id = simple_types[i].id;
			out->large = simple_types[i].large;
			out->json = tok_is(t, "json");
			return 0;
		}
	}
	head = tok_head(t, &rest);
	if (!rest.p)
		return bad_type(t, err);
	if (tok_is(head, "fixed_size_binary")) {
		v = tok_int(rest, 1, TYPE_MAX_WIDTH);
		if (v == INT64_MIN)
			return bad_type(t, err);
		out->id = LANCE_T_FIXED_BINARY;
		out->width = (int32_t)v;
		return 0;
	}
	if (tok_is(head, "fixed_size_list"))
		return parse_fixed_list(out, t, rest, depth, err);
	if (tok_is(head, "decimal")) {
		struct tok bits, p, s, r2;
		int64_t pr, sc;

		bits = tok_head(rest, &r2);
		p = tok_head(r2, &s);
		if (!r2.p || !s.p)
			return bad_type(t, err);
		if (tok_is(bits, "128"))
			out->id = LANCE_T_DECIMAL128;
		else if (tok_is(bits, "256"))
			out->id = LANCE_T_DECIMAL256;
		else
			return bad_type(t, err);
		pr = tok_int(p, 1, out->id == LANCE_T_DECIMAL128 ? 38 : 76);
		sc = tok_int(s, -128, 127);
		if (pr == INT64_MIN || sc == INT64_MIN)
			return bad_type(t, err);
		out->precision = (int32_t)pr;
		out->scale = (int32_t)sc;
		return 0;
	}
	if (tok_is(head, "date32") && tok_is(rest, "day")) {
		out->id = LANCE_T_DATE32;
		return 0;
	}
	if (tok_is(head, "date64") && tok_is(rest, "ms")) {
		out->id = LANCE_T_DATE64;
		out->unit = LANCE_UNIT_MS;
		return 0;
	}
	if (tok_is(head, "time32") || tok_is(head, "time64") ||
	    tok_is(head, "duration")) {
		if (tok_unit(&out->unit, rest))
			return bad_type(t, err);
		if (tok_is(head, "time32")) {
			if (out->unit > LANCE_UNIT_MS)
				return bad_type(t, err);
			out->id = LANCE_T_TIME32;
		} else if (tok_is(head, "time64")) {
			if (out->unit < LANCE_UNIT_US)
				return bad_type(t, err);
			out->id = LANCE_T_TIME64;
		} else {
			out->id = LANCE_T_DURATION;
		}
		return 0;
	}
	if (tok_is(head, "timestamp")) {
		struct tok unit, tz;

		unit = tok_head(rest, &tz);
		if (!tz.p || !tz.n || tok_unit(&out->unit, unit))
			return bad_type(t, err);
		out->id = LANCE_T_TIMESTAMP;
		if (!tok_is(tz, "-")) {
			out->tz = lc_strndup(tz.p, tz.n);
			if (!out->tz)
				return LC_NOMEM(err);
		}
		return 0;
	}
	if (tok_is(head, "dict")) {
		/* dict:<value>:<index>:<ordered> */
		struct tok ord, r2, index, value;
		struct lance_type it;
		enum lance_type_id index_id;
		bool is_int;
		int rc;

		ord = tok_tail(rest, &r2);
		index = tok_tail(r2, &value);
		if (!ord.p || !index.p || !value.n ||
		    !(tok_is(ord, "false") || tok_is(ord, "true")))
			return bad_type(t, err);
		rc = parse_type(&it, index, depth + 1, err);
		if (rc)
			return rc;
		is_int = is_int_type(it.id);
		index_id = it.id;
		lance_type_reset(&it);
		if (!is_int)
			return LC_UNSUPPORTED(err, "'%.*s': dictionary index "
					      "is not an integer type",
					      (int)(t.n > 80 ? 80 : t.n), t.p);
		rc = parse_type(out, value, depth + 1, err);
		if (rc)
			return rc;
		if (out->dict || out->id == LANCE_T_STRUCT ||
		    out->id == LANCE_T_LIST || out->id == LANCE_T_MAP) {
			lance_type_reset(out);
			return LC_UNSUPPORTED(err, "'%.*s': dictionary of a "
					      "nested type",
					      (int)(t.n > 80 ? 80 : t.n), t.p);
		}
		out->dict = true;
		out->dict_index = index_id;
		return 0;
	}
	return bad_type(t, err);
}

int lance_type_parse(struct lance_type *out, const char *logical,
		     struct lc_err *err)
{
	struct tok t = { logical, logical ? strlen(logical) : 0 };
	int rc;

	if (!logical || !*logical) {
		memset(out, 0, sizeof(*out));
		return LC_CORRUPT(err, "empty logical type");
	}
	rc = parse_type(out, t, 0, err);
	if (rc)
		lance_type_reset(out);
	return rc;
}

void lance_type_reset(struct lance_type *t)
{
	if (!t)
		return;
	lc_free(t->tz);
	if (t->item) {
		lance_type_reset(t->item);
		lc_free(t->item);
	}
	memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------- schema */

int lance__kv_add(struct lance_kv **kv, size_t *n, const char *key,
		  const uint8_t *val, size_t len, struct lc_err *err)
{
	struct lance_kv *p, *e;

	if (*n >= SCHEMA_MAX_FIELDS)
		return LC_LIMIT(err, "more than %u metadata entries",
				SCHEMA_MAX_FIELDS);
	p = lc_realloc(*kv, (*n + 1) * sizeof(**kv));
	if (!p)
		return LC_NOMEM(err);
	*kv = p;
	e = &p[*n];
	memset(e, 0, sizeof(*e));
	e->key = lc_strdup(key ? key : "");
	e->value = lc_malloc(len + 1);
	if (!e->key || !e->value) {
		lc_free(e->key);
		lc_free(e->value);
		return LC_NOMEM(err);
	}
	if (len)
		memcpy(e->value, val, len);
	e->value[len] = 0;
	e->value_len = len;
	(*n)++;
	return 0;
}

void lance__kv_free(struct lance_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		lc_free(kv[i].key);
		lc_free(kv[i].value);
	}
	lc_free(kv);
}

static const char *kv_get(const struct lance_kv *kv, size_t n,
			  const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return (const char *)kv[i].value;
	return NULL;
}

const char *lance_field_meta(const struct lance_field *f, const char *key)
{
	return kv_get(f->metadata, f->n_metadata, key);
}

static void field_reset(struct lance_field *f)
{
	lc_free(f->name);
	lc_free(f->logical_type);
	lance_type_reset(&f->type);
	lance__kv_free(f->metadata, f->n_metadata);
	lc_free(f->children);
	memset(f, 0, sizeof(*f));
}

void lance_schema_reset(struct lance_schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_fields; i++)
		field_reset(&s->fields[i]);
	lc_free(s->fields);
	lc_free(s->top);
	lance__kv_free(s->metadata, s->n_metadata);
	memset(s, 0, sizeof(*s));
}

const struct lance_field *lance_schema_field_by_id(
	const struct lance_schema *s, int32_t id)
{
	for (size_t i = 0; i < s->n_fields; i++)
		if (s->fields[i].id == id)
			return &s->fields[i];
	return NULL;
}

static const struct lance_field *child_by_name(
	struct lance_field *const *list, size_t n, const char *name,
	size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]->name) == len &&
		    !memcmp(list[i]->name, name, len))
			return list[i];
	return NULL;
}

/* A top-level name, or a dotted path ("st.x") when no top-level field has
 * the whole name. */
const struct lance_field *lance_schema_field_by_name(
	const struct lance_schema *s, const char *name)
{
	const struct lance_field *f;
	const char *dot;

	f = child_by_name(s->top, s->n_top, name, strlen(name));
	if (f)
		return f;
	dot = strchr(name, '.');
	if (!dot)
		return NULL;
	f = child_by_name(s->top, s->n_top, name, (size_t)(dot - name));
	while (f && dot) {
		name = dot + 1;
		dot = strchr(name, '.');
		f = child_by_name(f->children, f->n_children, name,
				  dot ? (size_t)(dot - name) : strlen(name));
	}
	return f;
}

static int cmp_id(const void *a, const void *b)
{
	const struct lance_field *x = *(struct lance_field *const *)a;
	const struct lance_field *y = *(struct lance_field *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

static bool meta_true(const struct lance_field *f, const char *key)
{
	const char *v = lance_field_meta(f, key);

	return v && !strcmp(v, "true");
}

static int copy_field(struct lance_field *f, const Lpb__Field *pf,
		      struct lc_err *err)
{
	const char *ext;
	int rc;

	f->id = pf->id;
	f->parent_id = pf->parent_id;
	f->nullable = pf->nullable;
	f->name = lc_strdup(pf->name ? pf->name : "");
	f->logical_type = lc_strdup(pf->logical_type ? pf->logical_type : "");
	if (!f->name || !f->logical_type)
		return LC_NOMEM(err);
	for (size_t i = 0; i < pf->n_metadata; i++) {
		const Lpb__Field__MetadataEntry *e = pf->metadata[i];

		rc = lance__kv_add(&f->metadata, &f->n_metadata, e->key,
				   e->value.data, e->value.len, err);
		if (rc)
			return rc;
	}
	rc = lance_type_parse(&f->type, f->logical_type, err);
	if (rc)
		return rc;
	ext = lance_field_meta(f, "ARROW:extension:name");
	if ((ext && !strcmp(ext, "lance.blob.v2")) ||
	    (pf->extension_name && !strcmp(pf->extension_name,
					   "lance.blob.v2")))
		f->blob = LANCE_BLOB_V2;
	else if (f->type.id == LANCE_T_BINARY && f->type.large &&
		 meta_true(f, "lance-encoding:blob"))
		f->blob = LANCE_BLOB_V1;
	f->packed = meta_true(f, "lance-encoding:packed");
	return 0;
}

int lance__schema_from_pb(struct lance_schema *out,
			  struct Lpb__Field *const *pfields, size_t n,
			  struct lc_err *err)
{
	struct lance_field **byid = NULL;
	size_t *nchild = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (n > SCHEMA_MAX_FIELDS)
		return LC_LIMIT(err, "schema: %zu fields", n);
	out->fields = lc_calloc(n, sizeof(*out->fields));
	byid = lc_calloc(n, sizeof(*byid));
	nchild = lc_calloc(n, sizeof(*nchild));
	if (!out->fields || !byid || !nchild) {
		rc = LC_NOMEM(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		out->n_fields = i + 1;
		rc = copy_field(&out->fields[i], pfields[i], err);
		if (rc) {
			lc_err_prefix(err, "schema field %zu (id %d): ", i,
				      pfields[i]->id);
			goto out;
		}
		byid[i] = &out->fields[i];
	}
	qsort(byid, n, sizeof(*byid), cmp_id);
	for (size_t i = 1; i < n; i++) {
		if (byid[i]->id == byid[i - 1]->id) {
			rc = LC_CORRUPT(err, "schema: field id %d is used by "
					"'%s' and '%s'", byid[i]->id,
					byid[i - 1]->name, byid[i]->name);
			goto out;
		}
	}
	/* Parents: -1 is the top level; anything else must be a known id of
	 * a nested type. */
	for (size_t i = 0; i < n; i++) {
		struct lance_field *f = &out->fields[i], key, *kp = &key, **hit;
		enum lance_type_id pt;

		if (f->id < 0) {
			rc = LC_CORRUPT(err, "schema: field '%s' has negative "
					"id %d", f->name, f->id);
			goto out;
		}
		if (f->parent_id == -1) {
			out->n_top++;
			continue;
		}
		key.id = f->parent_id;
		hit = bsearch(&kp, byid, n, sizeof(*byid), cmp_id);
		if (!hit) {
			rc = LC_CORRUPT(err, "schema: field '%s' (id %d) names"
					" unknown parent %d", f->name, f->id,
					f->parent_id);
			goto out;
		}
		pt = (*hit)->type.id;
		if (pt != LANCE_T_STRUCT && pt != LANCE_T_LIST &&
		    pt != LANCE_T_MAP) {
			rc = LC_CORRUPT(err, "schema: field '%s' (id %d) has "
					"parent '%s' of type %s, which has no "
					"children", f->name, f->id,
					(*hit)->name, (*hit)->logical_type);
			goto out;
		}
		f->parent = *hit;
		nchild[*hit - out->fields]++;
	}
	/* Cycles: every chain of parents must reach the top within n
	 * steps; nesting is also capped for the recursive decoders. */
	for (size_t i = 0; i < n; i++) {
		const struct lance_field *p = &out->fields[i];
		size_t depth = 0;

		while (p->parent && depth <= SCHEMA_MAX_NESTING) {
			p = p->parent;
			depth++;
		}
		if (p->parent) {
			rc = LC_CORRUPT(err, "schema: field '%s' (id %d) is in"
					" a parent cycle or nested deeper than "
					"%d", out->fields[i].name,
					out->fields[i].id, SCHEMA_MAX_NESTING);
			goto out;
		}
	}
	out->top = lc_calloc(out->n_top, sizeof(*out->top));
	if (!out->top) {
		rc = LC_NOMEM(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct lance_field *f = &out->fields[i];

		if (!nchild[i])
			continue;
		f->children = lc_calloc(nchild[i], sizeof(*f->children));
		if (!f->children) {
			rc = LC_NOMEM(err);
			goto out;
		}
	}
	for (size_t i = 0, t = 0; i < n; i++) {
		struct lance_field *f = &out->fields[i];

		if (!f->parent)
			out->top[t++] = f;
		else
			f->parent->children[f->parent->n_children++] = f;
	}
	for (size_t i = 0; i < n; i++) {
		struct lance_field *f = &out->fields[i];

		if ((f->type.id == LANCE_T_LIST || f->type.id == LANCE_T_MAP) &&
		    f->n_children != 1) {
			rc = LC_CORRUPT(err, "schema: %s field '%s' (id %d) "
					"has %zu children, expected 1",
					f->logical_type, f->name, f->id,
					f->n_children);
			goto out;
		}
	}
out:
	lc_free(byid);
	lc_free(nchild);
	if (rc)
		lance_schema_reset(out);
	return rc;
}

int lance_schema_build(struct lance_schema *out,
		       const struct lance_field_def *defs, size_t n,
		       struct lc_err *err)
{
	Lpb__Field *pf;
	Lpb__Field **pp;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n > SCHEMA_MAX_FIELDS)
		return LC_LIMIT(err, "schema: %zu fields", n);
	pf = lc_calloc(n, sizeof(*pf));
	pp = lc_calloc(n, sizeof(*pp));
	if (!pf || !pp) {
		rc = LC_NOMEM(err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		lpb__field__init(&pf[i]);
		pf[i].name = (char *)defs[i].name;
		pf[i].id = (int32_t)i;
		pf[i].parent_id = defs[i].parent;
		pf[i].logical_type = (char *)defs[i].logical_type;
		pf[i].nullable = defs[i].nullable;
		pp[i] = &pf[i];
	}
	rc = lance__schema_from_pb(out, pp, n, err);
out:
	lc_free(pp);
	lc_free(pf);
	return rc;
}
