/*
 * nbd_server_handshake.c - the fixed newstyle handshake of the NBD
 * server: greeting, client flags, then options until the client enters
 * the transmission phase (GO or EXPORT_NAME), aborts, or misbehaves.
 * Served: GO, INFO, LIST, ABORT, STRUCTURED_REPLY, STARTTLS, EXPORT_NAME;
 * anything else gets NBD_REP_ERR_UNSUP.
 */
#include <string.h>

#include "nbd_server_int.h"

#define MAX_OPTIONS 1024            /* options per handshake before we give up */
#define MAX_SKIP_OPTION (1u << 20)  /* bigger option payloads close the connection */

/* Outcomes of reading (OPT_READY) and answering one option. */
enum { OPT_CLOSE = -1, OPT_NEXT = 0, OPT_TRANSMIT = 1, OPT_READY = 2 };

/* Send an option reply with optional data. */
static int opt_reply(struct nbd_conn *c, uint32_t option, uint32_t type, const void *data, uint32_t len)
{
	unsigned char hdr[NBD_OPTION_REPLY_LEN];
	nbd_encode_option_reply(hdr, option, type, len);
	struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, len}};
	return nbd_conn_sendv(c, iov, 2);
}

/* Send an option error reply with a human-readable message; OPT_NEXT or OPT_CLOSE. */
static int opt_error(struct nbd_conn *c, uint32_t option, uint32_t type, const char *msg)
{
	return opt_reply(c, option, type, msg, (uint32_t)strlen(msg)) ? OPT_CLOSE : OPT_NEXT;
}

/* Acknowledge an option; OPT_NEXT or OPT_CLOSE. */
static int opt_ack(struct nbd_conn *c, uint32_t option)
{
	return opt_reply(c, option, NBD_REP_ACK, NULL, 0) ? OPT_CLOSE : OPT_NEXT;
}

/* Is name an export we serve? */
static int export_known(struct nbd_server *s, const char *name)
{
	return !s->export_name || !*name || !strcmp(name, s->export_name);
}

/* NBD_OPT_INFO / NBD_OPT_GO: the export's size, flags and block sizes. */
static int opt_info_go(struct nbd_conn *c, uint32_t option, const unsigned char *data, uint32_t len)
{
	struct nbd_server *s = c->s;
	char name[NBD_MAX_STRING + 1];
	int want_bs;
	if (nbd_parse_info_request(data, len, name, sizeof name, &want_bs))
		return opt_error(c, option, NBD_REP_ERR_INVALID, "malformed INFO/GO request");
	if (!export_known(s, name))
		return opt_error(c, option, NBD_REP_ERR_UNKNOWN, "unknown export name");
	unsigned char info[18];
	nbd_put16(info, NBD_INFO_EXPORT);
	nbd_put64(info + 2, s->b->size);
	nbd_put16(info + 10, s->eflags);
	if (opt_reply(c, option, NBD_REP_INFO, info, 12))
		return OPT_CLOSE;
	nbd_put16(info, NBD_INFO_BLOCK_SIZE);
	nbd_put32(info + 2, NBD_MIN_BLOCK);
	nbd_put32(info + 6, NBD_PREF_BLOCK);
	nbd_put32(info + 10, NBD_MAX_REQUEST);
	if (opt_reply(c, option, NBD_REP_INFO, info, 14))
		return OPT_CLOSE;
	if (opt_reply(c, option, NBD_REP_ACK, NULL, 0))
		return OPT_CLOSE;
	return option == NBD_OPT_GO ? OPT_TRANSMIT : OPT_NEXT;
}

/* NBD_OPT_EXPORT_NAME: size and flags, straight into transmission (the
 * option has no error reply: a bad name closes the connection). */
static int opt_export_name(struct nbd_conn *c, const unsigned char *data, uint32_t len, int no_zeroes)
{
	struct nbd_server *s = c->s;
	char name[NBD_MAX_STRING + 1];
	if (len > NBD_MAX_STRING)
		return nbd_conn_drop(c, "export name too long");
	memcpy(name, data, len);
	name[len] = '\0';
	if (strlen(name) != len || !export_known(s, name))
		return nbd_conn_drop(c, "unknown export in NBD_OPT_EXPORT_NAME");
	unsigned char reply[10 + 124] = {0};
	nbd_put64(reply, s->b->size);
	nbd_put16(reply + 8, s->eflags);
	return nbd_conn_send(c, reply, no_zeroes ? 10 : sizeof reply) ? OPT_CLOSE : OPT_TRANSMIT;
}

/* NBD_OPT_LIST: the one export we serve. */
static int opt_list(struct nbd_conn *c, uint32_t len)
{
	if (len)
		return opt_error(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, "LIST takes no data");
	const char *name = c->s->export_name ? c->s->export_name : "";
	uint32_t nl = (uint32_t)strlen(name);
	unsigned char buf[4 + NBD_MAX_STRING];
	nbd_put32(buf, nl);
	memcpy(buf + 4, name, nl);
	if (opt_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, buf, 4 + nl))
		return OPT_CLOSE;
	return opt_ack(c, NBD_OPT_LIST);
}

