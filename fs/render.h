/*
 * render.h - what a row's files contain: meta.json rendering by the
 * VIEW.md type rules, file-type sniffing, and row-folder name escaping.
 * Pure functions over decoded arrays; no I/O.
 */
#ifndef LANCEFS_RENDER_H
#define LANCEFS_RENDER_H

#include "lance.h"

/*
 * NaN and infinities render as null (VIEW.md). While render_exact(true)
 * holds on a thread, they render there as strings of RENDER_FLOAT_MARK
 * and "NaN", "Infinity" or "-Infinity" instead, which ingest takes back
 * exactly: for the daemon's own copies of a committed row's meta.json,
 * which only a commit reads (writes.c fill_update).
 */
#define RENDER_FLOAT_MARK "\0lancefs.float:"
#define RENDER_FLOAT_MARK_LEN (sizeof(RENDER_FLOAT_MARK) - 1)
void render_exact(bool on);

/* Append the JSON of value `i` of `a` to `b`. */
int render_json_value(struct lc_buf *b, const struct lance_array *a,
		      uint64_t i, struct lc_err *err) LC_MUST_USE;
/* Append a JSON string literal for bytes [s, s + n) (invalid UTF-8 is
 * replaced by U+FFFD). */
int render_json_string(struct lc_buf *b, const char *s, size_t n,
		       struct lc_err *err) LC_MUST_USE;
/* Shortest decimal that reads back as the same double / float /
 * halffloat / bfloat16 (bits), as Python's repr writes it. */
void render_double(char *out, size_t cap, double v);
void render_float(char *out, size_t cap, float v);
void render_half(char *out, size_t cap, uint16_t h);
void render_bf16(char *out, size_t cap, uint16_t h);
/* A little-endian two's-complement integer of `n` bytes (at most 32)
 * as a decimal with `scale` fraction digits (a negative scale counts
 * tens), in quotes or not. */
int render_decimal(struct lc_buf *b, const uint8_t *p, size_t n, int scale,
		   bool quoted, struct lc_err *err) LC_MUST_USE;
/* 16-bit floats: to double, and the nearest (ties to even) from a
 * double, as bits; too big is infinite. */
double render_half_to_double(uint16_t h);
double render_bf16_to_double(uint16_t h);
uint16_t render_to_half(double v);
uint16_t render_to_bf16(double v);

/* The file extension for a value starting with `head` (n bytes): jpg,
 * png, gif, webp, bmp, tif, avif, heic, mp4, wav, flac, pdf, npy, bin.
 * render_sniff gives its index in render_sniff_exts. kinds.c keeps these
 * indexes on disk and drops files written with another RENDER_SNIFF_N: a
 * change of the rules that keeps the count must bump KINDS_VERSION. */
#define RENDER_SNIFF_N 14
extern const char *const render_sniff_exts[RENDER_SNIFF_N];
unsigned render_sniff(const uint8_t *head, size_t n);

/* Make a column value safe as a file name: '/', NUL and a leading '.'
 * are percent-escaped (%2F, %00, %2E), and so is a '%' that would read
 * as an escape (%25; see render.c): "50% off", "cat%20photo" and
 * "100%25" stay as they are. Returns a new string. */
char *render_escape_name(const char *s, size_t n);
/* Cut `name` to at most `max` bytes, on a character and not inside a
 * %XX escape. */
void render_cut(char *name, size_t max);
/* The longest file extension: ext.COLUMN= values, and those sniffed. */
#define RENDER_EXT_MAX 16
/* The stem of the files of top-level column `name`: escaped, and where
 * STEM.EXT could pass NAME_MAX, cut and marked "~" and 8 hex digits of a
 * hash of the whole name (names that agree so far stay apart, and a
 * column keeps its stem while others come and go). New string. */
char *render_column_stem(const char *name);
/* The name of a row folder whose name-column value is `s`: escaped, and
 * "@versions" and "@tags" as %40versions and %40tags. */
char *render_row_name(const char *s, size_t n);
/* The name-column value a row folder named `name` holds: its escapes
 * decoded. EINVAL where no value shows as `name` (a %00, say; a name
 * starting with '.' is taken, and shows as %2E... once committed),
 * ENOMEM. *out is new. */
int render_row_value(char **out, const char *name) LC_MUST_USE;

#endif
