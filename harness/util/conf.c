/* conf.c - line-oriented `key = value` parser with file:line errors. */
#include "conf.h"

#include "build_info.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strip leading and trailing whitespace in place; return the start. */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Record "name:line: msg". */
int conf_error(const struct conf *c, const struct conf_entry *ent, struct err *e, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(e, "%s:%d: %s", c->path, ent ? ent->line : 0, msg);
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when it is not valid UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Fail with "name:line: binary data ..." at the first byte that is no text
 * (a control character other than tab and CR, or invalid UTF-8). */
static int check_text(const char *name, const char *text, size_t len, struct err *e)
{
	const unsigned char *s = (const unsigned char *)text;
	int line = 1, col = 1;
	for (size_t i = 0; i < len; i++, col++) {
		size_t u = s[i] < 0x80 ? 1 : utf8_len(s + i, len - i);
		if (s[i] == '\n') {
			line++, col = 0;
			continue;
		}
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\r') || s[i] == 0x7f || !u)
			return err_set(e, "%s:%d: binary data (byte 0x%02x in column %d): not a text file", name, line,
				       s[i], col);
		i += u - 1;
	}
	return 0;
}

/* Parse text line by line into c. */
int conf_parse(struct conf *c, const char *name, const char *text, struct err *e)
{
	memset(c, 0, sizeof *c);
	if (check_text(name, text, strlen(text), e))
		return -1;
	snprintf(c->path, sizeof c->path, "%s", name);
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		lineno++;
		if (len >= sizeof line)
			return err_set(e, "%s:%d: line too long (max %zu characters)", name, lineno, sizeof line - 1);
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			return err_set(e, "%s:%d: expected 'key = value', got '%s'", name, lineno, s);
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		if (!*key)
			return err_set(e, "%s:%d: missing key before '='", name, lineno);
		for (char *k = key; *k; k++)
			if (!(islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_' || *k == '-'))
				return err_set(e, "%s:%d: bad key '%s' (use a-z, 0-9, '_', '-')", name, lineno, key);
		if (!*val)
			return err_set(e, "%s:%d: missing value for '%s'", name, lineno, key);
		if (strlen(key) >= sizeof c->e[0].key || strlen(val) >= sizeof c->e[0].value)
			return err_set(e, "%s:%d: key or value too long", name, lineno);
		for (int i = 0; i < c->n; i++)
			if (!strcmp(c->e[i].key, key))
				return err_set(e, "%s:%d: '%s' given twice (first on line %d)", name, lineno, key, c->e[i].line);
		if (c->n >= CONF_MAX_ENTRIES)
			return err_set(e, "%s:%d: too many entries (max %d)", name, lineno, CONF_MAX_ENTRIES);
		struct conf_entry *ent = &c->e[c->n++];
		snprintf(ent->key, sizeof ent->key, "%s", key);
		snprintf(ent->value, sizeof ent->value, "%s", val);
		ent->line = lineno;
	}
	return 0;
}

/* Read the whole file and parse it. */
int conf_load(struct conf *c, const char *path, struct err *e)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return err_errno(e, errno, "cannot open %s", path);
	char buf[32768];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	int toobig = !feof(f);
	fclose(f);
	if (toobig)
		return err_set(e, "%s: file too large (max %zu bytes)", path, sizeof buf - 1);
	buf[n] = '\0';
	if (check_text(path, buf, n, e))
		return -1;
	return conf_parse(c, path, buf, e);
}

/* Lookup by key. */
const struct conf_entry *conf_get(const struct conf *c, const char *key)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].key, key))
			return &c->e[i];
	return NULL;
}

/* Reject keys outside the known list. */
int conf_check_keys(const struct conf *c, const char *const *known, struct err *e)
{
	for (int i = 0; i < c->n; i++) {
		int ok = 0;
		for (const char *const *k = known; *k; k++)
			if (!strcmp(*k, c->e[i].key))
				ok = 1;
		if (!ok) {
			char list[300] = "";
			for (const char *const *k = known; *k; k++) {
				if (list[0])
					strncat(list, ", ", sizeof list - strlen(list) - 1);
				strncat(list, *k, sizeof list - strlen(list) - 1);
			}
			return conf_error(c, &c->e[i], e, "unknown key '%s' (known: %s)", c->e[i].key, list);
		}
	}
	return 0;
}

/* $MEMSYNC_SRC, else the configured source directory. */
const char *memsync_source_dir(void)
{
	const char *s = getenv("MEMSYNC_SRC");
	return s && *s ? s : MEMSYNC_SOURCE_DIR;
}

/* Name -> <src>/<subdir>/<name>.conf; paths pass through. */
void conf_resolve(const char *subdir, const char *name_or_path, char *out, size_t len)
{
	size_t n = strlen(name_or_path);
	if (strchr(name_or_path, '/') || (n > 5 && !strcmp(name_or_path + n - 5, ".conf")))
		snprintf(out, len, "%s", name_or_path);
	else
		snprintf(out, len, "%s/%s/%s.conf", memsync_source_dir(), subdir, name_or_path);
}

/* qsort comparator for names, numbers in natural order (rtt-2ms < rtt-10ms). */
static int cmp_names(const void *a, const void *b)
{
	return strverscmp(a, b);
}

/* Sorted names of *.conf files in a data directory. */
int conf_list(const char *subdir, char (*names)[64], int max, struct err *e)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/%s", memsync_source_dir(), subdir);
	DIR *d = opendir(dir);
	if (!d)
		return err_errno(e, errno, "cannot list %s", dir);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || l - 5 >= 64 || strcmp(de->d_name + l - 5, ".conf"))
			continue;
		if (n >= max) {
			closedir(d);
			return err_set(e, "more than %d data files in %s", max, dir);
		}
		memcpy(names[n], de->d_name, l - 5);
		names[n][l - 5] = '\0';
		n++;
	}
	closedir(d);
	qsort(names, (size_t)n, 64, cmp_names);
	return n;
}
