/* Unit tests for src/prog/args.c: the strict value parsers, the three
 * command lines, and the bounded line reader (checked against an
 * independent reference splitter over randomly chunked input).
 *
 * Replay a random run: bazel test //tests/e2e:args_test
 *   --test_env=SHMCHAN_TEST_SEED=0x...   (the seed is printed) */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/prog/args.h"
#include "tests/e2e/e2e_util.h"

/* ------------------------------------------------------------- keys */

static void test_key_accepts_decimal_and_hex(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t bits;
    } ok[] = {
        {"1", 1u},
        {"1234", 1234u},
        {"0x4d2", 0x4d2u},
        {"0X4D2", 0x4d2u},
        {"0x000004d2", 0x4d2u}, /* what the programs print */
        {"0x7fffffff", 0x7fffffffu},
        {"2147483648", 0x80000000u},
        {"4294967295", 0xffffffffu},
        {"0xFFFFFFFF", 0xffffffffu},
        {"0x00000000000001", 1u},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        key_t k = 0;
        if (shmchan_prog_parse_key(ok[i].text, &k) != 0) {
            fail_msg("key '%s' refused", ok[i].text);
        }
        assert_int_equal((uint32_t)k, ok[i].bits);
    }
}

static void test_key_refuses_everything_else(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",           "0",     "00",         "0x",          "0x0",
        "0x00000000", "01234", "+1",         "-1",          " 1",
        "1 ",         "1\n",   "4294967296", "0x100000000", "99999999999999999999",
        "12a",        "0x-1",  "0x 1",       "0xg",         "x4d2",
        "0b101",      "1e3",   "0x4d2 ",     "１",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        key_t k = (key_t)777;
        if (shmchan_prog_parse_key(bad[i], &k) != -1) {
            fail_msg("key '%s' accepted", bad[i]);
        }
        assert_int_equal(k, 777); /* untouched on failure */
    }
    key_t k = 5;
    assert_int_equal(shmchan_prog_parse_key(NULL, &k), -1);
    assert_int_equal(shmchan_prog_parse_key("5", NULL), -1);
}

/* Every 32-bit value survives print-as-the-programs-do and parse back. */
static void test_key_round_trips_printed_form(void **state)
{
    (void)state;
    uint64_t rng = testutil_seed();
    print_message("key round trip seed: 0x%016" PRIx64 "\n", rng);
    for (int i = 0; i < 20000; i++) {
        const uint32_t v = (uint32_t)testutil_rand(&rng);
        if (v == 0) {
            continue;
        }
        char hex[16];
        char dec[16];
        snprintf(hex, sizeof hex, "0x%08x", v);
        snprintf(dec, sizeof dec, "%u", v);
        key_t a = 0;
        key_t b = 0;
        assert_int_equal(shmchan_prog_parse_key(hex, &a), 0);
        assert_int_equal(shmchan_prog_parse_key(dec, &b), 0);
        assert_int_equal((uint32_t)a, v);
        assert_int_equal((uint32_t)b, v);
    }
}

/* ------------------------------------------------------ u32 and mode */

