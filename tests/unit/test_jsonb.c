/* test_jsonb.c - JSON column values: JSONB to JSON text and back, against
 * bytes LanceDB wrote, and the decoder's refusals of malformed bytes. */
#include <jansson.h>
#include <stdlib.h>

#include "harness.h"
#include "jsonb.h"

/*
 * LanceDB 0.39 (lance 12.0.0) made a table whose json column held `in`
 * (tests/interop: a Utf8 field with ARROW:extension:name=arrow.json);
 * `hex` is the JSONB it stored and `out` the text its query gave back.
 * `in` is NULL where jansson cannot read it (integers past int64).
 */
static const struct {
	const char *in, *hex, *out;
} lancedb[] = {
	{ "{\"x\": 1, \"y\": [1, 2]}",
	  "40000002100000011000000120000002500000107879500180000002"
		  "200000022000000250015002",
	  "{\"x\":1,\"y\":[1,2]}" },
	{ "{\"a\": {\"b\": {\"c\": [[[]], {}]}}, \"d\": null}",
	  "40000002100000011000000150000036000000006164400000011000"
		  "0001500000296240000001100000015000001c63800000025000000c"
		  "5000000480000001500000048000000040000000",
	  "{\"a\":{\"b\":{\"c\":[[[]],{}]}},\"d\":null}" },
	{ "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e\"",
	  "200000001000000f68c3a96c6c6f20e29c9320f09d849e",
	  "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e\"" },
	{ "\"q\\\"b\\\\n\\nt\\tc\\u0001/\"",
	  "200000001000000b7122625c6e0a740963012f",
	  "\"q\\\"b\\\\n\\nt\\tc\\u0001/\"" },
	{ NULL,
	  "80000018400000003000000000000000200000012000000220000002"
		  "20000002200000022000000220000003200000032000000520000005"
		  "20000009200000022000000320000003200000052000000520000009"
		  "200000092000000920000009200000090040ff5001507f508050ff50"
		  "010050ffff500001000050ffffffff500000000100000000408040ff"
		  "7f40800040ffff7fff408000000040ffffffff7fffffff507fffffff"
		  "ffffffff40800000000000000050ffffffffffffffff500020000000"
		  "000001",
	  "[true,false,null,0,-1,1,127,128,255,256,65535,65536,4294"
		  "967295,4294967296,-128,-129,-32768,-32769,-2147483648,-2"
		  "147483649,9223372036854775807,-9223372036854775808,18446"
		  "744073709551615,9007199254740993]" },
	{ "[0.1, -2.5, 1e300, 1e-300, 5e-324, 1.7976931348623157e30"
		  "8, 1.0, -0.0, 100.0, 1e16, 123456.789, 1e2, 2E-3]",
	  "8000000d200000092000000920000009200000092000000920000009"
		  "20000009200000092000000920000009200000092000000920000009"
		  "603fb999999999999a60c004000000000000607e37e43c8800759c60"
		  "01a56e1fc2f8f359600000000000000001607fefffffffffffff603f"
		  "f0000000000000608000000000000000604059000000000000604341"
		  "c37937e080006040fe240c9fbe76c9604059000000000000603f6062"
		  "4dd2f1a9fc",
	  "[0.1,-2.5,1e+300,1e-300,5e-324,1.7976931348623157e+308,1"
		  ".0,-0.0,100.0,1e+16,123456.789,100.0,0.002]" },
	{ "{\"b\": 1, \"a\": 2, \"aa\": 3, \"\xc3\xa9\": 4, \"Z\": "
		  "5, \"\": 6, \"a b\": 7}",
	  "40000007100000001000000110000001100000031000000210000001"
		  "10000002200000022000000220000002200000022000000220000002"
		  "200000025a61612062616162c3a95006500550025007500350015004",
	  "{\"\":6,\"Z\":5,\"a\":2,\"a b\":7,\"aa\":3,\"b\":1,\""
		  "\xc3\xa9\":4}" },
	{ "\"str\"",
	  "2000000010000003737472",
	  "\"str\"" },
	{ "42",
	  "2000000020000002502a",
	  "42" },
	{ "-5",
	  "200000002000000240fb",
	  "-5" },
	{ "true",
	  "2000000040000000",
	  "true" },
	{ "false",
	  "2000000030000000",
	  "false" },
	{ "null",
	  "2000000000000000",
	  "null" },
	{ "0",
	  "200000002000000100",
	  "0" },
	{ "3.25",
	  "200000002000000960400a000000000000",
	  "3.25" },
	{ "{}",
	  "40000000",
	  "{}" },
	{ "[]",
	  "80000000",
	  "[]" },
	{ "[{}, [], \"\", 0]",
	  "80000004500000045000000410000000200000014000000080000000"
		  "00",
	  "[{},[],\"\",0]" },
	{ NULL,
	  "20000000200000096045f8ee90ff6c373e",
	  "1.2345678901234568e+29" },
	{ "{\"name\": \"caf\xc3\xa9\", \"tags\": [\"a\", \"b\"], \""
		  "n\": {\"big\": 9007199254740993, \"neg\": -5, \"f\": 0.1"
		  ", \"e\": 1e300, \"t\": true, \"f2\": false, \"z\": null}"
		  "}",
	  "4000000310000001100000041000000450000065100000055000000e"
		  "6e6e616d657461677340000007100000031000000110000001100000"
		  "02100000031000000110000001200000092000000920000009300000"
		  "00200000024000000000000000626967656666326e6567747a500020"
		  "000000000001607e37e43c8800759c603fb999999999999a40fb6361"
		  "66c3a98000000210000001100000016162",
	  "{\"n\":{\"big\":9007199254740993,\"e\":1e+300,\"f\":0.1,"
		  "\"f2\":false,\"neg\":-5,\"t\":true,\"z\":null},\"name\":"
		  "\"caf\xc3\xa9\",\"tags\":[\"a\",\"b\"]}" },
};

