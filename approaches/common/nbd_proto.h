/*
 * nbd_proto.h - NBD wire format (fixed newstyle): constants, and pure
 * functions that decode and encode the fixed-size headers.
 *
 * Everything here is free of I/O and allocation, so it can be unit-tested
 * and fuzzed directly. Values follow the NBD protocol document
 * (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md).
 * All integers on the wire are big-endian.
 */
#ifndef MEMSYNC_NBD_PROTO_H
#define MEMSYNC_NBD_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Handshake. */
#define NBD_MAGIC              0x4e42444d41474943ull /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC         0x49484156454f5054ull /* "IHAVEOPT" */
#define NBD_REP_MAGIC          0x0003e889045565a9ull
#define NBD_FLAG_FIXED_NEWSTYLE 1u
#define NBD_FLAG_NO_ZEROES      2u
#define NBD_FLAG_C_FIXED_NEWSTYLE 1u
#define NBD_FLAG_C_NO_ZEROES      2u

/* Options. */
#define NBD_OPT_EXPORT_NAME      1
#define NBD_OPT_ABORT            2
#define NBD_OPT_LIST             3
#define NBD_OPT_STARTTLS         5
#define NBD_OPT_INFO             6
#define NBD_OPT_GO               7
#define NBD_OPT_STRUCTURED_REPLY 8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT 10
#define NBD_OPT_EXTENDED_HEADERS 11

/* Option replies. */
#define NBD_REP_ACK             1u
#define NBD_REP_SERVER          2u
#define NBD_REP_INFO            3u
#define NBD_REP_ERR(n)          (0x80000000u | (n))
#define NBD_REP_ERR_UNSUP       NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY      NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID     NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM    NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD    NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN     NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN    NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG     NBD_REP_ERR(9)

/* NBD_REP_INFO types. */
#define NBD_INFO_EXPORT      0
#define NBD_INFO_NAME        1
#define NBD_INFO_DESCRIPTION 2
#define NBD_INFO_BLOCK_SIZE  3

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS         (1u << 0)
#define NBD_FLAG_READ_ONLY         (1u << 1)
#define NBD_FLAG_SEND_FLUSH        (1u << 2)
#define NBD_FLAG_SEND_FUA          (1u << 3)
#define NBD_FLAG_ROTATIONAL        (1u << 4)
#define NBD_FLAG_SEND_TRIM         (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF           (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN    (1u << 8)

/* Transmission phase. */
#define NBD_REQUEST_MAGIC          0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC     0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu
#define NBD_CMD_READ         0
#define NBD_CMD_WRITE        1
#define NBD_CMD_DISC         2
#define NBD_CMD_FLUSH        3
#define NBD_CMD_TRIM         4
#define NBD_CMD_CACHE        5
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_BLOCK_STATUS 7
#define NBD_CMD_FLAG_FUA       (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE   (1u << 1)
#define NBD_CMD_FLAG_DF        (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE   (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)
#define NBD_REPLY_FLAG_DONE        1u
#define NBD_REPLY_TYPE_NONE        0u
#define NBD_REPLY_TYPE_OFFSET_DATA 1u
#define NBD_REPLY_TYPE_ERROR       32769u /* (1 << 15) + 1 */

/* Errors in replies (fixed values, not the host's errno). */
#define NBD_EPERM      1
#define NBD_EIO        5
#define NBD_ENOMEM     12
#define NBD_EINVAL     22
#define NBD_ENOSPC     28
#define NBD_EOVERFLOW  75
#define NBD_ENOTSUP    95
#define NBD_ESHUTDOWN  108

/* Sizes of fixed wire structures. */
#define NBD_OPTION_HEADER_LEN   16 /* magic, option, length */
#define NBD_OPTION_REPLY_LEN    20 /* magic, option, type, length */
#define NBD_REQUEST_LEN         28
#define NBD_SIMPLE_REPLY_LEN    16
#define NBD_STRUCTURED_REPLY_LEN 20
#define NBD_REPLY_HDR_MAX       (NBD_STRUCTURED_REPLY_LEN + 8) /* what nbd_encode_reply writes, at most */

