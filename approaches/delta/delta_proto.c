/*
 * delta_proto.c - encode and decode the delta protocol's frames (pure
 * functions; see delta_proto.h for the format).
 */
#include "delta_proto.h"

#include <string.h>

/* Little-endian helpers. */
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Hash length in bytes of an algorithm, 0 if unknown. */
unsigned delta_hash_len(unsigned algo)
{
	switch (algo) {
	case DELTA_XXH3: case DELTA_XXH64: return 8;
	case DELTA_XXH128: return 16;
	case DELTA_CRC32: case DELTA_ADLER32: case DELTA_CRC32C: return 4;
	case DELTA_SHA256: return 32;
	default: return 0;
	}
}

/* Valid chunk size: a power of two from 4 KiB to 1 MiB. */
static int chunk_ok(uint32_t c)
{
	return c >= DELTA_MIN_CHUNK && c <= DELTA_MAX_CHUNK && !(c & (c - 1));
}

/* Decode and check a frame header. */
int delta_hdr_decode(const uint8_t hdr[DELTA_HDR_LEN], struct delta_msg *m, const char **why)
{
	memset(m, 0, sizeof *m);
	if (get32(hdr) != DELTA_MAGIC)
		return *why = "bad magic", -1;
	if (hdr[4] != DELTA_VERSION)
		return *why = "unsupported protocol version", -1;
	m->type = hdr[5];
	if (get16(hdr + 6))
		return *why = "unknown flags", -1;
	m->len = get32(hdr + 8);
	uint32_t want = 0, max = 0;
	switch (m->type) {
	case DELTA_HELLO: case DELTA_HELLO_REPLY: want = 24; break;
	case DELTA_BEGIN: case DELTA_ACK: want = 16; break;
	case DELTA_END: want = 24; break;
	case DELTA_BYE: want = 0; break;
	case DELTA_HASHES: max = 16 + DELTA_MAX_CHUNK; break;
	case DELTA_CHUNK: max = DELTA_MAX_PAYLOAD; break;
	case DELTA_ERROR: max = 8 + DELTA_MAX_ERRMSG; break;
	case DELTA_RECIPE: max = 16 + DELTA_MAX_CHUNK; break;
	case DELTA_WANT: max = 8 + DELTA_MAX_CHUNK; break;
	default: return *why = "unknown frame type", -1;
	}
	if (max ? m->len > max : m->len != want)
		return *why = "bad payload length for the frame type", -1;
	return 0;
}

/* HELLO: the source's size, chunk, algorithm, mode and file mode. */
static int decode_hello(const uint8_t *p, struct delta_msg *m, const char **why)
{
	m->u.hello.size = get64(p);
	m->u.hello.chunk = get32(p + 8);
	m->u.hello.algo = p[12];
	m->u.hello.mode = p[13];
	m->u.hello.fmode = get16(p + 14);
	m->u.hello.session = get64(p + 16);
	if (m->u.hello.size > DELTA_MAX_SIZE)
		return *why = "region size too large", -1;
	if (!chunk_ok(m->u.hello.chunk))
		return *why = "bad chunk size", -1;
	if (!delta_hash_len(m->u.hello.algo))
		return *why = "unknown hash algorithm", -1;
	if (m->u.hello.mode > DELTA_MODE_CDC)
		return *why = "unknown mode", -1;
	if (m->u.hello.mode == DELTA_MODE_CDC && m->u.hello.chunk > DELTA_CDC_MAX_AVG)
		return *why = "bad CDC average chunk size", -1;
	if (m->u.hello.fmode & ~DELTA_FILE_MODE_MASK)
		return *why = "bad file mode", -1;
	return 0;
}

