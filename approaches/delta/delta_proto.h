/*
 * delta_proto.h - the delta approach's wire format: a small binary framed
 * push protocol (hash exchange, chunk frames, cycle acknowledgements).
 *
 * Every frame is a 12-byte header followed by a payload:
 *   u32 magic "MSDL" | u8 version | u8 type | u16 flags (0) | u32 payload length
 * All integers are little-endian. Every length has a cap, every type a fixed
 * or bounded payload size; the functions here are pure (no I/O, no
 * allocation) so they are unit-tested and fuzzed directly.
 *
 * A session: source -> HELLO; destination -> HELLO_REPLY and HASHES frames
 * covering its current content (hashed with the source's algorithm and
 * chunk size); then cycles: source -> BEGIN, CHUNK..., END; destination ->
 * ACK (or ERROR). BYE ends a session cleanly.
 *
 * Content-defined chunking (HELLO mode 2, chunk = the average size): no
 * HASHES after HELLO_REPLY; a cycle is BEGIN, RECIPE frames listing the
 * source's chunks in order (length and hash; their lengths add up to
 * BEGIN's size); the destination answers WANT frames with the indexes of
 * the chunks it cannot find in its copy (the last one flagged); the source
 * sends those as CHUNK frames (offset in the new file), then END.
 */
#ifndef MEMSYNC_DELTA_PROTO_H
#define MEMSYNC_DELTA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define DELTA_MAGIC 0x4c44534du /* "MSDL" in memory order */
#define DELTA_VERSION 1
#define DELTA_HDR_LEN 12
#define DELTA_MIN_CHUNK 4096u
#define DELTA_MAX_CHUNK (1u << 20)
#define DELTA_MAX_PAYLOAD (DELTA_MAX_CHUNK + 16u) /* a CHUNK frame of the largest chunk */
#define DELTA_MAX_HASH 32u   /* SHA-256 */
#define DELTA_MAX_SIZE (1ull << 40)   /* 1 TiB region cap */
#define DELTA_MAX_ERRMSG 256u
#define DELTA_MODE_CDC 2              /* HELLO mode: content-defined chunks */
#define DELTA_CDC_MIN_AVG 4096u       /* CDC average chunk: a power of two in this range */
#define DELTA_CDC_MAX_AVG (256u << 10) /* (its max chunk, 4 x avg, fits a CHUNK frame) */
#define DELTA_CDC_MIN_CHUNK 1024u     /* smallest CDC chunk but a region's last (avg / 4) */

enum delta_type {
	DELTA_HELLO = 1,       /* u64 size, u32 chunk, u8 algo, u8 mode, u16 file mode, u64 session */
	DELTA_HELLO_REPLY = 2, /* u64 size, u32 chunk, u8 algo, u8 status, u16 0, u64 nchunks */
	DELTA_HASHES = 3,      /* u64 first, u32 count, u8 hash_len, u8[3] 0, count * hash_len bytes */
	DELTA_BEGIN = 4,       /* u64 cycle, u64 size */
	DELTA_CHUNK = 5,       /* u64 offset, u32 len, u32 0, len bytes */
	DELTA_END = 6,         /* u64 cycle, u64 nchunks, u64 bytes */
	DELTA_ACK = 7,         /* u64 cycle, u32 status, u32 0 */
	DELTA_ERROR = 8,       /* u32 code, u16 len, u16 0, len bytes of text */
	DELTA_BYE = 9,         /* empty */
	DELTA_RECIPE = 10,     /* u64 first, u32 count, u8 hash_len, u8[3] 0, count * (u32 len, hash_len bytes) */
	DELTA_WANT = 11,       /* u32 count, u32 last (0 or 1), count * u32 chunk index */
	DELTA_TYPE_MAX = 11,
};

/* ERROR frame codes: why the receiver ended the session. */
enum delta_error_code {
	DELTA_ERR_PROTOCOL = 1, /* not the frame the session expected; also a generic reason */
	DELTA_ERR_SEQUENCE = 2, /* a frame out of order (BEGIN in a cycle, CHUNK outside one, ...) */
	DELTA_ERR_RESIZE = 3,   /* BEGIN's size could not be applied */
	DELTA_ERR_RANGE = 4,    /* a CHUNK beyond the region size */
	DELTA_ERR_WRITE = 5,    /* writing a chunk into the copy failed */
	DELTA_ERR_COUNTS = 6,   /* END's counts differ from the chunks received */
	DELTA_ERR_FANOUT = 7,   /* the hub could not commit the cycle to its destinations */
};

/* Permission bits a HELLO may carry for the destination's copy (0: none). */
#define DELTA_FILE_MODE_MASK 0777u

