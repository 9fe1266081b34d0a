/*
 * hostile_protocol_test.c - peers that speak the protocol correctly and
 * still attack (docs/threat-model.md rows 12, 15, 18, 24, 25).
 *
 * The byte scribblers of channel_fault_test and stress/hostile_peer_test
 * write values no honest peer could; these write only valid frames and
 * make only semaphore operations their permissions allow, and still try
 * to pin the server's wait past its deadline, to make a cancelled call
 * sleep on, to forge the server's death, to break re-offers with
 * semaphore values near SEMVMX, and to get old frames delivered twice.
 * Each test failed on the code before the fix it names (shown once, see
 * docs/testing.md).
 *
 * The one timing assertion here is the point of the first test: a call
 * with a 200 ms deadline must return within that deadline plus
 * RETURN_SLACK_MS, however a peer fills its lane; the slack is wide (the
 * machine may be loaded, sanitizers slow everything) and the hostile peer
 * keeps going far longer than deadline + slack.
 */
/* syscall(SYS_gettid): the canceller watches one thread's state in /proc. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/lane.h"
#include "src/layout.h"
#include "src/shm_atomic.h"
#include "src/shmchan.h"
#include "tests/peer_map.h"
#include "tests/testutil.h"

/* How late past its deadline a call may return (machine load, sanitizers). */
#define RETURN_SLACK_MS 1500
/* How long a hostile peer keeps attacking if nothing stops it: far more than
 * any deadline plus slack, so a call it can pin fails the test. */
#define HOSTILE_MAX_MS 8000
/* Generous deadline for things that happen "at once". */
#define T_MS 10000

union test_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

/* ------------------------------------------------------------ helpers */

static shmchan_server_t *make_server(key_t key, const volatile sig_atomic_t *cancel)
{
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = 2;
    o.max_payload = 64;
    o.lane_capacity = 4096;
    o.cancel = cancel;
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, &o, &srv, &d);
    if (err != SHMCHAN_OK) {
        fail_msg("server_create: %s: %s", shmchan_errname(err), d.text);
    }
    return srv;
}

static shmchan_client_t *make_client(key_t key, const volatile sig_atomic_t *cancel)
{
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.cancel = cancel;
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_client_connect(key, &o, &cli, &d);
    if (err != SHMCHAN_OK) {
        fail_msg("client_connect: %s: %s", shmchan_errname(err), d.text);
    }
    return cli;
}

/* The next event of `kind`, skipping none: anything else fails. */
static void expect_event(shmchan_server_t *srv, shmchan_event_kind_t kind, shmchan_event_t *ev)
{
    static uint8_t buf[256];
    const shmchan_err_t err = shmchan_server_wait(srv, T_MS, ev, buf, sizeof buf);
    if (err != SHMCHAN_OK || ev->kind != kind) {
        fail_msg("server_wait: %s, event kind %d (wanted kind %d)", shmchan_errname(err),
                 (int)ev->kind, (int)kind);
    }
}

static int semid_at(key_t key)
{
    const int id = semget(key, 0, 0);
    assert_true(id >= 0);
    return id;
}

static int sem_value(int semid, unsigned short num)
{
    const int v = semctl(semid, num, GETVAL);
    assert_true(v >= 0);
    return v;
}

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* A child process that makes one semaphore operation and exits: a peer of
 * the same uid, with a pid of its own (the kernel records it as sempid). */
struct sem_child_arg {
    int semid;
    unsigned short num;
    int setval; /* 1: SETVAL to `value`; 0: semop of `value` */
    int value;
};

static int sem_child_main(void *p)
{
    const struct sem_child_arg *a = p;
    if (a->setval) {
        union test_semun v = {.val = a->value};
        return semctl(a->semid, a->num, SETVAL, v) == 0 ? 0 : 1;
    }
    struct sembuf op = {.sem_num = a->num, .sem_op = (short)a->value, .sem_flg = IPC_NOWAIT};
    return semop(a->semid, &op, 1) == 0 ? 0 : 1;
}

static void sem_op_as_other_process(int semid, unsigned short num, int setval, int value)
{
    struct sem_child_arg a = {semid, num, setval, value};
    const pid_t pid = testutil_spawn(sem_child_main, &a);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
}