/* HASHES: a run of the destination's chunk hashes. */
static int decode_hashes(const uint8_t *p, struct delta_msg *m, const char **why)
{
	if (m->len < 16)
		return *why = "short HASHES frame", -1;
	m->u.hashes.first = get64(p);
	m->u.hashes.count = get32(p + 8);
	m->u.hashes.hash_len = p[12];
	if (p[13] | p[14] | p[15])
		return *why = "nonzero reserved bytes", -1;
	if (!m->u.hashes.hash_len || m->u.hashes.hash_len > DELTA_MAX_HASH)
		return *why = "bad hash length", -1;
	if ((uint64_t)m->u.hashes.count * m->u.hashes.hash_len != m->len - 16)
		return *why = "HASHES count does not match the payload length", -1;
	if (m->u.hashes.first > DELTA_MAX_SIZE / DELTA_MIN_CHUNK)
		return *why = "HASHES first chunk out of range", -1;
	m->u.hashes.hashes = p + 16;
	return 0;
}

/* CHUNK: offset, length and the data that follows. */
static int decode_chunk(const uint8_t *p, struct delta_msg *m, const char **why)
{
	if (m->len < 16)
		return *why = "short CHUNK frame", -1;
	m->u.chunk.off = get64(p);
	m->u.chunk.len = get32(p + 8);
	if (get32(p + 12))
		return *why = "nonzero reserved bytes", -1;
	if (m->u.chunk.len != m->len - 16 || !m->u.chunk.len)
		return *why = "CHUNK length does not match the payload length", -1;
	if (m->u.chunk.off > DELTA_MAX_SIZE || m->u.chunk.off + m->u.chunk.len > DELTA_MAX_SIZE)
		return *why = "CHUNK beyond the size cap", -1;
	m->u.chunk.data = p + 16;
	return 0;
}

/* RECIPE: a run of the source's chunks (length, hash). */
static int decode_recipe(const uint8_t *p, struct delta_msg *m, const char **why)
{
	if (m->len < 16)
		return *why = "short RECIPE frame", -1;
	m->u.recipe.first = get64(p);
	m->u.recipe.count = get32(p + 8);
	m->u.recipe.hash_len = p[12];
	if (p[13] | p[14] | p[15])
		return *why = "nonzero reserved bytes", -1;
	unsigned hl = m->u.recipe.hash_len;
	if (!hl || hl > DELTA_MAX_HASH)
		return *why = "bad hash length", -1;
	if ((uint64_t)m->u.recipe.count * (4 + hl) != m->len - 16)
		return *why = "RECIPE count does not match the payload length", -1;
	if (m->u.recipe.first > DELTA_MAX_SIZE / DELTA_CDC_MIN_CHUNK)
		return *why = "RECIPE first chunk out of range", -1;
	m->u.recipe.entries = p + 16;
	for (uint32_t i = 0; i < m->u.recipe.count; i++) {
		uint32_t len = get32(m->u.recipe.entries + (size_t)i * (4 + hl));
		if (!len || len > DELTA_MAX_CHUNK)
			return *why = "RECIPE chunk length out of range", -1;
	}
	return 0;
}

/* WANT: indexes of the chunks the destination lacks. */
static int decode_want(const uint8_t *p, struct delta_msg *m, const char **why)
{
	if (m->len < 8)
		return *why = "short WANT frame", -1;
	m->u.want.count = get32(p);
	m->u.want.last = get32(p + 4);
	if (m->u.want.last > 1)
		return *why = "bad WANT last flag", -1;
	if ((uint64_t)m->u.want.count * 4 != m->len - 8)
		return *why = "WANT count does not match the payload length", -1;
	m->u.want.index = p + 8;
	return 0;
}

/* Entry i of a decoded RECIPE. */
uint32_t delta_recipe_entry(const struct delta_msg *m, uint32_t i, const uint8_t **hash)
{
	const uint8_t *e = m->u.recipe.entries + (size_t)i * (4u + m->u.recipe.hash_len);
	*hash = e + 4;
	return get32(e);
}

/* Index i of a decoded WANT. */
uint32_t delta_want_index(const struct delta_msg *m, uint32_t i)
{
	return get32(m->u.want.index + (size_t)i * 4);
}