enum delta_hash_algo {
	DELTA_XXH3 = 1, DELTA_XXH128, DELTA_XXH64, DELTA_CRC32, DELTA_ADLER32,
	DELTA_SHA256,   /* for untrusted peers (GnuTLS builds) */
	DELTA_CRC32C,   /* Castagnoli; SSE4.2 instruction where the CPU has it */
	DELTA_ALGO_MAX = DELTA_CRC32C
};

/* A decoded frame; pointers refer into the parsed buffer. */
struct delta_msg {
	uint8_t type;
	uint32_t len; /* payload length */
	union {
		struct { uint64_t size, session; uint32_t chunk; uint8_t algo, mode; uint16_t fmode; } hello;
		struct { uint64_t size, nchunks; uint32_t chunk; uint8_t algo, status; } reply;
		struct { uint64_t first; uint32_t count; uint8_t hash_len; const uint8_t *hashes; } hashes;
		struct { uint64_t cycle, size; } begin;
		struct { uint64_t off; uint32_t len; const uint8_t *data; } chunk;
		struct { uint64_t cycle, nchunks, bytes; } end;
		struct { uint64_t cycle; uint32_t status; } ack;
		struct { uint32_t code; uint16_t len; const char *text; } error;
		struct { uint64_t first; uint32_t count; uint8_t hash_len; const uint8_t *entries; } recipe;
		struct { uint32_t count, last; const uint8_t *index; } want;
	} u;
};

/* Hash length in bytes of an algorithm, 0 if unknown. */
unsigned delta_hash_len(unsigned algo);

/* Decode a frame header; 0 ok (type, payload length set), -1 malformed
 * (why says what). Checks magic, version, type and the per-type length caps. */
int delta_hdr_decode(const uint8_t hdr[DELTA_HDR_LEN], struct delta_msg *m, const char **why);

/* Decode the payload of a frame whose header was decoded into m; 0 or -1 (why). */
int delta_payload_decode(const uint8_t *p, struct delta_msg *m, const char **why);

/* Parse one frame from buf: 1 = parsed (*used bytes), 0 = need more bytes,
 * -1 = malformed (why). */
int delta_parse(const uint8_t *buf, size_t len, struct delta_msg *m, size_t *used, const char **why);

/* Encoders: write a whole frame (header + fixed payload) into out, return its
 * length. out must hold DELTA_HDR_LEN + 40 bytes. CHUNK, HASHES and ERROR
 * write only the header and the fixed part; the caller appends the data. */
size_t delta_enc_hello(uint8_t *out, uint64_t size, uint32_t chunk, uint8_t algo, uint8_t mode, uint16_t fmode,
		       uint64_t session);
size_t delta_enc_reply(uint8_t *out, uint64_t size, uint32_t chunk, uint8_t algo, uint8_t status, uint64_t nchunks);
size_t delta_enc_hashes(uint8_t *out, uint64_t first, uint32_t count, uint8_t hash_len);
size_t delta_enc_begin(uint8_t *out, uint64_t cycle, uint64_t size);
size_t delta_enc_chunk(uint8_t *out, uint64_t off, uint32_t len);
size_t delta_enc_end(uint8_t *out, uint64_t cycle, uint64_t nchunks, uint64_t bytes);
size_t delta_enc_ack(uint8_t *out, uint64_t cycle, uint32_t status);
size_t delta_enc_error(uint8_t *out, uint32_t code, uint16_t len);
size_t delta_enc_bye(uint8_t *out);
/* RECIPE header and fixed part; count entries (delta_enc_recipe_entry) follow. */
size_t delta_enc_recipe(uint8_t *out, uint64_t first, uint32_t count, uint8_t hash_len);
/* One RECIPE entry (4 + hash_len bytes) at out; its length. */
size_t delta_enc_recipe_entry(uint8_t *out, uint32_t len, const uint8_t *hash, uint8_t hash_len);
/* WANT header and fixed part; count u32 indexes (delta_enc_u32) follow. */
size_t delta_enc_want(uint8_t *out, uint32_t count, uint32_t last);
/* A little-endian u32 at out (WANT indexes). */
void delta_enc_u32(uint8_t *out, uint32_t v);

/* Entry i of a decoded RECIPE: its length (>= 1, <= DELTA_MAX_CHUNK, checked
 * by the decoder) and hash. */
uint32_t delta_recipe_entry(const struct delta_msg *m, uint32_t i, const uint8_t **hash);
/* Index i of a decoded WANT. */
uint32_t delta_want_index(const struct delta_msg *m, uint32_t i);

#endif
