/*
 * foreign_uid_test.c - ownership against a real second uid (65534), on the
 * server side and on the client side: objects another user created, objects
 * we gave away with IPC_SET (uid another's, cuid ours), and objects another
 * user gave to us (uid ours, cuid another's: the give-away the kernel allows
 * an owner, which only the creator uid exposes).
 *
 * Needs root outside a user namespace: Bazel's linux-sandbox maps no second
 * uid (setuid(65534) and IPC_SET uid=65534 fail there), so tests/BUILD tags
 * this target "local", and main() gives the process an IPC namespace of its
 * own (what the sandbox would give; nothing in the host's namespace is seen
 * or touched). Where that is impossible the tests FAIL, never skip: a skip
 * would hide that the checks went unexercised.
 */
/* unshare(2) and CLONE_NEWIPC are Linux extensions of <sched.h>. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
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

#include "src/shmchan.h"
#include "tests/handmade.h"
#include "tests/testutil.h"

#define OTHER_UID HANDMADE_OTHER_UID
#define T_MS 10000

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_attach(), 0);
}

static void remove_at_key(key_t key)
{
    handmade_remove(key);
}

/* A server refuses the key with `expect` and leaves both ids as they were. */
static void server_refuses(key_t key, shmchan_err_t expect)
{
    const int shmid = shmget(key, 0, 0);
    const int semid = semget(key, 0, 0);
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, NULL, &srv, &d);
    print_message("  server_create: %s: %s\n", shmchan_errname(err), d.text);
    shmchan_server_destroy(srv);
    assert_int_equal(err, expect);
    assert_int_equal(shmget(key, 0, 0), shmid);
    assert_int_equal(semget(key, 0, 0), semid);
}

/* A client expecting `uid` gets `expect`; `what` is in a refusal's text. */
static void client_gets(key_t key, uid_t uid, shmchan_err_t expect, const char *what)
{
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.expected_uid = uid;
    o.connect_timeout_ms = 0;
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_client_connect(key, &o, &cli, &d);
    print_message("  connect (expecting uid %u): %s: %s\n", (unsigned)uid, shmchan_errname(err),
                  d.text);
    shmchan_client_disconnect(cli);
    assert_int_equal(err, expect);
    if (what != NULL) {
        assert_non_null(strstr(d.text, what));
    }
}

static int become_other(void)
{
    return testutil_become(OTHER_UID, (gid_t)OTHER_UID);
}

/* The key of every test but (d) and (e); a child's testutil_key would
 * differ (it mixes in the pid), so children get it from here. */
static key_t g_key;

/* As the other user: a raw 0600 segment (what = 0) or a shmchan channel
 * whose server dies at once (what = 1: stale, reclaimable by its owner). */
static int other_uid_main(void *p)
{
    const int what = *(const int *)p;
    if (become_other() != 0) {
        return 77;
    }
    const key_t key = g_key;
    if (what == 0) {
        return shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) >= 0 ? 0 : 10;
    }
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(key, NULL, &srv, NULL) != SHMCHAN_OK) {
        return 11;
    }
    raise(SIGKILL);
    return 12;
}

static void make_as_other(int what)
{
    int w = what;
    const pid_t pid = testutil_spawn(other_uid_main, &w);
    assert_true(pid > 0);
    const int status = testutil_wait(pid, T_MS);
    if (status == 77) {
        fail_msg("cannot become uid %u: run as root outside a user namespace", (unsigned)OTHER_UID);
    }
    assert_int_equal(status, what == 0 ? 0 : 128 + SIGKILL);
}

/* A shmchan server of ours that dies without a word: a stale channel. */
static int crash_server_main(void *p)
{
    (void)p;
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(g_key, NULL, &srv, NULL) != SHMCHAN_OK) {
        return 10;
    }
    raise(SIGKILL);
    return 11;
}

static void make_stale_channel_of_ours(void)
{
    const pid_t pid = testutil_spawn(crash_server_main, NULL);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, T_MS), 128 + SIGKILL);
}

/* (a) Objects another user created: never ours, not even when stale. */
static void test_foreign_other_uid(void **state)
{
    (void)state;
    const key_t key = testutil_key(211);
    make_as_other(0);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    client_gets(key, geteuid(), SHMCHAN_E_NOT_FOUND, NULL);
    remove_at_key(key);

    make_as_other(1);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    client_gets(key, geteuid(), SHMCHAN_E_FOREIGN, "semaphore set");
    remove_at_key(key);
    assert_no_ipc_left();
}

/* (b) Objects we created and gave away (uid another's, cuid ours). */
static void test_foreign_uid_giveaway(void **state)
{
    (void)state;
    const key_t key = testutil_key(211);
    assert_true(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) >= 0);
    assert_int_equal(handmade_set_owner(key, 1, OTHER_UID), 0);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    client_gets(key, geteuid(), SHMCHAN_E_NOT_FOUND, NULL);
    remove_at_key(key);

    /* A stale channel, otherwise reclaimable, whose set was given away. */
    make_stale_channel_of_ours();
    assert_int_equal(handmade_set_owner(key, 0, OTHER_UID), 0);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    client_gets(key, geteuid(), SHMCHAN_E_FOREIGN, "semaphore set");
    remove_at_key(key);

    make_stale_channel_of_ours();
    assert_int_equal(handmade_set_owner(key, 1, OTHER_UID), 0);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    /* The client checks the segment's owner before it asks whether the
     * server is dead (the liveness rule needs the segment's creator pid).
     * While this test could only skip, it expected CLOSED here, the
     * answer of the connect order before d8ca198. */
    client_gets(key, geteuid(), SHMCHAN_E_FOREIGN, "segment");
    remove_at_key(key);
    assert_no_ipc_left();
}