/* Limits of this implementation. */
#define NBD_MAX_STRING       4096u             /* export names, per the spec */
#define NBD_MAX_OPTION_LEN   (NBD_MAX_STRING + 1024u)
#define NBD_MAX_REQUEST      (32u * 1024 * 1024) /* maximum block size */
#define NBD_PREF_BLOCK       4096u
#define NBD_MIN_BLOCK        1u

/* A decoded option header sent by the client. */
struct nbd_option {
	uint32_t option;
	uint32_t length; /* bytes of option data that follow */
};

/* A decoded transmission request header. */
struct nbd_request {
	uint16_t flags;
	uint16_t type;
	uint64_t handle;
	uint64_t offset;
	uint32_t length;
};

/* Outcomes of nbd_check_request(). */
enum nbd_req_verdict {
	NBD_REQ_OK = 0,   /* execute it */
	NBD_REQ_ERROR,    /* reply with *error, keep the connection */
	NBD_REQ_CLOSE,    /* protocol violation: close the connection */
};

/* Big-endian helpers. */
uint16_t nbd_get16(const unsigned char *p);
uint32_t nbd_get32(const unsigned char *p);
uint64_t nbd_get64(const unsigned char *p);
void nbd_put16(unsigned char *p, uint16_t v);
void nbd_put32(unsigned char *p, uint32_t v);
void nbd_put64(unsigned char *p, uint64_t v);

/* Decode a 16-byte option header; -1 when the magic is wrong. */
int nbd_parse_option(const unsigned char buf[NBD_OPTION_HEADER_LEN], struct nbd_option *out);

/* Decode a 28-byte request header; -1 when the magic is wrong. */
int nbd_parse_request(const unsigned char buf[NBD_REQUEST_LEN], struct nbd_request *out);

/*
 * Decide what to do with a request against an export of `size` bytes with
 * transmission flags `eflags`, and whether structured replies are on.
 * Sets *error (an NBD_E* value) for NBD_REQ_ERROR. A write is never
 * NBD_REQ_OK past the end, but its payload must still be consumed (or the
 * connection closed when the payload is too big to skip: NBD_REQ_CLOSE).
 */
enum nbd_req_verdict nbd_check_request(const struct nbd_request *r, uint64_t size, uint16_t eflags,
				       int structured, uint32_t *error);

/*
 * Parse the data of NBD_OPT_INFO / NBD_OPT_GO: u32 name length, name,
 * u16 count, count * u16 info types. Copies the name (NUL-terminated) into
 * name[name_cap]. Returns 0, or -1 when the data is malformed.
 * *want_block_size is set when NBD_INFO_BLOCK_SIZE was requested.
 */
int nbd_parse_info_request(const unsigned char *data, uint32_t len, char *name, size_t name_cap,
			   int *want_block_size);

/* Encode an option reply header into out[20]. */
void nbd_encode_option_reply(unsigned char *out, uint32_t option, uint32_t type, uint32_t length);

/* Encode a simple reply into out[16]. */
void nbd_encode_simple_reply(unsigned char *out, uint32_t error, uint64_t handle);

/* Encode a structured reply chunk header into out[20]. */
void nbd_encode_structured_reply(unsigned char *out, uint16_t flags, uint16_t type, uint64_t handle,
				 uint32_t length);

/*
 * Encode the reply header for request r into out[NBD_REPLY_HDR_MAX] and
 * return its length: a simple reply; or, with structured replies, a READ
 * gets one chunk flagged DONE: ERROR (error, no message) or OFFSET_DATA
 * (r->length bytes of data follow the header). The data is not included.
 */
size_t nbd_encode_reply(unsigned char *out, int structured, const struct nbd_request *r, uint32_t error);

/* Name of a command, for log lines ("READ", "CMD#9"). buf is used for unknowns. */
const char *nbd_cmd_name(uint16_t type, char *buf, size_t cap);

/* Map a host errno to the NBD error sent on the wire. */
uint32_t nbd_errno_to_wire(int err);

#endif
