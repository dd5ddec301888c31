/*
 * pambench — the timing half of `make bench` (bench/bench.py is the other
 * half: it sets up users, secret files and PAM stacks, runs this, and
 * prints the table and verdicts).
 *
 * One invocation runs N authentications of one kind against one PAM service
 * and prints one line per authentication:
 *
 *     SAMPLE <microseconds> <result> [<peak RSS KiB of the child>]
 *
 * then `DONE <as expected> <total>`. Exit 0 when every result was the
 * expected one, 1 otherwise, 2 on a usage error.
 *
 *   --mode reuse       one handle, N pam_authenticate calls (each timed)
 *   --mode fresh       pam_start + pam_authenticate + pam_end, timed together
 *   --mode process     a whole `pamtester SERVICE USER authenticate` process
 *                      (fork to wait4; the answer on its standard input;
 *                      ru_maxrss of the child is reported)
 *   --mode concurrent  T threads released together, each one fresh
 *                      authentication with its own answer (--answers-file,
 *                      line i for thread i); one SAMPLE per thread
 *
 * Answers: --answer TEXT (repeatable, used in order for the prompts);
 * `@totp` is replaced by the current RFC 6238 code of --secret (Base32,
 * SHA1, 6 digits, 30 s; computed here with libcrypto's HMAC, independently
 * of the modules, and recomputed for every authentication), `@wrong` by a
 * six-digit code that is none of the codes within +-3 steps of now.
 *
 * --restore DST=SRC (repeatable): before every authentication, outside the
 * timed region, DST is replaced by a copy of SRC (same owner and mode;
 * written, fsynced, renamed, directory fsynced, so that no journal work of
 * the restore is left for the timed region). This is how one right code
 * can be accepted again: the replay state (last step, used codes, rate
 * limit stamps, failure count) goes back to the pristine file.
 *
 * --env NAME=VALUE: put into the PAM environment of every handle (pam_putenv),
 * as sshd puts SSH_AUTH_INFO_0 (in-process modes only).
 *
 * --before CMD: like --restore, a shell command run before every
 * authentication, outside the timed region (bench/fleet.py puts a record
 * back in PostgreSQL with it). A command that fails stops the run (exit 2).
 *
 * PAM_FAIL_DELAY is set to a callback that does not sleep, so libpam's
 * failure delay is not part of any time (in-process modes; pamtester
 * processes are only run with right codes).
 *
 * Also: pambench --code BASE32 UNIXTIME prints the code (for cross-checking
 * the generator against oathtool).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ANSWERS 8
#define MAX_RESTORE 8
#define MAX_THREADS 256

static const char *service, *user, *confdir, *secret_b32, *rhost, *env, *pamtester = "/usr/bin/pamtester";
static const char *mode = "fresh", *answers_file;
static const char *answers[MAX_ANSWERS];
static int nanswers;
static const char *restore_dst[MAX_RESTORE], *restore_src[MAX_RESTORE];
static int nrestore;
static int iterations = 10, threads = 1, expect = PAM_SUCCESS;
static unsigned char secret[64];
static size_t secret_len;

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void die(const char *what) {
    fprintf(stderr, "pambench: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ---- codes ---------------------------------------------------------- */

static size_t base32_decode(const char *in, unsigned char *out, size_t max) {
    unsigned buffer = 0, bits = 0;
    size_t n = 0;
    for (; *in && *in != '='; in++) {
        int v;
        char c = *in;
        if (c >= 'a' && c <= 'z') c -= 32;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= '2' && c <= '7') v = c - '2' + 26;
        else continue;
        buffer = (buffer << 5) | (unsigned)v;
        bits += 5;
        if (bits >= 8) {
            if (n == max) return n;
            out[n++] = (unsigned char)(buffer >> (bits - 8));
            bits -= 8;
        }
    }
    return n;
}

