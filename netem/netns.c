/* netns.c - the two namespace helpers the drivers share: a named namespace's path, and running code inside it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "netem/driver.h"

/* "/run/netns/<netns>". */
void netns_path(const char *netns, char *buf, size_t len)
{
	snprintf(buf, len, NETNS_DIR "/%s", netns);
}

/* Enter netns, run fn, come back. */
int netns_run(const char *netns, int (*fn)(void *arg), void *arg, struct err *e)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return err_errno(e, errno, "open /proc/thread-self/ns/net");
	char path[128];
	netns_path(netns, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		close(self);
		return err_errno(e, errno, "open %s", path);
	}
	if (setns(fd, CLONE_NEWNET)) {
		int er = errno;
		close(fd), close(self);
		return err_errno(e, er, "setns into %s", netns);
	}
	close(fd);
	int rc = fn(arg);
	if (setns(self, CLONE_NEWNET)) {
		close(self);
		return err_errno(e, errno, "setns back to the original namespace");
	}
	close(self);
	return rc;
}
