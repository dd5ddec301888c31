/*
 * pamdriver — a scripted PAM client for twostep's integration tests.
 *
 * Runs pam_start / pam_authenticate [/ pam_acct_mgmt] / pam_end against a
 * real libpam and answers the conversation from --answer arguments, in
 * order. Every message the modules send is printed to stdout, one line each:
 *
 *     PROMPT_ECHO_OFF: Verification code:
 *     PROMPT_ECHO_ON: Don't ask for codes on this device for 30 days? [y/N]
 *     INFO: 9 backup codes left
 *     ERROR: ...
 *     RESULT: PAM_SUCCESS
 *
 * (the text after "KIND: " is the module's message verbatim, trailing
 * spaces kept). When the answers run out, the conversation returns
 * PAM_CONV_ERR (the line "CONV: out of answers" is printed).
 * Exit status: 0 when every pam_authenticate (and --acct) result equals
 * --expect (default PAM_SUCCESS), 1 otherwise, 2 on a usage error.
 *
 * Build:  cc -O2 -Wall -Wextra -o pamdriver pamdriver.c -lpam -lpthread
 *
 * Usage:
 *   pamdriver --service NAME [--user NAME] [--rhost HOST] [--ruser NAME]
 *             [--tty TTY] [--env NAME=VALUE]... [--answer TEXT]...
 *             [--confdir DIR] [--cycles N] [--threads T] [--reuse]
 *             [--acct] [--silent] [--quiet] [--timing] [--no-delay]
 *             [--expect PAM_XXX]
 *
 *   --service    PAM service name (file /etc/pam.d/NAME, or DIR/NAME with
 *                --confdir or pam_wrapper)
 *   --user       PAM_USER given to pam_start; omit it to let the stack ask
 *   --rhost/--ruser/--tty  set PAM_RHOST / PAM_RUSER / PAM_TTY
 *   --env        pam_putenv("NAME=VALUE") before authenticating, e.g.
 *                --env 'SSH_AUTH_INFO_0=publickey ssh-ed25519 AAAA...'
 *   --answer     next answer for a PROMPT_ECHO_OFF/ON message (repeatable);
 *                the script restarts from the first answer every cycle.
 *                An answer "@cmd:COMMAND" is computed when its prompt comes:
 *                the first line COMMAND (sh -c) prints, e.g. a code a
 *                channel plugin has just written to a spool file
 *   --confdir    use pam_start_confdir(DIR) (Linux-PAM >= 1.4) instead of
 *                /etc/pam.d — no root, no pam_wrapper needed
 *   --cycles N   repeat start/authenticate/end N times (default 1)
 *   --threads T  run T threads, each doing N cycles (default 1)
 *   --reuse      one handle per thread: pam_start once, N pam_authenticate
 *   --next-user NAME  with --reuse: before cycle k+1, PAM_USER is set to
 *                the k-th NAME given (repeatable), as a stack module may
 *                calls, pam_end once
 *   --acct       also run pam_acct_mgmt after a successful authenticate
 *                (printed as "ACCT: PAM_XXX")
 *   --silent     pass PAM_SILENT to pam_authenticate
 *   --quiet      do not print conversation lines (RESULT lines only)
 *   --timing     print "TIME_US: N" (pam_authenticate wall time) per cycle
 *   --no-delay   set the PAM_FAIL_DELAY item to a callback that does not
 *                sleep: a module's pam_fail_delay() request (libpam's
 *                randomised value) is printed as "FAIL_DELAY: N" (µs)
 *                instead of being waited for
 *   --expect X   result that counts as success for the exit status
 *   --session    after a successful authenticate: pam_open_session
 *                ("SESSION: PAM_XXX"), then --session-cmd, then
 *                pam_close_session ("CLOSE: PAM_XXX"); the PAM environment's
 *                TWOSTEP_* variables are printed ("PAMENV: NAME=VALUE")
 *                after authenticate and after pam_open_session
 *   --session-only  pam_open_session/pam_close_session with no authenticate
 *                (the PAM environment as --env set it)
 *   --session-cmd CMD  run between opening and closing the session (sh -c),
 *                in this process's audit session
 *
 * Service files and module paths.
 *  - Real /etc/pam.d/NAME: module names without a slash are looked up in
 *    libpam's compiled-in directory (/lib/x86_64-linux-gnu/security/ on
 *    Debian); absolute paths are used as they are.
 *  - --confdir DIR: pam_start_confdir reads DIR/NAME only (no fallback to
 *    /etc/pam.d, no "other"); module paths resolve exactly as above, so a
 *    module under test is named by its absolute path.
 *  - pam_wrapper (LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1
 *    PAM_WRAPPER_SERVICE_DIR=DIR): pam_wrapper wraps pam_start and, on
 *    Linux-PAM >= 1.4, calls pam_start_confdir with a private temporary copy
 *    of DIR (/tmp/pam.X, X one of 62 characters; removed at exit unless
 *    PAM_WRAPPER_KEEP_DIR=1 or the process is killed). Add a file "other"
 *    to DIR, or every pam_start logs "no default config other" to stderr. The service files are copied as they are:
 *    module paths are NOT rewritten, so relative names
 *    ("pam_permit.so") still load from the system security directory and a
 *    module under test must be given by its absolute path (as pam_wrapper(1)
 *    says). Module log messages go to pam_wrapper's own logger instead of
 *    syslog unless PAM_WRAPPER_USE_SYSLOG=1; PAM_WRAPPER_DEBUGLEVEL=3 shows
 *    them on stderr. Do not combine --confdir with pam_wrapper.
 */
