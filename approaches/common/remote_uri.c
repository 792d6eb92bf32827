/*
 * remote_uri.c - build the libnbd URI for struct remote_opts' host, port,
 * socket, export and TLS fields (built with or without libnbd).
 */
#include <stdio.h>
#include <string.h>

#include "remote.h"

/* Append s to buf percent-encoded (keeping unreserved characters and '/'). */
static void uri_append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);
	for (; *s && n + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~/", ch))
			buf[n++] = (char)ch;
		else
			n += (size_t)snprintf(buf + n, cap - n, "%%%02X", ch);
	}
	buf[n] = '\0';
}

/* nbd[s][+unix]://[user@]host:port/export?socket=..&tls-psk-file=.. */
int remote_build_uri(const struct remote_opts *o, char *buf, size_t cap, struct err *e)
{
	int tls = o->tls_psk_file || o->tls_certificates;
	if (!o->host == !o->unix_path)
		return err_set(e, "remote: give either a host or a UNIX socket path");
	if (cap < 64)
		return err_set(e, "remote: URI buffer too small");
	snprintf(buf, cap, "nbd%s%s://", tls ? "s" : "", o->unix_path ? "+unix" : "");
	if (o->tls_psk_file && o->tls_username) {
		uri_append(buf, cap, o->tls_username);
		strncat(buf, "@", cap - strlen(buf) - 1);
	}
	if (o->host) {
		int v6 = strchr(o->host, ':') != NULL;
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s%s:%s", v6 ? "[" : "", o->host, v6 ? "]" : "",
			 o->port ? o->port : "10809");
	}
	strncat(buf, "/", cap - strlen(buf) - 1);
	if (o->export_name)
		uri_append(buf, cap, o->export_name);
	const char *sep = "?";
	if (o->unix_path) {
		strncat(buf, "?socket=", cap - strlen(buf) - 1);
		uri_append(buf, cap, o->unix_path);
		sep = "&";
	}
	if (o->tls_psk_file) {
		snprintf(buf + strlen(buf), cap - strlen(buf), "%stls-psk-file=", sep);
		uri_append(buf, cap, o->tls_psk_file);
		sep = "&";
	}
	if (o->tls_certificates) {
		snprintf(buf + strlen(buf), cap - strlen(buf), "%stls-certificates=", sep);
		uri_append(buf, cap, o->tls_certificates);
	}
	if (strlen(buf) + 8 >= cap)
		return err_set(e, "remote: URI too long");
	return 0;
}
