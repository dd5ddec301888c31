#ifndef TWOSTEP_CLINUX_H
#define TWOSTEP_CLINUX_H
/* Linux calls that Swift's Glibc module does not expose (they need
   _GNU_SOURCE or <sys/fsuid.h>). Thin wrappers, no policy. */
#include <sys/types.h>

/* setfsuid(2)/setfsgid(2): returns the previous value. */
int twostep_setfsuid(uid_t uid);
int twostep_setfsgid(gid_t gid);

/* renameat2(2) with RENAME_NOREPLACE: fails with EEXIST when newpath exists. */
int twostep_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/* fstatfs(2)'s f_type (the file system's magic number), or 0 on failure. */
unsigned long twostep_fs_type(int fd);
/* O_PATH (open a directory to use it as a dirfd with search permission only). */
int twostep_o_path(void);
#endif
