/*
 * fuzz_delta_proto.c - libFuzzer target for the delta frame parser: parse
 * frames from arbitrary bytes (the CDC frames RECIPE and WANT included: every
 * entry lies inside the frame), and re-encode what parsed to check the
 * round trip.
 */
#include <stdint.h>
#include <string.h>

#include "delta_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct delta_msg m;
	const char *why;
	size_t used;
	while (size) {
		int r = delta_parse(data, size, &m, &used, &why);
		if (r <= 0)
			break;
		if (used > size || used != DELTA_HDR_LEN + m.len)
			__builtin_trap();
		if (m.type == DELTA_CHUNK && m.u.chunk.data + m.u.chunk.len > data + used)
			__builtin_trap();
		if (m.type == DELTA_HASHES &&
		    m.u.hashes.hashes + (size_t)m.u.hashes.count * m.u.hashes.hash_len > data + used)
			__builtin_trap();
		if (m.type == DELTA_RECIPE) {
			const uint8_t *h;
			for (uint32_t i = 0; i < m.u.recipe.count; i++) {
				uint32_t len = delta_recipe_entry(&m, i, &h);
				if (!len || len > DELTA_MAX_CHUNK || h + m.u.recipe.hash_len > data + used)
					__builtin_trap();
			}
		}
		if (m.type == DELTA_WANT && m.u.want.count &&
		    m.u.want.index + (size_t)m.u.want.count * 4 > data + used)
			__builtin_trap();
		uint8_t out[64];
		if (m.type == DELTA_BEGIN) {
			size_t n = delta_enc_begin(out, m.u.begin.cycle, m.u.begin.size);
			if (n != used || memcmp(out, data, n))
				__builtin_trap();
		}
		data += used;
		size -= used;
	}
	return 0;
}