static unsigned totp_at_step(unsigned long long step) {
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    for (int i = 7; i >= 0; i--) { msg[i] = (unsigned char)step; step >>= 8; }
    HMAC(EVP_sha1(), secret, (int)secret_len, msg, sizeof msg, mac, &maclen);
    int off = mac[maclen - 1] & 0x0f;
    unsigned bin = ((unsigned)(mac[off] & 0x7f) << 24) | ((unsigned)mac[off + 1] << 16)
                 | ((unsigned)mac[off + 2] << 8) | mac[off + 3];
    return bin % 1000000;
}

static void code_now(char out[7], int wrong) {
    unsigned long long step = (unsigned long long)time(NULL) / 30;
    unsigned code = totp_at_step(step);
    if (wrong) {
        unsigned near[7];
        for (int k = -3; k <= 3; k++) near[k + 3] = totp_at_step(step + (unsigned long long)k);
        code = (code + 500000) % 1000000;
        for (int again = 1; again;) {
            again = 0;
            for (int k = 0; k < 7; k++)
                if (near[k] == code) { code = (code + 1) % 1000000; again = 1; }
        }
    }
    snprintf(out, 7, "%06u", code);
}

/* The answers of one authentication, with @totp/@wrong filled in. */
struct script {
    char text[MAX_ANSWERS][128];
    int n, next;
};

static void make_script(struct script *s, const char *only) {
    s->next = 0;
    if (only) {
        snprintf(s->text[0], sizeof s->text[0], "%s", only);
        s->n = 1;
        for (int i = 1; i < nanswers && s->n < MAX_ANSWERS; i++)
            snprintf(s->text[s->n++], sizeof s->text[0], "%s", answers[i]);
        return;
    }
    s->n = nanswers;
    for (int i = 0; i < nanswers; i++) {
        if (strcmp(answers[i], "@totp") == 0) code_now(s->text[i], 0);
        else if (strcmp(answers[i], "@wrong") == 0) code_now(s->text[i], 1);
        else snprintf(s->text[i], sizeof s->text[i], "%s", answers[i]);
    }
}

/* ---- PAM ------------------------------------------------------------ */

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
    struct script *s = data;
    struct pam_response *r = calloc((size_t)n, sizeof *r);
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        int style = msg[i]->msg_style;
        if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) continue;
        if (s->next >= s->n) {
            for (int j = 0; j < i; j++) free(r[j].resp);
            free(r);
            return PAM_CONV_ERR;
        }
        r[i].resp = strdup(s->text[s->next++]);
    }
    *resp = r;
    return PAM_SUCCESS;
}

static void no_delay(int retval, unsigned usec, void *appdata) { (void)retval; (void)usec; (void)appdata; }

static pam_handle_t *start(struct script *s) {
    struct pam_conv conv = { conversation, s };
    pam_handle_t *ph = NULL;
    int rc = confdir ? pam_start_confdir(service, user, &conv, confdir, &ph)
                     : pam_start(service, user, &conv, &ph);
    if (rc != PAM_SUCCESS) { fprintf(stderr, "pambench: pam_start: %s\n", pam_strerror(NULL, rc)); exit(2); }
    void (*fn)(int, unsigned, void *) = no_delay;
    const void *item;
    memcpy(&item, &fn, sizeof item);
    pam_set_item(ph, PAM_FAIL_DELAY, item);
    if (rhost) pam_set_item(ph, PAM_RHOST, rhost);
    if (env && pam_putenv(ph, env) != PAM_SUCCESS) { fprintf(stderr, "pambench: pam_putenv %s failed\n", env); exit(2); }
    return ph;
}

/* ---- restoring state ------------------------------------------------ */

static void restore_one(const char *dst, const char *src) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) die(src);
    struct stat st;
    if (fstat(in, &st) != 0) die(src);
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf || read(in, buf, (size_t)st.st_size) != st.st_size) die(src);
    close(in);
    char tmp[4096], dircopy[4096];
    snprintf(tmp, sizeof tmp, "%s.pambench-restore", dst);
    snprintf(dircopy, sizeof dircopy, "%s", dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) die(tmp);
    if (write(out, buf, (size_t)st.st_size) != st.st_size) die(tmp);
    if (fchown(out, st.st_uid, st.st_gid) != 0 || fchmod(out, st.st_mode & 07777) != 0) die(tmp);
    if (fsync(out) != 0) die(tmp);
    close(out);
    if (rename(tmp, dst) != 0) die(dst);
    int d = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0 || fsync(d) != 0) die("directory fsync");
    close(d);
    free(buf);
}

