/*
 * args.c - the programs' argument parsers and line reader (see args.h).
 *
 * Pure: no system calls, no globals, no allocation. Every parser reads
 * only the NUL-terminated strings it is given and writes only through its
 * output pointers, so tests/e2e/args_test.c and a fuzzer can drive it with
 * arbitrary argv.
 */
#include "src/prog/args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- numbers */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decimal digits only, no leading zero unless the number is "0"; the
 * value must fit in 32 bits. Returns 0 and sets *out, or -1. */
static int parse_decimal_u32(const char *text, uint32_t *out)
{
    if (text == NULL || !is_digit(text[0])) {
        return -1;
    }
    if (text[0] == '0' && text[1] != '\0') {
        return -1;
    }
    uint64_t value = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (!is_digit(*p)) {
            return -1;
        }
        value = value * 10u + (uint64_t)(*p - '0');
        /* Checked per digit, so value never exceeds 10 * 2^32 + 9. */
        if (value > UINT32_MAX) {
            return -1;
        }
    }
    *out = (uint32_t)value;
    return 0;
}

/* "0x"/"0X" then at least one hex digit; leading zeros allowed. */
static int parse_hex_u32(const char *text, uint32_t *out)
{
    if (text == NULL || text[0] != '0' || (text[1] != 'x' && text[1] != 'X') || text[2] == '\0') {
        return -1;
    }
    uint64_t value = 0;
    for (const char *p = text + 2; *p != '\0'; p++) {
        const int d = hex_value(*p);
        if (d < 0) {
            return -1;
        }
        value = value * 16u + (uint64_t)d;
        if (value > UINT32_MAX) {
            return -1;
        }
    }
    *out = (uint32_t)value;
    return 0;
}

int shmchan_prog_parse_key(const char *text, key_t *out)
{
    if (text == NULL || out == NULL) {
        return -1;
    }
    uint32_t value = 0;
    const int is_hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const int r = is_hex ? parse_hex_u32(text, &value) : parse_decimal_u32(text, &value);
    if (r != 0 || value == 0) {
        return -1;
    }
    /* key_t is a signed 32-bit int; keys above 0x7fffffff are the same
     * 32 bits read as negative, which is what shmget(2) receives anyway
     * (and what ipcs prints as 0x8.......). */
    *out = (key_t)(int32_t)value;
    return 0;
}

int shmchan_prog_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    if (text == NULL || out == NULL) {
        return -1;
    }
    uint32_t value = 0;
    if (parse_decimal_u32(text, &value) != 0 || value < min || value > max) {
        return -1;
    }
    *out = value;
    return 0;
}

int shmchan_prog_parse_mode(const char *text, unsigned *out)
{
    static const char *const group_modes[] = {"0620", "0640", "0660"};
    if (text == NULL || out == NULL) {
        return -1;
    }
    if (strcmp(text, "0600") == 0) {
        *out = 0600u;
        return 0;
    }
    for (size_t i = 0; i < sizeof group_modes / sizeof group_modes[0]; i++) {
        if (strcmp(text, group_modes[i]) == 0) {
            return -2;
        }
    }
    return -1;
}

/* -------------------------------------------------------- command lines */

static void set_error(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line into the caller's buffer (truncated to fit). */
static void set_error(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* Walks argv. Each option is matched by take_flag / take_value, which
 * advance the cursor past what they used. */
typedef struct cursor {
    int argc;
    const char *const *argv;
    int i; /* the argument being looked at */
    char *err;
    size_t err_len;
} cursor_t;

enum match { NO_MATCH = 0, MATCHED, FAILED };

/* "--name" alone. "--name=..." is an error: the option takes no value. */
static enum match take_flag(cursor_t *c, const char *name)
{
    const char *a = c->argv[c->i];
    const size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) {
        return NO_MATCH;
    }
    if (a[n] == '\0') {
        return MATCHED;
    }
    if (a[n] == '=') {
        set_error(c->err, c->err_len, "option %s takes no value", name);
        return FAILED;
    }
    return NO_MATCH;
}

/* "--name VALUE" or "--name=VALUE". */
static enum match take_value(cursor_t *c, const char *name, const char **value)
{
    const char *a = c->argv[c->i];
    const size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) {
        return NO_MATCH;
    }
    if (a[n] == '=') {
        *value = a + n + 1;
        return MATCHED;
    }
    if (a[n] != '\0') {
        return NO_MATCH;
    }
    if (c->i + 1 >= c->argc || c->argv[c->i + 1] == NULL) {
        set_error(c->err, c->err_len, "option %s needs a value", name);
        return FAILED;
    }
    c->i++;
    *value = c->argv[c->i];
    return MATCHED;
}