#define _GNU_SOURCE
#include <security/pam_appl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct options {
    const char *service;
    const char *user;
    const char *rhost;
    const char *ruser;
    const char *tty;
    const char *confdir;
    const char **env;
    int nenv;
    const char **answers;
    int nanswers;
    int cycles;
    int threads;
    int reuse;
    const char **next_users;
    int nnext_users;
    int acct;
    int silent;
    int quiet;
    int timing;
    int no_delay;
    int expect;
    int session;
    int session_only;
    const char *session_cmd;
};

static struct options opt;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Per-conversation state: where we are in the answer script. */
struct conv_state {
    int next_answer;
};

static const struct { int code; const char *name; } pam_names[] = {
    { PAM_SUCCESS, "PAM_SUCCESS" },
    { PAM_OPEN_ERR, "PAM_OPEN_ERR" },
    { PAM_SYMBOL_ERR, "PAM_SYMBOL_ERR" },
    { PAM_SERVICE_ERR, "PAM_SERVICE_ERR" },
    { PAM_SYSTEM_ERR, "PAM_SYSTEM_ERR" },
    { PAM_BUF_ERR, "PAM_BUF_ERR" },
    { PAM_PERM_DENIED, "PAM_PERM_DENIED" },
    { PAM_AUTH_ERR, "PAM_AUTH_ERR" },
    { PAM_CRED_INSUFFICIENT, "PAM_CRED_INSUFFICIENT" },
    { PAM_AUTHINFO_UNAVAIL, "PAM_AUTHINFO_UNAVAIL" },
    { PAM_USER_UNKNOWN, "PAM_USER_UNKNOWN" },
    { PAM_MAXTRIES, "PAM_MAXTRIES" },
    { PAM_NEW_AUTHTOK_REQD, "PAM_NEW_AUTHTOK_REQD" },
    { PAM_ACCT_EXPIRED, "PAM_ACCT_EXPIRED" },
    { PAM_SESSION_ERR, "PAM_SESSION_ERR" },
    { PAM_CRED_UNAVAIL, "PAM_CRED_UNAVAIL" },
    { PAM_CRED_EXPIRED, "PAM_CRED_EXPIRED" },
    { PAM_CRED_ERR, "PAM_CRED_ERR" },
    { PAM_NO_MODULE_DATA, "PAM_NO_MODULE_DATA" },
    { PAM_CONV_ERR, "PAM_CONV_ERR" },
    { PAM_AUTHTOK_ERR, "PAM_AUTHTOK_ERR" },
    { PAM_AUTHTOK_RECOVERY_ERR, "PAM_AUTHTOK_RECOVERY_ERR" },
    { PAM_AUTHTOK_LOCK_BUSY, "PAM_AUTHTOK_LOCK_BUSY" },
    { PAM_AUTHTOK_DISABLE_AGING, "PAM_AUTHTOK_DISABLE_AGING" },
    { PAM_TRY_AGAIN, "PAM_TRY_AGAIN" },
    { PAM_IGNORE, "PAM_IGNORE" },
    { PAM_ABORT, "PAM_ABORT" },
    { PAM_AUTHTOK_EXPIRED, "PAM_AUTHTOK_EXPIRED" },
    { PAM_MODULE_UNKNOWN, "PAM_MODULE_UNKNOWN" },
    { PAM_BAD_ITEM, "PAM_BAD_ITEM" },
    { PAM_CONV_AGAIN, "PAM_CONV_AGAIN" },
    { PAM_INCOMPLETE, "PAM_INCOMPLETE" },
};

