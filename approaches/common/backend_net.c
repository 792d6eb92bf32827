/* backend_net.c - spec options and the connection pool shared by the
 * Redis and HTTP backends (see backend_net.h). */
#include "backend_net.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

/* Parse one "name=value" option into o. */
static int net_opt_one(char *opt, const char *spec, struct net_opts *o, struct err *e)
{
	char *eq = strchr(opt, '=');
	if (!eq)
		return err_set(e, "bad backend spec '%s': option '%s' is not name=value", spec, opt);
	*eq++ = '\0';
	if (!strcmp(opt, "chunk"))
		return parse_size(eq, &o->chunk, e);
	if (!strcmp(opt, "timeout")) {
		char *end;
		long t = strtol(eq, &end, 10);
		if (*end || t < 1 || t > 3600)
			return err_set(e, "bad backend spec '%s': timeout=%s (1-3600 seconds)", spec, eq);
		o->timeout_s = (int)t;
		return 0;
	}
	if (!strcmp(opt, "prefix")) {
		if (strlen(eq) >= sizeof o->prefix)
			return err_set(e, "bad backend spec '%s': prefix too long", spec);
		strcpy(o->prefix, eq);
		return 0;
	}
	return err_set(e, "bad backend spec '%s': unknown option '%s' (chunk, timeout, prefix)", spec, opt);
}

/* Parse "SIZE[:opt=value...]". */
int net_opts_parse(const char *s, const char *spec, struct net_opts *o, struct err *e)
{
	char buf[256];
	*o = (struct net_opts){.chunk = 1024 * 1024, .timeout_s = 30};
	strcpy(o->prefix, "memsync:");
	if (!s || !*s)
		return err_set(e, "bad backend spec '%s': a size is needed", spec);
	if (strlen(s) >= sizeof buf)
		return err_set(e, "bad backend spec '%s': too long", spec);
	strcpy(buf, s);
	char *save = NULL, *tok = strtok_r(buf, ":", &save);
	if (parse_size(tok, &o->size, e))
		return -1;
	while ((tok = strtok_r(NULL, ":", &save)))
		if (net_opt_one(tok, spec, o, e))
			return -1;
	if (o->size == 0 || o->chunk == 0 || o->chunk > 64 * 1024 * 1024)
		return err_set(e, "bad backend spec '%s': size must be > 0 and chunk 1..64M", spec);
	return 0;
}

/* Record a message with code EIO. */
int net_fail(struct err *e, const char *fmt, ...)
{
	if (e->set)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->set = 1;
	e->code = EIO;
	return -1;
}

/* Empty pool. */
void net_pool_init(struct net_pool *p, void (*destroy)(void *conn))
{
	pthread_mutex_init(&p->lock, NULL);
	p->n = 0;
	p->destroy = destroy;
}

/* Pop an idle connection. */
void *net_pool_take(struct net_pool *p)
{
	void *c = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->n > 0)
		c = p->idle[--p->n];
	pthread_mutex_unlock(&p->lock);
	return c;
}

/* Push a connection back, or free it when the pool is full. */
void net_pool_give(struct net_pool *p, void *conn)
{
	pthread_mutex_lock(&p->lock);
	if (p->n < NET_POOL_MAX) {
		p->idle[p->n++] = conn;
		conn = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (conn)
		p->destroy(conn);
}

/* Free all idle connections. */
void net_pool_drain(struct net_pool *p)
{
	void *c;
	while ((c = net_pool_take(p)))
		p->destroy(c);
	pthread_mutex_destroy(&p->lock);
}