/* Bytes from hex text (tests only: well-formed input). */
static size_t unhex(uint8_t *out, const char *hex)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* The JSONB of JSON text `text` (any value), or NULL; *n its length. */
static uint8_t *encode(const char *text, size_t *n, struct lc_err *err)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			       NULL);
	struct lc_buf b;
	uint8_t *out = NULL;

	lc_buf_init(&b, 0);
	if (j && !jsonb_from_json(&b, j, err) && lc_buf_take(&b, &out, n, err))
		out = NULL;
	json_decref(j);
	lc_buf_reset(&b);
	return out;
}

/* The JSON text of JSONB [p, p + n), or NULL. */
static char *decode(const uint8_t *p, size_t n, struct lc_err *err)
{
	struct lc_buf b;
	uint8_t *out = NULL;

	lc_buf_init(&b, 0);
	if (!jsonb_to_json(&b, p, n, err) && lc_buf_take(&b, &out, NULL, err))
		out = NULL;
	lc_buf_reset(&b);
	return (char *)out;
}

TEST(lancedb_bytes)
{
	for (size_t i = 0; i < sizeof(lancedb) / sizeof(*lancedb); i++) {
		struct lc_err err = { 0 };
		uint8_t want[1024], *got;
		size_t n = unhex(want, lancedb[i].hex), len;
		char *text = decode(want, n, &err);
		int same;

		if (!text || strcmp(text, lancedb[i].out))
			fprintf(stderr, "value %zu: decoded %s (%s), LanceDB "
				"reads %s\n", i, text ? text : "nothing",
				err.msg, lancedb[i].out);
		CHECK(text && !strcmp(text, lancedb[i].out));
		free(text);
		if (!lancedb[i].in)
			continue;
		got = encode(lancedb[i].in, &len, &err);
		same = got && len == n && !memcmp(got, want, n);
		if (!same)
			fprintf(stderr, "value %zu: %s encodes otherwise than "
				"LanceDB (%s)\n", i, lancedb[i].in, err.msg);
		free(got);
		CHECK(same);
	}
}

