/* shmchanctl against a live channel, a stale one (server SIGKILLed) and a
 * foreign segment (0666, made here with shmget, as `ipcmk -M 4096 -p 0666`
 * would) side by side: list shows each with the kernel's ids and the right
 * status (the foreign one only with --all); clean --stale removes only the
 * stale one; naming the live or the foreign key is refused with the reason
 * and a non-zero exit, and leaves them untouched.
 *
 * --json: the same three objects through `list --all --json` and
 * `inspect --key K --json`, each document read by a real JSON parser
 * (python3's json module, strict: no raw control characters, valid UTF-8),
 * which also checks the documented field names and types; and an argument
 * holding a quote, a backslash, control bytes, an invalid UTF-8 byte and a
 * valid multi-byte character, echoed in the "error" member, decodes to
 * exactly the documented escapes. */
#include <errno.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/e2e/e2e_util.h"

static e2e_proc_t live_server;
static e2e_proc_t stale_server;
static e2e_proc_t client;
static e2e_proc_t ctl;

static void key_arg(key_t key, char *buf, size_t len)
{
    snprintf(buf, len, "--key=0x%08x", (unsigned)key);
}

static void assert_row(const char *table, key_t key, int shmid, const char *semid, const char *mode,
                       const char *status, const char *clients)
{
    char row[9][32];
    if (e2e_list_row(table, key, row) != 9) {
        fail_msg("no full row for key 0x%08x in:\n%s", (unsigned)key, table);
    }
    char id[16];
    snprintf(id, sizeof id, "%d", shmid);
    assert_string_equal(row[1], id);
    assert_string_equal(row[2], semid);
    assert_string_equal(row[4], mode);
    assert_string_equal(row[7], status);
    assert_string_equal(row[8], clients);
}