static void test_u32_bounds(void **state)
{
    (void)state;
    uint32_t v = 99;
    assert_int_equal(shmchan_prog_parse_u32("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(shmchan_prog_parse_u32("10", 0, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(shmchan_prog_parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    v = 99;
    static const char *const bad[] = {
        "11", "", "-0", "+5", "05", "0x5", "5 ", " 5", "4294967296", "18446744073709551621", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (shmchan_prog_parse_u32(bad[i], 0, 10, &v) != -1) {
            fail_msg("u32 '%s' accepted", bad[i]);
        }
    }
    assert_int_equal(shmchan_prog_parse_u32("0", 1, 10, &v), -1);
    assert_int_equal(v, 99);
    assert_int_equal(shmchan_prog_parse_u32(NULL, 0, 10, &v), -1);
}

static void test_mode(void **state)
{
    (void)state;
    unsigned m = 0;
    assert_int_equal(shmchan_prog_parse_mode("0600", &m), 0);
    assert_int_equal(m, 0600u);
    /* The group modes are refused, with their own answer (a reason). */
    static const char *const group[] = {"0620", "0640", "0660"};
    for (size_t i = 0; i < sizeof group / sizeof group[0]; i++) {
        m = 1;
        if (shmchan_prog_parse_mode(group[i], &m) != -2) {
            fail_msg("group mode '%s' not refused as such", group[i]);
        }
        assert_int_equal(m, 1);
    }
    static const char *const bad[] = {"600",   "0666", "0644",  "0700", "00600",
                                      "0600 ", "",     "0o600", "384"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = 1;
        if (shmchan_prog_parse_mode(bad[i], &m) != -1) {
            fail_msg("mode '%s' accepted", bad[i]);
        }
        assert_int_equal(m, 1);
    }
}

/* ------------------------------------------------------------ server */

#define ARGV(...) ((const char *const[]){"prog", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((const char *const[]){"prog", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(fn, out, err, ...) fn(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out, err, sizeof err)

static void test_server_defaults(void **state)
{
    (void)state;
    shmchan_prog_server_args_t a;
    char err[256];
    const char *const argv[] = {"server", NULL};
    assert_int_equal(shmchan_prog_parse_server_args(1, argv, &a, err, sizeof err),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.key, 1234);
    assert_int_equal(a.greet, 0);
    assert_int_equal(a.max_clients, 0);
    assert_int_equal(a.max_payload, 0);
    assert_int_equal(a.lane_capacity, 0);
    assert_int_equal(a.mode, 0);
    assert_int_equal(a.verbose, 0);
    assert_int_equal(a.allow_uids_count, 0);
    assert_int_equal(a.allow_groups_count, 0);
}

static void test_server_every_option(void **state)
{
    (void)state;
    shmchan_prog_server_args_t a;
    char err[256];
    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &a, err, "--key", "0x10", "--greet",
                           "--max-clients=3", "--max-payload", "100", "--lane-capacity=4096",
                           "--mode", "0600"),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.key, 16);
    assert_int_equal(a.greet, 1);
    assert_string_equal(a.greet_text, "Hello from the other side!");
    assert_int_equal(a.max_clients, 3);
    assert_int_equal(a.max_payload, 100);
    assert_int_equal(a.lane_capacity, 4096);
    assert_int_equal(a.mode, 0600);

    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &a, err, "--greet=two  words"),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_string_equal(a.greet_text, "two  words");
    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &a, err, "--greet="),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.greet, 1);
    assert_string_equal(a.greet_text, "");
}

static void expect_error(shmchan_prog_args_result_t r, const char *err, const char *needle)
{
    assert_int_equal(r, SHMCHAN_PROG_ARGS_ERROR);
    if (strstr(err, needle) == NULL) {
        fail_msg("error '%s' does not mention '%s'", err, needle);
    }
    assert_null(strchr(err, '\n')); /* one line */
}

static void test_server_errors(void **state)
{
    (void)state;
    shmchan_prog_server_args_t a;
    char err[256];
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--bogus"), err,
                 "unknown option '--bogus'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "extra"), err,
                 "unexpected argument 'extra'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--key"), err,
                 "--key needs a value");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--key", "0"), err,
                 "invalid key '0'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--key=1", "--key=2"), err,
                 "--key given twice");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--greet", "--greet=x"), err,
                 "--greet given twice");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--max-clients", "0"), err,
                 "--max-clients");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--max-clients", "257"), err,
                 "1..256");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--max-payload", "16777217"), err,
                 "--max-payload");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--mode", "0666"), err,
                 "invalid mode '0666'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--mode", "0660"), err,
                 "mode '0660' refused: only 0600 is supported");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--keyx=1"), err,
                 "unknown option '--keyx=1'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--greeting"), err,
                 "unknown option");
    /* An error before --help is still an error: the user typed it. */
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--bogus", "--help"), err,
                 "--bogus");
}

