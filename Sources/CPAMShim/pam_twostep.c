/* pam_twostep.so entry points. Every pam_sm_* here forwards to Swift or
   returns what pam_google_authenticator returns; exports.map keeps
   everything else private. */
#define PAM_SM_AUTH
#define PAM_SM_SESSION
#include <stdlib.h>
#include <string.h>
#include "CPAMShim.h"

/* Implemented in Swift (PAMTwoStep, @_cdecl); resolved when the .so links. */
extern int twostep_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv);
extern int twostep_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv);
extern int twostep_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv);

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    int rc = twostep_authenticate(pamh, flags, argc, argv);
    /* Fail closed: only these results can leave the module. */
    switch (rc) {
    case PAM_SUCCESS: case PAM_IGNORE: case PAM_AUTH_ERR: case PAM_MAXTRIES:
    case PAM_SERVICE_ERR: case PAM_AUTHINFO_UNAVAIL: case PAM_CONV_ERR: case PAM_USER_UNKNOWN:
        return rc;
    default:
        return PAM_AUTH_ERR;
    }
}

/* The session stack (SPEC §12): a login that passed the second step on a
   remember_session line becomes a session record. Never stops a session:
   only PAM_SUCCESS or PAM_IGNORE leave. */
PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    return twostep_open_session(pamh, flags, argc, argv) == PAM_SUCCESS ? PAM_SUCCESS : PAM_IGNORE;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    return twostep_close_session(pamh, flags, argc, argv) == PAM_SUCCESS ? PAM_SUCCESS : PAM_IGNORE;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}

int twostep_prompt(pam_handle_t *pamh, int echo, const char *text, char *out, size_t outlen) {
    char *response = NULL;
    int rc = pam_prompt(pamh, echo ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, &response, "%s", text);
    if (outlen > 0) out[0] = '\0';
    if (rc != PAM_SUCCESS) {
        if (response) { explicit_bzero(response, strlen(response)); free(response); }
        return rc;
    }
    if (response == NULL) return PAM_CONV_ERR;
    size_t n = strlen(response);
    if (n >= outlen) rc = PAM_BUF_ERR;
    else memcpy(out, response, n + 1);
    explicit_bzero(response, n);
    free(response);
    return rc;
}

int twostep_info(pam_handle_t *pamh, const char *text) { return pam_info(pamh, "%s", text); }
int twostep_error(pam_handle_t *pamh, const char *text) { return pam_error(pamh, "%s", text); }
void twostep_syslog(pam_handle_t *pamh, int priority, const char *text) { pam_syslog(pamh, priority, "%s", text); }

int twostep_set_authtok(pam_handle_t *pamh, const char *password) {
    return pam_set_item(pamh, PAM_AUTHTOK, password);
}

/* One remembered account lookup: the name as typed (the key), the
   account's own name (pw_name) and the home directory follow the struct,
   each NUL-terminated. */
struct twostep_account {
    uid_t uid;
    gid_t gid;
    int found;
    size_t user_length;
    size_t name_length;
    char names[];
};

static const char account_key[] = "pam_twostep_account";

static void free_account(pam_handle_t *pamh, void *data, int error_status) {
    (void)pamh; (void)error_status;
    free(data);
}

int twostep_account_get(pam_handle_t *pamh, const char *user, int *found, uid_t *uid, gid_t *gid,
                        const char **name, const char **home) {
    const void *data = NULL;
    if (pam_get_data(pamh, account_key, &data) != PAM_SUCCESS || data == NULL) return 0;
    const struct twostep_account *a = data;
    if (strcmp(a->names, user) != 0) return 0;
    *found = a->found;
    *uid = a->uid;
    *gid = a->gid;
    *name = a->names + a->user_length + 1;
    *home = a->names + a->user_length + 1 + a->name_length + 1;
    return 1;
}

int twostep_account_put(pam_handle_t *pamh, const char *user, int found, uid_t uid, gid_t gid,
                        const char *name, const char *home) {
    size_t user_length = strlen(user);
    size_t name_length = found ? strlen(name) : 0, home_length = found ? strlen(home) : 0;
    struct twostep_account *a = calloc(1, sizeof *a + user_length + name_length + home_length + 3);
    if (a == NULL) return PAM_BUF_ERR;
    a->uid = uid;
    a->gid = gid;
    a->found = found;
    a->user_length = user_length;
    a->name_length = name_length;
    memcpy(a->names, user, user_length);
    if (found) {
        memcpy(a->names + user_length + 1, name, name_length);
        memcpy(a->names + user_length + 1 + name_length + 1, home, home_length);
    }
    int rc = pam_set_data(pamh, account_key, a, free_account);
    if (rc != PAM_SUCCESS) free(a);
    return rc;
}

/* The Swift runtime's hook for CommandLine.arguments, defined here so that
   the linker leaves out the static runtime's own (CommandLine.cpp.o): its
   constructor finds a program's argv by reading /proc/self/maps, in every
   process that loads the module (about 0.19 M instructions and a dozen
   system calls before any login; BENCHMARKS.md). A PAM module has no
   command line of its own: CommandLine.arguments is empty here. */
char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen);
char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen) {
    static char *no_arguments[] = { NULL };
    *outArgLen = 0;
    return no_arguments;
}
