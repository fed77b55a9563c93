/*
 * hosts_ctl oracle: asks the system's libwrap.so.0 for verdicts.
 *
 * Input (stdin): cases, each six fields in this order:
 *     allow-table path, deny-table path, daemon, client name, client address, user
 * and each field written as  <decimal byte count> ' ' <bytes> '\n'.
 * Fields are C strings for libwrap, so they must not contain NUL.
 *
 * Output (stdout): one line per case, in order:
 *     granted | denied | noverdict <exit status> | signal <number>
 * "noverdict" is what `twist` leaves: libwrap exits the process without returning.
 *
 * With the argument "daemon", each case is hosts_access() on a request built the way a
 * daemon's is: the address given, the name looked up only when libwrap first asks for it
 * (eval_hostname() calls the request's hostname hook), so `%h` shows the address until
 * then, as in sshd or tcpd. Without it, hosts_ctl() is given the name up front.
 *
 * Every case runs in its own forked child because libwrap keeps process-global state
 * (Debian's aclexec failure flag is never cleared, `resident` counts calls, `twist`
 * exits the process, `nice`/`umask`/`setenv` change the process).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <tcpd.h>
#include <unistd.h>

/* The library expects the application to define these. */
int allow_severity = LOG_INFO;
int deny_severity = LOG_WARNING;

/*
 * libwrap's clean_exit() (reached by `twist` without a socket) sleeps 5 s before exit(0).
 * Defining sleep here interposes on the library's call: same verdict, no wait.
 */
unsigned int sleep(unsigned int seconds) {
    (void)seconds;
    return 0;
}

/*
 * Debian builds libwrap with _FORTIFY_SOURCE, so its diagnostics go through these two.
 * They are dropped, or written to stderr when WRAPFIX_ORACLE_LOG is set (for debugging
 * a disagreement: libwrap says which rule and which option it did not like).
 */
static int log_to_stderr;

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap) {
    (void)pri;
    (void)flag;
    if (!log_to_stderr)
        return;
    fprintf(stderr, "libwrap[%d]: ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    __vsyslog_chk(pri, flag, fmt, ap);
    va_end(ap);
}

#define FIELDS 6

/* Read one length-prefixed field into a fresh NUL-terminated buffer; 0 at clean EOF. */
static char *read_field(int first) {
    unsigned long len;
    int sep;
    if (scanf("%lu", &len) != 1) {
        if (first && feof(stdin))
            return 0;
        fprintf(stderr, "hosts_ctl oracle: bad field length\n");
        exit(2);
    }
    sep = getchar();
    char *buf = malloc(len + 1);
    if (sep != ' ' || !buf || fread(buf, 1, len, stdin) != len || getchar() != '\n') {
        fprintf(stderr, "hosts_ctl oracle: malformed field\n");
        exit(2);
    }
    buf[len] = 0;
    if (strlen(buf) != len) {
        fprintf(stderr, "hosts_ctl oracle: NUL inside a field\n");
        exit(2);
    }
    return buf;
}

/*
 * A /file pattern that includes itself makes libwrap recurse, one open file and ~8 KiB of
 * stack per level. With the usual 8 MiB stack it crashes long before it runs out of file
 * descriptors; make that so whatever limits the test runner has.
 */
static void pin_limits(void) {
    struct rlimit r;
    const rlim_t stack = 8u << 20, files = 4096;
    if (getrlimit(RLIMIT_STACK, &r) == 0 && (r.rlim_cur == RLIM_INFINITY || r.rlim_cur > stack)) {
        r.rlim_cur = stack;
        setrlimit(RLIMIT_STACK, &r);
    }
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < files &&
        (r.rlim_max == RLIM_INFINITY || r.rlim_max >= files)) {
        r.rlim_cur = files;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* The daemon mode's name lookup: the case's name for the client; the server keeps the
 * `unknown` eval_hostname() put there first, as hosts_ctl() has it. */
static int daemon_mode;
static const char *lookup_name;

static void lookup(struct host_info *host) {
    if (host == host->request->client) {
        strncpy(host->name, lookup_name, sizeof(host->name) - 1);
        host->name[sizeof(host->name) - 1] = 0;
    }
}

static int decide(char **f) {
    if (!daemon_mode)
        return hosts_ctl(f[2], f[3], f[4], f[5]);
    struct request_info request;
    lookup_name = f[3];
    request_init(&request, RQ_DAEMON, f[2], RQ_CLIENT_ADDR, f[4], RQ_USER, f[5], 0);
    request.hostname = lookup;
    return hosts_access(&request);
}

static void run_case(char **f) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("pipe2");
        exit(2);
    }
    /* The child inherits stdio buffers: empty them so nothing is written twice. */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(fds[0]);
        /* A hang must not stall the whole test run. */
        alarm(30);
        pin_limits();
        /* Commands libwrap runs (spawn, aclexec) must not write into our verdict lines:
         * `/bin/false --help` prints its usage when `%h` expands to that. */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            close(null);
        }
        hosts_allow_table = f[0];
        hosts_deny_table = f[1];
        char verdict = decide(f) ? 'G' : 'D';
        if (write(fds[1], &verdict, 1) != 1)
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    char verdict = 0;
    ssize_t n;
    do {
        n = read(fds[0], &verdict, 1);
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            exit(2);
        }
    }
    if (n == 1 && verdict == 'G')
        puts("granted");
    else if (n == 1 && verdict == 'D')
        puts("denied");
    else if (WIFSIGNALED(status))
        printf("signal %d\n", WTERMSIG(status));
    else
        printf("noverdict %d\n", WEXITSTATUS(status));
}

int main(int argc, char **argv) {
    log_to_stderr = getenv("WRAPFIX_ORACLE_LOG") != 0;
    daemon_mode = argc > 1 && strcmp(argv[1], "daemon") == 0;
    for (;;) {
        char *f[FIELDS];
        f[0] = read_field(1);
        if (!f[0])
            break;
        for (int i = 1; i < FIELDS; i++)
            f[i] = read_field(0);
        run_case(f);
        for (int i = 0; i < FIELDS; i++)
            free(f[i]);
    }
    return fflush(stdout) == 0 ? 0 : 2;
}