/* --allow-uid/--allow-group: lists of texts in the order given, pointers
 * into argv, each distinct text once; names and numbers alike (the
 * program resolves them: the parser makes no lookup). */
static void test_server_allow_lists(void **state)
{
    (void)state;
    shmchan_prog_server_args_t a;
    char err[256];
    const char *const argv[] = {
        "server",
        "--allow-uid", "alice",            /* 1, 2 */
        "--allow-group=staff",             /* 3 */
        "--allow-uid=1000",                /* 4 */
        "--verbose",                       /* 5 */
        "--allow-uid", "alice",            /* 6, 7: a repeat */
        "--allow-group", "0",              /* 8, 9 */
        "--allow-group", "staff",          /* 10, 11: the same text as 3's */
        "--allow-uid", "ghost-of-nobody",  /* 12, 13: no lookup here */
        NULL,
    };
    const int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    assert_int_equal(shmchan_prog_parse_server_args(argc, argv, &a, err, sizeof err),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.verbose, 1);
    assert_int_equal(a.allow_uids_count, 3);
    assert_ptr_equal(a.allow_uids[0], argv[2]);
    assert_string_equal(a.allow_uids[1], "1000");
    assert_ptr_equal(a.allow_uids[2], argv[13]);
    assert_int_equal(a.allow_groups_count, 2);
    assert_string_equal(a.allow_groups[0], "staff");
    assert_ptr_equal(a.allow_groups[1], argv[9]);
    /* Nothing else moved. */
    assert_int_equal(a.key, 1234);
    assert_int_equal(a.greet, 0);
}

/* SHMCHAN_PROG_MAX_ALLOW distinct texts fit; one more is an error naming
 * the option and the bound; repeats do not count against it. */
static void test_server_allow_bound(void **state)
{
    (void)state;
    static const char *const options[] = {"--allow-uid", "--allow-group"};
    for (size_t o = 0; o < 2; o++) {
        enum { N = SHMCHAN_PROG_MAX_ALLOW + 1 };
        char texts[N][16];
        const char *argv[1 + 2 * N + 2 + 1];
        int argc = 0;
        argv[argc++] = "server";
        for (int i = 0; i < N - 1; i++) {
            snprintf(texts[i], sizeof texts[i], "user%d", i);
            argv[argc++] = options[o];
            argv[argc++] = texts[i];
        }
        /* The first text again: still SHMCHAN_PROG_MAX_ALLOW. */
        argv[argc++] = options[o];
        argv[argc++] = texts[0];
        argv[argc] = NULL;
        shmchan_prog_server_args_t a;
        char err[256];
        assert_int_equal(shmchan_prog_parse_server_args(argc, argv, &a, err, sizeof err),
                         SHMCHAN_PROG_ARGS_RUN);
        const size_t got = o == 0 ? a.allow_uids_count : a.allow_groups_count;
        assert_int_equal(got, SHMCHAN_PROG_MAX_ALLOW);
        assert_int_equal(o == 0 ? a.allow_groups_count : a.allow_uids_count, 0);

        snprintf(texts[N - 1], sizeof texts[N - 1], "user%d", N - 1);
        argv[argc++] = options[o];
        argv[argc++] = texts[N - 1];
        argv[argc] = NULL;
        char want[64];
        snprintf(want, sizeof want, "too many %s options: at most %d", options[o],
                 SHMCHAN_PROG_MAX_ALLOW);
        expect_error(shmchan_prog_parse_server_args(argc, argv, &a, err, sizeof err), err, want);
    }
}

