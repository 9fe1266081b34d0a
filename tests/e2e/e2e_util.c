/* e2e_util.c - see e2e_util.h. */
/* pidfd_open via syscall(2) needs the GNU declaration of syscall(). */
#define _GNU_SOURCE 1

#include "tests/e2e/e2e_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Children started and not yet reaped (pids only: a failed test leaves
 * its e2e_proc_t behind on an unwound stack). */
#define MAX_LIVE 64
static pid_t live[MAX_LIVE];

static void live_add(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i] == 0) {
            live[i] = pid;
            return;
        }
    }
}

static void live_remove(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i] == pid) {
            live[i] = 0;
        }
    }
}

const char *e2e_bin(const char *name)
{
    static char path[4096];
    const char *root = getenv("TEST_SRCDIR");
    const char *ws = getenv("TEST_WORKSPACE");
    if (root != NULL && *root != '\0') {
        snprintf(path, sizeof path, "%s/%s/src/%s", root,
                 ws != NULL && *ws != '\0' ? ws : "shmchan", name);
    } else {
        /* Run by hand from the workspace root after `bazel build`. */
        snprintf(path, sizeof path, "bazel-bin/src/%s", name);
    }
    return path;
}

static void set_cloexec(int fd)
{
    const int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) {
        (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* The slave side of a new pty in raw-ish mode (no echo), or -1. Its
 * master goes to *master. */
static int open_pty(int *master)
{
    const int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) {
        return -1;
    }
    if (grantpt(m) != 0 || unlockpt(m) != 0) {
        close(m);
        return -1;
    }
    const char *name = ptsname(m);
    const int s = name != NULL ? open(name, O_RDWR | O_NOCTTY) : -1;
    if (s < 0) {
        close(m);
        return -1;
    }
    /* No echo: the master then carries nothing back that could fill up;
     * canonical mode stays, so the client reads whole lines as typed. */
    struct termios t;
    if (tcgetattr(s, &t) == 0) {
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        (void)tcsetattr(s, TCSANOW, &t);
    }
    *master = m;
    return s;
}

/* Its stdin end for the child, our end in *ours (-1 for /dev/null). */
static int make_stdin(e2e_stdin_t in, int *ours)
{
    *ours = -1;
    if (in == E2E_STDIN_NULL) {
        return open("/dev/null", O_RDONLY);
    }
    if (in == E2E_STDIN_TTY) {
        return open_pty(ours);
    }
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    *ours = fds[1];
    return fds[0];
}

int e2e_start(e2e_proc_t *p, const char *bin, const char *const *args, e2e_stdin_t in)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    p->in_fd = p->out_fd = p->err_fd = -1;
    p->status = -1;

    const char *argv[32];
    const char *path = e2e_bin(bin);
    size_t n = 0;
    argv[n++] = path;
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    int child_in = make_stdin(in, &p->in_fd);
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    if (child_in < 0 || pipe(out) != 0 || pipe(err) != 0) {
        fprintf(stderr, "e2e_start: pipes for %s: %s\n", path, strerror(errno));
        return -1;
    }
    p->out_fd = out[0];
    p->err_fd = err[0];
    /* Our ends must not leak into later children: a client holding the
     * server's stdout open would hide the server's EOF. */
    set_cloexec(p->out_fd);
    set_cloexec(p->err_fd);
    if (p->in_fd >= 0) {
        set_cloexec(p->in_fd);
    }
    /* A child that exits before reading all its input must fail our write
     * with EPIPE, not kill the test. */
    (void)signal(SIGPIPE, SIG_IGN);
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. The programs start
         * with default dispositions, as from a shell. */
        (void)signal(SIGPIPE, SIG_DFL);
        dup2(child_in, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(path, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(child_in);
    close(out[1]);
    close(err[1]);
    p->pid = pid;
    live_add(pid);
    return 0;
}

int e2e_write(e2e_proc_t *p, const void *data, size_t len)
{
    const char *d = data;
    while (len > 0) {
        if (p->in_fd < 0) {
            return -1;
        }
        const ssize_t w = write(p->in_fd, d, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        d += w;
        len -= (size_t)w;
    }
    return 0;
}

int e2e_write_str(e2e_proc_t *p, const char *s)
{
    return e2e_write(p, s, strlen(s));
}

void e2e_close_stdin(e2e_proc_t *p)
{
    close_fd(&p->in_fd);
}

/* Appends what is readable on fd; closes it at EOF. */
static void drain_fd(int *fd, char *buf, size_t *len)
{
    char tmp[4096];
    const ssize_t r = read(*fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) {
        return;
    }
    if (r <= 0) {
        close_fd(fd);
        return;
    }
    size_t n = (size_t)r;
    if (n > E2E_OUT_MAX - *len) {
        n = E2E_OUT_MAX - *len; /* keep the start; the tests look there */
    }
    memcpy(buf + *len, tmp, n);
    *len += n;
    buf[*len] = '\0';
}

/* One poll of both output pipes, for at most timeout_ms. Returns 0, or -1
 * if both are closed already. */
static int pump(e2e_proc_t *p, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = p->out_fd, .events = POLLIN},
                            {.fd = p->err_fd, .events = POLLIN}};
    if (p->out_fd < 0 && p->err_fd < 0) {
        return -1;
    }
    /* poll ignores negative fds. */
    const int r = poll(fds, 2, timeout_ms);
    if (r <= 0) {
        return 0;
    }
    if (fds[0].revents != 0) {
        drain_fd(&p->out_fd, p->out, &p->out_len);
    }
    if (fds[1].revents != 0) {
        drain_fd(&p->err_fd, p->err, &p->err_len);
    }
    return 0;
}

int e2e_contains(const char *hay, size_t len, const char *needle)
{
    const size_t n = strlen(needle);
    if (n == 0) {
        return 1;
    }
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

int e2e_wait_for(e2e_proc_t *p, int stream, const char *needle, int timeout_ms)
{
    const int64_t deadline = testutil_now_ms() + timeout_ms;
    for (;;) {
        const char *buf = stream == 1 ? p->out : p->err;
        const size_t len = stream == 1 ? p->out_len : p->err_len;
        const int fd = stream == 1 ? p->out_fd : p->err_fd;
        if (e2e_contains(buf, len, needle)) {
            return 0;
        }
        const int64_t left = deadline - testutil_now_ms();
        if (fd < 0 || left <= 0) {
            fprintf(stderr, "e2e_wait_for: '%s' not seen on %s of pid %d; it printed:\n%s\n",
                    needle, stream == 1 ? "stdout" : "stderr", (int)p->pid, buf);
            return -1;
        }
        (void)pump(p, (int)left);
    }
}

static int reap(e2e_proc_t *p, int64_t deadline)
{
    const int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    int status = 0;
    int result = -1;
    for (;;) {
        const pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            result = WIFEXITED(status)     ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : -1;
            break;
        }
        const int64_t left = deadline - testutil_now_ms();
        if ((r < 0 && errno != EINTR) || left <= 0 || pidfd < 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            fprintf(stderr, "e2e: pid %d did not exit in time: killed\n", (int)p->pid);
            break;
        }
        struct pollfd pf = {.fd = pidfd, .events = POLLIN};
        (void)poll(&pf, 1, (int)left);
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    live_remove(p->pid);
    p->pid = -1;
    p->status = result;
    return result;
}

int e2e_finish(e2e_proc_t *p, int timeout_ms)
{
    if (p->pid < 0) {
        return p->status;
    }
    const int64_t deadline = testutil_now_ms() + timeout_ms;
    while (p->out_fd >= 0 || p->err_fd >= 0) {
        const int64_t left = deadline - testutil_now_ms();
        if (left <= 0) {
            break;
        }
        (void)pump(p, (int)left);
    }
    const int status = reap(p, deadline);
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    return status;
}

int e2e_kill_and_finish(e2e_proc_t *p, int sig, int timeout_ms)
{
    if (p->pid > 0) {
        kill(p->pid, sig);
    }
    return e2e_finish(p, timeout_ms);
}

int e2e_run(e2e_proc_t *p, const char *bin, const char *const *args, const char *input)
{
    if (e2e_start(p, bin, args, E2E_STDIN_PIPE) != 0) {
        return -1;
    }
    if (input != NULL) {
        (void)e2e_write_str(p, input);
    }
    e2e_close_stdin(p);
    return e2e_finish(p, E2E_DEADLINE_MS);
}

const char *e2e_key_text(key_t key, char *buf, size_t len)
{
    snprintf(buf, len, "0x%08x", (unsigned)key);
    return buf;
}

int e2e_list_row(const char *table, key_t key, char fields[9][32])
{
    char k[16];
    e2e_key_text(key, k, sizeof k);
    for (int i = 0; i < 9; i++) {
        fields[i][0] = '\0';
    }
    const char *line = table;
    while (line != NULL && *line != '\0') {
        if (strncmp(line, k, strlen(k)) == 0 && line[strlen(k)] == ' ') {
            int n = 0;
            const char *q = line;
            while (n < 9 && *q != '\0' && *q != '\n') {
                while (*q == ' ') {
                    q++;
                }
                size_t w = 0;
                while (q[w] != '\0' && q[w] != ' ' && q[w] != '\n') {
                    w++;
                }
                if (w == 0) {
                    break;
                }
                snprintf(fields[n], 32, "%.*s", (int)(w < 31 ? w : 31), q);
                n++;
                q += w;
            }
            return n;
        }
        line = strchr(line, '\n');
        if (line != NULL) {
            line++;
        }
    }
    return 0;
}

/* argv = {"--key=0x...", extra..., NULL} in caller storage. */
static const char *const *with_key(const char **argv, size_t cap, char *keyarg, size_t keylen,
                                   key_t key, const char *const *extra)
{
    snprintf(keyarg, keylen, "--key=0x%08x", (unsigned)key);
    size_t n = 0;
    argv[n++] = keyarg;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < cap; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return argv;
}

int e2e_start_server(e2e_proc_t *p, key_t key, const char *const *extra)
{
    const char *argv[24];
    char keyarg[32];
    with_key(argv, 24, keyarg, sizeof keyarg, key, extra);
    if (e2e_start(p, "server", argv, E2E_STDIN_NULL) != 0) {
        return -1;
    }
    /* Both modes end their start-up with this line. */
    return e2e_wait_for(p, 1, "Waiting for client...\n", E2E_DEADLINE_MS);
}

int e2e_start_client(e2e_proc_t *p, key_t key, const char *const *extra, e2e_stdin_t in)
{
    const char *argv[24];
    char keyarg[32];
    with_key(argv, 24, keyarg, sizeof keyarg, key, extra);
    return e2e_start(p, "client", argv, in);
}

int e2e_run_client(e2e_proc_t *p, key_t key, const void *input, size_t len)
{
    if (e2e_start_client(p, key, NULL, E2E_STDIN_PIPE) != 0) {
        return -1;
    }
    if (input != NULL && len > 0 && e2e_write(p, input, len) != 0) {
        fprintf(stderr, "e2e_run_client: writing stdin failed\n");
    }
    e2e_close_stdin(p);
    return e2e_finish(p, E2E_DEADLINE_MS);
}

int e2e_ctl(e2e_proc_t *p, const char *const *args)
{
    return e2e_run(p, "shmchanctl", args, NULL);
}

void e2e_cleanup(key_t key_block)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i] > 0) {
            int status = 0;
            kill(live[i], SIGKILL);
            (void)waitpid(live[i], &status, 0);
            live[i] = 0;
        }
    }
    testutil_purge_key_block(key_block);
}

int e2e_setup(void **state)
{
    (void)state;
    if (testutil_count_shm() != 0 || testutil_count_sem() != 0) {
        fprintf(stderr, "e2e_setup: SysV objects exist before the test: is the test running in "
                        "its own IPC namespace (bazel's linux-sandbox)?\n");
        return -1;
    }
    return 0;
}

int e2e_teardown(void **state)
{
    (void)state;
    e2e_cleanup(testutil_key(0));
    return 0;
}

void e2e_assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}
