#define _GNU_SOURCE
#include "CFileSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int cfilesystem_rename_atomic(const char *from, const char *to, int exchange) {
#ifdef SYS_renameat2
  // RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2 (linux/fs.h); the raw system call, so that an old
  // glibc without the renameat2 wrapper still links.
  unsigned flags = exchange ? 2u : 1u;
  return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}