static void test_server_allow_errors(void **state)
{
    (void)state;
    shmchan_prog_server_args_t a;
    char err[256];
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--allow-uid"), err,
                 "--allow-uid needs a value");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--allow-uid="), err,
                 "--allow-uid needs a user name or number");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--allow-group", ""), err,
                 "--allow-group needs a group name or number");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--allow-uids=1"), err,
                 "unknown option '--allow-uids=1'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--allow-user", "1"), err,
                 "unknown option '--allow-user'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--verbose=yes"), err,
                 "--verbose takes no value");
    expect_error(PARSE(shmchan_prog_parse_server_args, &a, err, "--verbose", "--verbose"), err,
                 "--verbose given twice");
    /* --help wins before any name would be looked up. */
    assert_int_equal(
        PARSE(shmchan_prog_parse_server_args, &a, err, "--allow-uid", "nobody-at-all", "--help"),
        SHMCHAN_PROG_ARGS_HELP);
}

static void test_help_and_version_win(void **state)
{
    (void)state;
    shmchan_prog_server_args_t s;
    shmchan_prog_client_args_t c;
    shmchan_prog_ctl_args_t k;
    char err[256];
    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &s, err, "--key=5", "--help", "--bogus"),
                     SHMCHAN_PROG_ARGS_HELP);
    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &s, err, "-h"), SHMCHAN_PROG_ARGS_HELP);
    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &s, err, "--version"),
                     SHMCHAN_PROG_ARGS_VERSION);
    assert_int_equal(PARSE(shmchan_prog_parse_client_args, &c, err, "--help"),
                     SHMCHAN_PROG_ARGS_HELP);
    assert_int_equal(PARSE(shmchan_prog_parse_client_args, &c, err, "--version", "x"),
                     SHMCHAN_PROG_ARGS_VERSION);
    assert_int_equal(PARSE(shmchan_prog_parse_ctl_args, &k, err, "--help"), SHMCHAN_PROG_ARGS_HELP);
    assert_int_equal(PARSE(shmchan_prog_parse_ctl_args, &k, err, "list", "--help"),
                     SHMCHAN_PROG_ARGS_HELP);
    assert_int_equal(PARSE(shmchan_prog_parse_ctl_args, &k, err, "--version"),
                     SHMCHAN_PROG_ARGS_VERSION);
}

/* ------------------------------------------------------------ client */

static void test_client(void **state)
{
    (void)state;
    shmchan_prog_client_args_t a;
    char err[256];
    const char *const argv[] = {"client", NULL};
    assert_int_equal(shmchan_prog_parse_client_args(1, argv, &a, err, sizeof err),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.key, 1234);
    assert_int_equal(a.timeout_ms, 3000);
    assert_null(a.server_uid);
    assert_int_equal(
        PARSE(shmchan_prog_parse_client_args, &a, err, "--timeout=0", "--key", "0xffffffff"),
        SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.timeout_ms, 0);
    assert_int_equal((uint32_t)a.key, 0xffffffffu);
    assert_int_equal(PARSE(shmchan_prog_parse_client_args, &a, err, "--timeout", "86400000"),
                     SHMCHAN_PROG_ARGS_RUN);
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--timeout", "86400001"), err,
                 "--timeout");
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--timeout", "-1"), err, "'-1'");
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--greet"), err, "unknown option");
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--timeout=1", "--timeout=2"), err,
                 "given twice");
}

/* --server-uid: one text, a name or a number, resolved by the program. */
static void test_client_server_uid(void **state)
{
    (void)state;
    shmchan_prog_client_args_t a;
    char err[256];
    const char *const argv[] = {"client", "--server-uid", "alice", "--timeout=5", NULL};
    assert_int_equal(shmchan_prog_parse_client_args(4, argv, &a, err, sizeof err),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_ptr_equal(a.server_uid, argv[2]);
    assert_int_equal(a.timeout_ms, 5);
    assert_int_equal(PARSE(shmchan_prog_parse_client_args, &a, err, "--server-uid=0"),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_string_equal(a.server_uid, "0");
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--server-uid"), err,
                 "--server-uid needs a value");
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--server-uid="), err,
                 "--server-uid needs a user name or number");
    /* Unlike the server's allow lists: which of two servers was meant? */
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--server-uid=a", "--server-uid=a"),
                 err, "--server-uid given twice");
    expect_error(PARSE(shmchan_prog_parse_client_args, &a, err, "--allow-uid=1"), err,
                 "unknown option '--allow-uid=1'");
    expect_error(PARSE(shmchan_prog_parse_server_args, &(shmchan_prog_server_args_t){0}, err,
                       "--server-uid=1"),
                 err, "unknown option '--server-uid=1'");
}

