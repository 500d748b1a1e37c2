/*
 * every_type.h - a schema with every type the meta.json rules know
 * (VIEW.md §3), for test_ingest and fuzz_meta. Field ids are positions.
 */
#ifndef LANCEFS_EVERY_TYPE_H
#define LANCEFS_EVERY_TYPE_H

#include "lance.h"

static const struct lance_field_def every_type_defs[] = {
	{ "name", -1, "string", true },			/* 0 */
	{ "image", -1, "binary", true },		/* 1 */
	{ "caption", -1, "string", true },		/* 2 */
	{ "id", -1, "int32", false },			/* 3 */
	{ "i8", -1, "int8", true },			/* 4 */
	{ "u16", -1, "uint16", true },			/* 5 */
	{ "i64", -1, "int64", true },			/* 6 */
	{ "u64", -1, "uint64", true },			/* 7 */
	{ "f16", -1, "halffloat", true },		/* 8 */
	{ "f32", -1, "float", true },			/* 9 */
	{ "f64", -1, "double", true },			/* 10 */
	{ "b", -1, "bool", true },			/* 11 */
	{ "d32", -1, "date32:day", true },		/* 12 */
	{ "d64", -1, "date64:ms", true },		/* 13 */
	{ "t32", -1, "time32:ms", true },		/* 14 */
	{ "t64", -1, "time64:us", true },		/* 15 */
	{ "ts", -1, "timestamp:us:UTC", true },		/* 16 */
	{ "tsn", -1, "timestamp:ns:-", true },		/* 17 */
	{ "dec", -1, "decimal:128:10:2", true },	/* 18 */
	{ "fsb", -1, "fixed_size_binary:4", true },	/* 19 */
	{ "vec", -1, "fixed_size_list:float:3", true },	/* 20 */
	{ "l", -1, "list", true },			/* 21 */
	{ "item", 21, "int64", true },			/* 22 */
	{ "st", -1, "struct", true },			/* 23 */
	{ "a", 23, "int32", true },			/* 24 */
	{ "s", 23, "string", true },			/* 25 */
	{ "dur", -1, "duration:ms", true },		/* 26 */
	{ "bin2", -1, "large_binary", true },		/* 27 */
	{ "doc", -1, "json", true },			/* 28 */
};
#define EVERY_TYPE_N (sizeof(every_type_defs) / sizeof(every_type_defs[0]))

#endif