static void test_live_stale_foreign(void **state)
{
    (void)state;
    const key_t live = testutil_key(1);
    const key_t stale = testutil_key(2);
    const key_t foreign = testutil_key(3);

    assert_int_equal(e2e_start_server(&live_server, live, NULL), 0);
    assert_int_equal(e2e_start_client(&client, live, NULL, E2E_STDIN_PIPE), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD, E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_start_server(&stale_server, stale, NULL), 0);
    assert_int_equal(e2e_kill_and_finish(&stale_server, SIGKILL, E2E_DEADLINE_MS), 128 + SIGKILL);
    const int foreign_id = shmget(foreign, 4096, IPC_CREAT | IPC_EXCL | 0666);
    assert_true(foreign_id >= 0);

    char live_sem[16];
    char stale_sem[16];
    snprintf(live_sem, sizeof live_sem, "%d", semget(live, 0, 0));
    snprintf(stale_sem, sizeof stale_sem, "%d", semget(stale, 0, 0));
    const int live_shm = shmget(live, 0, 0);
    const int stale_shm = shmget(stale, 0, 0);

    const char *const list[] = {"list", NULL};
    assert_int_equal(e2e_ctl(&ctl, list), 0);
    assert_true(strncmp(ctl.out, "KEY ", 4) == 0);
    assert_row(ctl.out, live, live_shm, live_sem, "0600", "live", "1/8");
    assert_row(ctl.out, stale, stale_shm, stale_sem, "0600", "stale", "0/8");
    char fields[9][32];
    assert_int_equal(e2e_list_row(ctl.out, foreign, fields), 0);

    const char *const all[] = {"list", "--all", NULL};
    assert_int_equal(e2e_ctl(&ctl, all), 0);
    assert_row(ctl.out, live, live_shm, live_sem, "0600", "live", "1/8");
    assert_row(ctl.out, stale, stale_shm, stale_sem, "0600", "stale", "0/8");
    assert_row(ctl.out, foreign, foreign_id, "-", "0666", "foreign", "-");

    /* Dry run of a clean-everything: names the stale one only. */
    const char *const dry[] = {"clean", "--stale", "--dry-run", NULL};
    assert_int_equal(e2e_ctl(&ctl, dry), 0);
    char expect[128];
    snprintf(expect, sizeof expect,
             "would remove stale channel at key 0x%08x: shmid %d, semid %s\n", (unsigned)stale,
             stale_shm, stale_sem);
    assert_string_equal(ctl.out, expect);
    assert_int_equal(shmget(stale, 0, 0), stale_shm);

    /* Naming the live or the foreign key: refused, with the reason. */
    char karg[32];
    key_arg(live, karg, sizeof karg);
    const char *const clean_live[] = {"clean", "--stale", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, clean_live), 1);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "it is live, not stale"));
    assert_true(e2e_contains(ctl.err, ctl.err_len, "a live shmchan server"));
    key_arg(foreign, karg, sizeof karg);
    const char *const clean_foreign[] = {"clean", "--stale", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, clean_foreign), 1);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "it is foreign, not stale"));
    assert_true(e2e_contains(ctl.err, ctl.err_len, "mode 0666 grants more than"));

    const char *const inspect_foreign[] = {"inspect", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect_foreign), 0);
    assert_true(e2e_contains(ctl.out, ctl.out_len, "status:        foreign\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "mode:          0666\n"));

    key_arg(live, karg, sizeof karg);
    const char *const inspect_live[] = {"inspect", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect_live), 0);
    assert_true(e2e_contains(ctl.out, ctl.out_len, "status:        live\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "max clients:   8\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "max payload:   4096 bytes\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "lane capacity: 65536 bytes\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "clients:       1\n"));

    /* Clean everything stale: exactly the stale one goes. */
    const char *const clean[] = {"clean", "--stale", NULL};
    assert_int_equal(e2e_ctl(&ctl, clean), 0);
    snprintf(expect, sizeof expect, "removed stale channel at key 0x%08x: shmid %d, semid %s\n",
             (unsigned)stale, stale_shm, stale_sem);
    assert_string_equal(ctl.out, expect);
    assert_int_equal(shmget(stale, 0, 0), -1);
    assert_int_equal(semget(stale, 0, 0), -1);
    assert_int_equal(shmget(live, 0, 0), live_shm);
    assert_int_equal(shmget(foreign, 0, 0), foreign_id);

    assert_int_equal(e2e_ctl(&ctl, clean), 0);
    assert_string_equal(ctl.out, "no stale channels\n");

    /* Stop the live one the seed's way; remove the foreign one by hand. */
    assert_int_equal(e2e_write_str(&client, "exit\n"), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_finish(&live_server, E2E_DEADLINE_MS), 0);
    assert_int_equal(shmctl(foreign_id, IPC_RMID, NULL), 0);
    e2e_assert_no_ipc_left();
}

static void test_inspect_absent_and_empty_list(void **state)
{
    (void)state;
    char karg[32];
    key_arg(testutil_key(4), karg, sizeof karg);
    const char *const inspect[] = {"inspect", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect), 1);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "no IPC object at key"));
    assert_string_equal(ctl.out, "");

    const char *const list[] = {"list", "--all", NULL};
    assert_int_equal(e2e_ctl(&ctl, list), 0);
    /* Only the header. */
    assert_non_null(strchr(ctl.out, '\n'));
    assert_string_equal(strchr(ctl.out, '\n'), "\n");
    e2e_assert_no_ipc_left();
}

/* ------------------------------------------------------------------ json */

/* Debian's python3 (ci/setup.sh installs it); not $PATH, which differs
 * between a test's sandbox and a shell. */
#define PYTHON3 "/usr/bin/python3"

/* Runs `python3 -c script` with doc on its stdin; its stdout (NUL-terminated)
 * into out. Returns its exit status, or -1. The documents are far smaller
 * than a pipe's buffer, and python reads all of stdin before it prints. */