/* -------------------------------------------------------- shmchanctl */

static void test_ctl_commands(void **state)
{
    (void)state;
    shmchan_prog_ctl_args_t a;
    char err[256];
    assert_int_equal(PARSE(shmchan_prog_parse_ctl_args, &a, err, "list"), SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.command, SHMCHAN_PROG_CTL_LIST);
    assert_int_equal(a.all, 0);
    assert_int_equal(PARSE(shmchan_prog_parse_ctl_args, &a, err, "--all", "list"),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.all, 1);
    assert_int_equal(PARSE(shmchan_prog_parse_ctl_args, &a, err, "inspect", "--key=0x4d2"),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.command, SHMCHAN_PROG_CTL_INSPECT);
    assert_int_equal(a.has_key, 1);
    assert_int_equal(a.key, 1234);
    assert_int_equal(PARSE(shmchan_prog_parse_ctl_args, &a, err, "clean", "--stale"),
                     SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.command, SHMCHAN_PROG_CTL_CLEAN);
    assert_int_equal(a.stale, 1);
    assert_int_equal(a.has_key, 0);
    assert_int_equal(a.dry_run, 0);
    assert_int_equal(
        PARSE(shmchan_prog_parse_ctl_args, &a, err, "clean", "--dry-run", "--key", "7", "--stale"),
        SHMCHAN_PROG_ARGS_RUN);
    assert_int_equal(a.dry_run, 1);
    assert_int_equal(a.has_key, 1);
    assert_int_equal(a.key, 7);
}

static void test_ctl_errors(void **state)
{
    (void)state;
    shmchan_prog_ctl_args_t a;
    char err[256];
    const char *const none[] = {"shmchanctl", NULL};
    expect_error(shmchan_prog_parse_ctl_args(1, none, &a, err, sizeof err), err, "missing command");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "frob"), err,
                 "unknown command 'frob'");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "list", "list"), err,
                 "unexpected argument 'list'");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "list", "--key=1"), err,
                 "'list' takes only --all");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "list", "--all=yes"), err,
                 "--all takes no value");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "inspect"), err, "needs --key");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "inspect", "--key=1", "--all"), err,
                 "'inspect' takes only");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "clean"), err, "needs --stale");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "clean", "--key=3"), err,
                 "needs --stale");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "clean", "--stale", "--all"), err,
                 "'clean' takes");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "clean", "--stale", "--stale"), err,
                 "--stale given twice");
    expect_error(PARSE(shmchan_prog_parse_ctl_args, &a, err, "clean", "--stale", "--key", "0"), err,
                 "invalid key '0'");
}

/* A tiny error buffer truncates, never overruns. */
static void test_error_buffer_truncates(void **state)
{
    (void)state;
    shmchan_prog_server_args_t a;
    char err[8];
    memset(err, 'Z', sizeof err);
    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &a, err, "--bogus-option-name"),
                     SHMCHAN_PROG_ARGS_ERROR);
    assert_int_equal(err[7], '\0');
    assert_int_equal(strlen(err), 7);
    assert_int_equal(PARSE(shmchan_prog_parse_server_args, &a, NULL, "--bogus"),
                     SHMCHAN_PROG_ARGS_ERROR);
}

/* ------------------------------------------------------- line reader */

typedef struct collected {
    int kinds[64];
    size_t lens[64];
    uint64_t totals[64];
    char data[64][16];
    int n;
} collected_t;

