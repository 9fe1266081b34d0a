/*
 * conn_gather_test.c - the server's judgement of a client's objects against
 * the real kernel, with real uids (conn_probe.c gathering, conn.c
 * deciding): what an unprivileged server sees of objects a client of
 * another uid created, gave or did not give, and left behind when it died.
 *
 * Needs root outside a user namespace (setresuid to uids nobody mapped):
 * tagged "local" in tests/BUILD, an IPC namespace of its own (main). Fails,
 * never skips, where it cannot run.
 */
/* unshare(2), CLONE_NEWIPC, setresuid(2), setgroups(2): GNU extensions. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/conn.h"
#include "src/sysv.h"
#include "tests/testutil.h"

#define SERVER_UID ((uid_t)61001)
#define CLIENT_UID ((uid_t)61002)
#define THIRD_UID ((uid_t)61003)
#define CONN_SIZE 4096u
#define T_MS 10000

static key_t g_key;
static key_t g_conn_key; /* where client_main makes its connection (g_key by default) */
static int g_give;       /* the client gives its objects to the server */
static testutil_event_t g_ready, g_done;

static int become(uid_t uid)
{
    return setgroups(0, NULL) == 0 && setresgid(uid, uid, uid) == 0 &&
                   setresuid(uid, uid, uid) == 0
               ? 0
               : -1;
}

/* The client: its set (token taken with SEM_UNDO) and segment, attached,
 * given to the server or not; then it lives until told to go. */
static int client_main(void *arg)
{
    (void)arg;
    if (become(CLIENT_UID) != 0) {
        return 77;
    }
    /* Not given: the client's own uid as the "server" (a no-op give). */
    shmchan_conn_objects_t o;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    if (shmchan_conn_create(g_conn_key, CONN_SIZE, g_give ? SERVER_UID : CLIENT_UID, &o, &d) !=
        SHMCHAN_OK) {
        fprintf(stderr, "client: %s\n", d.text);
        return 10;
    }
    testutil_event_signal(&g_ready);
    return testutil_event_wait(&g_done, T_MS) == 0 ? 0 : 12;
}

static const uid_t g_alice[] = {CLIENT_UID};
static int g_allow_client;

/* The server, unprivileged: gathers and judges; exits with the decision. */
static int server_main(void *arg)
{
    (void)arg;
    if (become(SERVER_UID) != 0) {
        return 77;
    }
    gid_t groups[16];
    shmchan_conn_facts_t f;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    if (shmchan_conn_gather(g_key, CONN_SIZE, groups, 16, &f, &d) != SHMCHAN_OK) {
        fprintf(stderr, "gather: %s\n", d.text);
        return 100;
    }
    const shmchan_allow_t allow = {SERVER_UID, g_allow_client ? g_alice : NULL,
                                   g_allow_client ? 1u : 0u, NULL, 0};
    char why[300];
    const shmchan_conn_decision_t dec = shmchan_conn_judge(&f, &allow, why, sizeof why);
    fprintf(stderr, "  judged %s: %s\n", shmchan_conn_decision_name(dec), why);
    return (int)dec;
}

static int run(int (*fn)(void *))
{
    const pid_t pid = testutil_spawn(fn, NULL);
    assert_true(pid > 0);
    const int status = testutil_wait(pid, T_MS);
    if (status == 77) {
        fail_msg("cannot change uid: run as root outside a user namespace");
    }
    return status;
}

/* Starts the client; returns its pid once its objects are in place. */
static pid_t start_client(int give)
{
    g_give = give;
    assert_int_equal(testutil_event_init(&g_ready), 0);
    assert_int_equal(testutil_event_init(&g_done), 0);
    const pid_t pid = testutil_spawn(client_main, NULL);
    assert_true(pid > 0);
    assert_int_equal(testutil_event_wait(&g_ready, T_MS), 0);
    return pid;
}

static void stop_client(pid_t pid)
{
    testutil_event_signal(&g_done);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
    testutil_event_close(&g_ready);
    testutil_event_close(&g_done);
}

