/* The chat client with piped input: every line arrives exactly as written
 * (empty lines, spaces, tabs, a trailing '\r', NUL bytes, a line of exactly
 * the maximum size, a last line without '\n'); an overlong line is refused
 * with a message and the next line still arrives; a full lane makes the
 * client wait, not drop; end of input leaves the server running; no server
 * means exit 3 at once. The server's stdout is compared byte for byte. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/e2e/e2e_util.h"

static e2e_proc_t server;
static e2e_proc_t client;
static e2e_proc_t ctl;

/* A growing byte buffer for inputs and expected outputs. */
typedef struct bytes {
    char *p;
    size_t len;
} bytes_t;

static void put(bytes_t *b, const void *data, size_t len)
{
    b->p = realloc(b->p, b->len + len + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void puts_(bytes_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_repeat(bytes_t *b, char c, size_t n)
{
    char *tmp = malloc(n);
    assert_non_null(tmp);
    memset(tmp, c, n);
    put(b, tmp, n);
    free(tmp);
}

/* One line to send, and what the server must print for it: `shown`, or
 * the bytes themselves when shown is NULL (printable text is unchanged). */
static void line_shown(bytes_t *in, bytes_t *want, const void *data, size_t len,
                       const char *shown)
{
    put(in, data, len);
    puts_(in, "\n");
    puts_(want, "Server received: ");
    if (shown != NULL) {
        puts_(want, shown);
    } else {
        put(want, data, len);
    }
    puts_(want, "\n");
}

static void line_both(bytes_t *in, bytes_t *want, const void *data, size_t len)
{
    line_shown(in, want, data, len, NULL);
}

static void assert_bytes_equal(const char *got, size_t got_len, const bytes_t *want)
{
    if (got_len != want->len || memcmp(got, want->p, got_len) != 0) {
        fail_msg("output differs: got %zu bytes:\n%s\nwanted %zu bytes:\n%s", got_len, got,
                 want->len, want->p);
    }
}

static void stop_server_with_exit(key_t key, bytes_t *want)
{
    static const char bye[] = "exit\n";
    assert_int_equal(e2e_run_client(&client, key, bye, sizeof bye - 1), 0);
    puts_(want, "Server received: exit\nServer shutting down...\n");
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
}

static void test_lines_arrive_exactly(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);

    bytes_t in = {NULL, 0};
    bytes_t want = {NULL, 0};
    puts_(&want, E2E_CHAT_SERVER_HEAD);
    line_both(&in, &want, "", 0);
    line_both(&in, &want, "  two  spaces  ", 15);
    line_shown(&in, &want, "tab\there", 8, "tab\\x09here");
    line_shown(&in, &want, "carriage return kept\r", 21, "carriage return kept\\x0d");
    line_shown(&in, &want, "nul\0inside", 10, "nul\\x00inside");
    line_both(&in, &want, "", 0);
    bytes_t max = {NULL, 0};
    put_repeat(&max, 'm', 4096); /* exactly the default maximum payload */
    line_both(&in, &want, max.p, max.len);
    /* The last line has no '\n': sent at end of input. */
    puts_(&in, "last, unterminated");
    puts_(&want, "Server received: last, unterminated\n");

    assert_int_equal(e2e_run_client(&client, key, in.p, in.len), 0);
    assert_string_equal(client.out, E2E_CHAT_CLIENT_HEAD);
    assert_string_equal(client.err, "");

    /* End of input is not "exit": the server keeps serving. */
    assert_int_equal(
        e2e_wait_for(&server, 1, "Server received: last, unterminated\n", E2E_DEADLINE_MS), 0);
    char keyarg[32];
    snprintf(keyarg, sizeof keyarg, "--key=0x%08x", (unsigned)key);
    const char *const inspect[] = {"inspect", keyarg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect), 0);
    assert_true(e2e_contains(ctl.out, ctl.out_len, "status:        live\n"));

    stop_server_with_exit(key, &want);
    assert_bytes_equal(server.out, server.out_len, &want);
    assert_string_equal(server.err, "");
    free(in.p);
    free(want.p);
    free(max.p);
    e2e_assert_no_ipc_left();
}

/* Terminal injection (docs/threat-model.md): no byte a client sends can act
 * on the server's terminal. Each line below is what a hostile client would
 * type to retitle the window, write the clipboard (OSC 52), erase or
 * overwrite the line, or forge a status line; the server must print each
 * as one line of visible escapes, and leave printable text (UTF-8
 * included) alone. The expected texts are written out by hand from the
 * rule in docs/programs.md, not computed by the code under test. */
static void test_control_bytes_shown_escaped(void **state)
{
    (void)state;
    const key_t key = testutil_key(6);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    bytes_t in = {NULL, 0};
    bytes_t want = {NULL, 0};
    puts_(&want, E2E_CHAT_SERVER_HEAD);
    static const char title[] = "\x1b]0;owned\x07";
    line_shown(&in, &want, title, sizeof title - 1, "\\x1b]0;owned\\x07");
    static const char clip[] = "\x1b]52;c;ZXZpbA==\x1b\\";
    line_shown(&in, &want, clip, sizeof clip - 1, "\\x1b]52;c;ZXZpbA==\\x1b\\\\");
    static const char erase[] = "\x1b[2K\x1b[1Aabc";
    line_shown(&in, &want, erase, sizeof erase - 1, "\\x1b[2K\\x1b[1Aabc");
    static const char forged[] = "x\rServer shutting down...";
    line_shown(&in, &want, forged, sizeof forged - 1, "x\\x0dServer shutting down...");
    static const char c1[] = "raw \x9b" "31m utf8 \xc2\x9b" "31m del \x7f";
    line_shown(&in, &want, c1, sizeof c1 - 1, "raw \\x9b31m utf8 \\xc2\\x9b31m del \\x7f");
    static const char bad_utf8[] = "bad \xff\xc3 end \xe2\x82";
    line_shown(&in, &want, bad_utf8, sizeof bad_utf8 - 1, "bad \\xff\\xc3 end \\xe2\\x82");
    static const char text[] = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82 a\\x1b";
    line_shown(&in, &want, text, sizeof text - 1,
               "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82 a\\\\x1b");
    assert_int_equal(e2e_run_client(&client, key, in.p, in.len), 0);
    stop_server_with_exit(key, &want);
    assert_bytes_equal(server.out, server.out_len, &want);
    free(in.p);
    free(want.p);
    e2e_assert_no_ipc_left();
}

static void test_overlong_line_refused_next_delivered(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);

    bytes_t in = {NULL, 0};
    put_repeat(&in, 'y', 5000);
    puts_(&in, "\nafter the long one\n");
    put_repeat(&in, 'z', 4097); /* one over */
    puts_(&in, "\nexit\n");
    assert_int_equal(e2e_run_client(&client, key, in.p, in.len), 0);
    assert_string_equal(client.out, E2E_CHAT_CLIENT_HEAD "Client exiting...\n");
    assert_string_equal(client.err,
                        "client: line of 5000 bytes exceeds the channel's maximum of 4096 bytes; "
                        "not sent\n"
                        "client: line of 4097 bytes exceeds the channel's maximum of 4096 bytes; "
                        "not sent\n");

    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    /* Not one byte of either long line reached the server. */
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD "Server received: after the long one\n"
                                                         "Server received: exit\n"
                                                         "Server shutting down...\n");
    free(in.p);
    e2e_assert_no_ipc_left();
}

