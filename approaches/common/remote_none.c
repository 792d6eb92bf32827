/*
 * remote_none.c - the client layer of a build without libnbd: every call
 * fails with "unsupported: libnbd not found" and remote_available()
 * returns 0, so the approaches that need it report themselves unsupported.
 */
#include <string.h>

#include "remote.h"

/* Never allocated without libnbd. */
struct remote {
	int unused;
};

/* Built without libnbd. */
int remote_available(void)
{
	return 0;
}

/* Unsupported. */
struct remote *remote_connect(const char *uri, int nconn, struct err *e)
{
	(void)uri, (void)nconn;
	return err_set(e, "unsupported: libnbd not found"), NULL;
}

/* Unsupported. */
struct remote *remote_connect_opts(const struct remote_opts *o, struct err *e)
{
	(void)o;
	return err_set(e, "unsupported: libnbd not found"), NULL;
}

/* Unreachable without a remote. */
uint64_t remote_size(struct remote *r)
{
	(void)r;
	return 0;
}

/* Unreachable without a remote. */
const char *remote_uri(struct remote *r)
{
	(void)r;
	return "";
}

/* Unsupported. */
int remote_pread(struct remote *r, void *buf, size_t len, uint64_t off, struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_aio_pread(struct remote *r, void *buf, size_t len, uint64_t off, remote_done_fn done, void *arg,
		     struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off, (void)done, (void)arg;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_aio_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, remote_done_fn done,
		      void *arg, struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off, (void)done, (void)arg;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_drain(struct remote *r, struct err *e)
{
	(void)r;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_flush(struct remote *r, struct err *e)
{
	(void)r;
	return err_set(e, "unsupported: libnbd not found");
}

/* Nothing to count. */
void remote_stats(struct remote *r, struct remote_stats *s)
{
	(void)r;
	memset(s, 0, sizeof *s);
}

/* Nothing to close. */
void remote_close(struct remote *r)
{
	(void)r;
}

/* Nothing to close. */
int remote_close_err(struct remote *r, struct err *e)
{
	(void)r, (void)e;
	return 0;
}
