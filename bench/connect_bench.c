/*
 * connect_bench.c - what a connect costs: single-user against multi-user
 * channels (docs/multiuser.md), measured in one run.
 *
 * For each kind, a server runs in a child process (library defaults;
 * multi-user: it also allows uid 65534, which makes the channel multi-user
 * while the client stays of our own uid) and answers every event; the
 * parent connects and disconnects N times and times each connect, from the
 * call to its return (for multi-user that includes the server's verdict).
 * The kinds alternate in rounds so that both see the same machine state;
 * 2 ms between connects let the server take each release first.
 *
 * Usage: connect_bench [--n N] [--rounds R] [--only single|multi]
 * (--only: one kind, e.g. under `strace -f -c` to count system calls)
 * Prints, per kind, the median and p99 of connect latency in microseconds
 * and the ratio multi/single of the medians. Exit 0, or 1 on any failure.
 * Run it on an idle machine (docs/benchmarks.md, "Method"); strace -f -c
 * on it gives the system calls per connect.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/shmchan.h"

#define SERVE_WAIT_MS 100
#define MAX_N 100000

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The child: serves until SIGTERM. Writes one byte to `ready` once up. */
static int serve(key_t key, int multiuser, int ready)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    (void)sigaction(SIGTERM, &sa, NULL);
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    const uid_t nobody = 65534;
    if (multiuser) {
        o.allow_uids = &nobody;
        o.allow_uids_count = 1;
    }
    o.cancel = &g_stop;
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    if (shmchan_server_create(key, &o, &srv, &d) != SHMCHAN_OK) {
        fprintf(stderr, "connect_bench: server: %s\n", d.text);
        return 1;
    }
    const char one = 1;
    if (write(ready, &one, 1) != 1) {
        shmchan_server_destroy(srv);
        return 1;
    }
    char buf[64];
    while (!g_stop) {
        shmchan_event_t ev;
        const shmchan_err_t e = shmchan_server_wait(srv, SERVE_WAIT_MS, &ev, buf, sizeof buf);
        if (e != SHMCHAN_OK && e != SHMCHAN_E_TIMEOUT && e != SHMCHAN_E_INTERRUPTED) {
            fprintf(stderr, "connect_bench: server: %s\n", shmchan_strerror(e));
            break;
        }
    }
    shmchan_server_destroy(srv);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a;
    const int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* n connects to the server of `kind` at key; latencies appended at *lat. */
static int measure(key_t key, int multiuser, int n, int64_t *lat)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        (void)close(fds[0]);
        _exit(serve(key, multiuser, fds[1]));
    }
    (void)close(fds[1]);
    char c = 0;
    int rc = read(fds[0], &c, 1) == 1 ? 0 : -1;
    (void)close(fds[0]);
    for (int i = 0; i < n && rc == 0; i++) {
        shmchan_client_t *cli = NULL;
        shmchan_diag_t d;
        const int64_t t0 = now_ns();
        const shmchan_err_t e = shmchan_client_connect(key, NULL, &cli, &d);
        lat[i] = now_ns() - t0;
        if (e != SHMCHAN_OK) {
            fprintf(stderr, "connect_bench: connect: %s\n", d.text);
            rc = -1;
            break;
        }
        shmchan_client_disconnect(cli);
        /* Let the server take the release before the next connect: a
         * connect to an idle server is what is measured (connect never
         * waits for a slot; the server frees one on its next look). */
        const struct timespec gap = {0, 2000000};
        (void)nanosleep(&gap, NULL);
    }
    (void)kill(pid, SIGTERM);
    int status = 0;
    (void)waitpid(pid, &status, 0);
    return rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int n = 200;
    int rounds = 5;
    int first_kind = 0;
    int last_kind = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "single") == 0 || strcmp(argv[i + 1], "multi") == 0)) {
            first_kind = last_kind = strcmp(argv[++i], "multi") == 0;
        } else {
            fprintf(stderr, "usage: connect_bench [--n N] [--rounds R] [--only single|multi]\n");
            return 2;
        }
    }
    if (n < 1 || n > MAX_N || rounds < 1 || rounds > 100) {
        fprintf(stderr, "connect_bench: --n 1..%d, --rounds 1..100\n", MAX_N);
        return 2;
    }
    const size_t total = (size_t)n * (size_t)rounds;
    int64_t *lat[2] = {calloc(total, sizeof(int64_t)), calloc(total, sizeof(int64_t))};
    if (lat[0] == NULL || lat[1] == NULL) {
        return 1;
    }
    const key_t key = (key_t)(0x43420000u ^ ((uint32_t)getpid() << 4));
    for (int r = 0; r < rounds; r++) {
        for (int kind = first_kind; kind <= last_kind; kind++) {
            if (measure(key, kind, n, lat[kind] + (size_t)r * (size_t)n) != 0) {
                return 1;
            }
        }
    }
    double median[2] = {0, 0};
    for (int kind = first_kind; kind <= last_kind; kind++) {
        qsort(lat[kind], total, sizeof(int64_t), cmp_i64);
        median[kind] = (double)lat[kind][total / 2] / 1000.0;
        printf("%-12s connect: median %8.1f us, p99 %8.1f us (%zu connects)\n",
               kind ? "multi-user" : "single-user", median[kind],
               (double)lat[kind][total * 99 / 100] / 1000.0, total);
    }
    if (first_kind != last_kind) {
        printf("ratio multi-user / single-user (medians): %.2f\n", median[1] / median[0]);
    }
    free(lat[0]);
    free(lat[1]);
    return 0;
}