/* A repeated option: the user said two things; which one was meant? */
static int once(cursor_t *c, int *seen, const char *name)
{
    if (*seen) {
        set_error(c->err, c->err_len, "option %s given twice", name);
        return -1;
    }
    *seen = 1;
    return 0;
}

static enum match take_key(cursor_t *c, int *seen, key_t *key)
{
    const char *v = NULL;
    const enum match m = take_value(c, "--key", &v);
    if (m != MATCHED) {
        return m;
    }
    if (once(c, seen, "--key") != 0) {
        return FAILED;
    }
    if (shmchan_prog_parse_key(v, key) != 0) {
        set_error(c->err, c->err_len,
                  "invalid key '%s': expected 1..4294967295 in decimal or 0x hex", v);
        return FAILED;
    }
    return MATCHED;
}

static enum match take_u32(cursor_t *c, const char *name, int *seen, uint32_t min, uint32_t max,
                           const char *range, uint32_t *out)
{
    const char *v = NULL;
    const enum match m = take_value(c, name, &v);
    if (m != MATCHED) {
        return m;
    }
    if (once(c, seen, name) != 0) {
        return FAILED;
    }
    if (shmchan_prog_parse_u32(v, min, max, out) != 0) {
        set_error(c->err, c->err_len, "invalid value '%s' for %s: expected a decimal number in %s",
                  v, name, range);
        return FAILED;
    }
    return MATCHED;
}

/* "--name TEXT" for a user or group named by text: anything but empty
 * (what is a name is for the system's databases to say, later). */
static enum match take_account(cursor_t *c, const char *name, const char *what,
                               const char **value)
{
    const enum match m = take_value(c, name, value);
    if (m == MATCHED && (*value)[0] == '\0') {
        set_error(c->err, c->err_len, "option %s needs a %s name or number, not an empty text",
                  name, what);
        return FAILED;
    }
    return m;
}

/* A repeatable "--name TEXT" that adds TEXT to list[0, *count): a text
 * already there is not added again, and the list is bounded. */
static enum match take_list(cursor_t *c, const char *name, const char *what, const char **list,
                            size_t *count)
{
    const char *v = NULL;
    const enum match m = take_account(c, name, what, &v);
    if (m != MATCHED) {
        return m;
    }
    for (size_t i = 0; i < *count; i++) {
        if (strcmp(list[i], v) == 0) {
            return MATCHED;
        }
    }
    if (*count >= SHMCHAN_PROG_MAX_ALLOW) {
        set_error(c->err, c->err_len, "too many %s options: at most %d different %ss", name,
                  SHMCHAN_PROG_MAX_ALLOW, what);
        return FAILED;
    }
    list[(*count)++] = v;
    return MATCHED;
}

/* --help / -h / --version, recognised in every position. */
static shmchan_prog_args_result_t take_info(const cursor_t *c)
{
    const char *a = c->argv[c->i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        return SHMCHAN_PROG_ARGS_HELP;
    }
    if (strcmp(a, "--version") == 0) {
        return SHMCHAN_PROG_ARGS_VERSION;
    }
    return SHMCHAN_PROG_ARGS_RUN;
}

static shmchan_prog_args_result_t unknown(cursor_t *c)
{
    const char *a = c->argv[c->i];
    if (a[0] == '-') {
        set_error(c->err, c->err_len, "unknown option '%s'", a);
    } else {
        set_error(c->err, c->err_len, "unexpected argument '%s'", a);
    }
    return SHMCHAN_PROG_ARGS_ERROR;
}