/* ------------------------------------- 1. no loop is driven by the peer */

struct flood {
    shmchan_lane_t lane; /* a producer on the victim slot's c2s lane */
    uint8_t *waiting_flag;
    volatile int stop;
    uint64_t frames;
};

/* Keeps the lane full of valid GOODBYE frames and the "producer waiting"
 * flag raised (so the consumer makes a syscall per frame and falls behind),
 * until told to stop or HOSTILE_MAX_MS passed. */
static void *flood_main(void *p)
{
    struct flood *f = p;
    const int64_t end = testutil_now_ms() + HOSTILE_MAX_MS;
    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) && testutil_now_ms() < end) {
        if (shmchan_lane_try_send(&f->lane, SHMCHAN_FRAME_GOODBYE, NULL, 0) == SHMCHAN_OK) {
            f->frames++;
        }
        shmchan_shm_store_u32_release(f->waiting_flag, 1);
    }
    return NULL;
}

static void test_goodbye_flood_cannot_pin_wait(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    shmchan_server_t *srv = make_server(key, NULL);
    shmchan_client_t *cli = make_client(key, NULL);
    shmchan_event_t ev;
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    const uint32_t slot = ev.client;

    /* The client sent nothing yet: a producer from position 0, counting
     * from the slot's generation as the client does, writes exactly what an
     * honest client would. */
    peer_map_t m;
    assert_int_equal(peer_attach(key, 0, &m), 0);
    struct flood f;
    memset(&f, 0, sizeof f);
    uint8_t *ctl = peer_ctl(&m, slot, SHMCHAN_SLOT_OFF_C2S_CTL);
    assert_int_equal(shmchan_lane_init(&f.lane, ctl, peer_c2s_ring(&m, slot),
                                       m.layout.params.lane_capacity,
                                       m.layout.params.max_payload),
                     SHMCHAN_OK);
    const uint32_t generation = shmchan_shm_load_u32_acquire(
        m.base + shmchan_layout_slot_offset(&m.layout, slot) + SHMCHAN_SLOT_OFF_GENERATION);
    shmchan_lane_set_first_seq(&f.lane, shmchan_layout_first_seq(generation));
    f.waiting_flag = ctl + SHMCHAN_LANE_OFF_PRODUCER_WAITING;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flood_main, &f), 0);

    /* A frame after a GOODBYE is a protocol error: the flood ends in a
     * DISCONNECT of that client, and no call waits past its deadline. */
    static uint8_t buf[256];
    int dropped = 0;
    for (int call = 0; call < 20 && !dropped; call++) {
        const int64_t t0 = testutil_now_ms();
        const shmchan_err_t err = shmchan_server_wait(srv, 200, &ev, buf, sizeof buf);
        const int64_t took = testutil_now_ms() - t0;
        print_message("wait #%d: %s kind %d after %lld ms\n", call, shmchan_errname(err),
                      (int)ev.kind, (long long)took);
        assert_true(took <= 200 + RETURN_SLACK_MS);
        assert_true(err == SHMCHAN_OK || err == SHMCHAN_E_TIMEOUT);
        if (err == SHMCHAN_OK && ev.kind == SHMCHAN_EVENT_DISCONNECT && ev.client == slot) {
            assert_int_equal(ev.reason, SHMCHAN_E_PROTOCOL);
            dropped = 1;
        }
    }
    __atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("hostile peer published %llu GOODBYE frames\n", (unsigned long long)f.frames);
    assert_true(dropped);
    assert_true(f.frames >= 2);
    assert_int_equal(shmdt(m.base), 0);

    /* The dropped client learns it; nothing is left afterwards. */
    uint8_t b[8];
    uint32_t len = 0;
    assert_int_equal(shmchan_client_recv(cli, b, sizeof b, &len, 0), SHMCHAN_E_PROTOCOL);
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* --------------------------------- 2. the cancel flag, whenever it is set */

/* The programs' flag, in a shared page (setup_cancel_page) so that a child
 * process can set it. */
static volatile sig_atomic_t *g_cancel;