/* (c) Server side: another user's stale channel, both objects then given
 * to us. The owner uid is ours; only the creator uid says whose it is. A
 * server that trusted uid alone would reclaim another user's channel. */
static void test_given_to_us_server_side(void **state)
{
    (void)state;
    const key_t key = testutil_key(211);
    /* Control: our own stale channel is reclaimed. */
    make_stale_channel_of_ours();
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();

    make_as_other(1);
    assert_int_equal(handmade_set_owner(key, 0, geteuid()), 0);
    assert_int_equal(handmade_set_owner(key, 1, geteuid()), 0);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    remove_at_key(key);

    /* One object given at a time: each is checked on its own. */
    make_as_other(1);
    assert_int_equal(handmade_set_owner(key, 0, geteuid()), 0);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    remove_at_key(key);
    make_as_other(1);
    assert_int_equal(handmade_set_owner(key, 1, geteuid()), 0);
    server_refuses(key, SHMCHAN_E_FOREIGN);
    remove_at_key(key);
    assert_no_ipc_left();
}

/* (d) Client side, on channels assembled by hand (tests/handmade.h) so that
 * one object at a time is another user's: given to us (uid ours, cuid
 * theirs) it is refused, and the diagnostic names that object. */
static void test_given_to_us_client_side(void **state)
{
    (void)state;
    const key_t key = testutil_key(212);
    const uid_t me = geteuid();

    /* Control: the same channel, all ours, is accepted. */
    handmade_spec_t spec = {0};
    assert_int_equal(handmade_build(key, &spec), 0);
    client_gets(key, me, SHMCHAN_OK, NULL);
    remove_at_key(key);

    spec = (handmade_spec_t){.set_by_other = 1};
    assert_int_equal(handmade_build(key, &spec), 0);
    client_gets(key, me, SHMCHAN_E_FOREIGN, "semaphore set");
    assert_int_equal(handmade_set_owner(key, 0, me), 0);
    client_gets(key, me, SHMCHAN_E_FOREIGN, "semaphore set");
    remove_at_key(key);

    spec = (handmade_spec_t){.shm_by_other = 1};
    assert_int_equal(handmade_build(key, &spec), 0);
    client_gets(key, me, SHMCHAN_E_FOREIGN, "segment");
    assert_int_equal(handmade_set_owner(key, 1, me), 0);
    client_gets(key, me, SHMCHAN_E_FOREIGN, "segment");
    remove_at_key(key);
    assert_no_ipc_left();
}

/* As the other user, with the default options: connects to `*key`? */
static int other_connects_main(void *p)
{
    if (become_other() != 0) {
        return 77;
    }
    shmchan_client_t *cli = NULL;
    const shmchan_err_t err = shmchan_client_connect(*(const key_t *)p, NULL, &cli, NULL);
    shmchan_client_disconnect(cli);
    return err == SHMCHAN_OK ? 0 : 20 + (int)err;
}

/* (e) Client side: a channel that is entirely the other user's is accepted
 * by a client that expects that user (the check compares, it does not just
 * refuse whatever is not root's) and refused by one expecting us. */
static void test_expected_uid_is_compared(void **state)
{
    (void)state;
    const key_t key = testutil_key(212);
    handmade_spec_t spec = {.set_by_other = 1, .shm_by_other = 1};
    assert_int_equal(handmade_build(key, &spec), 0);
    client_gets(key, OTHER_UID, SHMCHAN_OK, NULL);
    client_gets(key, geteuid(), SHMCHAN_E_FOREIGN, "semaphore set");
    /* The other user's own client, default options: it expects its own
     * euid (not root's, not 0). */
    key_t k = key;
    const pid_t pid = testutil_spawn(other_connects_main, &k);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
    /* Both given to us: uid ours, cuid theirs, on both objects. */
    assert_int_equal(handmade_set_owner(key, 0, geteuid()), 0);
    assert_int_equal(handmade_set_owner(key, 1, geteuid()), 0);
    client_gets(key, geteuid(), SHMCHAN_E_FOREIGN, "semaphore set");
    client_gets(key, OTHER_UID, SHMCHAN_E_FOREIGN, "semaphore set");
    remove_at_key(key);
    assert_no_ipc_left();
}

static int teardown(void **state)
{
    (void)state;
    remove_at_key(testutil_key(211));
    remove_at_key(testutil_key(212));
    return 0;
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "foreign_uid_test: needs root (a second real uid)\n");
        return 1;
    }
    if (unshare(CLONE_NEWIPC) != 0) {
        fprintf(stderr, "foreign_uid_test: unshare(CLONE_NEWIPC): %s\n", strerror(errno));
        return 1;
    }
    g_key = testutil_key(211);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_foreign_other_uid, teardown),
        cmocka_unit_test_teardown(test_foreign_uid_giveaway, teardown),
        cmocka_unit_test_teardown(test_given_to_us_server_side, teardown),
        cmocka_unit_test_teardown(test_given_to_us_client_side, teardown),
        cmocka_unit_test_teardown(test_expected_uid_is_compared, teardown),
    };
    return cmocka_run_group_tests_name("foreign_uid", tests, NULL, NULL);
}