static int cursor_init(cursor_t *c, int argc, const char *const *argv, char *err, size_t err_len)
{
    c->argc = argc;
    c->argv = argv;
    c->i = 1;
    c->err = err;
    c->err_len = err_len;
    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    if (argc < 0 || (argc > 0 && argv == NULL)) {
        set_error(err, err_len, "invalid argument vector");
        return -1;
    }
    return 0;
}

#define MAX_CLIENTS_LIMIT 256u
#define PAYLOAD_LIMIT (16u * 1024u * 1024u)
/* The library checks the rest (power of two, room for a frame). */
#define LANE_LIMIT 0x80000000u

/* The server's options that take no part in the channel's shape. */
static enum match server_access_option(cursor_t *c, shmchan_prog_server_args_t *out,
                                       int *seen_verbose)
{
    enum match m = take_flag(c, "--verbose");
    if (m == MATCHED) {
        if (once(c, seen_verbose, "--verbose") != 0) {
            return FAILED;
        }
        out->verbose = 1;
    }
    if (m != NO_MATCH) {
        return m;
    }
    m = take_list(c, "--allow-uid", "user", out->allow_uids, &out->allow_uids_count);
    if (m != NO_MATCH) {
        return m;
    }
    return take_list(c, "--allow-group", "group", out->allow_groups, &out->allow_groups_count);
}

/* Returns MATCHED/FAILED for a server option, NO_MATCH if it is none. */
static enum match server_option(cursor_t *c, shmchan_prog_server_args_t *out, int seen[7])
{
    enum match m = take_key(c, &seen[0], &out->key);
    if (m != NO_MATCH) {
        return m;
    }
    m = server_access_option(c, out, &seen[6]);
    if (m != NO_MATCH) {
        return m;
    }
    const char *a = c->argv[c->i];
    if (strcmp(a, "--greet") == 0 || strncmp(a, "--greet=", 8) == 0) {
        if (once(c, &seen[1], "--greet") != 0) {
            return FAILED;
        }
        out->greet = 1;
        if (a[7] == '=') {
            out->greet_text = a + 8;
        }
        return MATCHED;
    }
    m = take_u32(c, "--max-clients", &seen[2], 1, MAX_CLIENTS_LIMIT, "1..256", &out->max_clients);
    if (m != NO_MATCH) {
        return m;
    }
    m = take_u32(c, "--max-payload", &seen[3], 1, PAYLOAD_LIMIT, "1..16777216", &out->max_payload);
    if (m != NO_MATCH) {
        return m;
    }
    m = take_u32(c, "--lane-capacity", &seen[4], 1, LANE_LIMIT, "1..2147483648",
                 &out->lane_capacity);
    if (m != NO_MATCH) {
        return m;
    }
    const char *v = NULL;
    m = take_value(c, "--mode", &v);
    if (m != MATCHED) {
        return m;
    }
    if (once(c, &seen[5], "--mode") != 0) {
        return FAILED;
    }
    const int mode_result = shmchan_prog_parse_mode(v, &out->mode);
    if (mode_result == -2) {
        set_error(c->err, c->err_len,
                  "mode '%s' refused: only 0600 is supported (with a group mode any group member "
                  "could forge the server's liveness and write every client's messages)",
                  v);
        return FAILED;
    }
    if (mode_result != 0) {
        set_error(c->err, c->err_len, "invalid mode '%s': the only mode is 0600", v);
        return FAILED;
    }
    return MATCHED;
}