static void test_cancel_already_set(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    *g_cancel = 0;
    shmchan_server_t *srv = make_server(key, g_cancel);
    shmchan_client_t *cli = make_client(key, g_cancel);
    shmchan_event_t ev;
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    static uint8_t buf[64];
    uint32_t len = 0;

    *g_cancel = 1;
    /* Each would wait (nothing to receive, nobody to connect) or has work
     * it could do (send has room): a set flag wins over both, at once. */
    assert_int_equal(shmchan_server_wait(srv, 3000, &ev, buf, sizeof buf), SHMCHAN_E_INTERRUPTED);
    assert_int_equal(shmchan_client_recv(cli, buf, sizeof buf, &len, 3000), SHMCHAN_E_INTERRUPTED);
    assert_int_equal(shmchan_client_send(cli, "x", 1, 3000), SHMCHAN_E_INTERRUPTED);
    assert_int_equal(shmchan_server_send(srv, ev.client, "x", 1, 3000), SHMCHAN_E_INTERRUPTED);
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.cancel = g_cancel;
    shmchan_client_t *second = NULL;
    assert_int_equal(shmchan_client_connect(key, &o, &second, NULL), SHMCHAN_E_INTERRUPTED);
    assert_null(second);

    *g_cancel = 0;
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* Sets the flag once thread `tid` of process `pid` is asleep in the
 * kernel (state 'S' in /proc), without a signal: no EINTR tells the
 * sleeper. The canceller is a child process writing the flag in a shared
 * page (g_cancel points there): a thread would race with the library's
 * plain read of the flag in ThreadSanitizer's eyes, as a signal handler in
 * the same thread does not. */

static int thread_sleeping(pid_t pid, pid_t tid)
{
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return 0;
    }
    char line[512];
    const int got = fgets(line, sizeof line, fp) != NULL;
    (void)fclose(fp);
    const char *close_paren = got ? strrchr(line, ')') : NULL;
    return close_paren != NULL && close_paren[1] == ' ' && close_paren[2] == 'S';
}

struct canceller {
    pid_t pid, tid;
};

/* Exit 0: saw the thread asleep, then set the flag; 1: set it anyway at
 * the deadline (the test then fails on the exit status). */
static int canceller_main(void *p)
{
    const struct canceller *c = p;
    const int64_t end = testutil_now_ms() + T_MS;
    int saw = 0;
    while (!saw && testutil_now_ms() < end) {
        saw = thread_sleeping(c->pid, c->tid);
        if (!saw) {
            sched_yield();
        }
    }
    *g_cancel = 1;
    return saw ? 0 : 1;
}

static pid_t start_canceller(void)
{
    struct canceller c = {getpid(), (pid_t)syscall(SYS_gettid)};
    *g_cancel = 0;
    const pid_t pid = testutil_spawn(canceller_main, &c);
    assert_true(pid > 0);
    return pid;
}

static int setup_cancel_page(void **state)
{
    (void)state;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return -1;
    }
    g_cancel = p;
    return 0;
}

static int teardown_cancel_page(void **state)
{
    (void)state;
    return munmap((void *)(uintptr_t)g_cancel, 4096);
}

