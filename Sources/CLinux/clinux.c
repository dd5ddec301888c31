#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/vfs.h>
#include "clinux.h"

int twostep_setfsuid(uid_t uid) { return setfsuid(uid); }
int twostep_setfsgid(gid_t gid) { return setfsgid(gid); }

int twostep_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

unsigned long twostep_fs_type(int fd) {
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 ? (unsigned long)fs.f_type : 0;
}

int twostep_o_path(void) { return O_PATH; }
