/* The command-line contract of the three programs: --help (usage, options
 * and exit codes on stdout, exit 0), --version ("<prog> (shmchan) 0.1.0"),
 * and for bad arguments one error line naming the program, the usage on
 * stderr, exit 2, nothing on stdout and no IPC object created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/conn.h"
#include "src/layout.h"
#include "tests/e2e/e2e_util.h"

static e2e_proc_t proc;
static e2e_proc_t server;

/* Names no system has (the programs take a name made of digits as a
 * number, so these are not). */
#define NO_USER "shmchan-no-such-user"
#define NO_GROUP "shmchan-no-such-group"

static const char *const programs[] = {"server", "client", "shmchanctl"};

static void test_help(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        const char *const help[] = {"--help", NULL};
        assert_int_equal(e2e_run(&proc, programs[i], help, NULL), 0);
        assert_string_equal(proc.err, "");
        char usage[64];
        snprintf(usage, sizeof usage, "Usage: %s ", programs[i]);
        assert_true(strncmp(proc.out, usage, strlen(usage)) == 0);
        assert_true(e2e_contains(proc.out, proc.out_len, "--help"));
        assert_true(e2e_contains(proc.out, proc.out_len, "--version"));
        /* Every exit code is documented. */
        assert_true(e2e_contains(proc.out, proc.out_len, "Exit status:\n"));
        assert_true(e2e_contains(proc.out, proc.out_len, "  0 "));
        assert_true(e2e_contains(proc.out, proc.out_len, "  1 "));
        assert_true(e2e_contains(proc.out, proc.out_len, "  2 "));
        const char *const h[] = {"-h", NULL};
        char first[8192];
        snprintf(first, sizeof first, "%s", proc.out);
        assert_int_equal(e2e_run(&proc, programs[i], h, NULL), 0);
        assert_string_equal(proc.out, first);
    }
    const char *const help[] = {"--help", NULL};
    assert_int_equal(e2e_run(&proc, "client", help, NULL), 0);
    assert_true(e2e_contains(proc.out, proc.out_len, "  3 "));
    assert_true(e2e_contains(proc.out, proc.out_len, "--server-uid USER"));
    assert_int_equal(e2e_run(&proc, "server", help, NULL), 0);
    assert_true(e2e_contains(proc.out, proc.out_len, "128+N"));
    assert_true(e2e_contains(proc.out, proc.out_len, "--allow-uid USER"));
    assert_true(e2e_contains(proc.out, proc.out_len, "--allow-group GROUP"));
    assert_true(e2e_contains(proc.out, proc.out_len, "--verbose"));
    e2e_assert_no_ipc_left();
}

static void test_version(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        const char *const version[] = {"--version", NULL};
        assert_int_equal(e2e_run(&proc, programs[i], version, NULL), 0);
        char expect[64];
        snprintf(expect, sizeof expect, "%s (shmchan) 0.1.0\n", programs[i]);
        assert_string_equal(proc.out, expect);
        assert_string_equal(proc.err, "");
    }
}