static void cleanup(void)
{
    testutil_purge_key_block(g_key);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

static void test_absent(void **state)
{
    (void)state;
    g_allow_client = 1;
    assert_int_equal(run(server_main), SHMCHAN_CONN_ABSENT);
}

static void test_given_and_allowed(void **state)
{
    (void)state;
    const pid_t c = start_client(1);
    g_allow_client = 1;
    assert_int_equal(run(server_main), SHMCHAN_CONN_ACCEPT);
    g_allow_client = 0;
    assert_int_equal(run(server_main), SHMCHAN_CONN_REFUSE_UID);
    stop_client(c);
    /* Its exit took its token down (SEM_UNDO): leftovers the server may
     * remove, being their owner. */
    g_allow_client = 1;
    assert_int_equal(run(server_main), SHMCHAN_CONN_DEAD);
    cleanup();
}

/* Not given: the server may not even stat the set (EACCES), which the
 * judge reads as "not ours (yet)". */
/* A key whose segment someone else holds: the client's create fails with
 * ALREADY_RUNNING (try the next key) and leaves nothing of its own. */
static int client_squatted_main(void *arg)
{
    (void)arg;
    if (become(CLIENT_UID) != 0) {
        return 77;
    }
    shmchan_conn_objects_t o;
    const shmchan_err_t e = shmchan_conn_create(g_key, CONN_SIZE, SERVER_UID, &o, NULL);
    if (e != SHMCHAN_E_ALREADY_RUNNING) {
        fprintf(stderr, "create on a squatted key: %s\n", shmchan_errname(e));
        return 1;
    }
    return o.semid == -1 && o.shmid == -1 && o.base == NULL ? 0 : 2;
}

static void test_squatted_key_rolled_back(void **state)
{
    (void)state;
    int shmid = -1;
    assert_int_equal(shmchan_sys_shm_create(g_key, 64, 0600, &shmid, NULL), SHMCHAN_OK);
    assert_int_equal(run(client_squatted_main), 0);
    /* Only the squatter's segment is there: the client removed its set. */
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_shm(), 1);
    assert_int_equal(shmchan_sys_shm_remove(shmid, NULL), SHMCHAN_OK);
    cleanup();
}

static void test_not_given(void **state)
{
    (void)state;
    const pid_t c = start_client(0);
    g_allow_client = 1;
    assert_int_equal(run(server_main), SHMCHAN_CONN_PENDING);
    stop_client(c);
    cleanup();
}

/* A set of g_nsems semaphores at g_key, made by CLIENT_UID, its first
 * semaphore raised (no undo: it stays up after the exit), given to the
 * server; no segment. */
static unsigned g_nsems;

static int odd_set_main(void *arg)
{
    (void)arg;
    if (become(CLIENT_UID) != 0) {
        return 77;
    }
    int semid = -1;
    struct sembuf up = {0, 1, 0};
    if (shmchan_sys_sem_create(g_key, g_nsems, 0600, &semid, NULL) != SHMCHAN_OK ||
        semop(semid, &up, 1) != 0 ||
        shmchan_sys_sem_give(semid, SERVER_UID, SHMCHAN_SYS_GID_KEEP, NULL) != SHMCHAN_OK) {
        return 10;
    }
    return 0;
}

/* A set of another shape than a connection's, given to the server with a
 * raised "token": gathered whole (only the semaphores it has are read) and
 * refused for its shape. Three is the channel set's own count, one short
 * of VERDICT's index. */
static void test_other_shapes_refused(void **state)
{
    (void)state;
    static const unsigned shapes[] = {1, 3, 8};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        g_nsems = shapes[i];
        assert_int_equal(run(odd_set_main), 0);
        g_allow_client = 1;
        assert_int_equal(run(server_main), SHMCHAN_CONN_REFUSE_SHAPE);
        cleanup();
    }
}

/* The creator's groups are looked up (for --allow-group) from the account
 * the kernel names: root's connection, gathered with room for groups,
 * lists root's group 0; with no room, none is looked up. */
static void test_creator_groups_gathered(void **state)
{
    (void)state;
    shmchan_conn_objects_t o;
    assert_int_equal(shmchan_conn_create(g_key, CONN_SIZE, 0, &o, NULL), SHMCHAN_OK);
    gid_t groups[16];
    shmchan_conn_facts_t f;
    assert_int_equal(shmchan_conn_gather(g_key, CONN_SIZE, groups, 16, &f, NULL), SHMCHAN_OK);
    int has_root = 0;
    for (size_t i = 0; i < f.nmember_of; i++) {
        has_root |= f.member_of[i] == 0;
    }
    assert_true(has_root);
    assert_int_equal(shmchan_conn_gather(g_key, CONN_SIZE, NULL, 0, &f, NULL), SHMCHAN_OK);
    assert_int_equal(f.nmember_of, 0);
    shmchan_conn_destroy(&o);
    cleanup();
}

