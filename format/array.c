/* array.c - the decoded-values container shared by every decoder. */
#include "lance.h"

void lance_array_reset(struct lance_array *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_children; i++)
		lance_array_reset(&a->children[i]);
	lc_free(a->children);
	lc_free(a->validity);
	lc_free(a->values);
	lc_free(a->offsets);
	memset(a, 0, sizeof(*a));
}

const struct lance_type *lance_array_type(const struct lance_field *f)
{
	static const struct lance_type blob = { .id = LANCE_T_BINARY,
						.large = true };

	return f->blob != LANCE_BLOB_NONE ? &blob : &f->type;
}

unsigned lance_type_width(const struct lance_type *t)
{
	switch (t->id) {
	case LANCE_T_INT8:
	case LANCE_T_UINT8:
		return 1;
	case LANCE_T_INT16:
	case LANCE_T_UINT16:
	case LANCE_T_FLOAT16:
		return 2;
	case LANCE_T_INT32:
	case LANCE_T_UINT32:
	case LANCE_T_FLOAT32:
	case LANCE_T_DATE32:
	case LANCE_T_TIME32:
		return 4;
	case LANCE_T_INT64:
	case LANCE_T_UINT64:
	case LANCE_T_FLOAT64:
	case LANCE_T_DATE64:
	case LANCE_T_TIME64:
	case LANCE_T_TIMESTAMP:
	case LANCE_T_DURATION:
		return 8;
	case LANCE_T_DECIMAL128:
		return 16;
	case LANCE_T_DECIMAL256:
		return 32;
	case LANCE_T_FIXED_BINARY:
		return t->width > 0 ? (unsigned)t->width : 0;
	default:
		return 0;
	}
}

/* Shape an all-null array after `type`: children exist so consumers can
 * walk it like any other array. */
static int init_null(struct lance_array *out, const struct lance_type *type,
		     const struct lance_field *field, uint64_t length,
		     struct lc_err *err)
{
	uint64_t nbytes = (length + 7) / 8;
	unsigned w = lance_type_width(type);

	memset(out, 0, sizeof(*out));
	out->type = type;
	out->field = field;
	out->length = length;
	if (length > (1ull << 40))
		return LC_LIMIT(err, "%" PRIu64 " null rows", length);
	out->validity = lc_calloc(1, (size_t)nbytes);
	if (!out->validity)
		return LC_NOMEM(err);
	switch (type->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		out->offsets = lc_calloc((size_t)length + 1, sizeof(uint64_t));
		if (!out->offsets)
			return LC_NOMEM(err);
		break;
	case LANCE_T_BOOL:
		w = 0;
		out->values = lc_calloc(1, (size_t)nbytes);
		out->values_len = nbytes;
		if (!out->values)
			return LC_NOMEM(err);
		break;
	default:
		break;
	}
	if (w) {
		out->values = lc_calloc((size_t)length, w);
		out->values_len = length * w;
		if (!out->values)
			return LC_NOMEM(err);
	}
	if (type->id == LANCE_T_FIXED_LIST && type->item) {
		out->children = lc_calloc(1, sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = 1;
		return init_null(&out->children[0], type->item, NULL,
				 length * (uint64_t)type->width, err);
	}
	if (field && (type->id == LANCE_T_STRUCT || type->id == LANCE_T_LIST ||
		      type->id == LANCE_T_MAP) && field->n_children) {
		int rc;

		out->children = lc_calloc(field->n_children,
					  sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = field->n_children;
		for (size_t i = 0; i < field->n_children; i++) {
			const struct lance_field *c = field->children[i];

			rc = init_null(&out->children[i],
				       lance_array_type(c), c,
				       type->id == LANCE_T_STRUCT ? length : 0,
				       err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int lance_array_init_null(struct lance_array *out,
			  const struct lance_field *field, uint64_t length,
			  struct lc_err *err)
{
	int rc = init_null(out, lance_array_type(field), field, length,
			   err);

	if (rc)
		lance_array_reset(out);
	return rc;
}
