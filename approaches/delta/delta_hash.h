/*
 * delta_hash.h - per-chunk hashing for the delta approach: the five
 * algorithms (XXH3-64, XXH128, XXH64, CRC32 and Adler-32 from zlib) and a
 * parallel hasher that splits a region's chunks over worker threads.
 */
#ifndef MEMSYNC_DELTA_HASH_H
#define MEMSYNC_DELTA_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "delta_proto.h"

/* One chunk's hash; only the first delta_hash_len(algo) bytes are used. */
typedef struct { uint8_t b[DELTA_MAX_HASH]; } delta_hash_t;

/* Algorithm by name (xxh3, xxh128, xxh64, crc32, adler32, sha256, crc32c);
 * 0 if unknown or not in this build (sha256 needs GnuTLS). */
unsigned delta_algo_parse(const char *name);
/* Name of an algorithm. */
const char *delta_algo_name(unsigned algo);
/* 1 when this build can compute the algorithm. */
int delta_algo_available(unsigned algo);
/* Which implementation computes it here ("libxxhash", "zlib", "gnutls",
 * "sse4.2" or "table" for crc32c, "unavailable"). */
const char *delta_algo_impl(unsigned algo);
/* CRC32C (Castagnoli, reflected, init and final xor ~0) of len bytes:
 * the SSE4.2 instruction when the CPU has it, else the table. */
uint32_t delta_crc32c(const void *p, size_t len);
/* The same with the portable table, whatever the CPU. */
uint32_t delta_crc32c_table(const void *p, size_t len);
/* Hash len bytes at p. */
void delta_hash(unsigned algo, const void *p, size_t len, delta_hash_t *out);
/* Hash chunks [first, first + n) of a region at base (size bytes; the last
 * chunk may be short) with `workers` threads; out[i] is chunk first + i. */
int delta_hash_chunks(unsigned algo, const uint8_t *base, uint64_t size, uint32_t chunk, uint64_t first, uint64_t n,
		      unsigned workers, delta_hash_t *out);

#endif
