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
#include <unistd.h>

#include <cmocka.h>

#include "src/conn.h"
#include "src/sysv.h"
#include "tests/testutil.h"

#define SERVER_UID ((uid_t)61001)
#define CLIENT_UID ((uid_t)61002)
#define CONN_SIZE 4096u
#define T_MS 10000

static key_t g_key;
static int g_give; /* the client gives its objects to the server */
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
    if (shmchan_conn_create(g_key, CONN_SIZE, g_give ? SERVER_UID : CLIENT_UID, &o, &d) !=
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_given_and_allowed),
        cmocka_unit_test(test_not_given),
        cmocka_unit_test(test_squatted_key_rolled_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
