/*
 * pb.c - a protobuf wire-format guard. protobuf-c parses our messages but
 * recurses once per nesting level with no limit, so a hostile file made
 * of nested length-delimited fields could exhaust the stack. Before any
 * untrusted bytes reach protobuf-c we walk them here: every
 * length-delimited payload that itself parses as wire data counts as one
 * more level, and more than max_depth levels is refused. Bytes fields that
 * happen to look like messages only make the bound more conservative.
 *
 * Wire rules enforced (a failure only means "not a message" below the top
 * level): varints are at most 10 bytes; field number 0 and wire types 3,
 * 4, 6, 7 are invalid; a length must fit what remains.
 */
#include "lance_int.h"

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < 10; i++) {
		if (*p >= end)
			return -1;
		uint8_t b = *(*p)++;

		if (i == 9 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Returns the nesting depth of buf as a message (1 = flat), 0 if it is
 * not wire data, or max_depth + 1 once the limit is passed. */
static int depth_of(const uint8_t *buf, size_t len, int max_depth)
{
	const uint8_t *p, *end;
	int deepest = 1;

	if (max_depth <= 0 || !len)	/* an empty field may be NULL */
		return 1;
	p = buf;
	end = buf + len;
	while (p < end) {
		uint64_t key, v;

		if (read_varint(&p, end, &key) || (key >> 3) == 0)
			return 0;
		switch (key & 7) {
		case 0:
			if (read_varint(&p, end, &v))
				return 0;
			break;
		case 1:
			if (end - p < 8)
				return 0;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return 0;
			p += 4;
			break;
		case 2: {
			int d;

			if (read_varint(&p, end, &v) ||
			    v > (uint64_t)(end - p))
				return 0;
			if (v) {
				d = depth_of(p, (size_t)v, max_depth - 1);
				if (d + 1 > deepest)
					deepest = d + 1;
				if (deepest > max_depth)
					return deepest;
			}
			p += v;
			break;
		}
		default:
			return 0;
		}
	}
	return deepest;
}

int lance__pb_check(const uint8_t *buf, size_t len, int max_depth,
		    const char *what, struct lc_err *err)
{
	int d = depth_of(buf, len, max_depth);

	if (d == 0)
		return LC_CORRUPT(err, "%s: not a protobuf message", what);
	if (d > max_depth)
		return LC_CORRUPT(err, "%s: protobuf nested deeper than %d",
				  what, max_depth);
	return 0;
}
