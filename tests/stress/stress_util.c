/* stress_util.c - see stress_util.h. */
/* GNU extensions used here: pipe2(2), ppoll(2), pidfd_open via syscall(2),
 * prctl(PR_SET_PDEATHSIG). */
#define _GNU_SOURCE 1

#include "tests/stress/stress_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka.h needs these first (its own documentation says so). */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/testutil.h"

/* ------------------------------------------------------------- scaling */

static uint64_t g_scale = 1;
static int64_t g_budget_end_ns;

static uint64_t parse_scale(const char *text)
{
    char *end = NULL;
    errno = 0;
    const unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > 100000) {
        fprintf(stderr, "stress: ignoring bad scale \"%s\"\n", text);
        return 1;
    }
    return (uint64_t)v;
}

void stress_init(int argc, char **argv)
{
    const char *env = getenv("SHMCHAN_STRESS_SCALE");
    if (env != NULL && *env != '\0') {
        g_scale = parse_scale(env);
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--scale=", 8) == 0) {
            g_scale = parse_scale(argv[i] + 8);
        }
    }
    int64_t timeout_s = 300;
    const char *t = getenv("TEST_TIMEOUT");
    if (t != NULL && *t != '\0') {
        const long long v = strtoll(t, NULL, 10);
        if (v > 0) {
            timeout_s = v;
        }
    }
    g_budget_end_ns = stress_now_ns() + timeout_s * 850000000;
    /* Children inherit stdout; unflushed output would be printed twice. */
    setvbuf(stdout, NULL, _IOLBF, 0);
}

int stress_budget_ms(void)
{
    const int64_t left = (g_budget_end_ns - stress_now_ns()) / 1000000;
    if (left < 1000) {
        return 1000;
    }
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

uint64_t stress_scale(void)
{
    return g_scale;
}

uint64_t stress_scaled(uint64_t base)
{
    return base * g_scale;
}

/* ---------------------------------------------------------------- time */

int64_t stress_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

/* --------------------------------------------------------- processes */

#define MAX_TRACKED 4096
static pid_t g_tracked[MAX_TRACKED];
static size_t g_ntracked;

static void track(pid_t pid)
{
    if (g_ntracked < MAX_TRACKED) {
        g_tracked[g_ntracked++] = pid;
    }
}

static void untrack(pid_t pid)
{
    for (size_t i = 0; i < g_ntracked; i++) {
        if (g_tracked[i] == pid) {
            g_tracked[i] = g_tracked[--g_ntracked];
            return;
        }
    }
}

pid_t stress_spawn(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
        g_ntracked = 0; /* the parent's children are not ours */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* The parent may have died before prctl took effect. */
        if (getppid() != parent) {
            _exit(99);
        }
        _exit(fn(arg) & 0xff);
    }
    if (pid > 0) {
        track(pid);
    }
    return pid;
}

int stress_wait(pid_t pid, int timeout_ms)
{
    const int status = testutil_wait(pid, timeout_ms);
    untrack(pid);
    return status;
}

int stress_wait_raw(pid_t pid, int timeout_ms, int *wstatus)
{
    const int exited = stress_wait_exited(pid, timeout_ms) == 0;
    if (!exited) {
        (void)kill(pid, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            untrack(pid);
            return -1;
        }
    }
    untrack(pid);
    *wstatus = status;
    return exited ? 0 : -1;
}

void stress_kill_all(void)
{
    /* Unreaped pids cannot have been reused, so these kills hit only ours. */
    for (size_t i = 0; i < g_ntracked; i++) {
        (void)kill(g_tracked[i], SIGKILL);
    }
    for (size_t i = 0; i < g_ntracked; i++) {
        int status;
        while (waitpid(g_tracked[i], &status, 0) < 0 && errno == EINTR) {
        }
    }
    g_ntracked = 0;
}

int stress_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int stress_wait_exited_ns(pid_t pid, int64_t timeout_ns)
{
    const int pidfd = stress_pidfd_open(pid);
    if (pidfd < 0) {
        return -1;
    }
    const int64_t deadline = stress_now_ns() + timeout_ns;
    int result = -1;
    for (;;) {
        int64_t left = deadline - stress_now_ns();
        if (left < 0) {
            left = 0;
        }
        /* A pidfd is readable once the process has exited (pidfd_open(2)). */
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        const struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        const int r = ppoll(&p, 1, &ts, NULL);
        if (r > 0) {
            result = 0;
            break;
        }
        if ((r < 0 && errno != EINTR) || r == 0) {
            break;
        }
    }
    close(pidfd);
    return result;
}

