/* nbd_proto.c - pure NBD header codecs and request validation (see nbd_proto.h). */
#include "nbd_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Read a big-endian u16. */
uint16_t nbd_get16(const unsigned char *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* Read a big-endian u32. */
uint32_t nbd_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read a big-endian u64. */
uint64_t nbd_get64(const unsigned char *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

/* Write a big-endian u16. */
void nbd_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* Write a big-endian u32. */
void nbd_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Write a big-endian u64. */
void nbd_put64(unsigned char *p, uint64_t v)
{
	nbd_put32(p, (uint32_t)(v >> 32));
	nbd_put32(p + 4, (uint32_t)v);
}

/* Decode an option header: IHAVEOPT, option, length. */
int nbd_parse_option(const unsigned char buf[NBD_OPTION_HEADER_LEN], struct nbd_option *out)
{
	if (nbd_get64(buf) != NBD_OPTS_MAGIC)
		return -1;
	out->option = nbd_get32(buf + 8);
	out->length = nbd_get32(buf + 12);
	return 0;
}

/* Decode a request header: magic, flags, type, handle, offset, length. */
int nbd_parse_request(const unsigned char buf[NBD_REQUEST_LEN], struct nbd_request *out)
{
	if (nbd_get32(buf) != NBD_REQUEST_MAGIC)
		return -1;
	out->flags = nbd_get16(buf + 4);
	out->type = nbd_get16(buf + 6);
	out->handle = nbd_get64(buf + 8);
	out->offset = nbd_get64(buf + 16);
	out->length = nbd_get32(buf + 24);
	return 0;
}

/* Return the error verdict with code err. */
static enum nbd_req_verdict reject(uint32_t *error, uint32_t err)
{
	*error = err;
	return NBD_REQ_ERROR;
}

/* Validate a request against the export; see nbd_proto.h for the contract. */
enum nbd_req_verdict nbd_check_request(const struct nbd_request *r, uint64_t size, uint16_t eflags,
				       int structured, uint32_t *error)
{
	uint32_t allowed = 0;
	int is_write = r->type == NBD_CMD_WRITE;
	*error = 0;

	/* A write payload we refuse to read forces a close; up to twice the
	 * maximum we skip it and answer EINVAL. */
	if (is_write && r->length > 2ull * NBD_MAX_REQUEST)
		return NBD_REQ_CLOSE;

	switch (r->type) {
	case NBD_CMD_READ:
		allowed = structured ? NBD_CMD_FLAG_DF : 0;
		break;
	case NBD_CMD_WRITE:
	case NBD_CMD_TRIM:
		allowed = NBD_CMD_FLAG_FUA;
		break;
	case NBD_CMD_WRITE_ZEROES:
		allowed = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE;
		break;
	case NBD_CMD_FLUSH:
	case NBD_CMD_DISC:
		break;
	default:
		return reject(error, NBD_EINVAL);
	}
	if (r->flags & ~allowed)
		return reject(error, NBD_EINVAL);
	if (r->type == NBD_CMD_DISC)
		return NBD_REQ_OK;
	if (r->type == NBD_CMD_FLUSH)
		return (r->offset || r->length) ? reject(error, NBD_EINVAL) : NBD_REQ_OK;
	if ((eflags & NBD_FLAG_READ_ONLY) && r->type != NBD_CMD_READ)
		return reject(error, NBD_EPERM);
	if (r->length == 0)
		return reject(error, NBD_EINVAL);
	if ((r->type == NBD_CMD_READ || is_write) && r->length > NBD_MAX_REQUEST)
		return reject(error, NBD_EINVAL);
	if (r->offset > size || r->length > size - r->offset)
		return reject(error, (is_write || r->type == NBD_CMD_WRITE_ZEROES) ? NBD_ENOSPC : NBD_EINVAL);
	return NBD_REQ_OK;
}

/* Parse the name and info requests of NBD_OPT_INFO / NBD_OPT_GO. */
int nbd_parse_info_request(const unsigned char *data, uint32_t len, char *name, size_t name_cap,
			   int *want_block_size)
{
	*want_block_size = 0;
	if (len < 4)
		return -1;
	uint32_t name_len = nbd_get32(data);
	if (name_len > NBD_MAX_STRING || name_len > len - 4 || name_len >= name_cap)
		return -1;
	memcpy(name, data + 4, name_len);
	name[name_len] = '\0';
	if (memchr(name, '\0', name_len))
		return -1;
	uint32_t pos = 4 + name_len;
	if (len - pos < 2)
		return -1;
	uint16_t count = nbd_get16(data + pos);
	pos += 2;
	if ((uint32_t)count * 2 != len - pos)
		return -1;
	for (uint16_t i = 0; i < count; i++)
		if (nbd_get16(data + pos + 2u * i) == NBD_INFO_BLOCK_SIZE)
			*want_block_size = 1;
	return 0;
}

/* Option reply header: magic, option, reply type, length of data. */
void nbd_encode_option_reply(unsigned char *out, uint32_t option, uint32_t type, uint32_t length)
{
	nbd_put64(out, NBD_REP_MAGIC);
	nbd_put32(out + 8, option);
	nbd_put32(out + 12, type);
	nbd_put32(out + 16, length);
}

/* Simple reply: magic, error, handle. */
void nbd_encode_simple_reply(unsigned char *out, uint32_t error, uint64_t handle)
{
	nbd_put32(out, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(out + 4, error);
	nbd_put64(out + 8, handle);
}

/* Structured reply chunk: magic, flags, type, handle, length of payload. */
void nbd_encode_structured_reply(unsigned char *out, uint16_t flags, uint16_t type, uint64_t handle,
				 uint32_t length)
{
	nbd_put32(out, NBD_STRUCTURED_REPLY_MAGIC);
	nbd_put16(out + 4, flags);
	nbd_put16(out + 6, type);
	nbd_put64(out + 8, handle);
	nbd_put32(out + 16, length);
}

/* The reply header for r: simple, or one structured chunk for a READ. */
size_t nbd_encode_reply(unsigned char *out, int structured, const struct nbd_request *r, uint32_t error)
{
	if (!structured || r->type != NBD_CMD_READ) {
		nbd_encode_simple_reply(out, error, r->handle);
		return NBD_SIMPLE_REPLY_LEN;
	}
	if (error) {
		nbd_encode_structured_reply(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, r->handle, 6);
		nbd_put32(out + NBD_STRUCTURED_REPLY_LEN, error);
		nbd_put16(out + NBD_STRUCTURED_REPLY_LEN + 4, 0); /* no message */
		return NBD_STRUCTURED_REPLY_LEN + 6;
	}
	nbd_encode_structured_reply(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, r->handle, 8 + r->length);
	nbd_put64(out + NBD_STRUCTURED_REPLY_LEN, r->offset);
	return NBD_STRUCTURED_REPLY_LEN + 8;
}

/* Printable command name. */
const char *nbd_cmd_name(uint16_t type, char *buf, size_t cap)
{
	static const char *const names[] = {"READ", "WRITE", "DISC", "FLUSH", "TRIM", "CACHE",
					    "WRITE_ZEROES", "BLOCK_STATUS"};
	if (type < sizeof names / sizeof names[0])
		return names[type];
	snprintf(buf, cap, "CMD#%u", (unsigned)type);
	return buf;
}

/* errno -> NBD error: the spec's fixed values, EIO for anything else. */
uint32_t nbd_errno_to_wire(int err)
{
	switch (err) {
	case 0: return 0;
	case EPERM: case EROFS: return NBD_EPERM;
	case ENOMEM: return NBD_ENOMEM;
	case EINVAL: return NBD_EINVAL;
	case ENOSPC: case EFBIG: case EDQUOT: return NBD_ENOSPC;
	case EOVERFLOW: return NBD_EOVERFLOW;
	case ENOTSUP: return NBD_ENOTSUP;
	case ESHUTDOWN: return NBD_ESHUTDOWN;
	default: return NBD_EIO;
	}
}
