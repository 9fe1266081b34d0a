/* testutil.c - see testutil.h. */
/* pidfd_open via syscall(2) needs the GNU declaration of syscall();
 * setresuid(2), setresgid(2) and setgroups(2) are GNU/BSD extensions. */
#define _GNU_SOURCE 1

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

key_t testutil_key(unsigned salt)
{
    return (key_t)(0x53000000u | ((unsigned)getpid() & 0xffffu) << 8 | (salt & 0xffu));
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    int lines = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') {
            lines++;
        }
    }
    fclose(f);
    return lines - 1; /* header line */
}

int testutil_count_shm(void)
{
    return count_lines("/proc/sysvipc/shm");
}

int testutil_count_sem(void)
{
    return count_lines("/proc/sysvipc/sem");
}

long testutil_count_attach(void)
{
    /* Columns: key shmid perms size cpid lpid nattch ... */
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    if (f == NULL) {
        return -1;
    }
    char line[512];
    long total = 0;
    if (fgets(line, sizeof line, f) == NULL) {
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        long key, shmid, perms, size, cpid, lpid, nattch;
        if (sscanf(line, "%ld %ld %lo %ld %ld %ld %ld", &key, &shmid, &perms, &size, &cpid, &lpid,
                   &nattch) == 7) {
            total += nattch;
        }
    }
    fclose(f);
    return total;
}

/* Removes the objects listed in /proc/sysvipc/<shm|sem> whose key is in
 * the block. Columns: key id ... */
static void purge_listed(const char *path, int is_shm, uint32_t block)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    char line[512];
    if (fgets(line, sizeof line, f) == NULL) {
        fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        long long key = 0;
        int id = -1;
        if (sscanf(line, "%lld %d", &key, &id) != 2 || ((uint32_t)key & 0xffffff00u) != block) {
            continue;
        }
        if (is_shm) {
            (void)shmctl(id, IPC_RMID, NULL);
        } else {
            (void)semctl(id, 0, IPC_RMID);
        }
    }
    fclose(f);
}

void testutil_purge_key_block(key_t key_block)
{
    const uint32_t block = (uint32_t)key_block & 0xffffff00u;
    purge_listed("/proc/sysvipc/sem", 0, block);
    purge_listed("/proc/sysvipc/shm", 1, block);
}

int testutil_purge_fixture(void **state)
{
    (void)state;
    testutil_purge_key_block(testutil_key(0));
    return 0;
}

int64_t testutil_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int testutil_become(uid_t uid, gid_t gid)
{
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
        const int saved = errno;
        fprintf(stderr, "cannot become uid %u gid %u: %s\n", (unsigned)uid, (unsigned)gid,
                strerror(saved));
        errno = saved;
        return -1;
    }
    return 0;
}

pid_t testutil_spawn(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
        _exit(fn(arg) & 0xff);
    }
    return pid;
}

int testutil_wait(pid_t pid, int timeout_ms)
{
    /* A pidfd becomes readable when the child exits: an event to wait on
     * with a deadline, no polling loop (pidfd_open(2), Linux >= 5.3). */
    const int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    const int64_t deadline = testutil_now_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            if (pidfd >= 0) {
                close(pidfd);
            }
            return -1;
        }
        const int64_t left = deadline - testutil_now_ms();
        if (left <= 0 || pidfd < 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (pidfd >= 0) {
                close(pidfd);
            }
            return -1;
        }
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        (void)poll(&p, 1, (int)left);
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

int testutil_event_init(testutil_event_t *ev)
{
    /* The read end is non-blocking: several processes may wait on one
     * event, poll wakes them all for one byte, and the losers must go back
     * to polling (within their timeout), not block in read for good. */
    return pipe2(ev->fds, O_NONBLOCK);
}

void testutil_event_signal(testutil_event_t *ev)
{
    const char c = 'x';
    ssize_t w;
    do {
        w = write(ev->fds[1], &c, 1);
    } while (w < 0 && errno == EINTR);
}

int testutil_event_wait(testutil_event_t *ev, int timeout_ms)
{
    struct pollfd p = {.fd = ev->fds[0], .events = POLLIN};
    const int64_t deadline = testutil_now_ms() + timeout_ms;
    for (;;) {
        const int64_t left = deadline - testutil_now_ms();
        if (left <= 0) {
            return -1;
        }
        const int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        char c;
        const ssize_t n = read(ev->fds[0], &c, 1);
        if (n == 1) {
            return 0;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue; /* another waiter took the byte */
        }
        return -1;
    }
}

void testutil_event_close(testutil_event_t *ev)
{
    close(ev->fds[0]);
    close(ev->fds[1]);
}

int testutil_read_full(int fd, void *dst, size_t n, int timeout_ms)
{
    uint8_t *p = dst;
    size_t got = 0;
    const int64_t deadline = testutil_now_ms() + timeout_ms;
    while (got < n) {
        const int64_t left = deadline - testutil_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        const int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        const ssize_t k = read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

int testutil_write_full(int fd, const void *src, size_t n)
{
    const uint8_t *p = src;
    size_t put = 0;
    while (put < n) {
        const ssize_t k = write(fd, p + put, n - put);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        put += (size_t)k;
    }
    return 0;
}

uint64_t testutil_seed(void)
{
    const char *s = getenv("SHMCHAN_TEST_SEED");
    if (s != NULL && *s != '\0') {
        return strtoull(s, NULL, 0);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
}

uint64_t testutil_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int testutil_semctl_takes_arg(int cmd)
{
    switch (cmd) {
    case IPC_STAT:
    case IPC_SET:
    case IPC_INFO:
    case SEM_INFO:
    case SEM_STAT:
#ifdef SEM_STAT_ANY
    case SEM_STAT_ANY:
#endif
    case GETALL:
    case SETALL:
    case SETVAL:
        return 1;
    default:
        return 0;
    }
}
