/*
 * io.h - descriptor helpers every layer needs: whole reads and writes,
 * passing a descriptor over a UNIX socket (SCM_RIGHTS), and opening a
 * userfaultfd the way this kernel allows.
 */
#ifndef MEMSYNC_IO_H
#define MEMSYNC_IO_H

#include <stddef.h>

/* Write all of len bytes (retrying short writes and EINTR; send() with
 * MSG_NOSIGNAL on sockets, write() otherwise); -1 with errno on error. */
int write_all(int fd, const void *buf, size_t len);
/* Read exactly len bytes; -1 on error, or on end of file with errno EPIPE. */
int read_all(int fd, void *buf, size_t len);
/* Send a payload of len bytes and, when fd >= 0, the descriptor fd. */
int send_fd(int sock, int fd, const void *data, size_t len);
/* Receive exactly len bytes of payload and an optional descriptor (*fd = -1
 * when none came); -1 on error or a short message. */
int recv_fd(int sock, int *fd, void *data, size_t len);
/* userfaultfd(O_CLOEXEC | O_NONBLOCK), user-mode faults only where the
 * kernel offers that (vm.unprivileged_userfaultfd = 0 refuses the rest to
 * unprivileged callers); -1 with errno on failure. */
int userfaultfd_open(void);

#endif
