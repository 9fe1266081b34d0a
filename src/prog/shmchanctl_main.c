/*
 * shmchanctl_main.c - the `shmchanctl` program: what `ipcs -m` and
 * `ipcrm -m` are to the seeds, for shmchan channels, judged by the same
 * code a restarting server uses (probe.c/judge.c): it lists, inspects,
 * and removes only channels that are provably ours and provably dead.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/prog/args.h"
#include "src/prog/io.h"
#include "src/shmchan.h"

static void print_usage(FILE *out)
{
    (void)fprintf(
        out, "Usage: shmchanctl list [--all] [--json]\n"
             "       shmchanctl inspect --key KEY [--json]\n"
             "       shmchanctl clean --stale [--key KEY] [--dry-run]\n"
             "       shmchanctl --help | --version\n"
             "\n"
             "Commands:\n"
             "  list              a table of the shmchan channels visible to us: key, ids,\n"
             "                    owner uid, mode, size, attached processes, status (live,\n"
             "                    stale, busy, foreign) and connected clients\n"
             "    --all           also list segments that are not shmchan channels (foreign)\n"
             "  inspect --key KEY the validated layout of the channel at KEY and the verdict\n"
             "                    on it, with the reason\n"
             "  clean --stale     remove every stale channel (ours, server dead); live, busy\n"
             "                    and foreign objects are never removed\n"
             "    --key KEY       only the channel at KEY: refused, with the reason, unless it\n"
             "                    is stale; also removes the multi-user connections of KEY\n"
             "                    that are over and ours (created by us, or given to us)\n"
             "    --dry-run       say what would be removed, remove nothing\n"
             "  --json            (list, inspect) print one JSON document instead of text;\n"
             "                    on failure the document has an \"error\" member\n"
             "\n"
             "KEY is decimal or 0x hex, 1..0xffffffff.\n"
             "\n"
             "Exit status:\n"
             "  0  done (list, inspect of an existing object, clean that removed all it named)\n"
             "  1  runtime error: nothing at the inspected key (with --json: a document with\n"
             "     status \"absent\"), a named channel not stale, a removal that failed,\n"
             "     kernel errors\n"
             "  2  bad arguments\n");
}

/* "-" for an id the kernel does not have (-1). */
static const char *id_text(int id, char *buf, size_t len)
{
    if (id < 0) {
        return "-";
    }
    (void)snprintf(buf, len, "%d", id);
    return buf;
}

/* ----------------------------------------------------------------- json */
/*
 * --json (docs/programs.md, "JSON output"): one JSON document on stdout,
 * field names fixed, numbers as JSON numbers, null for what the kernel or
 * the header does not have.
 *
 * Strings (RFC 8259 section 7): '"' and '\' are escaped; every control
 * byte (< 0x20) and DEL as \u00XX (\n, \t, ... included, so no raw control
 * byte is ever printed); bytes that form valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) are copied; every other
 * byte (>= 0x80 outside a valid sequence) becomes \ufffd, the replacement
 * character, so the document is always valid UTF-8. The library's strings
 * are ASCII; only echoed arguments (in "error") can hold other bytes.
 */

/* Length of the valid UTF-8 sequence starting at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    const unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) {
            lo = 0xA0; /* no overlong forms */
        } else if (c == 0xED) {
            hi = 0x9F; /* no UTF-16 surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F; /* nothing above U+10FFFF */
        }
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

static void json_string(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    const size_t n = strlen(text);
    (void)putchar('"');
    for (size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            (void)printf("\\%c", c);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            (void)printf("\\u%04x", (unsigned)c);
            i++;
        } else if (c < 0x80) {
            (void)putchar(c);
            i++;
        } else {
            const size_t len = utf8_len(s + i, n - i);
            if (len == 0) {
                (void)fputs("\\ufffd", stdout);
                i++;
            } else {
                (void)fwrite(s + i, 1, len, stdout);
                i += len;
            }
        }
    }
    (void)putchar('"');
}

/* "name": value pairs; `first` says whether a comma goes before. */
static void json_key(const char *name, int first)
{
    (void)printf("%s\"%s\": ", first ? "" : ", ", name);
}

static void json_id(const char *name, int id)
{
    json_key(name, 0);
    if (id < 0) {
        (void)fputs("null", stdout);
    } else {
        (void)printf("%d", id);
    }
}

static void json_u32_or_null(const char *name, uint32_t value, int present)
{
    json_key(name, 0);
    if (present) {
        (void)printf("%u", (unsigned)value);
    } else {
        (void)fputs("null", stdout);
    }
}

