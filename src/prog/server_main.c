/*
 * server_main.c - the `server` program: the seeds' two servers on one
 * shmchan channel.
 *
 *   server --greet   the first seed: "Data written in memory: ...", then
 *                    waits until a client has read the greeting, cleans up
 *                    and exits 0.
 *   server           the second seed (chat): prints "Server received: LINE"
 *                    for each message from any client; "exit" stops it.
 *
 * App protocol (docs/programs.md): on every CONNECT the server sends the
 * client one hello, 'G' + greeting (greet mode) or the single byte 'C'
 * (chat mode). A greet client answers with the 1-byte read receipt "R".
 * In chat mode every client message is one raw line.
 *
 * Signals only set a flag (io.c); the flag is the library's `cancel`, and
 * every wait is short, so the server notices within ~200 ms, removes both
 * IPC objects and exits 128+N.
 *
 * Who may connect besides the server's own uid is --allow-uid and
 * --allow-group (names resolved before any IPC, resolve.c); the library
 * enforces it with the kernel's record of each client's uid, which
 * --verbose logs on every connect.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/account.h"
#include "src/prog/args.h"
#include "src/prog/escape.h"
#include "src/prog/io.h"
#include "src/prog/resolve.h"
#include "src/shmchan.h"

/* Each wait is short so the signal flag is looked at even if a signal
 * slips in between the check and the semop. */
#define SERVER_WAIT_MS 200
/* A fresh lane always has room for the hello; this only bounds a client
 * that connected and stopped reading at once. */
#define HELLO_SEND_TIMEOUT_MS 1000

#define HELLO_GREET 'G'
#define HELLO_CHAT 'C'
#define RECEIPT 'R'

/* A user name in the --verbose log: longer names are cut (a log line, not
 * an identity: the uid printed beside it is what the kernel attested). */
#define LOG_NAME_MAX 256

static void print_usage(FILE *out)
{
    (void)fprintf(
        out,
        "Usage: server [--key KEY] [--greet[=TEXT]] [--max-clients N] [--max-payload N]\n"
        "              [--lane-capacity N] [--mode MODE] [--allow-uid USER]...\n"
        "              [--allow-group GROUP]... [--verbose]\n"
        "       server --help | --version\n"
        "\n"
        "Creates a shmchan channel (a System V segment and semaphore set, owner-only\n"
        "by default) at KEY and serves clients until told to stop.\n"
        "\n"
        "Modes:\n"
        "  (default)         chat: prints \"Server received: LINE\" for every message\n"
        "                    from any client (control bytes shown as \\xHH, a backslash\n"
        "                    as \\\\); the message \"exit\" shuts the server down\n"
        "  --greet[=TEXT]    greet: offers TEXT (default \"%s\")\n"
        "                    to clients; exits once a client has read it\n"
        "\n"
        "Options:\n"
        "  --key KEY         SysV key, decimal or 0x hex, 1..0xffffffff (default %d = 0x%08x)\n"
        "  --max-clients N   client slots, 1..256 (default 8)\n"
        "  --max-payload N   largest message in bytes, 1..16777216 (default 4096)\n"
        "  --lane-capacity N bytes per ring, a power of two >= 64 (longer messages\n"
        "                    travel in fragments of half a ring)\n"
        "                    (default 65536)\n"
        "  --mode MODE       0600, the only mode: owner-only objects (group modes are\n"
        "                    refused: a group member could forge the server's\n"
        "                    liveness and write every client's messages)\n"
        "  --allow-uid USER  let USER (a user name or a uid) connect too; repeatable,\n"
        "                    at most %d different ones\n"
        "  --allow-group GROUP\n"
        "                    let members of GROUP (a group name or a gid) connect\n"
        "                    too; repeatable, at most %d different ones\n"
        "                    (default for both: only the server's own uid connects)\n"
        "                    Whoever may ring the server, and with --allow-uid any\n"
        "                    local user, can delay messages to it (the first by up\n"
        "                    to 100 ms); --allow-group, with the server in a primary\n"
        "                    group of its own, narrows who (docs/multiuser.md)\n"
        "  --verbose         log each client's connect (with the uid the kernel\n"
        "                    recorded for it) and disconnect on stderr\n"
        "  -h, --help        this text\n"
        "  --version         the version\n"
        "\n"
        "Exit status:\n"
        "  0      stopped as asked (\"exit\" in chat mode, a read receipt in greet mode)\n"
        "  1      runtime error (key taken by a live server or a foreign object,\n"
        "         kernel limits, permissions, the channel removed from outside,\n"
        "         the system's user or group database failing to answer)\n"
        "  2      bad arguments (a user or group the system does not know included)\n"
        "  128+N  stopped by signal N (SIGHUP 129, SIGINT 130, SIGTERM 143) after\n"
        "         removing the channel\n",
        SHMCHAN_PROG_DEFAULT_GREETING, SHMCHAN_PROG_DEFAULT_KEY, SHMCHAN_PROG_DEFAULT_KEY,
        SHMCHAN_PROG_MAX_ALLOW, SHMCHAN_PROG_MAX_ALLOW);
}