static void collect(collected_t *c, const shmchan_prog_line_t *line)
{
    assert_true(c->n < 64);
    c->kinds[c->n] = line->kind;
    c->totals[c->n] = line->total;
    if (line->kind == SHMCHAN_PROG_LINE_OK) {
        assert_true(line->len < sizeof c->data[0]);
        c->lens[c->n] = line->len;
        if (line->len > 0) {
            memcpy(c->data[c->n], line->data, line->len);
        }
    }
    c->n++;
}

static void feed_all(shmchan_prog_lines_t *r, const char *in, size_t n, collected_t *c)
{
    while (n > 0) {
        shmchan_prog_line_t line;
        const size_t used = shmchan_prog_lines_feed(r, (const uint8_t *)in, n, &line);
        assert_true(used > 0 && used <= n);
        in += used;
        n -= used;
        if (line.kind != SHMCHAN_PROG_LINE_NONE) {
            collect(c, &line);
        }
    }
}

static void test_lines_basic(void **state)
{
    (void)state;
    uint8_t store[4];
    shmchan_prog_lines_t r;
    shmchan_prog_lines_init(&r, store, sizeof store);
    collected_t c;
    memset(&c, 0, sizeof c);
    /* exact fit, one over, empty, CR kept, NUL kept, unterminated tail */
    static const char in[] = "abcd\nabcde\n\nx\r\na\0b\ntail";
    feed_all(&r, in, sizeof in - 1, &c);
    shmchan_prog_line_t last;
    shmchan_prog_lines_finish(&r, &last);
    collect(&c, &last);
    assert_int_equal(c.n, 6);
    assert_int_equal(c.kinds[0], SHMCHAN_PROG_LINE_OK);
    assert_int_equal(c.lens[0], 4);
    assert_memory_equal(c.data[0], "abcd", 4);
    assert_int_equal(c.kinds[1], SHMCHAN_PROG_LINE_OVERLONG);
    assert_int_equal(c.totals[1], 5);
    assert_int_equal(c.kinds[2], SHMCHAN_PROG_LINE_OK);
    assert_int_equal(c.lens[2], 0);
    assert_int_equal(c.lens[3], 2);
    assert_memory_equal(c.data[3], "x\r", 2);
    assert_int_equal(c.lens[4], 3);
    assert_memory_equal(c.data[4], "a\0b", 3);
    assert_int_equal(c.kinds[5], SHMCHAN_PROG_LINE_OK);
    assert_int_equal(c.lens[5], 4);
    assert_memory_equal(c.data[5], "tail", 4);
    /* Nothing pending after finish. */
    shmchan_prog_lines_finish(&r, &last);
    assert_int_equal(last.kind, SHMCHAN_PROG_LINE_NONE);
}

static void test_lines_overlong_tail_and_zero_cap(void **state)
{
    (void)state;
    uint8_t store[2];
    shmchan_prog_lines_t r;
    shmchan_prog_lines_init(&r, store, sizeof store);
    collected_t c;
    memset(&c, 0, sizeof c);
    feed_all(&r, "hello", 5, &c);
    assert_int_equal(c.n, 0);
    shmchan_prog_line_t last;
    shmchan_prog_lines_finish(&r, &last);
    assert_int_equal(last.kind, SHMCHAN_PROG_LINE_OVERLONG);
    assert_int_equal(last.total, 5);

    /* cap 0: only empty lines fit. */
    shmchan_prog_lines_init(&r, NULL, 0);
    memset(&c, 0, sizeof c);
    feed_all(&r, "\nx\n", 3, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.kinds[0], SHMCHAN_PROG_LINE_OK);
    assert_int_equal(c.lens[0], 0);
    assert_int_equal(c.kinds[1], SHMCHAN_PROG_LINE_OVERLONG);
    assert_int_equal(c.totals[1], 1);

    shmchan_prog_line_t none;
    assert_int_equal(shmchan_prog_lines_feed(&r, (const uint8_t *)"", 0, &none), 0);
    assert_int_equal(none.kind, SHMCHAN_PROG_LINE_NONE);
}

/* Reference: split on '\n' with plain indexing, no state carried across
 * chunks; lines longer than cap are overlong. The reader must give the
 * same answer however the input is chunked. */