static void json_u64_or_null(const char *name, uint64_t value, int present)
{
    json_key(name, 0);
    if (present) {
        (void)printf("%llu", (unsigned long long)value);
    } else {
        (void)fputs("null", stdout);
    }
}

static void json_channel(const shmchan_channel_info_t *c)
{
    char text[16];
    const int has_layout = c->max_clients != 0;
    json_key("key", 1);
    (void)printf("%u", (unsigned)c->key);
    (void)snprintf(text, sizeof text, "0x%08x", (unsigned)c->key);
    json_key("key_hex", 0);
    json_string(text);
    json_key("status", 0);
    json_string(shmchan_status_name(c->status));
    json_key("reason", 0);
    json_string(c->reason);
    json_id("shmid", c->shmid);
    json_id("semid", c->semid);
    const int present = c->status != SHMCHAN_STATUS_ABSENT;
    json_u32_or_null("owner_uid", (uint32_t)c->uid, present);
    json_u32_or_null("creator_uid", (uint32_t)c->cuid, present);
    json_u32_or_null("mode", (uint32_t)c->mode, present);
    (void)snprintf(text, sizeof text, "%04o", c->mode);
    json_key("mode_octal", 0);
    if (present) {
        json_string(text);
    } else {
        (void)fputs("null", stdout);
    }
    json_u64_or_null("size", c->size, present);
    json_u64_or_null("attached", c->nattch, present);
    json_id("server_pid", c->server_pid > 0 ? (int)c->server_pid : -1);
    json_u32_or_null("max_clients", c->max_clients, has_layout);
    json_u32_or_null("max_payload", c->max_payload, has_layout);
    json_u32_or_null("lane_capacity", c->lane_capacity, has_layout);
    json_u32_or_null("clients", c->clients, has_layout);
}

/* {"version": 1, "command": ..., "error": {"exit_code": N, "message": ...}} */
static int json_error(const char *command, int exit_code, const char *message)
{
    (void)printf("{\"version\": 1, \"command\": ");
    if (command != NULL) {
        json_string(command);
    } else {
        (void)fputs("null", stdout);
    }
    (void)printf(", \"error\": {\"exit_code\": %d, \"message\": ", exit_code);
    json_string(message);
    (void)printf("}}\n");
    return exit_code;
}

/* ----------------------------------------------------------------- list */

static void print_row(const shmchan_channel_info_t *c)
{
    char shmid[16];
    char semid[16];
    char clients[16] = "-";
    if (c->max_clients != 0) {
        (void)snprintf(clients, sizeof clients, "%u/%u", c->clients, c->max_clients);
    }
    (void)printf("0x%08x %10s %10s %8u %04o %12llu %8llu %-8s %s\n", (unsigned)c->key,
                 id_text(c->shmid, shmid, sizeof shmid), id_text(c->semid, semid, sizeof semid),
                 (unsigned)c->uid, c->mode, (unsigned long long)c->size,
                 (unsigned long long)c->nattch, shmchan_status_name(c->status), clients);
}

/* Fills *out with every channel (growing the array until it holds all of
 * them: channels may appear between two calls). Returns the count, or -1
 * after saying why on stderr and in why[why_len]. */
static long collect(int include_foreign, shmchan_channel_info_t **out, char *why, size_t why_len)
{
    size_t cap = 64;
    /* Channels appearing between the calls can only grow the count so
     * much; a few rounds settle it. */
    for (int round = 0; round < 8; round++) {
        shmchan_channel_info_t *infos = calloc(cap, sizeof *infos);
        if (infos == NULL) {
            (void)snprintf(why, why_len, "out of memory listing channels");
            (void)fprintf(stderr, "shmchanctl: %s\n", why);
            return -1;
        }
        size_t count = 0;
        shmchan_diag_t diag;
        memset(&diag, 0, sizeof diag);
        const shmchan_err_t err = shmchan_list(infos, cap, &count, include_foreign, &diag);
        if (err != SHMCHAN_OK) {
            (void)snprintf(why, why_len, "listing channels: %s (%s)",
                           diag.text[0] != '\0' ? diag.text : "shmchan_list",
                           shmchan_strerror(err));
            (void)fprintf(stderr, "shmchanctl: %s\n", why);
            free(infos);
            return -1;
        }
        if (count <= cap) {
            *out = infos;
            return (long)count;
        }
        free(infos);
        cap = count + 16;
    }
    (void)snprintf(why, why_len, "the set of segments kept changing while listing");
    (void)fprintf(stderr, "shmchanctl: %s\n", why);
    return -1;
}

