#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include "cchannelspawn.h"

int twostep_spawn_channel(const char *path, char *const envp[], int output_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }

    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc == 0) rc = posix_spawn_file_actions_addchdir_np(&actions, "/");
    if (rc == 0) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &empty);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0) {
        char *argv[] = {(char *)path, NULL};
        rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int twostep_child_exited(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return -1;
    return info.si_pid == pid ? 1 : 0;
}

int twostep_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int twostep_sigchld_unignore(struct sigaction *saved) {
    if (sigaction(SIGCHLD, NULL, saved) != 0) return 0;
    if (saved->sa_handler != SIG_IGN && !(saved->sa_flags & SA_NOCLDWAIT)) return 0;
    struct sigaction standard;
    memset(&standard, 0, sizeof standard);
    standard.sa_handler = SIG_DFL;
    sigemptyset(&standard.sa_mask);
    return sigaction(SIGCHLD, &standard, NULL) == 0 ? 1 : 0;
}