/* JSON text in, JSONB, and JSON text out again: compact, keys sorted. */
TEST(round_trip)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "{\"z\": {\"y\": [1, [2, [3, {\"x\": []}]]]}, \"a\": {}}",
		  "{\"a\":{},\"z\":{\"y\":[1,[2,[3,{\"x\":[]}]]]}}" },
		{ "[\"\\u00e9\\u2713\\ud834\\udd1e\", \"\xe6\x97\xa5\"]",
		  "[\"\xc3\xa9\xe2\x9c\x93\xf0\x9d\x84\x9e\","
		  "\"\xe6\x97\xa5\"]" },
		{ "\"tab\\t nl\\n cr\\r bs\\b ff\\f \\u001f \\\" \\\\ \\/\"",
		  "\"tab\\t nl\\n cr\\r bs\\b ff\\f \\u001f \\\" \\\\ /\"" },
		{ "[9223372036854775807, -9223372036854775808, "
		  "9007199254740993, -9007199254740993, -1, -0]",
		  "[9223372036854775807,-9223372036854775808,"
		  "9007199254740993,-9007199254740993,-1,0]" },
		{ "[0.1, 1e300, -0.0, 5e-324, 1e-7, 1e16, 123456789.0, 0.5,"
		  " 2.2250738585072014e-308, -1.5e-5]",
		  "[0.1,1e+300,-0.0,5e-324,1e-07,1e+16,123456789.0,0.5,"
		  "2.2250738585072014e-308,-1.5e-05]" },
		{ "{\"k\": {}, \"l\": [], \"m\": [{}, []], \"\": \"\"}",
		  "{\"\":\"\",\"k\":{},\"l\":[],\"m\":[{},[]]}" },
		{ "{\"b\": 1, \"B\": 2, \"\xc3\xa9\": 3, \"e\": 4, \"ee\": 5}",
		  "{\"B\":2,\"b\":1,\"e\":4,\"ee\":5,\"\xc3\xa9\":3}" },
		{ "\"just a string\"", "\"just a string\"" },
		{ "-7", "-7" },
		{ "1.5", "1.5" },
		{ "true", "true" },
		{ "false", "false" },
		{ "null", "null" },
		{ "[null, true, false]", "[null,true,false]" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct lc_err err = { 0 };
		size_t n;
		uint8_t *bin = encode(cases[i].in, &n, &err);
		char *text = bin ? decode(bin, n, &err) : NULL;
		int ok = text && !strcmp(text, cases[i].out);

		if (!ok)
			fprintf(stderr, "%s gave %s (%s), expected %s\n",
				cases[i].in, text ? text : "nothing", err.msg,
				cases[i].out);
		free(bin);
		free(text);
		CHECK(ok);
	}
}