static int python_check(const char *script, const char *doc, char *out, size_t cap)
{
    int in[2];
    int res[2];
    if (pipe(in) != 0 || pipe(res) != 0) {
        return -1;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(res[1], 1);
        close(in[0]);
        close(in[1]);
        close(res[0]);
        close(res[1]);
        execl(PYTHON3, "python3", "-c", script, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(res[1]);
    size_t len = strlen(doc);
    const char *p = doc;
    while (len > 0) {
        const ssize_t w = write(in[1], p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    close(in[1]);
    size_t got = 0;
    for (;;) {
        const ssize_t r = read(res[0], out + got, cap - 1 - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        if (got == cap - 1) {
            break;
        }
    }
    out[got] = '\0';
    close(res[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Parses a list or inspect document strictly (json.loads of the raw bytes:
 * invalid UTF-8 and raw control characters are errors), checks that every
 * channel has exactly the documented fields with the documented types, and
 * prints one line per channel:
 *   KEY STATUS SHMID SEMID MODE_OCTAL MODE CLIENTS/MAX_CLIENTS */
static const char *const json_channels_py =
    "import json, sys\n"
    "d = json.loads(sys.stdin.buffer.read())\n"
    "assert d['version'] == 1 and d['command'] in ('list', 'inspect'), d\n"
    "chans = d['channels'] if d['command'] == 'list' else [d['channel']]\n"
    "num = lambda v: type(v) is int\n"
    "opt = lambda v: v is None or num(v)\n"
    "fields = {'key': num, 'key_hex': lambda v: isinstance(v, str),\n"
    "  'status': lambda v: v in ('absent', 'live', 'busy', 'stale', 'foreign'),\n"
    "  'reason': lambda v: isinstance(v, str) and len(v) > 0,\n"
    "  'shmid': opt, 'semid': opt, 'owner_uid': opt, 'creator_uid': opt,\n"
    "  'mode': opt, 'mode_octal': lambda v: v is None or isinstance(v, str),\n"
    "  'size': opt, 'attached': opt, 'server_pid': opt, 'max_clients': opt,\n"
    "  'max_payload': opt, 'lane_capacity': opt, 'clients': opt}\n"
    "for c in chans:\n"
    "    assert sorted(c) == sorted(fields), sorted(c)\n"
    "    for k, ok in fields.items():\n"
    "        assert ok(c[k]), (k, c[k])\n"
    "    assert c['key_hex'] == '0x%08x' % c['key']\n"
    "    assert c['mode'] is None or c['mode_octal'] == '%04o' % c['mode']\n"
    "    print(c['key_hex'], c['status'], c['shmid'], c['semid'], c['mode_octal'], c['mode'],\n"
    "          '%s/%s' % (c['clients'], c['max_clients']))\n";

static void assert_json_line(const char *lines, key_t key, const char *status, int shmid,
                             int semid, const char *mode_octal, unsigned mode, const char *clients)
{
    char sem[16];
    char expect[160];
    if (semid < 0) {
        snprintf(sem, sizeof sem, "None");
    } else {
        snprintf(sem, sizeof sem, "%d", semid);
    }
    snprintf(expect, sizeof expect, "0x%08x %s %d %s %s %u %s\n", (unsigned)key, status, shmid,
             sem, mode_octal, mode, clients);
    if (strstr(lines, expect) == NULL) {
        fail_msg("no line '%s' in:\n%s", expect, lines);
    }
}

static void test_json(void **state)
{
    (void)state;
    const key_t live = testutil_key(5);
    const key_t stale = testutil_key(6);
    const key_t foreign = testutil_key(7);
    static char lines[64 * 1024];

    assert_int_equal(e2e_start_server(&live_server, live, NULL), 0);
    assert_int_equal(e2e_start_client(&client, live, NULL, E2E_STDIN_PIPE), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD, E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_start_server(&stale_server, stale, NULL), 0);
    assert_int_equal(e2e_kill_and_finish(&stale_server, SIGKILL, E2E_DEADLINE_MS), 128 + SIGKILL);
    const int foreign_id = shmget(foreign, 4096, IPC_CREAT | IPC_EXCL | 0666);
    assert_true(foreign_id >= 0);

    /* The empty list is a document too (not an empty output). */
    const char *const none[] = {"list", "--json", NULL};
    assert_int_equal(e2e_ctl(&ctl, none), 0);
    assert_int_equal(python_check(json_channels_py, ctl.out, lines, sizeof lines), 0);

    const char *const all[] = {"list", "--all", "--json", NULL};
    assert_int_equal(e2e_ctl(&ctl, all), 0);
    assert_int_equal(python_check(json_channels_py, ctl.out, lines, sizeof lines), 0);
    assert_json_line(lines, live, "live", shmget(live, 0, 0), semget(live, 0, 0), "0600", 0600,
                     "1/8");
    assert_json_line(lines, stale, "stale", shmget(stale, 0, 0), semget(stale, 0, 0), "0600",
                     0600, "0/8");
    assert_json_line(lines, foreign, "foreign", foreign_id, -1, "0666", 0666, "None/None");

    char karg[32];
    key_arg(live, karg, sizeof karg);
    const char *const inspect_live[] = {"inspect", "--json", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect_live), 0);
    assert_int_equal(python_check(json_channels_py, ctl.out, lines, sizeof lines), 0);
    assert_json_line(lines, live, "live", shmget(live, 0, 0), semget(live, 0, 0), "0600", 0600,
                     "1/8");
    /* Numbers are numbers, and the server's pid is the live server's. */
    char script[256];
    snprintf(script, sizeof script,
             "import json, sys\nc = json.load(sys.stdin)['channel']\n"
             "assert c['server_pid'] == %d and c['max_payload'] == 4096 and "
             "c['lane_capacity'] == 65536 and c['attached'] >= 2, c\n",
             (int)live_server.pid);
    assert_int_equal(python_check(script, ctl.out, lines, sizeof lines), 0);

    /* Nothing at the key: a document with status "absent", exit 1. */
    key_arg(testutil_key(8), karg, sizeof karg);
    const char *const inspect_absent[] = {"inspect", karg, "--json", NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect_absent), 1);
    assert_int_equal(python_check(json_channels_py, ctl.out, lines, sizeof lines), 0);
    assert_non_null(strstr(lines, " absent None None None None None/None\n"));

    /* Escapes: a bad argument is echoed in "error". In the raw document:
     * \" \\ \u0001 \u001f \u007f \ufffd, the euro sign copied; decoded, the
     * message holds exactly the argument with 0xff replaced by U+FFFD. */
    const char *const bad[] = {"list", "--json", "q\"b\\c\001\037\177\377\342\202\254", NULL};
    assert_int_equal(e2e_ctl(&ctl, bad), 2);
    assert_true(e2e_contains(ctl.out, ctl.out_len,
                             "q\\\"b\\\\c\\u0001\\u001f\\u007f\\ufffd\342\202\254"));
    assert_int_equal(
        python_check("import json, sys\n"
                     "d = json.loads(sys.stdin.buffer.read())\n"
                     "assert d['error']['exit_code'] == 2, d\n"
                     "assert 'q\"b\\\\c\\x01\\x1f\\x7f\\ufffd\\u20ac' in d['error']['message'], d\n",
                     ctl.out, lines, sizeof lines),
        0);
    /* The parser is strict: the same bytes unescaped are refused, so the
     * checks above can fail. */
    assert_int_not_equal(python_check("import json, sys\njson.loads(sys.stdin.buffer.read())\n",
                                      "{\"m\": \"a\001\377\"}", lines, sizeof lines),
                         0);

    assert_int_equal(e2e_write_str(&client, "exit\n"), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_finish(&live_server, E2E_DEADLINE_MS), 0);
    const char *const clean[] = {"clean", "--stale", NULL};
    assert_int_equal(e2e_ctl(&ctl, clean), 0);
    assert_int_equal(shmctl(foreign_id, IPC_RMID, NULL), 0);
    e2e_assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_stale_foreign, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_inspect_absent_and_empty_list, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_json, e2e_setup, e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