/* --allow-uid and --allow-group as ids, each id once ("alice" and "1000"
 * may be the same uid). */
typedef struct server_allow {
    uid_t uids[SHMCHAN_PROG_MAX_ALLOW];
    size_t uids_count;
    gid_t gids[SHMCHAN_PROG_MAX_ALLOW];
    size_t gids_count;
} server_allow_t;

/* The running server: the channel and what it needs to answer events. */
typedef struct server_ctx {
    key_t key;
    shmchan_server_t *srv;
    int greet;
    int verbose;
    uint8_t *hello; /* 'G' + greeting, or 'C' */
    uint32_t hello_len;
    uint8_t *buf; /* one message, max_payload bytes */
    uint32_t cap;
} server_ctx_t;

/* Resolves the allow lists (names are looked up once, here, before any
 * IPC). Returns an exit code; on failure one line is on stderr. */
static int resolve_allow(const shmchan_prog_server_args_t *a, server_allow_t *allow)
{
    memset(allow, 0, sizeof *allow);
    const int rc = shmchan_prog_resolve_uids("server", "--allow-uid", a->allow_uids,
                                             a->allow_uids_count, allow->uids,
                                             SHMCHAN_PROG_MAX_ALLOW, &allow->uids_count);
    if (rc != SHMCHAN_PROG_EXIT_OK) {
        return rc;
    }
    return shmchan_prog_resolve_gids("server", "--allow-group", a->allow_groups,
                                     a->allow_groups_count, allow->gids, SHMCHAN_PROG_MAX_ALLOW,
                                     &allow->gids_count);
}

/* allow must outlive the call that reads the options (the library copies
 * the lists at create). */
static void apply_args(const shmchan_prog_server_args_t *a, const server_allow_t *allow,
                       shmchan_server_options_t *o)
{
    shmchan_server_options_init(o);
    if (allow->uids_count > 0) {
        o->allow_uids = allow->uids;
        o->allow_uids_count = allow->uids_count;
    }
    if (allow->gids_count > 0) {
        o->allow_gids = allow->gids;
        o->allow_gids_count = allow->gids_count;
    }
    if (a->max_clients != 0) {
        o->max_clients = a->max_clients;
    }
    if (a->max_payload != 0) {
        o->max_payload = a->max_payload;
    }
    if (a->lane_capacity != 0) {
        o->lane_capacity = a->lane_capacity;
    }
    if (a->mode != 0) {
        o->mode = a->mode;
    }
    o->cancel = &shmchan_prog_caught_signal;
}

/* Builds the hello and the receive buffer. Returns an exit code: OK, USAGE
 * if the greeting cannot fit one message (the user chose both sizes), or
 * RUNTIME if memory ran out. */
