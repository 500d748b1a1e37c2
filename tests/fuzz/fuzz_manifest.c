/* fuzz_manifest.c - lance_manifest_parse on arbitrary bytes. Seeds are
 * real LanceDB manifests; the footer is usually kept intact by mutation
 * only at the front, so the protobuf decoder gets exercised too. */
#include "lance.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lance_manifest *m = NULL;
	struct lc_err err = { 0 };

	if (!lance_manifest_parse(&m, data, size, &err)) {
		(void)lance_manifest_config(m, "lance.auto_cleanup.interval");
		for (size_t i = 0; i < m->schema.n_fields; i++)
			(void)lance_schema_field_by_name(
				&m->schema, m->schema.fields[i].name);
		lance_manifest_free(m);
	}
	return 0;
}