/* Sweeps of channel g_key, as the server's uid: the count of dead
 * connections found (dry run first, then removing). */
static int sweep_main(void *arg)
{
    (void)arg;
    if (become(SERVER_UID) != 0) {
        return 77;
    }
    const uint32_t dry = shmchan_conn_sweep_dead(g_key, 1);
    const uint32_t removed = shmchan_conn_sweep_dead(g_key, 0);
    const uint32_t after = shmchan_conn_sweep_dead(g_key, 1);
    return dry == 1 && removed == 1 && after == 0 ? 0 : (int)(10 + dry * 4 + removed);
}

/* A dead connection at the channel's slot 0 is found once by a dry run,
 * removed once, then gone (every slot key once: the window's last key is
 * the doorbell's, not a slot's). */
static void test_sweep_finds_each_dead_connection_once(void **state)
{
    (void)state;
    g_conn_key = shmchan_conn_key(g_key, 0);
    stop_client(start_client(1));
    g_conn_key = g_key;
    assert_int_equal(run(sweep_main), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_shm(), 0);
}

/* A segment at the key made by THIRD_UID and given to the server. */
static int third_segment_main(void *arg)
{
    (void)arg;
    if (become(THIRD_UID) != 0) {
        return 77;
    }
    int shmid = -1;
    return shmchan_sys_shm_create(g_conn_key, CONN_SIZE, 0600, &shmid, NULL) == SHMCHAN_OK &&
                   shmchan_sys_shm_give(shmid, SERVER_UID, NULL) == SHMCHAN_OK
               ? 0
               : 10;
}

/* A dead connection's set, beside a segment that is not its client's
 * (another creator's, given to the server too): the sweep removes the set
 * and leaves the segment - the server may remove it, but it is not the
 * dead client's to take away. */
static void test_sweep_keeps_a_segment_of_another_creator(void **state)
{
    (void)state;
    g_conn_key = shmchan_conn_key(g_key, 0);
    stop_client(start_client(1));
    const int shmid = shmget(g_conn_key, 0, 0);
    assert_true(shmid >= 0);
    assert_int_equal(shmctl(shmid, IPC_RMID, NULL), 0);
    assert_int_equal(run(third_segment_main), 0);
    g_conn_key = g_key;
    assert_int_equal(run(sweep_main), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_shm(), 1);
    const int left = shmget(shmchan_conn_key(g_key, 0), 0, 0);
    assert_true(left >= 0);
    assert_int_equal(shmctl(left, IPC_RMID, NULL), 0);
}

/* In a fresh IPC namespace the first set and segment get id 0, a valid
 * id: a connection with those ids is removed whole when its client
 * leaves. */
static int fresh_namespace_main(void *arg)
{
    (void)arg;
    if (unshare(CLONE_NEWIPC) != 0) {
        return 10;
    }
    shmchan_conn_objects_t o;
    if (shmchan_conn_create(g_key, CONN_SIZE, 0, &o, NULL) != SHMCHAN_OK) {
        return 11;
    }
    if (o.semid != 0 || o.shmid != 0) {
        fprintf(stderr, "fresh namespace: ids %d and %d, not 0\n", o.semid, o.shmid);
        return 12;
    }
    shmchan_conn_destroy(&o);
    return testutil_count_sem() == 0 && testutil_count_shm() == 0 ? 0 : 13;
}

static void test_ids_zero_removed(void **state)
{
    (void)state;
    assert_int_equal(run(fresh_namespace_main), 0);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "conn_gather_test: needs root (real uids)\n");
        return 1;
    }
    if (unshare(CLONE_NEWIPC) != 0) {
        fprintf(stderr, "conn_gather_test: unshare(CLONE_NEWIPC): %s\n", strerror(errno));
        return 1;
    }
    g_key = testutil_key(7);
    g_conn_key = g_key;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_given_and_allowed),
        cmocka_unit_test(test_not_given),
        cmocka_unit_test(test_squatted_key_rolled_back),
        cmocka_unit_test(test_other_shapes_refused),
        cmocka_unit_test(test_creator_groups_gathered),
        cmocka_unit_test(test_sweep_finds_each_dead_connection_once),
        cmocka_unit_test(test_sweep_keeps_a_segment_of_another_creator),
        cmocka_unit_test(test_ids_zero_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
