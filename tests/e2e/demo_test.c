/* The two seed demos, end to end with the real programs, compared line by
 * line with the seeds' own strings:
 *   seed 000: server writes "Hello from the other side!", client reads it,
 *             server notices, cleans up, exits;
 *   seed 004: chat: the client's lines appear as "Server received: LINE";
 *             "exit" stops both.
 * Each test ends with no SysV object left in the test's IPC namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/e2e/e2e_util.h"

/* Static: a failed assertion unwinds the test's stack. */
static e2e_proc_t server;
static e2e_proc_t client;
static e2e_proc_t idle;

static void test_seed000_greet(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    const char *const greet[] = {"--greet", NULL};
    assert_int_equal(e2e_start_server(&server, key, greet), 0);
    assert_string_equal(server.out, E2E_GREET_SERVER_HEAD);

    assert_int_equal(e2e_run_client(&client, key, NULL, 0), 0);
    assert_string_equal(client.out, E2E_GREET_CLIENT_OUT);
    assert_string_equal(client.err, "");

    /* The server noticed the read and exited by itself. */
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_string_equal(server.out, E2E_GREET_SERVER_HEAD);
    assert_string_equal(server.err, "");
    e2e_assert_no_ipc_left();
}

static void test_greet_custom_text(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    const char *const greet[] = {"--greet=two  spaces: and 'quotes'", NULL};
    assert_int_equal(e2e_start_server(&server, key, greet), 0);
    assert_int_equal(e2e_run_client(&client, key, NULL, 0), 0);
    assert_string_equal(client.out, "Data read from memory: two  spaces: and 'quotes'\n");
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_string_equal(server.out, "Data written in memory: two  spaces: and 'quotes'\n"
                                    "Waiting for client...\n");
    e2e_assert_no_ipc_left();
}

/* The greeting comes from the server, a peer of the client: its control
 * bytes are shown escaped on one line (docs/programs.md). The server's own
 * echo of its argument is the operator's text and stays as given. */
static void test_greeting_controls_escaped(void **state)
{
    (void)state;
    const key_t key = testutil_key(6);
    const char *const greet[] = {"--greet=hi\x1b]0;t\x07\rFAKE\nline2\\", NULL};
    assert_int_equal(e2e_start_server(&server, key, greet), 0);
    assert_int_equal(e2e_run_client(&client, key, NULL, 0), 0);
    assert_string_equal(client.out,
                        "Data read from memory: hi\\x1b]0;t\\x07\\x0dFAKE\\x0aline2\\\\\n");
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    e2e_assert_no_ipc_left();
}

/* Seed 004 with the client's input piped, as ci/demo.sh runs it: no
 * prompts (stdin is not a terminal). */
static void test_seed004_chat_piped(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD);

    static const char input[] = "hello\nworld\nexit\n";
    assert_int_equal(e2e_run_client(&client, key, input, sizeof input - 1), 0);
    assert_string_equal(client.out, E2E_CHAT_CLIENT_HEAD "Client exiting...\n");
    assert_string_equal(client.err, "");

    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD "Server received: hello\n"
                                                         "Server received: world\n"
                                                         "Server received: exit\n"
                                                         "Server shutting down...\n");
    assert_string_equal(server.err, "");
    e2e_assert_no_ipc_left();
}

/* Seed 004 at a terminal: the seed's "> " prompt before each line. */
static void test_seed004_chat_tty(void **state)
{
    (void)state;
    const key_t key = testutil_key(4);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_int_equal(e2e_start_client(&client, key, NULL, E2E_STDIN_TTY), 0);
    /* The first prompt comes after the banner, before any input. */
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD "> ", E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_write_str(&client, "hello\n"), 0);
    assert_int_equal(e2e_wait_for(&server, 1, "Server received: hello\n", E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD "> > ", E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_write_str(&client, "exit\n"), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 0);
    assert_string_equal(client.out, E2E_CHAT_CLIENT_HEAD "> > Client exiting...\n");
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD "Server received: hello\n"
                                                         "Server received: exit\n"
                                                         "Server shutting down...\n");
    e2e_assert_no_ipc_left();
}

/* The seed's "exit" stops the server whichever client sends it; the
 * others are told goodbye and leave with exit code 3. */
static void test_exit_from_one_client_ends_all(void **state)
{
    (void)state;
    const key_t key = testutil_key(5);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_int_equal(e2e_start_client(&idle, key, NULL, E2E_STDIN_PIPE), 0);
    assert_int_equal(e2e_wait_for(&idle, 1, E2E_CHAT_CLIENT_HEAD, E2E_DEADLINE_MS), 0);

    static const char input[] = "from the second client\nexit\n";
    assert_int_equal(e2e_run_client(&client, key, input, sizeof input - 1), 0);
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD "Server received: from the second client\n"
                                                         "Server received: exit\n"
                                                         "Server shutting down...\n");

    /* The idle client types nothing and still notices. */
    assert_int_equal(e2e_finish(&idle, E2E_DEADLINE_MS), 3);
    char expect[128];
    snprintf(expect, sizeof expect, "client: server at key 0x%08x is gone: ", (unsigned)key);
    assert_true(e2e_contains(idle.err, idle.err_len, expect));
    assert_string_equal(idle.out, E2E_CHAT_CLIENT_HEAD);
    e2e_assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed000_greet, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_greet_custom_text, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_greeting_controls_escaped, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_seed004_chat_piped, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_seed004_chat_tty, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_exit_from_one_client_ends_all, e2e_setup,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