/* Integers take the fewest bytes; positive ones are uint64. */
TEST(integer_widths)
{
	static const struct {
		const char *in, *hex;
	} cases[] = {
		{ "0", "200000002000000100" },
		{ "1", "20000000200000025001" },
		{ "65535", "2000000020000003" "50ffff" },
		{ "65536", "2000000020000005" "5000010000" },
		{ "-32769", "2000000020000005" "40ffff7fff" },
		{ "-2147483649", "2000000020000009" "40ffffffff7fffffff" },
		{ "9223372036854775807", "2000000020000009"
		  "507fffffffffffffff" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct lc_err err = { 0 };
		uint8_t want[64], *got;
		size_t n = unhex(want, cases[i].hex), len;

		got = encode(cases[i].in, &len, &err);
		CHECK(got && len == n && !memcmp(got, want, n));
		free(got);
	}
}

/* What lance never writes from JSON text but JSONB can hold. */
TEST(other_numbers)
{
	static const struct {
		const char *hex, *out;
	} cases[] = {
		/* NaN, +inf, -inf, and a float64 holding NaN: null */
		{ "2000000020000001" "10", "null" },
		{ "2000000020000001" "20", "null" },
		{ "800000022000000120000001" "3020", "[null,null]" },
		{ "2000000020000009" "607ff8000000000000", "null" },
		/* int64 and uint64 in any width the format has */
		{ "2000000020000009" "400000000000000005", "5" },
		{ "2000000020000003" "40ff00", "-256" },
		{ "2000000020000005" "50ffffffff", "4294967295" },
		{ "2000000020000009" "50ffffffffffffffff",
		  "18446744073709551615" },
		/* decimals: 8-, 16- and 32-byte values, then the scale */
		{ "200000002000000a" "70" "0000000000003039" "02", "123.45" },
		{ "200000002000000a" "70fffffffffffffffb" "03", "-0.005" },
		{ "200000002000000a" "700000000000000000" "02", "0.00" },
		{ "2000000020000012" "70" "ffffffffffffffffffffffffffffff85"
		  "00", "-123" },
		{ "2000000020000013" "70" "0000000000000000000000000000007b"
		  "2601", "12.3" },	/* the old form, with a precision */
		{ "2000000020000022" "70" "7fffffffffffffffffffffffffffffff"
		  "ffffffffffffffffffffffffffffffff" "00",
		  "578960446186580977117854925043439539266349923328202820197"
		  "28792003956564819967" },
		{ "2000000020000022" "70" "80000000000000000000000000000000"
		  "00000000000000000000000000000000" "4c",
		  "-5.7896044618658097711785492504343953926634992332820282019"
		  "728792003956564819968" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct lc_err err = { 0 };
		uint8_t bin[128];
		size_t n = unhex(bin, cases[i].hex);
		char *text = decode(bin, n, &err);
		int ok = text && !strcmp(text, cases[i].out);

		if (!ok)
			fprintf(stderr, "%s gave %s (%s), expected %s\n",
				cases[i].hex, text ? text : "nothing",
				err.msg, cases[i].out);
		free(text);
		CHECK(ok);
	}
}

/* Malformed bytes are refused with EIO, and the buffer is left as it
 * was. */
TEST(malformed)
{
	static const struct {
		const char *hex, *why;
		enum lc_err_kind kind;
	} cases[] = {
		{ "", "a value of 0 bytes", LC_EK_CORRUPT },
		{ "200000", "a value of 3 bytes", LC_EK_CORRUPT },
		{ "00000000", "header 0x00000000", LC_EK_CORRUPT },
		{ "60000000", "header 0x60000000", LC_EK_CORRUPT },
		{ "2000000100000000", "scalar header", LC_EK_CORRUPT },
		{ "20000000", "scalar header", LC_EK_CORRUPT },
		{ "2000000020000002" "50", "scalar JEntry", LC_EK_CORRUPT },
		{ "2000000020000001" "5001", "scalar JEntry", LC_EK_CORRUPT },
		{ "2000000050000004" "80000000", "scalar JEntry",
		  LC_EK_CORRUPT },
		{ "2000000000000001" "00", "null or boolean", LC_EK_CORRUPT },
		{ "2000000040000001" "00", "null or boolean", LC_EK_CORRUPT },
		{ "2000000070000000", "JEntry type", LC_EK_CORRUPT },
		{ "20000000a0000000", "holds an offset", LC_EK_CORRUPT },
		{ "2000000020000000", "a number of no bytes", LC_EK_CORRUPT },
		{ "2000000020000002" "0000", "tag 0x00 with 1", LC_EK_CORRUPT },
		{ "2000000020000004" "40000000", "tag 0x40 with 3",
		  LC_EK_CORRUPT },
		{ "2000000020000005" "6000000000", "tag 0x60 with 4",
		  LC_EK_CORRUPT },
		{ "200000002000000b" "7000000000000000000000", "tag 0x70 with "
		  "10", LC_EK_CORRUPT },
		{ "2000000020000001" "80", "number tag 0x80", LC_EK_CORRUPT },
		{ "2000000060000005" "1000004e20", "extension values",
		  LC_EK_UNSUPPORTED },
		{ "80000002" "00000000", "array of 2 members in 8",
		  LC_EK_CORRUPT },
		{ "80000001" "20000002" "50", "past the end", LC_EK_CORRUPT },
		{ "80000001" "20000001" "0000", "1 bytes after an array",
		  LC_EK_CORRUPT },
		{ "9fffffff", "array of 536870911 members", LC_EK_CORRUPT },
		{ "80000001" "50000004" "60000000", "header 0x60000000",
		  LC_EK_CORRUPT },
		{ "80000001" "50000002" "8000", "a value of 2 bytes",
		  LC_EK_CORRUPT },
		{ "40000001" "20000001" "00000000" "00", "is no string",
		  LC_EK_CORRUPT },
		{ "40000001" "10000002" "00000000" "61", "key past the end",
		  LC_EK_CORRUPT },
		{ "40000001" "10000001" "20000002" "61" "50", "value 0 of 2 "
		  "bytes past the end", LC_EK_CORRUPT },
		{ "40000001" "10000001" "00000000" "6100", "1 bytes after an "
		  "object", LC_EK_CORRUPT },
		{ "40000002" "10000001", "object of 2 members in 8",
		  LC_EK_CORRUPT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct lc_err err = { 0 };
		size_t n = strlen(cases[i].hex) / 2;
		uint8_t *bin = malloc(n);	/* ASan sees an over-read */
		struct lc_buf b;
		int rc;

		unhex(bin, cases[i].hex);
		lc_buf_init(&b, 0);
		CHECK(!lc_buf_append(&b, "x", 1, &err));
		rc = jsonb_to_json(&b, bin, n, &err);
		free(bin);
		if (rc != EIO || err.kind != cases[i].kind ||
		    !strstr(err.msg, cases[i].why))
			fprintf(stderr, "%s: rc %d, %s; expected \"%s\"\n",
				cases[i].hex, rc, err.msg, cases[i].why);
		CHECK(rc == EIO && err.kind == cases[i].kind);
		CHECK(strstr(err.msg, cases[i].why));
		CHECK(b.len == 1 && !strcmp((char *)b.data, "x"));
		lc_buf_reset(&b);
	}
}

/* Nesting: JSONB_MAX_DEPTH containers are fine both ways, one more is
 * refused both ways. */
TEST(depth)
{
	char text[2 * (JSONB_MAX_DEPTH + 1) + 1];
	uint8_t bin[8 * (JSONB_MAX_DEPTH + 1)];
	struct lc_err err = { 0 };
	size_t n;
	uint8_t *got;
	char *back;

	for (int d = 0; d < JSONB_MAX_DEPTH; d++) {
		text[d] = '[';
		text[JSONB_MAX_DEPTH + d] = ']';
	}
	text[2 * JSONB_MAX_DEPTH] = 0;
	got = encode(text, &n, &err);
	CHECK(got);
	back = decode(got, n, &err);
	free(got);
	CHECK(back && !strcmp(back, text));
	free(back);

	memmove(text + 1, text, strlen(text) + 1);
	text[0] = '[';
	strcat(text, "]");
	CHECK(!encode(text, &n, &err));
	CHECK(err.code == EINVAL && err.kind == LC_EK_USAGE);
	CHECK_STR(err.msg, "JSON nested deeper than 128");

	/* 129 arrays, each the only member of the one around it */
	n = 0;
	for (int d = 0; d <= JSONB_MAX_DEPTH; d++) {
		/* the array inside: 8 bytes a level, 4 the innermost */
		size_t rest = 8 * (JSONB_MAX_DEPTH - 1 - (size_t)d) + 4;

		if (d == JSONB_MAX_DEPTH) {
			memcpy(bin + n, "\x80\0\0\0", 4);
			n += 4;
			break;
		}
		bin[n] = 0x80;
		bin[n + 1] = bin[n + 2] = 0;
		bin[n + 3] = 1;
		bin[n + 4] = 0x50;
		bin[n + 5] = 0;
		bin[n + 6] = (uint8_t)(rest >> 8);
		bin[n + 7] = (uint8_t)rest;
		n += 8;
	}
	memset(&err, 0, sizeof(err));
	CHECK(!decode(bin, n, &err));
	CHECK(err.code == EIO && err.kind == LC_EK_UNSUPPORTED);
	CHECK_STR(err.msg, "JSONB: nested deeper than 128");
	/* one less is fine */
	back = decode(bin + 8, n - 8, &err);
	CHECK(back && strlen(back) == 2 * JSONB_MAX_DEPTH);
	free(back);
}

/* Integer literals past int64: kept through a parse (json_load_big) and
 * written back as they were (json_dumps_big); strings that merely look
 * like the mark, and text that is no JSON, are not taken for them. */
TEST(big_integers)
{
	static const char text[] =
		"{\"u\":18446744073709551615,\"n\":-9223372036854775809,"
		"\"s\":\"\\u000042\\u0000\",\"q\":\"a\\\"\\u0000lancefs.bigint:7\","
		"\"l\":[1,99999999999999999999999,2.5]}";
	static const char *const bad[] = {
		"{\"u\":18446744073709551615,\"f\":-}",
		"{\"u\":18446744073709551615,\"f\":000000000000000000000001}",
		"{\"u\":18446744073709551615,\"f\":1e999}",
	};
	json_error_t je;
	json_t *j = json_load_big(text, strlen(text), JSON_ALLOW_NUL, &je);
	char *back;

	CHECK(j != NULL);
	if (!j)
		return;
	CHECK_STR(json_big_int(json_object_get(j, "u")),
		  "18446744073709551615");
	CHECK_STR(json_big_int(json_object_get(j, "n")),
		  "-9223372036854775809");
	CHECK(json_big_int(json_object_get(j, "s")) == NULL);
	CHECK(json_big_int(json_object_get(j, "q")) == NULL);
	CHECK_STR(json_big_int(json_array_get(json_object_get(j, "l"), 1)),
		  "99999999999999999999999");
	CHECK(json_is_integer(json_array_get(json_object_get(j, "l"), 0)));
	back = json_dumps_big(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	CHECK_STR(back, text);
	free(back);
	json_decref(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_load_big(bad[i], strlen(bad[i]), 0, &je);
		CHECK(j == NULL);
		json_decref(j);
	}
}

TEST_MAIN(TEST_ENTRY(lancedb_bytes), TEST_ENTRY(round_trip),
	  TEST_ENTRY(integer_widths), TEST_ENTRY(other_numbers),
	  TEST_ENTRY(malformed), TEST_ENTRY(depth),
	  TEST_ENTRY(big_integers))