static const char *before_cmd;

static void restore_all(void) {
    for (int i = 0; i < nrestore; i++) restore_one(restore_dst[i], restore_src[i]);
    if (before_cmd && system(before_cmd) != 0) {
        fprintf(stderr, "pambench: --before command failed: %s\n", before_cmd);
        exit(2);
    }
}

/* ---- modes ---------------------------------------------------------- */

static int ok_count, total;

static void report(long long us, int rc, long rss_kb) {
    total++;
    if (rc == expect) ok_count++;
    if (rss_kb >= 0) printf("SAMPLE %lld %s %ld\n", us, rc == PAM_SUCCESS ? "PAM_SUCCESS" : pam_strerror(NULL, rc), rss_kb);
    else printf("SAMPLE %lld %s\n", us, rc == PAM_SUCCESS ? "PAM_SUCCESS" : pam_strerror(NULL, rc));
}

static void run_reuse(void) {
    struct script s;
    make_script(&s, NULL);
    pam_handle_t *ph = start(&s);
    int rc = PAM_SUCCESS;
    for (int i = 0; i < iterations; i++) {
        restore_all();
        make_script(&s, NULL);
        long long t0 = now_us();
        rc = pam_authenticate(ph, PAM_SILENT);
        long long t1 = now_us();
        report(t1 - t0, rc, -1);
    }
    pam_end(ph, rc);
}

static void run_fresh(void) {
    for (int i = 0; i < iterations; i++) {
        struct script s;
        restore_all();
        make_script(&s, NULL);
        long long t0 = now_us();
        pam_handle_t *ph = start(&s);
        int rc = pam_authenticate(ph, PAM_SILENT);
        pam_end(ph, rc);
        long long t1 = now_us();
        report(t1 - t0, rc, -1);
    }
}

static void run_process(void) {
    for (int i = 0; i < iterations; i++) {
        struct script s;
        restore_all();
        make_script(&s, NULL);
        char input[1024] = "";
        for (int k = 0; k < s.n; k++) { strcat(input, s.text[k]); strcat(input, "\n"); }
        int p[2];
        if (pipe(p) != 0) die("pipe");
        if (write(p[1], input, strlen(input)) < 0) die("pipe write");
        close(p[1]);
        long long t0 = now_us();
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            dup2(p[0], 0);
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            if (rhost) {
                char item[300];
                snprintf(item, sizeof item, "rhost=%s", rhost);
                execl(pamtester, "pamtester", "-I", item, service, user, "authenticate", (char *)NULL);
            } else {
                execl(pamtester, "pamtester", service, user, "authenticate", (char *)NULL);
            }
            _exit(127);
        }
        close(p[0]);
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) != pid) die("wait4");
        long long t1 = now_us();
        int rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? PAM_SUCCESS : PAM_AUTH_ERR;
        report(t1 - t0, rc, ru.ru_maxrss);
    }
}

struct worker {
    pthread_t thread;
    struct script s;
    int rc;
    long long us;
};
static pthread_barrier_t barrier;

static void *concurrent_worker(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(&barrier);
    long long t0 = now_us();
    pam_handle_t *ph = start(&w->s);
    w->rc = pam_authenticate(ph, PAM_SILENT);
    pam_end(ph, w->rc);
    w->us = now_us() - t0;
    return NULL;
}