static void test_cancel_set_between_sleeps(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    *g_cancel = 0;
    shmchan_server_t *srv = make_server(key, g_cancel);
    shmchan_event_t ev;
    static uint8_t buf[64];

    pid_t canceller = start_canceller();
    assert_int_equal(shmchan_server_wait(srv, 5000, &ev, buf, sizeof buf), SHMCHAN_E_INTERRUPTED);
    assert_int_equal(testutil_wait(canceller, T_MS), 0);

    *g_cancel = 0;
    shmchan_client_t *cli = make_client(key, g_cancel);
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    uint32_t len = 0;
    canceller = start_canceller();
    assert_int_equal(shmchan_client_recv(cli, buf, sizeof buf, &len, 5000), SHMCHAN_E_INTERRUPTED);
    assert_int_equal(testutil_wait(canceller, T_MS), 0);

    *g_cancel = 0;
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* A semaphore set at `key` shaped like a channel of one slot whose server
 * (this process) made its first semop, MARKER and ALIVE with SEM_UNDO, and
 * never got as far as READY. */
static int half_started_set(key_t key)
{
    const int semid = semget(key, (int)shmchan_layout_nsems(1), IPC_CREAT | IPC_EXCL | 0600);
    assert_true(semid >= 0);
    struct sembuf first[2] = {
        {.sem_num = SHMCHAN_SEM_MARKER, .sem_op = SHMCHAN_SEM_MARKER_VALUE, .sem_flg = 0},
        {.sem_num = SHMCHAN_SEM_SERVER_ALIVE, .sem_op = 1, .sem_flg = SEM_UNDO},
    };
    assert_int_equal(semop(semid, first, 2), 0);
    return semid;
}

static void test_connect_wait_cancelled(void **state)
{
    (void)state;
    const key_t key = testutil_key(4);
    const int semid = half_started_set(key);
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = 5000;
    o.cancel = g_cancel;
    const pid_t canceller = start_canceller();
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(shmchan_client_connect(key, &o, &cli, &d), SHMCHAN_E_INTERRUPTED);
    assert_int_equal(testutil_wait(canceller, T_MS), 0);
    assert_null(cli);
    *g_cancel = 0;
    assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
    assert_no_ipc_left();
}

/* The server died before it posted READY: the client says so at its next
 * look, not after its whole connect timeout. */
static void test_connect_sees_server_die_while_starting(void **state)
{
    (void)state;
    const key_t key = testutil_key(5);
    const int semid = half_started_set(key);
    /* Its token, taken with SEM_UNDO by this process, is given back by the
     * kernel only at exit; take it down as a dying server's kernel would. */
    struct sembuf down = {.sem_num = SHMCHAN_SEM_SERVER_ALIVE, .sem_op = -1, .sem_flg = SEM_UNDO};
    assert_int_equal(semop(semid, &down, 1), 0);
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = 60000;
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const int64_t t0 = testutil_now_ms();
    assert_int_equal(shmchan_client_connect(key, &o, &cli, &d), SHMCHAN_E_CLOSED);
    print_message("connect: %s after %lld ms\n", d.text, (long long)(testutil_now_ms() - t0));
    assert_non_null(strstr(d.text, "died while starting"));
    assert_null(cli);
    assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
    assert_no_ipc_left();
}

/* A server that serves nothing: it creates the channel, says so, and waits
 * to be killed. */
struct idle_server_arg {
    key_t key; /* the parent's: testutil_key depends on the pid */
    testutil_event_t ready;
};

static int idle_server_main(void *p)
{
    struct idle_server_arg *a = p;
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(a->key, NULL, &srv, NULL) != SHMCHAN_OK) {
        return 1;
    }
    testutil_event_signal(&a->ready);
    for (;;) {
        shmchan_event_t ev;
        uint8_t buf[64];
        (void)shmchan_server_wait(srv, 1000, &ev, buf, sizeof buf);
    }
}

/* A client connected to a server that was then SIGKILLed (its channel is
 * left stale, for the caller to remove). */
static shmchan_client_t *client_of_killed_server(key_t key)
{
    struct idle_server_arg sa = {.key = key};
    assert_int_equal(testutil_event_init(&sa.ready), 0);
    const pid_t server = testutil_spawn(idle_server_main, &sa);
    assert_true(server > 0);
    assert_int_equal(testutil_event_wait(&sa.ready, T_MS), 0);
    testutil_event_close(&sa.ready);
    shmchan_client_t *cli = make_client(key, NULL);
    assert_int_equal(kill(server, SIGKILL), 0);
    assert_int_equal(testutil_wait(server, T_MS), 128 + SIGKILL);
    return cli;
}

/* Re-posts a semaphore the moment it is taken ({sem == 0, sem + 1} in one
 * blocking semop): every sleep on it ends at once. Runs until killed. */
static int wake_flood_main(void *p)
{
    const struct sem_child_arg *a = p;
    for (;;) {
        struct sembuf ops[2] = {{.sem_num = a->num, .sem_op = 0, .sem_flg = 0},
                                {.sem_num = a->num, .sem_op = 1, .sem_flg = 0}};
        if (semop(a->semid, ops, 2) != 0 && errno != EINTR) {
            return 1;
        }
    }
}

/* A peer that ends every sleep of a client's recv with a wake must not keep
 * it from noticing that the server died: the kernel is asked once per
 * liveness period of the call, however its sleeps ended. */