static int cmd_list(int include_foreign, int json)
{
    shmchan_channel_info_t *infos = NULL;
    char why[512];
    const long n = collect(include_foreign, &infos, why, sizeof why);
    if (n < 0) {
        return json ? json_error("list", SHMCHAN_PROG_EXIT_RUNTIME, why)
                    : SHMCHAN_PROG_EXIT_RUNTIME;
    }
    if (json) {
        /* {"version": 1, "command": "list", "all": B, "channels": [{...}, ...]} */
        (void)printf("{\"version\": 1, \"command\": \"list\", \"all\": %s, \"channels\": [",
                     include_foreign ? "true" : "false");
        for (long i = 0; i < n; i++) {
            (void)printf("%s\n  {", i == 0 ? "" : ",");
            json_channel(&infos[i]);
            (void)putchar('}');
        }
        (void)printf("%s]}\n", n > 0 ? "\n" : "");
        free(infos);
        return fflush(stdout) == 0 ? SHMCHAN_PROG_EXIT_OK : SHMCHAN_PROG_EXIT_RUNTIME;
    }
    (void)printf("%-10s %10s %10s %8s %-4s %12s %8s %-8s %s\n", "KEY", "SHMID", "SEMID", "OWNER",
                 "MODE", "SIZE", "ATTACHED", "STATUS", "CLIENTS");
    for (long i = 0; i < n; i++) {
        print_row(&infos[i]);
    }
    free(infos);
    return fflush(stdout) == 0 ? SHMCHAN_PROG_EXIT_OK : SHMCHAN_PROG_EXIT_RUNTIME;
}

/* -------------------------------------------------------------- inspect */

static int cmd_inspect(key_t key, int json)
{
    shmchan_channel_info_t c;
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    const shmchan_err_t err = shmchan_inspect(key, &c, &diag);
    if (err != SHMCHAN_OK) {
        char why[512];
        (void)snprintf(why, sizeof why, "inspecting key 0x%08x: %s (%s)", (unsigned)key,
                       diag.text[0] != '\0' ? diag.text : "shmchan_inspect",
                       shmchan_strerror(err));
        (void)fprintf(stderr, "shmchanctl: %s\n", why);
        return json ? json_error("inspect", SHMCHAN_PROG_EXIT_RUNTIME, why)
                    : SHMCHAN_PROG_EXIT_RUNTIME;
    }
    if (json) {
        /* {"version": 1, "command": "inspect", "channel": {...}}; exit 1 if absent. */
        (void)printf("{\"version\": 1, \"command\": \"inspect\", \"channel\": {");
        json_channel(&c);
        (void)printf("}}\n");
        if (fflush(stdout) != 0 || c.status == SHMCHAN_STATUS_ABSENT) {
            return SHMCHAN_PROG_EXIT_RUNTIME;
        }
        return SHMCHAN_PROG_EXIT_OK;
    }
    if (c.status == SHMCHAN_STATUS_ABSENT) {
        (void)fprintf(stderr, "shmchanctl: %s\n", c.reason);
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    char shmid[16];
    char semid[16];
    (void)printf("key:           0x%08x\n", (unsigned)c.key);
    (void)printf("status:        %s\n", shmchan_status_name(c.status));
    (void)printf("reason:        %s\n", c.reason);
    (void)printf("shmid:         %s\n", id_text(c.shmid, shmid, sizeof shmid));
    (void)printf("semid:         %s\n", id_text(c.semid, semid, sizeof semid));
    (void)printf("owner:         uid %u (creator uid %u)\n", (unsigned)c.uid, (unsigned)c.cuid);
    (void)printf("mode:          %04o\n", c.mode);
    (void)printf("size:          %llu bytes\n", (unsigned long long)c.size);
    (void)printf("attached:      %llu\n", (unsigned long long)c.nattch);
    if (c.server_pid > 0) {
        (void)printf("server pid:    %d (last to operate the liveness token)\n", (int)c.server_pid);
    }
    if (c.max_clients != 0) {
        (void)printf("max clients:   %u\n", c.max_clients);
        (void)printf("max payload:   %u bytes\n", c.max_payload);
        (void)printf("lane capacity: %u bytes\n", c.lane_capacity);
        (void)printf("clients:       %u\n", c.clients);
    } else {
        (void)printf("layout:        none (no valid shmchan header)\n");
    }
    return fflush(stdout) == 0 ? SHMCHAN_PROG_EXIT_OK : SHMCHAN_PROG_EXIT_RUNTIME;
}

/* ---------------------------------------------------------------- clean */

/* Removes (or, dry_run, names) the stale channel at key; anything else at
 * the key is refused with the library's reason. Returns an exit code. */
static int clean_one(key_t key, int dry_run)
{
    shmchan_channel_info_t c;
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    const shmchan_err_t err = shmchan_remove_stale(key, dry_run, &c, &diag);
    char shmid[16];
    char semid[16];
    if (err == SHMCHAN_OK) {
        if (c.status == SHMCHAN_STATUS_STALE) {
            shmchan_prog_say(stdout, "%s stale channel at key 0x%08x: shmid %s, semid %s\n",
                             dry_run ? "would remove" : "removed", (unsigned)key,
                             id_text(c.shmid, shmid, sizeof shmid),
                             id_text(c.semid, semid, sizeof semid));
        }
        if (c.dead_connections > 0) {
            shmchan_prog_say(stdout, "%s %u dead connection(s) of key 0x%08x\n",
                             dry_run ? "would remove" : "removed", c.dead_connections,
                             (unsigned)key);
        }
        return SHMCHAN_PROG_EXIT_OK;
    }
    const char *why = diag.text[0] != '\0' ? diag.text : c.reason;
    if (err == SHMCHAN_E_ALREADY_RUNNING || err == SHMCHAN_E_BUSY || err == SHMCHAN_E_FOREIGN ||
        err == SHMCHAN_E_NOT_FOUND) {
        shmchan_prog_say(stderr, "shmchanctl: not removing key 0x%08x: it is %s, not stale: %s\n",
                         (unsigned)key, shmchan_status_name(c.status), why);
    } else {
        shmchan_prog_say(stderr, "shmchanctl: removing the stale channel at key 0x%08x: %s (%s)\n",
                         (unsigned)key, why, shmchan_strerror(err));
    }
    return SHMCHAN_PROG_EXIT_RUNTIME;
}

static int clean_all(int dry_run)
{
    shmchan_channel_info_t *infos = NULL;
    char why[512];
    const long n = collect(0, &infos, why, sizeof why);
    if (n < 0) {
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    int rc = SHMCHAN_PROG_EXIT_OK;
    long stale = 0;
    for (long i = 0; i < n; i++) {
        if (infos[i].status != SHMCHAN_STATUS_STALE) {
            continue;
        }
        stale++;
        /* Judged again inside: it may have been restarted since listing. */
        if (clean_one(infos[i].key, dry_run) != SHMCHAN_PROG_EXIT_OK) {
            rc = SHMCHAN_PROG_EXIT_RUNTIME;
        }
    }
    free(infos);
    if (stale == 0) {
        shmchan_prog_say(stdout, "no stale channels\n");
    }
    return rc;
}

/* Takes every "--json" out of argv (not the value of a separate "--key"
 * argument), for the shared parser, which knows only the text output.
 * Returns the new argc. */
static int take_json(int argc, char **argv, int *json)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--json") == 0 && strcmp(argv[i - 1], "--key") != 0) {
            *json = 1;
            continue;
        }
        argv[n++] = argv[i];
    }
    argv[n] = NULL;
    return n;
}

