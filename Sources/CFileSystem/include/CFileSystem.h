#ifndef CFILESYSTEM_H
#define CFILESYSTEM_H

/// Renames `from` to `to` in one atomic step (Linux renameat2): with `exchange` 0 only when `to`
/// does not exist (RENAME_NOREPLACE), with `exchange` 1 swapping two existing paths
/// (RENAME_EXCHANGE). Returns 0, or -1 with errno set (ENOSYS where the system has no renameat2).
int cfilesystem_rename_atomic(const char *from, const char *to, int exchange);

#endif