shmchan_prog_args_result_t shmchan_prog_parse_server_args(int argc, const char *const *argv,
                                                          shmchan_prog_server_args_t *out,
                                                          char *err, size_t err_len)
{
    cursor_t c;
    if (out == NULL || cursor_init(&c, argc, argv, err, err_len) != 0) {
        return SHMCHAN_PROG_ARGS_ERROR;
    }
    memset(out, 0, sizeof *out);
    out->key = (key_t)SHMCHAN_PROG_DEFAULT_KEY;
    out->greet_text = SHMCHAN_PROG_DEFAULT_GREETING;
    int seen[7] = {0, 0, 0, 0, 0, 0, 0};
    for (; c.i < argc; c.i++) {
        if (argv[c.i] == NULL) {
            break;
        }
        const shmchan_prog_args_result_t info = take_info(&c);
        if (info != SHMCHAN_PROG_ARGS_RUN) {
            return info;
        }
        const enum match m = server_option(&c, out, seen);
        if (m == FAILED) {
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        if (m == NO_MATCH) {
            return unknown(&c);
        }
    }
    return SHMCHAN_PROG_ARGS_RUN;
}

shmchan_prog_args_result_t shmchan_prog_parse_client_args(int argc, const char *const *argv,
                                                          shmchan_prog_client_args_t *out,
                                                          char *err, size_t err_len)
{
    cursor_t c;
    if (out == NULL || cursor_init(&c, argc, argv, err, err_len) != 0) {
        return SHMCHAN_PROG_ARGS_ERROR;
    }
    memset(out, 0, sizeof *out);
    out->key = (key_t)SHMCHAN_PROG_DEFAULT_KEY;
    out->timeout_ms = SHMCHAN_PROG_DEFAULT_TIMEOUT_MS;
    int seen_key = 0;
    int seen_timeout = 0;
    int seen_server_uid = 0;
    for (; c.i < argc; c.i++) {
        if (argv[c.i] == NULL) {
            break;
        }
        const shmchan_prog_args_result_t info = take_info(&c);
        if (info != SHMCHAN_PROG_ARGS_RUN) {
            return info;
        }
        enum match m = take_key(&c, &seen_key, &out->key);
        if (m == NO_MATCH) {
            m = take_u32(&c, "--timeout", &seen_timeout, 0, SHMCHAN_PROG_MAX_TIMEOUT_MS,
                         "0..86400000 (milliseconds)", &out->timeout_ms);
        }
        if (m == NO_MATCH) {
            m = take_account(&c, "--server-uid", "user", &out->server_uid);
            if (m == MATCHED && once(&c, &seen_server_uid, "--server-uid") != 0) {
                m = FAILED;
            }
        }
        if (m == FAILED) {
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        if (m == NO_MATCH) {
            return unknown(&c);
        }
    }
    return SHMCHAN_PROG_ARGS_RUN;
}

static int ctl_command(const char *word, shmchan_prog_ctl_command_t *out)
{
    if (strcmp(word, "list") == 0) {
        *out = SHMCHAN_PROG_CTL_LIST;
    } else if (strcmp(word, "inspect") == 0) {
        *out = SHMCHAN_PROG_CTL_INSPECT;
    } else if (strcmp(word, "clean") == 0) {
        *out = SHMCHAN_PROG_CTL_CLEAN;
    } else {
        return -1;
    }
    return 0;
}

/* Which options go with which command, checked once all are read. */
static shmchan_prog_args_result_t ctl_validate(const shmchan_prog_ctl_args_t *out, char *err,
                                               size_t err_len)
{
    switch (out->command) {
    case SHMCHAN_PROG_CTL_NONE:
        set_error(err, err_len, "missing command: expected list, inspect or clean");
        return SHMCHAN_PROG_ARGS_ERROR;
    case SHMCHAN_PROG_CTL_LIST:
        if (out->has_key || out->stale || out->dry_run) {
            set_error(err, err_len, "'list' takes only --all");
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        break;
    case SHMCHAN_PROG_CTL_INSPECT:
        if (out->all || out->stale || out->dry_run) {
            set_error(err, err_len, "'inspect' takes only --key KEY");
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        if (!out->has_key) {
            set_error(err, err_len, "'inspect' needs --key KEY");
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        break;
    case SHMCHAN_PROG_CTL_CLEAN:
        if (out->all) {
            set_error(err, err_len, "'clean' takes --stale [--key KEY] [--dry-run]");
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        if (!out->stale) {
            /* Required so that no spelling of "clean" removes anything
             * but stale channels, now or after new modes are added. */
            set_error(err, err_len, "'clean' needs --stale (only stale channels are removed)");
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        break;
    }
    return SHMCHAN_PROG_ARGS_RUN;
}

static enum match ctl_option(cursor_t *c, shmchan_prog_ctl_args_t *out, int seen[4])
{
    enum match m = take_key(c, &seen[0], &out->key);
    if (m == MATCHED) {
        out->has_key = 1;
    }
    if (m != NO_MATCH) {
        return m;
    }
    static const char *const flags[3] = {"--all", "--stale", "--dry-run"};
    int *targets[3] = {&out->all, &out->stale, &out->dry_run};
    for (int f = 0; f < 3; f++) {
        m = take_flag(c, flags[f]);
        if (m == FAILED) {
            return FAILED;
        }
        if (m == MATCHED) {
            if (once(c, &seen[1 + f], flags[f]) != 0) {
                return FAILED;
            }
            *targets[f] = 1;
            return MATCHED;
        }
    }
    return NO_MATCH;
}

shmchan_prog_args_result_t shmchan_prog_parse_ctl_args(int argc, const char *const *argv,
                                                       shmchan_prog_ctl_args_t *out, char *err,
                                                       size_t err_len)
{
    cursor_t c;
    if (out == NULL || cursor_init(&c, argc, argv, err, err_len) != 0) {
        return SHMCHAN_PROG_ARGS_ERROR;
    }
    memset(out, 0, sizeof *out);
    int seen[4] = {0, 0, 0, 0};
    for (; c.i < argc; c.i++) {
        const char *a = argv[c.i];
        if (a == NULL) {
            break;
        }
        const shmchan_prog_args_result_t info = take_info(&c);
        if (info != SHMCHAN_PROG_ARGS_RUN) {
            return info;
        }
        if (a[0] != '-') {
            if (out->command != SHMCHAN_PROG_CTL_NONE) {
                return unknown(&c);
            }
            if (ctl_command(a, &out->command) != 0) {
                set_error(err, err_len, "unknown command '%s': expected list, inspect or clean", a);
                return SHMCHAN_PROG_ARGS_ERROR;
            }
            continue;
        }
        const enum match m = ctl_option(&c, out, seen);
        if (m == FAILED) {
            return SHMCHAN_PROG_ARGS_ERROR;
        }
        if (m == NO_MATCH) {
            return unknown(&c);
        }
    }
    return ctl_validate(out, err, err_len);
}

/* ----------------------------------------------------------- line reader */

void shmchan_prog_lines_init(shmchan_prog_lines_t *lines, uint8_t *buf, size_t cap)
{
    lines->buf = buf;
    lines->cap = buf != NULL ? cap : 0;
    lines->len = 0;
    lines->total = 0;
    lines->overlong = 0;
}

/* Adds n bytes to the current line, or only counts them once it is too
 * long: storage never holds more than cap bytes. */
static void lines_append(shmchan_prog_lines_t *lines, const uint8_t *in, size_t n)
{
    lines->total += (uint64_t)n;
    if (lines->overlong) {
        return;
    }
    if (n > lines->cap - lines->len) {
        lines->overlong = 1;
        lines->len = 0;
        return;
    }
    if (n > 0) {
        memcpy(lines->buf + lines->len, in, n);
        lines->len += n;
    }
}

static void lines_deliver(shmchan_prog_lines_t *lines, shmchan_prog_line_t *out)
{
    if (lines->overlong) {
        out->kind = SHMCHAN_PROG_LINE_OVERLONG;
        out->total = lines->total;
    } else {
        out->kind = SHMCHAN_PROG_LINE_OK;
        out->data = lines->buf;
        out->len = lines->len;
        out->total = lines->total;
    }
    lines->len = 0;
    lines->total = 0;
    lines->overlong = 0;
}

size_t shmchan_prog_lines_feed(shmchan_prog_lines_t *lines, const uint8_t *in, size_t n,
                               shmchan_prog_line_t *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || in == NULL) {
        return 0;
    }
    const uint8_t *nl = memchr(in, '\n', n);
    const size_t take = (nl != NULL) ? (size_t)(nl - in) : n;
    lines_append(lines, in, take);
    if (nl == NULL) {
        return n;
    }
    lines_deliver(lines, out);
    return take + 1;
}

void shmchan_prog_lines_finish(shmchan_prog_lines_t *lines, shmchan_prog_line_t *out)
{
    memset(out, 0, sizeof *out);
    if (lines->total == 0) {
        return;
    }
    lines_deliver(lines, out);
}