static void run_concurrent(void) {
    static struct worker w[MAX_THREADS];
    char lines[MAX_THREADS][128];
    int nlines = 0;
    if (answers_file) {
        FILE *f = fopen(answers_file, "r");
        if (!f) die(answers_file);
        while (nlines < MAX_THREADS && fgets(lines[nlines], sizeof lines[0], f)) {
            lines[nlines][strcspn(lines[nlines], "\n")] = 0;
            nlines++;
        }
        fclose(f);
    }
    restore_all();
    for (int i = 0; i < threads; i++)
        make_script(&w[i].s, answers_file ? lines[i % (nlines ? nlines : 1)] : NULL);
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    long long t0 = now_us();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&w[i].thread, NULL, concurrent_worker, &w[i]) != 0) die("pthread_create");
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < threads; i++) pthread_join(w[i].thread, NULL);
    long long t1 = now_us();
    for (int i = 0; i < threads; i++) report(w[i].us, w[i].rc, -1);
    printf("WALL %lld\n", t1 - t0);
}

static int pam_code(const char *name) {
    static const struct { int code; const char *name; } names[] = {
        { PAM_SUCCESS, "PAM_SUCCESS" }, { PAM_AUTH_ERR, "PAM_AUTH_ERR" },
        { PAM_MAXTRIES, "PAM_MAXTRIES" }, { PAM_PERM_DENIED, "PAM_PERM_DENIED" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0) return names[i].code;
    return -1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: pambench --service NAME --user NAME [--confdir DIR] [--mode reuse|fresh|process|concurrent]\n"
            "                [--iterations N] [--threads T] [--secret BASE32] [--answer TEXT|@totp|@wrong]...\n"
            "                [--answers-file FILE] [--restore DST=SRC]... [--before CMD] [--rhost HOST]\n"
            "                [--expect PAM_SUCCESS|PAM_AUTH_ERR|...] [--pamtester PATH]\n"
            "       pambench --code BASE32 UNIXTIME\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--code") == 0) {
        secret_len = base32_decode(argv[2], secret, sizeof secret);
        printf("%06u\n", totp_at_step(strtoull(argv[3], NULL, 10) / 30));
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (usage(), (char *)NULL))
        if (!strcmp(a, "--service")) service = NEXT();
        else if (!strcmp(a, "--user")) user = NEXT();
        else if (!strcmp(a, "--confdir")) confdir = NEXT();
        else if (!strcmp(a, "--mode")) mode = NEXT();
        else if (!strcmp(a, "--iterations")) iterations = atoi(NEXT());
        else if (!strcmp(a, "--threads")) threads = atoi(NEXT());
        else if (!strcmp(a, "--secret")) secret_b32 = NEXT();
        else if (!strcmp(a, "--rhost")) rhost = NEXT();
        else if (!strcmp(a, "--env")) env = NEXT();
        else if (!strcmp(a, "--pamtester")) pamtester = NEXT();
        else if (!strcmp(a, "--answers-file")) answers_file = NEXT();
        else if (!strcmp(a, "--before")) before_cmd = NEXT();
        else if (!strcmp(a, "--answer")) { if (nanswers == MAX_ANSWERS) usage(); answers[nanswers++] = NEXT(); }
        else if (!strcmp(a, "--restore")) {
            char *spec = NEXT(), *eq = strchr(spec, '=');
            if (!eq || nrestore == MAX_RESTORE) usage();
            *eq = 0;
            restore_dst[nrestore] = spec;
            restore_src[nrestore++] = eq + 1;
        } else if (!strcmp(a, "--expect")) { if ((expect = pam_code(NEXT())) < 0) usage(); }
        else usage();
#undef NEXT
    }
    if (!service || !user || iterations < 1 || threads < 1 || threads > MAX_THREADS) usage();
    if (secret_b32) secret_len = base32_decode(secret_b32, secret, sizeof secret);
    for (int i = 0; i < nanswers; i++)
        if (answers[i][0] == '@' && secret_len == 0) usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "reuse")) run_reuse();
    else if (!strcmp(mode, "fresh")) run_fresh();
    else if (!strcmp(mode, "process")) run_process();
    else if (!strcmp(mode, "concurrent")) run_concurrent();
    else usage();
    printf("DONE %d %d\n", ok_count, total);
    return ok_count == total ? 0 : 1;
}
