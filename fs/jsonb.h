/*
 * jsonb.h - the values of Lance JSON columns (logical type "json",
 * extension lance.json): JSONB, the binary JSON of the Rust jsonb crate,
 * to JSON text for meta.json, and JSON (as jansson parsed it) to JSONB
 * for a commit. The format is described in jsonb.c.
 */
#ifndef LANCEFS_JSONB_H
#define LANCEFS_JSONB_H

#include <jansson.h>

#include "lc.h"

/* Containers nested deeper are refused both ways (a guard for the
 * decoder's recursion; lance itself sets no limit). */
#define JSONB_MAX_DEPTH 128

/*
 * Append the JSON text of the JSONB value [p, p + n) to `b`: compact,
 * object members in stored order, numbers exact (floats as render_double
 * writes them, NaN and infinities as null, decimals as their digits),
 * invalid UTF-8 as U+FFFD. Bytes that are not JSONB as lance writes it
 * are EIO (LC_EK_CORRUPT); extension values (dates, binary) and nesting
 * deeper than JSONB_MAX_DEPTH are EIO (LC_EK_UNSUPPORTED). On failure
 * `b` is as it was.
 */
int jsonb_to_json(struct lc_buf *b, const uint8_t *p, size_t n,
		  struct lc_err *err) LC_MUST_USE;

/*
 * Append the JSONB of `j` to `b`: byte for byte what lance writes for the
 * same JSON text (object keys sorted, integers in their shortest width).
 * JSON null is the JSONB null; a column's null value is the caller's
 * business. Values JSONB cannot hold (nesting deeper than
 * JSONB_MAX_DEPTH, a string or container of 256 MiB or more) are EINVAL
 * (LC_EK_USAGE). On failure `b` is as it was.
 */
int jsonb_from_json(struct lc_buf *b, const json_t *j, struct lc_err *err)
	LC_MUST_USE;

/*
 * JSON text parsed with jansson `flags`, as json_loadb does, except that
 * an integer literal past int64 (jansson's "too big integer": a uint64
 * value a meta.json shows, say) is kept, as a string of a NUL, a mark
 * and the literal (json_big_int). NULL with *je set where the text is no
 * JSON or memory ran out.
 */
json_t *json_load_big(const void *text, size_t n, size_t flags,
		      json_error_t *je);

/* Such an integer literal's digits (with any '-'), or NULL where `j` is
 * no such string. jsonb_from_json stores those within uint64 as JSONB
 * unsigned integers and refuses others. */
const char *json_big_int(const json_t *j);

/* json_dumps, with such integers written as the literals they were;
 * free() the text. */
char *json_dumps_big(const json_t *j, size_t flags);

#endif