/* NBD_OPT_STARTTLS: acknowledge, then run the TLS handshake on the socket. */
static int opt_starttls(struct nbd_conn *c, uint32_t len)
{
	struct nbd_server *s = c->s;
	if (!s->opts.tls)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP, "TLS not configured");
	if (len || c->tls)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, "bad STARTTLS");
	if (opt_reply(c, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0))
		return OPT_CLOSE;
	struct err e = {0};
	c->tls = tls_server_start(s->opts.tls, c->fd, &e);
	if (!c->tls)
		return nbd_conn_drop(c, "%s", e.msg);
	return OPT_NEXT;
}

/* NBD_OPT_STRUCTURED_REPLY: structured replies for READ from now on. */
static int opt_structured_reply(struct nbd_conn *c, uint32_t len)
{
	if (len || c->structured)
		return opt_error(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID, "bad STRUCTURED_REPLY");
	c->structured = 1;
	return opt_ack(c, NBD_OPT_STRUCTURED_REPLY);
}

/* Answer one option whose data is in data[len]. */
static int opt_dispatch(struct nbd_conn *c, const struct nbd_option *o, const unsigned char *data, int no_zeroes)
{
	struct nbd_server *s = c->s;
	if (s->opts.tls && !c->tls && o->option != NBD_OPT_STARTTLS && o->option != NBD_OPT_ABORT) {
		if (o->option == NBD_OPT_EXPORT_NAME)
			return nbd_conn_drop(c, "NBD_OPT_EXPORT_NAME before STARTTLS");
		return opt_error(c, o->option, NBD_REP_ERR_TLS_REQD, "TLS is required");
	}
	switch (o->option) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(c, data, o->length, no_zeroes);
	case NBD_OPT_ABORT:
		opt_reply(c, o->option, NBD_REP_ACK, NULL, 0);
		return OPT_CLOSE;
	case NBD_OPT_LIST:
		return opt_list(c, o->length);
	case NBD_OPT_STARTTLS:
		return opt_starttls(c, o->length);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info_go(c, o->option, data, o->length);
	case NBD_OPT_STRUCTURED_REPLY:
		return opt_structured_reply(c, o->length);
	default:
		return opt_error(c, o->option, NBD_REP_ERR_UNSUP, "option not supported");
	}
}

/* Read one option into o and buf[NBD_MAX_OPTION_LEN]: OPT_READY to answer
 * it, OPT_NEXT when it was too long (skipped and refused), OPT_CLOSE. */
static int opt_read(struct nbd_conn *c, struct nbd_option *o, unsigned char *buf)
{
	size_t got;
	if (nbd_conn_recv(c, buf, NBD_OPTION_HEADER_LEN, &got))
		return got ? nbd_conn_drop(c, "client went away in an option header") : OPT_CLOSE;
	if (nbd_parse_option(buf, o))
		return nbd_conn_drop(c, "bad option magic");
	if (o->length > NBD_MAX_OPTION_LEN) {
		if (o->length > MAX_SKIP_OPTION || o->option == NBD_OPT_EXPORT_NAME || nbd_conn_skip(c, o->length))
			return nbd_conn_drop(c, "option %u with %u bytes of data", o->option, o->length);
		return opt_error(c, o->option, NBD_REP_ERR_TOO_BIG, "option too long");
	}
	if (nbd_conn_recv(c, buf, o->length, NULL))
		return nbd_conn_drop(c, "client went away in option %u data", o->option);
	return OPT_READY;
}

/* Greeting and client flags; *no_zeroes says whether the client skips the
 * 124 zero bytes after EXPORT_NAME. 0, or -1 to close. */
static int hs_greet(struct nbd_conn *c, int *no_zeroes)
{
	unsigned char buf[18];
	size_t got;
	nbd_put64(buf, NBD_MAGIC);
	nbd_put64(buf + 8, NBD_OPTS_MAGIC);
	nbd_put16(buf + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	if (nbd_conn_send(c, buf, 18))
		return -1;
	if (nbd_conn_recv(c, buf, 4, &got))
		return got ? nbd_conn_drop(c, "short client flags") : -1;
	uint32_t cflags = nbd_get32(buf);
	if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE) || (cflags & ~3u))
		return nbd_conn_drop(c, "unsupported client flags 0x%x", cflags);
	*no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
	return 0;
}

/* Run the handshake. */
int nbd_conn_handshake(struct nbd_conn *c)
{
	unsigned char buf[NBD_MAX_OPTION_LEN];
	int no_zeroes = 0;
	if (hs_greet(c, &no_zeroes))
		return -1;
	for (int n = 0; n < MAX_OPTIONS; n++) {
		struct nbd_option o;
		int rc = opt_read(c, &o, buf);
		if (rc == OPT_READY)
			rc = opt_dispatch(c, &o, buf, no_zeroes);
		if (rc == OPT_CLOSE)
			return -1;
		if (rc == OPT_TRANSMIT)
			return 0;
	}
	return nbd_conn_drop(c, "more than %d options", MAX_OPTIONS);
}