/* Decode the payload of a frame whose header is in m. */
int delta_payload_decode(const uint8_t *p, struct delta_msg *m, const char **why)
{
	switch (m->type) {
	case DELTA_HELLO:
		return decode_hello(p, m, why);
	case DELTA_HASHES:
		return decode_hashes(p, m, why);
	case DELTA_CHUNK:
		return decode_chunk(p, m, why);
	case DELTA_RECIPE:
		return decode_recipe(p, m, why);
	case DELTA_WANT:
		return decode_want(p, m, why);
	case DELTA_HELLO_REPLY:
		m->u.reply.size = get64(p);
		m->u.reply.chunk = get32(p + 8);
		m->u.reply.algo = p[12];
		m->u.reply.status = p[13];
		m->u.reply.nchunks = get64(p + 16);
		if (m->u.reply.size > DELTA_MAX_SIZE || !chunk_ok(m->u.reply.chunk) || !delta_hash_len(m->u.reply.algo))
			return *why = "bad HELLO_REPLY fields", -1;
		if (m->u.reply.nchunks != (m->u.reply.size + m->u.reply.chunk - 1) / m->u.reply.chunk)
			return *why = "HELLO_REPLY chunk count does not match the size", -1;
		return 0;
	case DELTA_BEGIN:
		m->u.begin.cycle = get64(p);
		m->u.begin.size = get64(p + 8);
		if (m->u.begin.size > DELTA_MAX_SIZE)
			return *why = "region size too large", -1;
		return 0;
	case DELTA_END:
		m->u.end.cycle = get64(p);
		m->u.end.nchunks = get64(p + 8);
		m->u.end.bytes = get64(p + 16);
		return 0;
	case DELTA_ACK:
		m->u.ack.cycle = get64(p);
		m->u.ack.status = get32(p + 8);
		return 0;
	case DELTA_ERROR:
		if (m->len < 8)
			return *why = "short ERROR frame", -1;
		m->u.error.code = get32(p);
		m->u.error.len = get16(p + 4);
		if (m->u.error.len != m->len - 8)
			return *why = "ERROR text length does not match the payload length", -1;
		m->u.error.text = (const char *)p + 8;
		return 0;
	case DELTA_BYE:
		return 0;
	}
	return *why = "unknown frame type", -1;
}

/* Parse one frame from a buffer. */
int delta_parse(const uint8_t *buf, size_t len, struct delta_msg *m, size_t *used, const char **why)
{
	if (len < DELTA_HDR_LEN)
		return 0;
	if (delta_hdr_decode(buf, m, why))
		return -1;
	if (len - DELTA_HDR_LEN < m->len)
		return 0;
	if (delta_payload_decode(buf + DELTA_HDR_LEN, m, why))
		return -1;
	*used = DELTA_HDR_LEN + m->len;
	return 1;
}

/* Write a header. */
static size_t hdr(uint8_t *out, uint8_t type, uint32_t len)
{
	put32(out, DELTA_MAGIC);
	out[4] = DELTA_VERSION;
	out[5] = type;
	put16(out + 6, 0);
	put32(out + 8, len);
	return DELTA_HDR_LEN;
}

/* HELLO: the source's region and hashing parameters, and the permission
 * bits of its file (0: the destination keeps its own). */
size_t delta_enc_hello(uint8_t *out, uint64_t size, uint32_t chunk, uint8_t algo, uint8_t mode, uint16_t fmode,
		       uint64_t session)
{
	uint8_t *p = out + hdr(out, DELTA_HELLO, 24);
	memset(p, 0, 24);
	put64(p, size);
	put32(p + 8, chunk);
	p[12] = algo;
	p[13] = mode;
	put16(p + 14, fmode);
	put64(p + 16, session);
	return DELTA_HDR_LEN + 24;
}