static int make_hello(server_ctx_t *ctx, const shmchan_prog_server_args_t *a, uint32_t max_payload)
{
    const size_t text_len = ctx->greet ? strlen(a->greet_text) : 0;
    if (text_len >= (size_t)max_payload) {
        (void)fprintf(stderr,
                      "server: greeting of %zu bytes does not fit the maximum payload of %u "
                      "bytes (1 byte is the hello tag); use --max-payload\n",
                      text_len, max_payload);
        return SHMCHAN_PROG_EXIT_USAGE;
    }
    ctx->hello_len = (uint32_t)(text_len + 1);
    ctx->hello = malloc(ctx->hello_len);
    ctx->buf = malloc(max_payload);
    if (ctx->hello == NULL || ctx->buf == NULL) {
        (void)fprintf(stderr, "server: out of memory for a %u-byte message buffer\n", max_payload);
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    ctx->cap = max_payload;
    ctx->hello[0] = (uint8_t)(ctx->greet ? HELLO_GREET : HELLO_CHAT);
    if (text_len > 0) {
        memcpy(ctx->hello + 1, a->greet_text, text_len);
    }
    return SHMCHAN_PROG_EXIT_OK;
}

static void send_hello(const server_ctx_t *ctx, const shmchan_event_t *ev)
{
    const shmchan_err_t err = shmchan_server_send(ctx->srv, ev->client, ctx->hello, ctx->hello_len,
                                                  HELLO_SEND_TIMEOUT_MS);
    /* CLOSED: the client left already; INTERRUPTED: the main loop stops. */
    if (err != SHMCHAN_OK && err != SHMCHAN_E_CLOSED && err != SHMCHAN_E_INTERRUPTED) {
        shmchan_prog_say(stderr, "server: could not greet client %u (pid %d) on key 0x%08x: %s\n",
                         ev->client, (int)ev->pid, (unsigned)ctx->key, shmchan_strerror(err));
    }
}

/* Outcome of one event: keep serving, or stop with this exit code. */
enum { KEEP_SERVING = -1 };

static int on_message(const server_ctx_t *ctx, const shmchan_event_t *ev)
{
    if (ctx->greet) {
        if (ev->len == 1 && ctx->buf[0] == (uint8_t)RECEIPT) {
            return SHMCHAN_PROG_EXIT_OK;
        }
        shmchan_prog_say(stderr,
                         "server: ignoring a %u-byte message from client %u: not a read "
                         "receipt\n",
                         ev->len, ev->client);
        return KEEP_SERVING;
    }
    shmchan_prog_say_bytes(stdout, "Server received: ", ctx->buf, ev->len);
    if (ev->len == 4 && memcmp(ctx->buf, "exit", 4) == 0) {
        shmchan_prog_say(stdout, "Server shutting down...\n");
        return SHMCHAN_PROG_EXIT_OK;
    }
    return KEEP_SERVING;
}

/* "uid 1000 (alice)": the uid as the kernel recorded it (ev->uid), the name
 * from the system's user database, "(no account)" if the uid has none. The
 * database may be a directory service whose names nobody here wrote: the
 * name is escaped like a peer's bytes, so that it cannot act on the
 * terminal or forge a line (at most 4 bytes per byte: all of it fits). */
static void describe_uid(uid_t uid, char *out, size_t len)
{
    char name[LOG_NAME_MAX];
    shmchan_account_user_name(uid, name, sizeof name);
    if (name[0] == '\0') {
        (void)snprintf(out, len, "uid %u (no account)", (unsigned)uid);
        return;
    }
    char shown[SHMCHAN_ESCAPE_MAX_UNIT * LOG_NAME_MAX];
    size_t used = 0;
    (void)shmchan_escape_terminal((const uint8_t *)name, strlen(name), shown, sizeof shown, &used);
    (void)snprintf(out, len, "uid %u (%s)", (unsigned)uid, shown);
}

/* --verbose: "server: client 3 connected: uid 1000 (alice)". */
static void log_connect(const shmchan_event_t *ev)
{
    char who[SHMCHAN_ESCAPE_MAX_UNIT * LOG_NAME_MAX + 32];
    describe_uid(ev->uid, who, sizeof who);
    shmchan_prog_say(stderr, "server: client %u connected: %s\n", ev->client, who);
}

/* Always (a refusal is an error someone should see): "server: refused a
 * client at slot 2: uid 1001 (bob) may not connect". */
static void log_refused(const shmchan_event_t *ev)
{
    char who[SHMCHAN_ESCAPE_MAX_UNIT * LOG_NAME_MAX + 32];
    describe_uid(ev->uid, who, sizeof who);
    if (ev->reason == SHMCHAN_E_PERMISSION) {
        shmchan_prog_say(stderr, "server: refused a client at slot %u: %s may not connect\n",
                         ev->client, who);
    } else {
        shmchan_prog_say(stderr,
                         "server: refused a client at slot %u (%s): its objects are not a "
                         "connection's (%s)\n",
                         ev->client, who, shmchan_strerror(ev->reason));
    }
}

/* --verbose: "server: client 3 disconnected: REASON". */
static void log_disconnect(const shmchan_event_t *ev)
{
    switch (ev->reason) {
    case SHMCHAN_OK:
        shmchan_prog_say(stderr, "server: client %u disconnected: left (said goodbye)\n",
                         ev->client);
        return;
    case SHMCHAN_E_CLOSED:
        shmchan_prog_say(stderr,
                         "server: client %u disconnected: vanished (exited or was killed without "
                         "a goodbye)\n",
                         ev->client);
        return;
    case SHMCHAN_E_PROTOCOL:
        shmchan_prog_say(stderr, "server: client %u disconnected: dropped: %s (%s)\n", ev->client,
                         shmchan_strerror(ev->reason), shmchan_strerror(ev->detail));
        return;
    default:
        shmchan_prog_say(stderr, "server: client %u disconnected: %s\n", ev->client,
                         shmchan_strerror(ev->reason));
        return;
    }
}

static int on_event(const server_ctx_t *ctx, const shmchan_event_t *ev)
{
    switch (ev->kind) {
    case SHMCHAN_EVENT_CONNECT:
        if (ctx->verbose) {
            log_connect(ev);
        }
        send_hello(ctx, ev);
        return KEEP_SERVING;
    case SHMCHAN_EVENT_MESSAGE:
        return on_message(ctx, ev);
    case SHMCHAN_EVENT_DISCONNECT:
        if (ctx->verbose) {
            /* The same facts as the line below, in the log's form. */
            log_disconnect(ev);
        } else if (ev->reason == SHMCHAN_E_PROTOCOL) {
            shmchan_prog_say(stderr, "server: dropped client %u: %s (%s)\n", ev->client,
                             shmchan_strerror(ev->reason), shmchan_strerror(ev->detail));
        }
        return KEEP_SERVING;
    case SHMCHAN_EVENT_REFUSED:
        log_refused(ev);
        return KEEP_SERVING;
    }
    return KEEP_SERVING;
}

/* Doorbell wakes another process took (shmchan_server_robbed_wakes,
 * docs/multiuser.md "The doorbell: what is left"): always logged, as
 * refusals are, but at the 1st, 2nd, 4th, 8th... so that whoever robs
 * cannot flood the log. `next` is the count that is logged next. */
static void log_robbed(const server_ctx_t *ctx, uint64_t *next)
{
    const uint64_t n = shmchan_server_robbed_wakes(ctx->srv);
    if (n < *next) {
        return;
    }
    shmchan_prog_say(stderr,
                     "server: %llu wake%s of the doorbell taken by another process so far "
                     "(someone who may post it is delaying clients' messages; see "
                     "docs/multiuser.md)\n",
                     (unsigned long long)n, n == 1 ? "" : "s");
    *next = n > UINT64_MAX / 2 ? UINT64_MAX : 2 * n;
}

static int serve(const server_ctx_t *ctx)
{
    uint64_t next_robbed_log = 1;
    for (;;) {
        const int sig = (int)shmchan_prog_caught_signal;
        if (sig != 0) {
            shmchan_prog_say(stderr, "Server: caught %s, shutting down\n",
                             shmchan_prog_signal_name(sig));
            return SHMCHAN_PROG_EXIT_SIGNAL_BASE + sig;
        }
        shmchan_event_t ev;
        const shmchan_err_t err =
            shmchan_server_wait(ctx->srv, SERVER_WAIT_MS, &ev, ctx->buf, ctx->cap);
        log_robbed(ctx, &next_robbed_log);
        if (err == SHMCHAN_E_TIMEOUT || err == SHMCHAN_E_INTERRUPTED) {
            continue;
        }
        if (err != SHMCHAN_OK) {
            shmchan_prog_say(stderr,
                             "server: waiting on the channel at key 0x%08x (shmid %d, semid %d) "
                             "failed: %s%s\n",
                             (unsigned)ctx->key, shmchan_server_shmid(ctx->srv),
                             shmchan_server_semid(ctx->srv), shmchan_strerror(err),
                             err == SHMCHAN_E_CLOSED ? " (removed from outside, e.g. by ipcrm?)"
                                                     : "");
            return SHMCHAN_PROG_EXIT_RUNTIME;
        }
        const int verdict = on_event(ctx, &ev);
        if (verdict != KEEP_SERVING) {
            return verdict;
        }
    }
}

static int create_channel(server_ctx_t *ctx, const shmchan_server_options_t *opts)
{
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    const shmchan_err_t err = shmchan_server_create(ctx->key, opts, &ctx->srv, &diag);
    if (err == SHMCHAN_OK) {
        return SHMCHAN_PROG_EXIT_OK;
    }
    if (diag.text[0] == '\0') {
        (void)snprintf(diag.text, sizeof diag.text, "creating the channel at key 0x%08x",
                       (unsigned)ctx->key);
    }
    shmchan_prog_say(stderr, "server: %s (%s)\n", diag.text, shmchan_strerror(err));
    if (err == SHMCHAN_E_INVALID_ARGUMENT) {
        /* Only the channel options can be invalid here: the user's. */
        shmchan_prog_say(stderr, "Try 'server --help' for more information.\n");
        return SHMCHAN_PROG_EXIT_USAGE;
    }
    if (err == SHMCHAN_E_INTERRUPTED) {
        return SHMCHAN_PROG_EXIT_SIGNAL_BASE + (int)shmchan_prog_caught_signal;
    }
    return SHMCHAN_PROG_EXIT_RUNTIME;
}

static void announce(const server_ctx_t *ctx, const shmchan_prog_server_args_t *a)
{
    if (ctx->greet) {
        shmchan_prog_say(stdout, "Data written in memory: %s\n", a->greet_text);
        shmchan_prog_say(stdout, "Waiting for client...\n");
    } else {
        shmchan_prog_say(stdout, "Server: Shared memory created.\n");
        shmchan_prog_say(stdout, "Server: Waiting for client...\n");
    }
}

static int run(const shmchan_prog_server_args_t *a, const server_allow_t *allow)
{
    server_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.key = a->key;
    ctx.greet = a->greet;
    ctx.verbose = a->verbose;
    shmchan_server_options_t opts;
    apply_args(a, allow, &opts);

    int rc = make_hello(&ctx, a, opts.max_payload);
    if (rc == SHMCHAN_PROG_EXIT_OK) {
        rc = create_channel(&ctx, &opts);
    }
    if (rc == SHMCHAN_PROG_EXIT_OK) {
        announce(&ctx, a);
        rc = serve(&ctx);
    }
    /* Goodbye to every client, then IPC_RMID both objects. */
    shmchan_server_destroy(ctx.srv);
    free(ctx.hello);
    free(ctx.buf);
    return rc;
}

int main(int argc, char **argv)
{
    shmchan_prog_server_args_t args;
    char err[256];
    switch (
        shmchan_prog_parse_server_args(argc, (const char *const *)argv, &args, err, sizeof err)) {
    case SHMCHAN_PROG_ARGS_HELP:
        print_usage(stdout);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_VERSION:
        (void)printf("server (shmchan) %s\n", SHMCHAN_PROG_VERSION);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_ERROR:
        (void)fprintf(stderr, "server: %s\n", err);
        print_usage(stderr);
        return SHMCHAN_PROG_EXIT_USAGE;
    case SHMCHAN_PROG_ARGS_RUN:
        break;
    }
    /* Looked up before the signal handlers (a lookup that hangs on a
     * directory service is then simply killed by ^C: nothing to clean up
     * yet) and before any IPC. */
    server_allow_t allow;
    const int rc = resolve_allow(&args, &allow);
    if (rc == SHMCHAN_PROG_EXIT_USAGE) {
        print_usage(stderr);
    }
    if (rc != SHMCHAN_PROG_EXIT_OK) {
        return rc;
    }
    if (shmchan_prog_setup() != 0) {
        perror("server: installing signal handlers");
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    return run(&args, &allow);
}