static const char *pam_name(int code) {
    for (size_t i = 0; i < sizeof pam_names / sizeof pam_names[0]; i++)
        if (pam_names[i].code == code)
            return pam_names[i].name;
    return "PAM_UNKNOWN_CODE";
}

static int pam_code(const char *name) {
    for (size_t i = 0; i < sizeof pam_names / sizeof pam_names[0]; i++)
        if (strcmp(pam_names[i].name, name) == 0)
            return pam_names[i].code;
    return -1;
}

static void out_line(const char *kind, const char *text) {
    pthread_mutex_lock(&out_lock);
    printf("%s: %s\n", kind, text ? text : "");
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void free_responses(struct pam_response *r, int n) {
    if (r == NULL)
        return;
    for (int i = 0; i < n; i++) {
        if (r[i].resp != NULL) {
            memset(r[i].resp, 0, strlen(r[i].resp));
            free(r[i].resp);
        }
    }
    free(r);
}

/* --answer @cmd:COMMAND: the first line COMMAND prints, run when the
 * prompt comes (the answer depends on what the module did before it).
 * Any other answer is used as it is. Returns a malloc'd string. */
static char *answer_text(const char *answer) {
    if (strncmp(answer, "@cmd:", 5) != 0)
        return strdup(answer);
    fflush(stdout);
    FILE *p = popen(answer + 5, "r");
    if (p == NULL)
        return strdup("");
    char line[1024] = "";
    if (fgets(line, sizeof line, p) == NULL)
        line[0] = '\0';
    pclose(p);
    line[strcspn(line, "\r\n")] = '\0';
    return strdup(line);
}

static int conversation(int n, const struct pam_message **msg,
                        struct pam_response **resp, void *data) {
    struct conv_state *st = data;
    if (n <= 0 || n > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    struct pam_response *r = calloc((size_t)n, sizeof *r);
    if (r == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        /* Linux-PAM passes an array of pointers (msg[i]), not a pointer
         * to an array; the two agree for n == 1. */
        const struct pam_message *m = msg[i];
        const char *kind;
        int wants_answer = 0;
        switch (m->msg_style) {
        case PAM_PROMPT_ECHO_OFF: kind = "PROMPT_ECHO_OFF"; wants_answer = 1; break;
        case PAM_PROMPT_ECHO_ON:  kind = "PROMPT_ECHO_ON";  wants_answer = 1; break;
        case PAM_ERROR_MSG:       kind = "ERROR"; break;
        case PAM_TEXT_INFO:       kind = "INFO"; break;
        default:
            if (!opt.quiet)
                out_line("UNSUPPORTED", m->msg);
            free_responses(r, n);
            return PAM_CONV_ERR;
        }
        if (!opt.quiet)
            out_line(kind, m->msg);
        if (!wants_answer)
            continue;
        if (st->next_answer >= opt.nanswers) {
            if (!opt.quiet)
                out_line("CONV", "out of answers");
            free_responses(r, n);
            return PAM_CONV_ERR;
        }
        r[i].resp = answer_text(opt.answers[st->next_answer++]);
        if (r[i].resp == NULL) {
            free_responses(r, n);
            return PAM_BUF_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

/* --no-delay: libpam calls this instead of sleeping after a failure
 * (PAM_FAIL_DELAY item). usec is the randomised delay libpam computed
 * from the largest pam_fail_delay() request; 0 when none was made. */
static void no_delay(int retval, unsigned usec, void *appdata) {
    (void)retval;
    (void)appdata;
    if (!opt.quiet && usec > 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%u", usec);
        out_line("FAIL_DELAY", buf);
    }
}

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Returns 0 when the handle is set up, else prints the error and returns -1. */
static int start_handle(struct conv_state *st, pam_handle_t **ph) {
    struct pam_conv conv = { conversation, st };
    int rc;
    if (opt.confdir != NULL)
        rc = pam_start_confdir(opt.service, opt.user, &conv, opt.confdir, ph);
    else
        rc = pam_start(opt.service, opt.user, &conv, ph);
    if (rc != PAM_SUCCESS) {
        char buf[128];
        snprintf(buf, sizeof buf, "pam_start %s", pam_name(rc));
        out_line("ERROR_DRIVER", buf);
        *ph = NULL;
        return -1;
    }
    if (opt.rhost) pam_set_item(*ph, PAM_RHOST, opt.rhost);
    if (opt.ruser) pam_set_item(*ph, PAM_RUSER, opt.ruser);
    if (opt.tty) pam_set_item(*ph, PAM_TTY, opt.tty);
    if (opt.no_delay) {
        /* The item is a function pointer passed as const void *. */
        void (*fn)(int, unsigned, void *) = no_delay;
        const void *item;
        memcpy(&item, &fn, sizeof item);
        rc = pam_set_item(*ph, PAM_FAIL_DELAY, item);
        if (rc != PAM_SUCCESS) {
            char buf[128];
            snprintf(buf, sizeof buf, "pam_set_item PAM_FAIL_DELAY %s", pam_name(rc));
            out_line("ERROR_DRIVER", buf);
            pam_end(*ph, rc);
            *ph = NULL;
            return -1;
        }
    }
    for (int i = 0; i < opt.nenv; i++) {
        rc = pam_putenv(*ph, opt.env[i]);
        if (rc != PAM_SUCCESS) {
            char buf[128];
            snprintf(buf, sizeof buf, "pam_putenv %s", pam_name(rc));
            out_line("ERROR_DRIVER", buf);
            pam_end(*ph, rc);
            *ph = NULL;
            return -1;
        }
    }
    return 0;
}

/* Prints the PAM environment's TWOSTEP_* variables. */
static void print_twostep_env(pam_handle_t *ph) {
    char **env = pam_getenvlist(ph);
    if (env == NULL) return;
    for (char **e = env; *e; e++) {
        if (strncmp(*e, "TWOSTEP_", 8) == 0) out_line("PAMENV", *e);
        free(*e);
    }
    free(env);
}

/* --session: open the session, run --session-cmd, close it. Returns 1
 * when both calls succeeded. */
static int session_once(pam_handle_t *ph) {
    int rc = pam_open_session(ph, 0);
    out_line("SESSION", pam_name(rc));
    print_twostep_env(ph);
    if (opt.session_cmd) {
        fflush(stdout);
        int status = system(opt.session_cmd);
        char buf[32];
        snprintf(buf, sizeof buf, "%d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        out_line("CMD", buf);
    }
    int crc = pam_close_session(ph, 0);
    out_line("CLOSE", pam_name(crc));
    return rc == PAM_SUCCESS && crc == PAM_SUCCESS;
}

/* One authentication on an existing handle. Returns 1 when it matched
 * --expect, 0 otherwise. */
static int authenticate_once(pam_handle_t *ph, struct conv_state *st, int *last_rc) {
    st->next_answer = 0;
    if (opt.session_only) {
        *last_rc = PAM_SUCCESS;
        session_once(ph);
        return 1;
    }
    long long t0 = now_us();
    int rc = pam_authenticate(ph, opt.silent ? PAM_SILENT : 0);
    long long t1 = now_us();
    *last_rc = rc;
    if (opt.timing) {
        char buf[64];
        snprintf(buf, sizeof buf, "%lld", t1 - t0);
        out_line("TIME_US", buf);
    }
    out_line("RESULT", pam_name(rc));
    int ok = (rc == opt.expect);
    if (opt.acct && rc == PAM_SUCCESS) {
        int arc = pam_acct_mgmt(ph, opt.silent ? PAM_SILENT : 0);
        out_line("ACCT", pam_name(arc));
        if (arc != PAM_SUCCESS)
            ok = 0;
    }
    if (opt.session && rc == PAM_SUCCESS) {
        print_twostep_env(ph);
        session_once(ph);
    }
    return ok;
}

static void *worker(void *arg) {
    long failures = 0;
    struct conv_state st = { 0 };
    pam_handle_t *ph = NULL;
    int rc = PAM_SUCCESS;
    (void)arg;
    if (opt.reuse) {
        if (start_handle(&st, &ph) != 0)
            return (void *)(long)opt.cycles;
        for (int c = 0; c < opt.cycles; c++) {
            if (c > 0 && c <= opt.nnext_users) {
                out_line("USER", opt.next_users[c - 1]);
                pam_set_item(ph, PAM_USER, opt.next_users[c - 1]);
            }
            if (!authenticate_once(ph, &st, &rc))
                failures++;
        }
        pam_end(ph, rc);
    } else {
        for (int c = 0; c < opt.cycles; c++) {
            if (start_handle(&st, &ph) != 0) {
                failures++;
                continue;
            }
            if (!authenticate_once(ph, &st, &rc))
                failures++;
            pam_end(ph, rc);
        }
    }
    return (void *)failures;
}

static void usage(void) {
    fprintf(stderr,
            "usage: pamdriver --service NAME [--user NAME] [--rhost HOST] [--ruser NAME]\n"
            "                 [--tty TTY] [--env NAME=VALUE]... [--answer TEXT]...\n"
            "                 [--confdir DIR] [--cycles N] [--threads T] [--reuse [--next-user NAME]...]\n"
            "                 [--acct] [--silent] [--quiet] [--timing] [--no-delay]\n"
            "                 [--expect PAM_XXX] [--session|--session-only] [--session-cmd CMD]\n");
    exit(2);
}

int main(int argc, char **argv) {
    opt.cycles = 1;
    opt.threads = 1;
    opt.expect = PAM_SUCCESS;
    opt.env = calloc((size_t)argc, sizeof *opt.env);
    opt.answers = calloc((size_t)argc, sizeof *opt.answers);
    opt.next_users = calloc((size_t)argc, sizeof *opt.next_users);
    if (opt.env == NULL || opt.answers == NULL || opt.next_users == NULL)
        return 2;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (usage(), (char *)NULL))
        if (strcmp(a, "--service") == 0) opt.service = NEXT();
        else if (strcmp(a, "--user") == 0) opt.user = NEXT();
        else if (strcmp(a, "--rhost") == 0) opt.rhost = NEXT();
        else if (strcmp(a, "--ruser") == 0) opt.ruser = NEXT();
        else if (strcmp(a, "--tty") == 0) opt.tty = NEXT();
        else if (strcmp(a, "--confdir") == 0) opt.confdir = NEXT();
        else if (strcmp(a, "--env") == 0) opt.env[opt.nenv++] = NEXT();
        else if (strcmp(a, "--answer") == 0) opt.answers[opt.nanswers++] = NEXT();
        else if (strcmp(a, "--cycles") == 0) opt.cycles = atoi(NEXT());
        else if (strcmp(a, "--threads") == 0) opt.threads = atoi(NEXT());
        else if (strcmp(a, "--reuse") == 0) opt.reuse = 1;
        else if (strcmp(a, "--next-user") == 0) opt.next_users[opt.nnext_users++] = NEXT();
        else if (strcmp(a, "--acct") == 0) opt.acct = 1;
        else if (strcmp(a, "--silent") == 0) opt.silent = 1;
        else if (strcmp(a, "--quiet") == 0) opt.quiet = 1;
        else if (strcmp(a, "--timing") == 0) opt.timing = 1;
        else if (strcmp(a, "--no-delay") == 0) opt.no_delay = 1;
        else if (strcmp(a, "--session") == 0) opt.session = 1;
        else if (strcmp(a, "--session-only") == 0) opt.session_only = 1;
        else if (strcmp(a, "--session-cmd") == 0) opt.session_cmd = NEXT();
        else if (strcmp(a, "--expect") == 0) {
            opt.expect = pam_code(NEXT());
            if (opt.expect < 0) usage();
        }
        else usage();
#undef NEXT
    }
    if (opt.service == NULL || opt.cycles < 1 || opt.threads < 1)
        usage();

    long failures = 0;
    if (opt.threads == 1) {
        failures = (long)worker(NULL);
    } else {
        pthread_t *t = calloc((size_t)opt.threads, sizeof *t);
        if (t == NULL)
            return 2;
        for (int i = 0; i < opt.threads; i++)
            if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
                fprintf(stderr, "pamdriver: pthread_create failed\n");
                return 2;
            }
        for (int i = 0; i < opt.threads; i++) {
            void *r;
            pthread_join(t[i], &r);
            failures += (long)r;
        }
        free(t);
    }
    if (opt.threads > 1 || opt.cycles > 1) {
        char buf[96];
        long total = (long)opt.threads * opt.cycles;
        snprintf(buf, sizeof buf, "%ld of %ld as expected", total - failures, total);
        out_line("SUMMARY", buf);
    }
    free(opt.env);
    free(opt.answers);
    return failures == 0 ? 0 : 1;
}
