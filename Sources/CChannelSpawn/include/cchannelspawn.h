#ifndef TWOSTEP_CCHANNELSPAWN_H
#define TWOSTEP_CCHANNELSPAWN_H
/* Starting a channel plugin: posix_spawn with the file actions and
   attributes Swift cannot set portably. Thin wrapper, no policy: the
   checks, the time limit and the reaping are in TwoStepChannels (Swift). */
#include <signal.h>
#include <sys/types.h>

/* pipe2(fds, O_CLOEXEC). */
int twostep_pipe_cloexec(int fds[2]);

/* When SIGCHLD is ignored (children reaped by the kernel, exit status
   lost), saves the action in *saved, sets the default and returns 1 (the
   caller restores *saved with sigaction afterwards, as pam_unix does
   around its helper); otherwise returns 0 and changes nothing. */
int twostep_sigchld_unignore(struct sigaction *saved);

/* Spawns `path` with argv {path, NULL} and the environment `envp`:
   - stdin is /dev/null, stdout and stderr are `output_fd`;
   - every other descriptor is closed (closefrom 3);
   - the working directory is /;
   - the child leads a new process group (so the whole group can be killed);
   - the signal mask is empty and every signal has its default action
     (sshd ignores SIGPIPE; that must not leak into the plugin).
   posix_spawn (clone with CLONE_VFORK in glibc) is safe in a threaded
   process such as sshd. Returns 0 and sets *pid, or an errno value. */
int twostep_spawn_channel(const char *path, char *const envp[], int output_fd, pid_t *pid);

/* waitid(P_PID, pid, WEXITED|WNOHANG|WNOWAIT): 1 when the child has exited
   (it stays a zombie, so its pid and process group id cannot be reused
   until it is reaped), 0 when it is still running, -1 with errno. */
int twostep_child_exited(pid_t pid);
#endif