/* HELLO_REPLY: the destination's current size. */
size_t delta_enc_reply(uint8_t *out, uint64_t size, uint32_t chunk, uint8_t algo, uint8_t status, uint64_t nchunks)
{
	uint8_t *p = out + hdr(out, DELTA_HELLO_REPLY, 24);
	memset(p, 0, 24);
	put64(p, size);
	put32(p + 8, chunk);
	p[12] = algo;
	p[13] = status;
	put64(p + 16, nchunks);
	return DELTA_HDR_LEN + 24;
}

/* HASHES header and fixed part; count * hash_len bytes follow. */
size_t delta_enc_hashes(uint8_t *out, uint64_t first, uint32_t count, uint8_t hash_len)
{
	uint8_t *p = out + hdr(out, DELTA_HASHES, 16 + count * hash_len);
	memset(p, 0, 16);
	put64(p, first);
	put32(p + 8, count);
	p[12] = hash_len;
	return DELTA_HDR_LEN + 16;
}

/* BEGIN of a cycle, with the source's current size. */
size_t delta_enc_begin(uint8_t *out, uint64_t cycle, uint64_t size)
{
	uint8_t *p = out + hdr(out, DELTA_BEGIN, 16);
	put64(p, cycle);
	put64(p + 8, size);
	return DELTA_HDR_LEN + 16;
}

/* CHUNK header and fixed part; len bytes of data follow. */
size_t delta_enc_chunk(uint8_t *out, uint64_t off, uint32_t len)
{
	uint8_t *p = out + hdr(out, DELTA_CHUNK, 16 + len);
	put64(p, off);
	put32(p + 8, len);
	put32(p + 12, 0);
	return DELTA_HDR_LEN + 16;
}

/* END of a cycle with what was sent. */
size_t delta_enc_end(uint8_t *out, uint64_t cycle, uint64_t nchunks, uint64_t bytes)
{
	uint8_t *p = out + hdr(out, DELTA_END, 24);
	put64(p, cycle);
	put64(p + 8, nchunks);
	put64(p + 16, bytes);
	return DELTA_HDR_LEN + 24;
}

/* ACK of a cycle (status 0 = applied). */
size_t delta_enc_ack(uint8_t *out, uint64_t cycle, uint32_t status)
{
	uint8_t *p = out + hdr(out, DELTA_ACK, 16);
	put64(p, cycle);
	put32(p + 8, status);
	put32(p + 12, 0);
	return DELTA_HDR_LEN + 16;
}

/* ERROR header and fixed part; len bytes of text follow. */
size_t delta_enc_error(uint8_t *out, uint32_t code, uint16_t len)
{
	uint8_t *p = out + hdr(out, DELTA_ERROR, 8u + len);
	put32(p, code);
	put16(p + 4, len);
	put16(p + 6, 0);
	return DELTA_HDR_LEN + 8;
}

/* BYE: the session ends. */
size_t delta_enc_bye(uint8_t *out)
{
	return hdr(out, DELTA_BYE, 0);
}

/* RECIPE header and fixed part. */
size_t delta_enc_recipe(uint8_t *out, uint64_t first, uint32_t count, uint8_t hash_len)
{
	uint8_t *p = out + hdr(out, DELTA_RECIPE, 16 + count * (4u + hash_len));
	memset(p, 0, 16);
	put64(p, first);
	put32(p + 8, count);
	p[12] = hash_len;
	return DELTA_HDR_LEN + 16;
}

/* One RECIPE entry: length, then the hash. */
size_t delta_enc_recipe_entry(uint8_t *out, uint32_t len, const uint8_t *hash, uint8_t hash_len)
{
	put32(out, len);
	memcpy(out + 4, hash, hash_len);
	return 4u + hash_len;
}

/* WANT header and fixed part. */
size_t delta_enc_want(uint8_t *out, uint32_t count, uint32_t last)
{
	uint8_t *p = out + hdr(out, DELTA_WANT, 8 + count * 4u);
	put32(p, count);
	put32(p + 4, last);
	return DELTA_HDR_LEN + 8;
}

/* A little-endian u32. */
void delta_enc_u32(uint8_t *out, uint32_t v)
{
	put32(out, v);
}