static void expect_usage_error(const char *prog, const char *const *args, const char *needle)
{
    assert_int_equal(e2e_run(&proc, prog, args, NULL), 2);
    assert_string_equal(proc.out, "");
    char head[64];
    snprintf(head, sizeof head, "%s: ", prog);
    if (strncmp(proc.err, head, strlen(head)) != 0 ||
        !e2e_contains(proc.err, proc.err_len, needle)) {
        fail_msg("%s %s: stderr lacks '%s': %s", prog, args[0] != NULL ? args[0] : "", needle,
                 proc.err);
    }
    /* One error line, then the usage. */
    const char *nl = strchr(proc.err, '\n');
    assert_non_null(nl);
    char usage[64];
    snprintf(usage, sizeof usage, "Usage: %s ", prog);
    assert_true(strncmp(nl + 1, usage, strlen(usage)) == 0);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_bad_arguments(void **state)
{
    (void)state;
    expect_usage_error("server", ARGS("--bogus"), "unknown option '--bogus'");
    expect_usage_error("server", ARGS("--key"), "--key needs a value");
    expect_usage_error("server", ARGS("--key", "0"), "invalid key '0'");
    expect_usage_error("server", ARGS("--key", "-5"), "invalid key '-5'");
    expect_usage_error("server", ARGS("--key", "0x1g"), "invalid key '0x1g'");
    expect_usage_error("server", ARGS("--key", "4294967296"), "invalid key");
    expect_usage_error("server", ARGS("--max-clients", "0"), "--max-clients");
    expect_usage_error("server", ARGS("--mode", "0666"), "invalid mode '0666'");
    expect_usage_error("server", ARGS("extra"), "unexpected argument 'extra'");
    expect_usage_error("server", ARGS("--key=1", "--key=2"), "--key given twice");
    expect_usage_error("client", ARGS("--timeout", "-1"), "--timeout");
    expect_usage_error("client", ARGS("--timeout=1.5"), "--timeout");
    expect_usage_error("client", ARGS("--key= 12"), "invalid key ' 12'");
    expect_usage_error("client", ARGS("positional"), "unexpected argument");
    expect_usage_error("server", ARGS("--allow-uid="), "--allow-uid needs a user name or number");
    expect_usage_error("server", ARGS("--verbose=1"), "--verbose takes no value");
    expect_usage_error("client", ARGS("--server-uid=1", "--server-uid=1"),
                       "--server-uid given twice");
    /* Names the system does not know: found by the lookup after parsing,
     * still the user's mistake. */
    expect_usage_error("server", ARGS("--allow-uid", NO_USER),
                       "--allow-uid '" NO_USER "': no such user");
    expect_usage_error("server", ARGS("--allow-uid", "root", "--allow-group", NO_GROUP),
                       "--allow-group '" NO_GROUP "': no such group");
    /* (uid_t)-1 is "no uid" to the kernel, never an account's. */
    expect_usage_error("server", ARGS("--allow-uid", "4294967295"), "no such user");
    expect_usage_error("client", ARGS("--server-uid", NO_USER),
                       "--server-uid '" NO_USER "': no such user");
    expect_usage_error("shmchanctl", ARGS("frobnicate"), "unknown command 'frobnicate'");
    expect_usage_error("shmchanctl", ARGS("inspect"), "needs --key");
    expect_usage_error("shmchanctl", ARGS("clean"), "needs --stale");
    expect_usage_error("shmchanctl", ARGS("clean", "--stale", "--all"), "'clean' takes");
    expect_usage_error("shmchanctl", ARGS("list", "--key", "1"), "'list' takes only --all");
    expect_usage_error("shmchanctl", ARGS("list", "--all=yes"), "--all takes no value");

    /* No command at all. */
    assert_int_equal(e2e_run(&proc, "shmchanctl", NULL, NULL), 2);
    assert_true(e2e_contains(proc.err, proc.err_len, "missing command"));
    e2e_assert_no_ipc_left();
}

/* Options the parser accepts but the channel cannot have: still the
 * user's mistake (exit 2), and nothing is created. */
static void test_server_option_combinations(void **state)
{
    (void)state;
    assert_int_equal(e2e_run(&proc, "server", ARGS("--lane-capacity=1000"), NULL), 2);
    assert_true(e2e_contains(proc.err, proc.err_len, "lane_capacity=1000"));
    assert_string_equal(proc.out, "");
    assert_int_equal(e2e_run(&proc, "server", ARGS("--max-payload=8", "--greet=nine byte"), NULL),
                     2);
    assert_true(e2e_contains(proc.err, proc.err_len,
                             "greeting of 9 bytes does not fit the maximum payload of 8 bytes"));
    assert_string_equal(proc.out, "");
    e2e_assert_no_ipc_left();
}

/* Names the system knows (root: uid 0 and gid 0 on every system) and
 * numbers with or without an account are resolved, and the server goes on
 * to create the channel: here to the library's refusal of a lane
 * capacity, which comes after the lookups. */
static void test_known_accounts_accepted(void **state)
{
    (void)state;
    assert_int_equal(e2e_run(&proc, "server",
                             ARGS("--allow-uid", "root", "--allow-uid", "0", "--allow-uid",
                                  "54321", "--allow-group", "root", "--allow-group", "54321",
                                  "--verbose", "--lane-capacity=1000"),
                             NULL),
                     2);
    assert_true(e2e_contains(proc.err, proc.err_len, "lane_capacity=1000"));
    assert_false(e2e_contains(proc.err, proc.err_len, "no such"));
    assert_string_equal(proc.out, "");
    e2e_assert_no_ipc_left();
}

/* client --server-uid reaches the library: a server of our own uid is
 * refused when another uid is expected (exit 1, the library's reason
 * names it), and served when ours is given by number. */
static void test_server_uid_reaches_the_library(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    assert_int_equal(e2e_start_server(&server, key, ARGS("--greet")), 0);

    char other[16];
    snprintf(other, sizeof other, "%u", (unsigned)geteuid() + 1u);
    assert_int_equal(
        e2e_start_client(&proc, key, ARGS("--server-uid", other, "--timeout=2000"), E2E_STDIN_NULL),
        0);
    assert_int_equal(e2e_finish(&proc, E2E_DEADLINE_MS), 1);
    char expected[48];
    snprintf(expected, sizeof expected, "expected uid %s", other);
    if (!e2e_contains(proc.err, proc.err_len, expected)) {
        fail_msg("client stderr lacks '%s': %s", expected, proc.err);
    }
    assert_string_equal(proc.out, "");

    char mine[16];
    snprintf(mine, sizeof mine, "%u", (unsigned)geteuid());
    assert_int_equal(e2e_start_client(&proc, key, ARGS("--server-uid", mine), E2E_STDIN_NULL), 0);
    assert_int_equal(e2e_finish(&proc, E2E_DEADLINE_MS), 0);
    assert_string_equal(proc.out, E2E_GREET_CLIENT_OUT);
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    e2e_assert_no_ipc_left();
}

/* 1 if `line` (up to its '\n') is "server: client N connected: uid U
 * (NAME)" with decimal N and U and a non-empty NAME. */
static int is_connect_line(const char *line)
{
    unsigned client = 0;
    unsigned uid = 0;
    int name_at = -1;
    int end = -1;
    if (sscanf(line, "server: client %u connected: uid %u (%n%*[^)\n])%n", &client, &uid,
               &name_at, &end) != 2 ||
        end < 0) {
        return 0;
    }
    return line[end] == '\n' && end - name_at > 1;
}

/* server --verbose logs every connect (with the uid the kernel recorded
 * and its account's name) and every disconnect (with how), on stderr;
 * stdout stays the seed's. Without --verbose stderr stays empty
 * (demo_test). */
static void test_verbose_log(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    assert_int_equal(e2e_start_server(&server, key, ARGS("--verbose")), 0);
    assert_int_equal(e2e_run_client(&proc, key, "hi\n", 3), 0);
    assert_int_equal(
        e2e_wait_for(&server, 2, "server: client 0 disconnected: left (said goodbye)\n",
                     E2E_DEADLINE_MS),
        0);
    if (!is_connect_line(server.err)) {
        fail_msg("first stderr line is not a connect line: %s", server.err);
    }
    /* Which uid is the library's to report (ev.uid); this checks that
     * the program prints it in the documented form. */
    assert_int_equal(e2e_run_client(&proc, key, "exit\n", 5), 0);
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_string_equal(server.out, E2E_CHAT_SERVER_HEAD "Server received: hi\n"
                                                         "Server received: exit\n"
                                                         "Server shutting down...\n");
    e2e_assert_no_ipc_left();
}

/* A process that takes every wake of the doorbell at `key` it can (what
 * any local user may do to a server with --allow-uid: its doorbell is
 * 0622), until killed. Returns its pid once it has the doorbell. */
static pid_t start_robber(key_t key)
{
    const int doorbell = semget(shmchan_doorbell_key(key), 0, 0);
    assert_true(doorbell >= 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sembuf take = {SHMCHAN_DOORBELL_WAKE, -1, 0};
        while (semop(doorbell, &take, 1) == 0 || errno == EINTR) {
        }
        _exit(0);
    }
    return pid;
}

/* A multi-user server whose doorbell wakes are being taken says so on
 * stderr, whether --verbose or not, and still serves every line. */
static void test_robbed_wakes_logged(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    /* A number needs no account: uid 61002 only makes the channel
     * multi-user. */
    assert_int_equal(e2e_start_server(&server, key, ARGS("--allow-uid", "61002")), 0);
    const pid_t robber = start_robber(key);
    /* One line at a time, each after the server printed the last: the
     * server is asleep when each arrives, so each needs its wake. */
    assert_int_equal(e2e_start_client(&proc, key, NULL, E2E_STDIN_PIPE), 0);
    for (int i = 1; i <= 12; i++) {
        char line[16];
        char said[48];
        (void)snprintf(line, sizeof line, "%d\n", i);
        (void)snprintf(said, sizeof said, "Server received: %d\n", i);
        assert_int_equal(e2e_write_str(&proc, line), 0);
        assert_int_equal(e2e_wait_for(&server, 1, said, E2E_DEADLINE_MS), 0);
    }
    e2e_close_stdin(&proc);
    assert_int_equal(e2e_finish(&proc, E2E_DEADLINE_MS), 0);
    const int seen = e2e_wait_for(&server, 2, "of the doorbell taken by another process so far",
                                  E2E_DEADLINE_MS);
    assert_int_equal(kill(robber, SIGKILL), 0);
    assert_int_equal(waitpid(robber, NULL, 0), robber);
    assert_int_equal(seen, 0);
    assert_int_equal(e2e_run_client(&proc, key, "exit\n", 5), 0);
    assert_int_equal(e2e_finish(&server, E2E_DEADLINE_MS), 0);
    assert_true(e2e_contains(server.out, server.out_len, "Server received: 12\n"));
    e2e_assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_version, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_server_option_combinations, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_known_accounts_accepted, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_server_uid_reaches_the_library, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_verbose_log, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_robbed_wakes_logged, e2e_setup, e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
