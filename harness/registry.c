/*
 * registry.c - the one explicit list of approaches (convention 1).
 * Adding an approach: declare its ops here, list it, link its library in
 * harness/CMakeLists.txt.
 */
#include <string.h>

#include "approach.h"

extern const struct approach_ops memory_ops, disk_ops, uffd_ops, delta_ops, fuse_ops, nbd_ops;

const struct approach_ops *const approach_registry[] = {
	&memory_ops,
	&disk_ops,
	&uffd_ops,
	&delta_ops,
	&fuse_ops,
	&nbd_ops,
	NULL,
};

/* Find an approach by name. */
const struct approach_ops *approach_find(const char *name)
{
	for (int i = 0; approach_registry[i]; i++)
		if (!strcmp(approach_registry[i]->name, name))
			return approach_registry[i];
	return NULL;
}
