/* Stopping the server from outside.
 *   SIGINT, SIGTERM, SIGHUP with a client connected: the server says so on
 *   stderr, removes both objects and exits 128+N; the idle client (it types
 *   nothing) notices and exits 3; nothing is left.
 *   SIGKILL: nothing can clean up; `shmchanctl list` shows the channel
 *   stale, `shmchanctl clean --stale --key K` removes exactly it, and a
 *   server restarted at the key reclaims it by itself. */
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

#include <cmocka.h>

#include "tests/e2e/e2e_util.h"

static e2e_proc_t server;
static e2e_proc_t client;
static e2e_proc_t ctl;

static void assert_gone_message(const e2e_proc_t *p, key_t key)
{
    char expect[96];
    snprintf(expect, sizeof expect, "client: server at key 0x%08x is gone: ", (unsigned)key);
    if (!e2e_contains(p->err, p->err_len, expect)) {
        fail_msg("client stderr lacks '%s': %s", expect, p->err);
    }
}

/* A chat server with one idle client connected (it has its hello). */
static void start_pair(key_t key)
{
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_int_equal(e2e_start_client(&client, key, NULL, E2E_STDIN_PIPE), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD, E2E_DEADLINE_MS), 0);
}

static void signal_case(int sig, const char *name, unsigned salt)
{
    const key_t key = testutil_key(salt);
    start_pair(key);
    assert_int_equal(testutil_count_shm(), 1);
    assert_int_equal(testutil_count_sem(), 1);

    assert_int_equal(e2e_kill_and_finish(&server, sig, E2E_DEADLINE_MS), 128 + sig);
    char expect[64];
    snprintf(expect, sizeof expect, "Server: caught %s, shutting down\n", name);
    assert_string_equal(server.err, expect);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD);
    /* The server removed both objects before exiting: nothing is at the
     * key any more (the segment itself lives on, keyless, until the
     * client detaches: shmctl(2) IPC_RMID). */
    assert_int_equal(shmget(key, 0, 0), -1);
    assert_int_equal(semget(key, 0, 0), -1);

    /* The client's stdin stays open and silent: it must notice anyway. */
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 3);
    assert_gone_message(&client, key);
    assert_string_equal(client.out, E2E_CHAT_CLIENT_HEAD);
    e2e_assert_no_ipc_left();
}

static void test_sigint(void **state)
{
    (void)state;
    signal_case(SIGINT, "SIGINT", 1);
}

static void test_sigterm(void **state)
{
    (void)state;
    signal_case(SIGTERM, "SIGTERM", 2);
}

static void test_sighup(void **state)
{
    (void)state;
    signal_case(SIGHUP, "SIGHUP", 3);
}

/* At a terminal the client sits at its "> " prompt; the server goes away;
 * the client ends the prompt's line before its message. */
static void test_sigterm_with_tty_client(void **state)
{
    (void)state;
    const key_t key = testutil_key(8);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_int_equal(e2e_start_client(&client, key, NULL, E2E_STDIN_TTY), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD "> ", E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_kill_and_finish(&server, SIGTERM, E2E_DEADLINE_MS), 128 + SIGTERM);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 3);
    assert_string_equal(client.out, E2E_CHAT_CLIENT_HEAD "> \n");
    assert_gone_message(&client, key);
    e2e_assert_no_ipc_left();
}

/* A greet server waiting for its first client. */
static void test_sigterm_greet_server_without_client(void **state)
{
    (void)state;
    const char *const greet[] = {"--greet", NULL};
    assert_int_equal(e2e_start_server(&server, testutil_key(4), greet), 0);
    assert_int_equal(e2e_kill_and_finish(&server, SIGTERM, E2E_DEADLINE_MS), 128 + SIGTERM);
    assert_string_equal(server.out, E2E_GREET_SERVER_HEAD);
    assert_string_equal(server.err, "Server: caught SIGTERM, shutting down\n");
    e2e_assert_no_ipc_left();
}

static void key_arg(key_t key, char *buf, size_t len)
{
    snprintf(buf, len, "--key=0x%08x", (unsigned)key);
}