static void test_wake_flood_cannot_hide_server_death(void **state)
{
    (void)state;
    const key_t key = testutil_key(11);
    shmchan_client_t *cli = client_of_killed_server(key);

    const unsigned short rx = (unsigned short)(SHMCHAN_SEM_FIXED +
                                               SHMCHAN_SEM_PER_SLOT * shmchan_client_slot(cli) +
                                               SHMCHAN_SEM_SLOT_RX);
    struct sem_child_arg a = {semid_at(key), rx, 0, 0};
    const pid_t flood = testutil_spawn(wake_flood_main, &a);
    assert_true(flood > 0);
    uint8_t buf[64];
    uint32_t len = 0;
    const shmchan_err_t err = shmchan_client_recv(cli, buf, sizeof buf, &len, 5000);
    assert_int_equal(kill(flood, SIGKILL), 0);
    assert_int_equal(testutil_wait(flood, T_MS), 128 + SIGKILL);
    assert_int_equal(err, SHMCHAN_E_CLOSED);
    shmchan_client_disconnect(cli);
    shmchan_channel_info_t info;
    assert_int_equal(shmchan_remove_stale(key, 0, &info, NULL), SHMCHAN_OK);
    assert_no_ipc_left();
}

/* A caller that polls with calls shorter than a liveness period (50 ms)
 * still hears of the server's death: every sleep of such a call times out,
 * and a timed-out sleep asks the kernel. */
static void test_short_calls_notice_server_death(void **state)
{
    (void)state;
    const key_t key = testutil_key(12);
    shmchan_client_t *cli = client_of_killed_server(key);
    uint8_t buf[64];
    uint32_t len = 0;
    shmchan_err_t err = SHMCHAN_E_TIMEOUT;
    int calls = 0;
    while (err == SHMCHAN_E_TIMEOUT && calls < 40) {
        err = shmchan_client_recv(cli, buf, sizeof buf, &len, 50);
        calls++;
    }
    print_message("recv(50 ms) after the server's SIGKILL: %s at call %d\n",
                  shmchan_errname(err), calls);
    assert_int_equal(err, SHMCHAN_E_CLOSED);
    shmchan_client_disconnect(cli);
    shmchan_channel_info_t info;
    assert_int_equal(shmchan_remove_stale(key, 0, &info, NULL), SHMCHAN_OK);
    assert_no_ipc_left();
}

/* ---------------------------------------- 3. liveness cannot be forged */

static void test_group_modes_refused(void **state)
{
    (void)state;
    static const unsigned modes[] = {0620u, 0640u, 0660u, 0644u, 0666u, 0700u};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        shmchan_server_options_t o;
        shmchan_server_options_init(&o);
        o.mode = modes[i];
        shmchan_server_t *srv = NULL;
        shmchan_diag_t d;
        memset(&d, 0, sizeof d);
        assert_int_equal(shmchan_server_create(testutil_key(6), &o, &srv, &d),
                         SHMCHAN_E_INVALID_ARGUMENT);
        assert_null(srv);
        assert_non_null(strstr(d.text, "only 0600 is supported"));
        assert_no_ipc_left();
    }
}

/* Another process of our uid takes the live server's token down (semop or
 * SETVAL): nothing may then judge the channel stale. */
static void forged_death_case(int setval)
{
    const key_t key = testutil_key(7);
    shmchan_server_t *srv = make_server(key, NULL);
    const int semid = semid_at(key);
    sem_op_as_other_process(semid, SHMCHAN_SEM_SERVER_ALIVE, setval, setval ? 0 : -1);
    assert_int_equal(sem_value(semid, SHMCHAN_SEM_SERVER_ALIVE), 0);

    shmchan_channel_info_t info;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(shmchan_inspect(key, &info, &d), SHMCHAN_OK);
    print_message("inspect: %s: %s\n", shmchan_status_name(info.status), info.reason);
    assert_int_equal(info.status, SHMCHAN_STATUS_LIVE);
    assert_int_equal(shmchan_remove_stale(key, 0, &info, &d), SHMCHAN_E_ALREADY_RUNNING);
    shmchan_server_t *second = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &second, &d), SHMCHAN_E_ALREADY_RUNNING);
    assert_null(second);

    /* The channel still works: a client connects and talks. */
    shmchan_client_t *cli = make_client(key, NULL);
    shmchan_event_t ev;
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    assert_int_equal(shmchan_client_send(cli, "hi", 2, T_MS), SHMCHAN_OK);
    expect_event(srv, SHMCHAN_EVENT_MESSAGE, &ev);
    assert_int_equal(ev.len, 2);
    assert_int_equal(shmchan_client_check(cli), SHMCHAN_OK);
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