static void reference_split(const uint8_t *in, size_t n, size_t cap, collected_t *c)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        const int end = (i == n);
        if (!end && in[i] != '\n') {
            continue;
        }
        const size_t len = i - start;
        if (end && len == 0) {
            break;
        }
        shmchan_prog_line_t l;
        memset(&l, 0, sizeof l);
        l.total = len;
        if (len > cap) {
            l.kind = SHMCHAN_PROG_LINE_OVERLONG;
        } else {
            l.kind = SHMCHAN_PROG_LINE_OK;
            l.data = in + start;
            l.len = len;
        }
        collect(c, &l);
        start = i + 1;
    }
}

static void test_lines_random_chunking(void **state)
{
    (void)state;
    uint64_t rng = testutil_seed();
    print_message("line reader seed: 0x%016" PRIx64
                  " (replay with --test_env=SHMCHAN_TEST_SEED=0x%016" PRIx64 ")\n",
                  rng, rng);
    for (int round = 0; round < 3000; round++) {
        uint8_t in[120];
        const size_t n = (size_t)(testutil_rand(&rng) % sizeof in);
        for (size_t i = 0; i < n; i++) {
            const uint64_t r = testutil_rand(&rng) % 8;
            in[i] = r == 0 ? '\n' : r == 1 ? '\0' : r == 2 ? '\r' : (uint8_t)('a' + r);
        }
        /* keep it under 64 lines for collected_t */
        size_t lines = 0;
        for (size_t i = 0; i < n; i++) {
            lines += in[i] == '\n';
        }
        if (lines > 60) {
            continue;
        }
        const size_t cap = (size_t)(testutil_rand(&rng) % 12);
        collected_t want;
        memset(&want, 0, sizeof want);
        reference_split(in, n, cap, &want);

        uint8_t store[12];
        shmchan_prog_lines_t r;
        shmchan_prog_lines_init(&r, store, cap);
        collected_t got;
        memset(&got, 0, sizeof got);
        size_t off = 0;
        while (off < n) {
            size_t chunk = 1 + (size_t)(testutil_rand(&rng) % 9);
            if (chunk > n - off) {
                chunk = n - off;
            }
            feed_all(&r, (const char *)in + off, chunk, &got);
            off += chunk;
        }
        shmchan_prog_line_t last;
        shmchan_prog_lines_finish(&r, &last);
        if (last.kind != SHMCHAN_PROG_LINE_NONE) {
            collect(&got, &last);
        }
        assert_int_equal(got.n, want.n);
        for (int i = 0; i < got.n; i++) {
            assert_int_equal(got.kinds[i], want.kinds[i]);
            assert_int_equal(got.totals[i], want.totals[i]);
            if (got.kinds[i] == SHMCHAN_PROG_LINE_OK) {
                assert_int_equal(got.lens[i], want.lens[i]);
                assert_memory_equal(got.data[i], want.data[i], got.lens[i]);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_accepts_decimal_and_hex),
        cmocka_unit_test(test_key_refuses_everything_else),
        cmocka_unit_test(test_key_round_trips_printed_form),
        cmocka_unit_test(test_u32_bounds),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_server_defaults),
        cmocka_unit_test(test_server_every_option),
        cmocka_unit_test(test_server_errors),
        cmocka_unit_test(test_server_allow_lists),
        cmocka_unit_test(test_server_allow_bound),
        cmocka_unit_test(test_server_allow_errors),
        cmocka_unit_test(test_help_and_version_win),
        cmocka_unit_test(test_client),
        cmocka_unit_test(test_client_server_uid),
        cmocka_unit_test(test_ctl_commands),
        cmocka_unit_test(test_ctl_errors),
        cmocka_unit_test(test_error_buffer_truncates),
        cmocka_unit_test(test_lines_basic),
        cmocka_unit_test(test_lines_overlong_tail_and_zero_cap),
        cmocka_unit_test(test_lines_random_chunking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
