/*
 * fuzz_nbd_proto.c - libFuzzer target for the pure parsers in nbd_proto.c:
 * option and request headers, request validation against an export size
 * and flags taken from the input, the reply header for that request, and
 * INFO/GO payloads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_proto.h"

/* Parse everything the input can be. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= NBD_OPTION_HEADER_LEN) {
		struct nbd_option o;
		nbd_parse_option(data, &o);
	}
	if (size >= NBD_REQUEST_LEN + 11) {
		struct nbd_request r;
		unsigned char hdr[NBD_REQUEST_LEN];
		memcpy(hdr, data, sizeof hdr);
		nbd_put32(hdr, NBD_REQUEST_MAGIC); /* get past the magic most of the time */
		if (nbd_parse_request(data[0] & 1 ? hdr : data, &r) == 0) {
			uint64_t export_size = nbd_get64(data + NBD_REQUEST_LEN);
			uint16_t eflags = nbd_get16(data + NBD_REQUEST_LEN + 8);
			uint32_t err = 0;
			enum nbd_req_verdict v = nbd_check_request(&r, export_size, eflags, data[NBD_REQUEST_LEN + 10] & 1, &err);
			if (v == NBD_REQ_OK && r.type != NBD_CMD_FLUSH && r.type != NBD_CMD_DISC &&
			    (r.offset > export_size || r.length > export_size - r.offset))
				abort(); /* accepted a request outside the export */
			if (v == NBD_REQ_OK && (r.type == NBD_CMD_READ || r.type == NBD_CMD_WRITE) && r.length > NBD_MAX_REQUEST)
				abort();
			if (v == NBD_REQ_ERROR && err == 0)
				abort();
			unsigned char reply[NBD_REPLY_HDR_MAX];
			size_t len = nbd_encode_reply(reply, data[NBD_REQUEST_LEN + 10] & 2, &r, err);
			if (len > sizeof reply || nbd_get64(reply + 8) != r.handle)
				abort(); /* a reply header too long or for another request */
		}
	}
	char name[NBD_MAX_STRING + 1];
	int bs;
	if (size <= UINT32_MAX && nbd_parse_info_request(data, (uint32_t)size, name, sizeof name, &bs) == 0 &&
	    strlen(name) > NBD_MAX_STRING)
		abort();
	return 0;
}
