#ifndef TWOSTEP_CPAMSHIM_H
#define TWOSTEP_CPAMSHIM_H
/* The C side of pam_twostep.so: libpam's headers for Swift, and
   non-variadic wrappers for libpam helpers Swift cannot call directly.
   No policy here: PAMTwoStep (Swift) decides everything. */
#include <pwd.h>
#include <stddef.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>

/* pam_prompt with echo on or off. The answer is copied into `out` (at most
   outlen-1 bytes, NUL-terminated) and libpam's copy is cleansed and freed.
   Returns PAM_CONV_ERR when there is no answer, PAM_BUF_ERR when it is
   longer than the buffer. */
int twostep_prompt(pam_handle_t *pamh, int echo, const char *text, char *out, size_t outlen);

/* pam_info / pam_error / pam_syslog with a plain message. */
int twostep_info(pam_handle_t *pamh, const char *text);
int twostep_error(pam_handle_t *pamh, const char *text);
void twostep_syslog(pam_handle_t *pamh, int priority, const char *text);

/* The PAM_AUTHTOK item, for forward_pass. */
int twostep_set_authtok(pam_handle_t *pamh, const char *password);
/* The account of `user` (the name as typed) as looked up earlier on this
   handle (pam_get_data, kept until pam_end): 1 with *found, *uid, *gid,
   *name (the account's own pw_name) and *home (valid until the next put or
   pam_end) when `user` was looked up, 0 when not. */
int twostep_account_get(pam_handle_t *pamh, const char *user, int *found, uid_t *uid, gid_t *gid,
                        const char **name, const char **home);
/* Remembers a lookup of `user` on the handle (found: 0 for "no such user";
   name and home are ignored then), replacing any earlier one. PAM_SUCCESS or
   PAM_BUF_ERR/PAM_SYSTEM_ERR. */
int twostep_account_put(pam_handle_t *pamh, const char *user, int found, uid_t uid, gid_t gid,
                        const char *name, const char *home);
#endif