/* A 64-byte lane holds two 8-byte messages: 300 lines can only get
 * through if the client waits for room, and they must arrive in order. */
static void test_full_lane_waits_in_order(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    const char *const small[] = {"--max-payload=16", "--lane-capacity=64", NULL};
    assert_int_equal(e2e_start_server(&server, key, small), 0);

    bytes_t in = {NULL, 0};
    bytes_t want = {NULL, 0};
    puts_(&want, E2E_CHAT_SERVER_HEAD);
    for (int i = 0; i < 300; i++) {
        char line[16];
        const int n = snprintf(line, sizeof line, "line %03d", i);
        line_both(&in, &want, line, (size_t)n);
    }
    puts_(&in, "seventeen bytes!!\n");
    puts_(&in, "sixteen bytes!!!\n");
    puts_(&want, "Server received: sixteen bytes!!!\n");
    puts_(&in, "exit\n");
    puts_(&want, "Server received: exit\nServer shutting down...\n");

    assert_int_equal(e2e_run_client(&client, key, in.p, in.len), 0);
    assert_string_equal(client.err, "client: line of 17 bytes exceeds the channel's maximum of 16 "
                                    "bytes; not sent\n");
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_bytes_equal(server.out, server.out_len, &want);
    free(in.p);
    free(want.p);
    e2e_assert_no_ipc_left();
}

static void test_no_server(void **state)
{
    (void)state;
    const key_t key = testutil_key(4);
    const char *const quick[] = {"--timeout=200", NULL};
    assert_int_equal(e2e_start_client(&client, key, quick, E2E_STDIN_NULL), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 3);
    char expect[96];
    snprintf(expect, sizeof expect, "no shmchan server at key 0x%08x", (unsigned)key);
    assert_true(e2e_contains(client.err, client.err_len, expect));
    assert_true(strncmp(client.err, "client: ", 8) == 0);
    assert_string_equal(client.out, "");
    e2e_assert_no_ipc_left();
}

/* A signal to the client: it leaves the channel and exits 128+N; the
 * server sees a clean leave and keeps running. */
static void test_client_signal_leaves_server_running(void **state)
{
    (void)state;
    const key_t key = testutil_key(5);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_int_equal(e2e_start_client(&client, key, NULL, E2E_STDIN_PIPE), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD, E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_write_str(&client, "before the signal\n"), 0);
    assert_int_equal(
        e2e_wait_for(&server, 1, "Server received: before the signal\n", E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_kill_and_finish(&client, SIGTERM, E2E_DEADLINE_MS), 128 + SIGTERM);
    assert_true(e2e_contains(client.err, client.err_len, "client: caught SIGTERM"));

    bytes_t want = {NULL, 0};
    puts_(&want, E2E_CHAT_SERVER_HEAD "Server received: before the signal\n");
    stop_server_with_exit(key, &want);
    assert_bytes_equal(server.out, server.out_len, &want);
    free(want.p);
    e2e_assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_arrive_exactly, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_control_bytes_shown_escaped, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_overlong_line_refused_next_delivered, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_full_lane_waits_in_order, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_no_server, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_client_signal_leaves_server_running, e2e_setup,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
