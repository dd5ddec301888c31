/* pam_twostep.so entry points. Every pam_sm_* here forwards to Swift or
   returns what pam_google_authenticator returns; exports.map keeps
   everything else private. */
#define PAM_SM_AUTH
#include <stdlib.h>
#include <string.h>
#include "CPAMShim.h"

/* Implemented in Swift (PAMTwoStep, @_cdecl); resolved when the .so links. */
extern int twostep_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv);

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