static void test_sigkill_then_clean(void **state)
{
    (void)state;
    const key_t key = testutil_key(5);
    start_pair(key);
    const int shmid = shmget(key, 0, 0);
    const int semid = semget(key, 0, 0);
    assert_true(shmid >= 0 && semid >= 0);

    assert_int_equal(e2e_kill_and_finish(&server, SIGKILL, E2E_DEADLINE_MS), 128 + SIGKILL);
    /* The kernel released the server's liveness token: the client learns
     * the server is dead without any message from it. */
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 3);
    assert_gone_message(&client, key);

    /* Left behind, and shown as stale with the kernel's ids. */
    assert_int_equal(testutil_count_shm(), 1);
    assert_int_equal(testutil_count_sem(), 1);
    const char *const list[] = {"list", NULL};
    assert_int_equal(e2e_ctl(&ctl, list), 0);
    char row[9][32];
    assert_int_equal(e2e_list_row(ctl.out, key, row), 9);
    char id[16];
    snprintf(id, sizeof id, "%d", shmid);
    assert_string_equal(row[1], id);
    snprintf(id, sizeof id, "%d", semid);
    assert_string_equal(row[2], id);
    assert_string_equal(row[7], "stale");

    char karg[32];
    key_arg(key, karg, sizeof karg);
    const char *const inspect[] = {"inspect", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect), 0);
    assert_true(e2e_contains(ctl.out, ctl.out_len, "status:        stale\n"));

    /* A dry run says what it would do and does nothing. */
    const char *const dry[] = {"clean", "--stale", karg, "--dry-run", NULL};
    assert_int_equal(e2e_ctl(&ctl, dry), 0);
    char expect[128];
    snprintf(expect, sizeof expect,
             "would remove stale channel at key 0x%08x: shmid %d, semid %d\n", (unsigned)key, shmid,
             semid);
    assert_string_equal(ctl.out, expect);
    assert_int_equal(testutil_count_shm(), 1);
    assert_int_equal(testutil_count_sem(), 1);

    const char *const clean[] = {"clean", "--stale", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, clean), 0);
    snprintf(expect, sizeof expect, "removed stale channel at key 0x%08x: shmid %d, semid %d\n",
             (unsigned)key, shmid, semid);
    assert_string_equal(ctl.out, expect);
    e2e_assert_no_ipc_left();

    /* Cleaning again: nothing there, said so, non-zero. */
    assert_int_equal(e2e_ctl(&ctl, clean), 1);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "not removing key"));
}

static void test_sigkill_then_restart_recovers(void **state)
{
    (void)state;
    const key_t key = testutil_key(6);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    const int old_shmid = shmget(key, 0, 0);
    assert_true(old_shmid >= 0);
    assert_int_equal(e2e_kill_and_finish(&server, SIGKILL, E2E_DEADLINE_MS), 128 + SIGKILL);
    assert_int_equal(testutil_count_shm(), 1);

    /* The new server judges the leftovers stale, removes them, starts. */
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD);
    assert_int_equal(testutil_count_shm(), 1);
    assert_int_equal(testutil_count_sem(), 1);
    assert_true(shmget(key, 0, 0) != old_shmid);

    static const char input[] = "after the restart\nexit\n";
    assert_int_equal(e2e_run_client(&client, key, input, sizeof input - 1), 0);
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD "Server received: after the restart\n"
                                                         "Server received: exit\n"
                                                         "Server shutting down...\n");
    e2e_assert_no_ipc_left();
}

/* A second server at a live key is refused and leaves the first intact. */
static void test_second_server_refused(void **state)
{
    (void)state;
    const key_t key = testutil_key(7);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    char karg[32];
    key_arg(key, karg, sizeof karg);
    const char *const args[] = {karg, NULL};
    assert_int_equal(e2e_run(&ctl, "server", args, NULL), 1);
    assert_true(strncmp(ctl.err, "server: ", 8) == 0);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "a live shmchan server"));
    assert_string_equal(ctl.out, "");

    static const char input[] = "still here\nexit\n";
    assert_int_equal(e2e_run_client(&client, key, input, sizeof input - 1), 0);
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_true(e2e_contains(server.out, server.out_len, "Server received: still here\n"));
    e2e_assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigint, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_sighup, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_with_tty_client, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_greet_server_without_client, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_then_clean, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_then_restart_recovers, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_second_server_refused, e2e_setup, e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