int main(int argc, char **argv)
{
    shmchan_prog_ctl_args_t args;
    char err[256];
    int json = 0;
    argc = take_json(argc, argv, &json);
    switch (shmchan_prog_parse_ctl_args(argc, (const char *const *)argv, &args, err, sizeof err)) {
    case SHMCHAN_PROG_ARGS_HELP:
        print_usage(stdout);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_VERSION:
        (void)printf("shmchanctl (shmchan) %s\n", SHMCHAN_PROG_VERSION);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_ERROR:
        (void)fprintf(stderr, "shmchanctl: %s\n", err);
        print_usage(stderr);
        return json ? json_error(NULL, SHMCHAN_PROG_EXIT_USAGE, err) : SHMCHAN_PROG_EXIT_USAGE;
    case SHMCHAN_PROG_ARGS_RUN:
        break;
    }
    if (json && args.command == SHMCHAN_PROG_CTL_CLEAN) {
        (void)fprintf(stderr, "shmchanctl: --json is for list and inspect\n");
        print_usage(stderr);
        return json_error("clean", SHMCHAN_PROG_EXIT_USAGE, "--json is for list and inspect");
    }
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    switch (args.command) {
    case SHMCHAN_PROG_CTL_LIST:
        return cmd_list(args.all, json);
    case SHMCHAN_PROG_CTL_INSPECT:
        return cmd_inspect(args.key, json);
    case SHMCHAN_PROG_CTL_CLEAN:
        return args.has_key ? clean_one(args.key, args.dry_run) : clean_all(args.dry_run);
    case SHMCHAN_PROG_CTL_NONE:
        break;
    }
    return SHMCHAN_PROG_EXIT_USAGE;
}