int stress_wait_exited(pid_t pid, int timeout_ms)
{
    return stress_wait_exited_ns(pid, (int64_t)timeout_ms * 1000000);
}

int stress_wait_stopped(pid_t pid)
{
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WSTOPPED | WEXITED | WNOWAIT) == 0) {
            return info.si_code == CLD_STOPPED ? 1 : 0;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

const char *stress_status_text(int status, char *buf, size_t len)
{
    if (status < 0) {
        snprintf(buf, len, "did not exit in time (killed)");
    } else if (status > 128 && status < 128 + 65) {
        snprintf(buf, len, "killed by signal %d (%s)", status - 128, strsignal(status - 128));
    } else {
        snprintf(buf, len, "exit code %d", status);
    }
    return buf;
}

/* --------------------------------------------------------------- pipes */

int stress_pipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

int stress_fd_ready(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    do {
        r = poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

void stress_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* ------------------------------------------------------------- messages */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_stream(uint8_t *dst, size_t n, uint64_t key)
{
    uint64_t x = key;
    size_t i = 0;
    while (i < n) {
        const uint64_t v = splitmix64(&x);
        for (unsigned b = 0; b < 8 && i < n; b++) {
            dst[i++] = (uint8_t)(v >> (8 * b));
        }
    }
}

static uint64_t stream_key(uint32_t sender, uint64_t seq, uint64_t salt)
{
    uint64_t x = ((uint64_t)sender << 32) ^ seq ^ (salt * 0xD6E8FEB86659FD93ull);
    return splitmix64(&x);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

uint64_t stress_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t msg_hash(const uint8_t *buf, uint32_t len)
{
    const uint64_t h = stress_fnv1a64(STRESS_FNV_OFFSET, buf, 16);
    return stress_fnv1a64(h, buf + STRESS_MSG_HEADER, len - STRESS_MSG_HEADER);
}

void stress_msg_build(uint8_t *buf, uint32_t len, uint32_t sender, uint64_t seq)
{
    const uint32_t id = sender & ~STRESS_SENDER_FIN;
    if (len < STRESS_MSG_HEADER) {
        fill_stream(buf, len, stream_key(id, seq, 1u + len));
        return;
    }
    put_u32(buf, sender);
    put_u32(buf + 4, len);
    put_u64(buf + 8, seq);
    fill_stream(buf + STRESS_MSG_HEADER, len - STRESS_MSG_HEADER, stream_key(id, seq, 0));
    put_u64(buf + 16, msg_hash(buf, len));
}

uint32_t stress_msg_pick_len(uint64_t *rng, uint32_t max, int full_header)
{
    const uint32_t lo = full_header ? STRESS_MSG_HEADER : 0u;
    if (max <= lo) {
        return max;
    }
    const uint32_t span = max - lo + 1u;
    uint32_t len;
    switch (stress_below(rng, 16)) {
    case 0:
        len = 0;
        break;
    case 1:
        len = (uint32_t)stress_below(rng, STRESS_MSG_HEADER);
        break;
    case 2:
        len = max;
        break;
    case 3:
        len = max - (uint32_t)stress_below(rng, max < 64 ? max + 1u : 64u);
        break;
    default:
        len = lo + (uint32_t)stress_below(rng, span);
        break;
    }
    return len < lo ? lo + (uint32_t)stress_below(rng, span) : len;
}

void stress_stream_reset(stress_stream_t *s)
{
    memset(s, 0, sizeof *s);
}

static int reject(int kind, char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int reject(int kind, char *why, size_t why_len, const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return kind;
}

void stress_stream_resync(stress_stream_t *s)
{
    s->resync = 1;
    s->fin = 0;
}

int stress_stream_accept(stress_stream_t *s, const uint8_t *buf, uint32_t len, char *why,
                         size_t why_len)
{
    if (len < STRESS_MSG_HEADER) {
        if (s->fin || !s->known || s->resync) {
            return reject(STRESS_BAD_ORDER, why, why_len,
                          "a %u-byte message where a full one must come (first, or after FIN)",
                          len);
        }
        uint8_t expect[STRESS_MSG_HEADER];
        fill_stream(expect, len, stream_key(s->sender, s->next_seq, 1u + len));
        if (memcmp(expect, buf, len) != 0) {
            return reject(STRESS_BAD_ORDER, why, why_len,
                          "sender %u seq %llu: short message of %u bytes differs from the "
                          "expected one (lost, duplicated, reordered or damaged)",
                          s->sender, (unsigned long long)s->next_seq, len);
        }
        s->next_seq++;
        return 0;
    }
    const uint32_t sender_field = get_u32(buf);
    const uint32_t len_field = get_u32(buf + 4);
    const uint64_t seq = get_u64(buf + 8);
    const uint64_t hash = get_u64(buf + 16);
    if (len_field != len) {
        return reject(STRESS_BAD_INTEGRITY, why, why_len,
                      "message claims %u bytes, frame has %u (torn)", len_field, len);
    }
    if (hash != msg_hash(buf, len)) {
        return reject(STRESS_BAD_INTEGRITY, why, why_len,
                      "sender %u seq %llu len %u: payload hash mismatch", sender_field,
                      (unsigned long long)seq, len);
    }
    const uint32_t id = sender_field & ~STRESS_SENDER_FIN;
    if (s->resync) {
        s->resync = 0;
        s->known = 1;
        s->sender = id;
        s->next_seq = seq;
    }
    if (s->fin) {
        return reject(STRESS_BAD_ORDER, why, why_len, "sender %u: message after its FIN", id);
    }
    if (!s->known) {
        s->known = 1;
        s->sender = id;
    } else if (id != s->sender) {
        return reject(STRESS_BAD_ORDER, why, why_len,
                      "message from sender %u in the stream of sender %u", id, s->sender);
    }
    if (seq != s->next_seq) {
        return reject(STRESS_BAD_ORDER, why, why_len, "sender %u: seq %llu, expected %llu (%s)",
                      id, (unsigned long long)seq, (unsigned long long)s->next_seq,
                      seq < s->next_seq ? "duplicated or replayed" : "lost or reordered");
    }
    if ((sender_field & STRESS_SENDER_FIN) != 0) {
        s->fin = 1;
    }
    s->next_seq++;
    return 0;
}

/* ----------------------------------------------------------- randomness */

uint64_t stress_derive_seed(uint64_t seed, uint64_t index)
{
    uint64_t x = seed ^ (index * 0x9E3779B97F4A7C15ull);
    const uint64_t v = splitmix64(&x);
    return v != 0 ? v : 1;
}

uint64_t stress_below(uint64_t *rng, uint64_t n)
{
    return splitmix64(rng) % n;
}

/* ------------------------------------------------------------- signals */

static uint64_t g_caught;

static void counting_handler(int signo)
{
    (void)signo;
    /* A lock-free atomic add is async-signal-safe. */
    __atomic_fetch_add(&g_caught, 1, __ATOMIC_RELAXED);
}

int stress_install_counting_handler(int signo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = counting_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: interrupted calls fail with EINTR */
    return sigaction(signo, &sa, NULL);
}

uint64_t stress_signals_caught(void)
{
    return __atomic_load_n(&g_caught, __ATOMIC_RELAXED);
}

int stress_signaller_main(void *p)
{
    const stress_signaller_cfg_t *cfg = p;
    stress_signaller_report_t rep;
    memset(&rep, 0, sizeof rep);
    const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (tfd < 0) {
        perror("signaller: timerfd_create");
        return 2;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_interval.tv_sec = (time_t)(cfg->period_ns / 1000000000);
    its.it_interval.tv_nsec = (long)(cfg->period_ns % 1000000000);
    its.it_value = its.it_interval;
    if (timerfd_settime(tfd, 0, &its, NULL) != 0) {
        perror("signaller: timerfd_settime");
        return 2;
    }
    /* A bound on our own life, in case the parent never says stop. */
    const int64_t deadline = stress_now_ns() + (int64_t)3600 * 1000000000;
    while (stress_now_ns() < deadline) {
        struct pollfd pfd[2] = {{.fd = cfg->stop_fd, .events = POLLIN},
                                {.fd = tfd, .events = POLLIN}};
        const int r = poll(pfd, 2, 1000);
        if (r < 0 && errno != EINTR) {
            break;
        }
        if (r <= 0) {
            continue;
        }
        if (pfd[0].revents != 0) {
            break;
        }
        if (pfd[1].revents & POLLIN) {
            uint64_t expirations = 0;
            if (read(tfd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations) {
                continue;
            }
            rep.ticks++;
            for (int i = 0; i < cfg->ntargets; i++) {
                if (kill(cfg->targets[i], cfg->signo) == 0) {
                    rep.sent++;
                }
            }
        }
    }
    close(tfd);
    return testutil_write_full(cfg->report_fd, &rep, sizeof rep) == 0 ? 0 : 3;
}

/* --------------------------------------------------------- test glue */

int stress_teardown(void **state)
{
    (void)state;
    stress_kill_all();
    return 0;
}

void stress_assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_attach(), 0);
}

void stress_close_pair(int fds[2])
{
    stress_close(&fds[0]);
    stress_close(&fds[1]);
}