static void test_forged_death_by_semop(void **state)
{
    (void)state;
    forged_death_case(0);
}

static void test_forged_death_by_setval(void **state)
{
    (void)state;
    forged_death_case(1);
}

/* --------------------------- 8. semaphores a peer can alter, reset slots */

/* A peer that connected posts FREE_i to SEMVMX and leaves: its DISCONNECT
 * is reported, the slot is offered again, and the next client's CONNECT is
 * reported: no wait fails on the way. */
static void test_free_token_flood(void **state)
{
    (void)state;
    const key_t key = testutil_key(8);
    shmchan_server_t *srv = make_server(key, NULL);
    shmchan_client_t *cli = make_client(key, NULL);
    shmchan_event_t ev;
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    const uint32_t slot = ev.client;
    const int semid = semid_at(key);
    const unsigned short free_sem =
        (unsigned short)(SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * slot + SHMCHAN_SEM_SLOT_FREE);
    sem_op_as_other_process(semid, free_sem, 0, 32767);
    shmchan_client_disconnect(cli);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, &ev);
    assert_int_equal(ev.client, slot);
    assert_int_equal(ev.reason, SHMCHAN_OK);
    /* Offered again, exactly once. */
    assert_int_equal(sem_value(semid, free_sem), 1);

    shmchan_client_t *again = make_client(key, NULL);
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    assert_int_equal(ev.client, shmchan_client_slot(again));
    shmchan_client_disconnect(again);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, &ev);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* A peer takes an offered slot's FREE_i down without claiming it: the server
 * sees a claim, reports CONNECT with pid 0 (nobody holds the token, so its
 * last operator is not this session's), then the DISCONNECT that pairs it,
 * and offers the slot again. */
static void test_phantom_claim_has_no_pid(void **state)
{
    (void)state;
    const key_t key = testutil_key(13);
    shmchan_server_t *srv = make_server(key, NULL);
    /* An earlier client leaves its pid on OWNER_0. */
    shmchan_client_t *cli = make_client(key, NULL);
    shmchan_event_t ev;
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    assert_int_equal(ev.pid, getpid());
    const uint32_t slot = ev.client;
    shmchan_client_disconnect(cli);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, &ev);

    const int semid = semid_at(key);
    const unsigned short free_sem =
        (unsigned short)(SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * slot + SHMCHAN_SEM_SLOT_FREE);
    sem_op_as_other_process(semid, free_sem, 1, 0);
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    assert_int_equal(ev.client, slot);
    assert_int_equal(ev.pid, 0);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, &ev);
    assert_int_equal(ev.client, slot);
    assert_int_equal(ev.reason, SHMCHAN_E_CLOSED);
    assert_int_equal(sem_value(semid, free_sem), 1); /* on offer again */
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* A token posted on a slot that is not on offer is withdrawn by the next
 * scan, so it cannot let a client in without an offer. */
static void test_forged_offer_withdrawn(void **state)
{
    (void)state;
    const key_t key = testutil_key(9);
    shmchan_server_t *srv = make_server(key, NULL);
    shmchan_client_t *cli = make_client(key, NULL);
    shmchan_event_t ev;
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    const int semid = semid_at(key);
    const unsigned short free_sem = (unsigned short)(SHMCHAN_SEM_FIXED +
                                                     SHMCHAN_SEM_PER_SLOT * ev.client +
                                                     SHMCHAN_SEM_SLOT_FREE);
    sem_op_as_other_process(semid, free_sem, 0, 5);
    static uint8_t buf[64];
    /* Three liveness periods: at least one scan runs in them. */
    assert_int_equal(shmchan_server_wait(srv, 3 * SHMCHAN_LIVENESS_PERIOD_MS, &ev, buf, sizeof buf),
                     SHMCHAN_E_TIMEOUT);
    assert_int_equal(sem_value(semid, free_sem), 0);
    shmchan_client_disconnect(cli);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, &ev);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* A peer releases a live client's OWNER token, claims the reset slot and
 * points the new lane's head past the old client's first frame, still in
 * the ring: the old frame must not be delivered a second time (its
 * sequence number belongs to the slot's previous generation). */
struct claim_arg {
    key_t key;
    uint32_t slot;
    uint32_t head;
};

static int claim_and_point_main(void *p)
{
    const struct claim_arg *a = p;
    const int semid = semget(a->key, 0, 0);
    const unsigned short owner =
        (unsigned short)(SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * a->slot);
    struct sembuf ops[3] = {
        {.sem_num = owner, .sem_op = 0, .sem_flg = IPC_NOWAIT},
        {.sem_num = (unsigned short)(owner + SHMCHAN_SEM_SLOT_FREE), .sem_op = -1,
         .sem_flg = IPC_NOWAIT},
        {.sem_num = owner, .sem_op = 1, .sem_flg = IPC_NOWAIT}, /* kept after exit */
    };
    if (semid < 0 || semop(semid, ops, 3) != 0) {
        return 1;
    }
    peer_map_t m;
    if (peer_attach(a->key, 0, &m) != 0) {
        return 2;
    }
    shmchan_shm_store_u32_release(peer_ctl(&m, a->slot, SHMCHAN_SLOT_OFF_C2S_CTL) +
                                      SHMCHAN_LANE_OFF_HEAD,
                                  a->head);
    struct sembuf wake = {.sem_num = SHMCHAN_SEM_SERVER_WAKE, .sem_op = 1, .sem_flg = 0};
    (void)semop(semid, &wake, 1);
    return shmdt(m.base) == 0 ? 0 : 3;
}

static void test_reset_slot_never_replays(void **state)
{
    (void)state;
    const key_t key = testutil_key(10);
    shmchan_server_t *srv = make_server(key, NULL);
    shmchan_client_t *cli = make_client(key, NULL);
    shmchan_event_t ev;
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    const uint32_t slot = ev.client;
    static const char msg[] = "pay 100 to alice";
    assert_int_equal(shmchan_client_send(cli, msg, sizeof msg - 1, T_MS), SHMCHAN_OK);
    expect_event(srv, SHMCHAN_EVENT_MESSAGE, &ev);

    /* Someone else takes the client's token down: to the server, the
     * client is gone; the slot is drained, reset and offered again. */
    const int semid = semid_at(key);
    sem_op_as_other_process(semid, (unsigned short)(SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * slot),
                            0, -1);
    struct sembuf wake = {.sem_num = SHMCHAN_SEM_SERVER_WAKE, .sem_op = 1, .sem_flg = 0};
    assert_int_equal(semop(semid, &wake, 1), 0);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, &ev);
    assert_int_equal(ev.client, slot);

    struct claim_arg a = {key, slot, SHMCHAN_FRAME_HEADER_SIZE + (uint32_t)(sizeof msg - 1)};
    const pid_t pid = testutil_spawn(claim_and_point_main, &a);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
    expect_event(srv, SHMCHAN_EVENT_CONNECT, &ev);
    assert_int_equal(ev.client, slot);
    static uint8_t buf[256];
    const shmchan_err_t err = shmchan_server_wait(srv, T_MS, &ev, buf, sizeof buf);
    print_message("after the replay attempt: %s kind %d reason %s\n", shmchan_errname(err),
                  (int)ev.kind, shmchan_errname(ev.reason));
    assert_int_equal(err, SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_DISCONNECT);
    assert_int_equal(ev.reason, SHMCHAN_E_PROTOCOL);
    assert_int_equal(ev.detail, SHMCHAN_E_PROTOCOL); /* out of sequence */

    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_goodbye_flood_cannot_pin_wait, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_cancel_already_set, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_cancel_set_between_sleeps, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_connect_wait_cancelled, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_connect_sees_server_die_while_starting,
                                  testutil_purge_fixture),
        cmocka_unit_test_teardown(test_wake_flood_cannot_hide_server_death, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_short_calls_notice_server_death, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_group_modes_refused, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_forged_death_by_semop, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_forged_death_by_setval, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_free_token_flood, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_forged_offer_withdrawn, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_phantom_claim_has_no_pid, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_reset_slot_never_replays, testutil_purge_fixture),
    };
    return cmocka_run_group_tests(tests, setup_cancel_page, teardown_cancel_page);
}
